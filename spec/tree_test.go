package spec

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/wacamp/wacamp/provider/drivers"
)

// writeYAML writes text as campaign.yaml in a temporary directory and
// returns its path.
func writeYAML(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "campaign.yaml")
	require.NoError(t, os.WriteFile(path, []byte(text), 0o600))
	return path
}

// laughs returns YAML whose last anchor stands for 9^levels values: each
// level is a list of nine aliases to the level before.
func laughs(levels int, merge bool) string {
	var b strings.Builder
	b.WriteString("l0: &l0 {a: lol}\n")
	for i := 1; i <= levels; i++ {
		refs := strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*l%d, ", i-1), 9), ", ")
		if merge {
			fmt.Fprintf(&b, "l%d: &l%d {<<: [%s]}\n", i, i, refs)
		} else {
			fmt.Fprintf(&b, "l%d: &l%d [%s]\n", i, i, refs)
		}
	}
	return b.String()
}

// Aliases that contain themselves, or stand for billions of values, are
// refused with the file and line of the alias, before decoding follows
// them (it used to overflow the stack, or run for hours).
func TestLoadRefusesAliasBombs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, text, want string
	}{
		{"SelfMerge", "accounts:\n  - &m1 {name: a, <<: *m1}\n",
			":2: accounts[0].<<: alias *m1 is inside the value it stands for (a cycle)"},
		{"SelfList", "broadcasts: &b [x, *b]\n",
			":1: broadcasts[1]: alias *b is inside the value it stands for (a cycle)"},
		{"IndirectCycle", "a: &a {b: &b {<<: *a}}\n",
			":1: a.b.<<: alias *a is inside the value it stands for (a cycle)"},
		{"BillionLaughs", laughs(9, false) + "broadcasts: *l9\n",
			fmt.Sprintf(":7: l6[0]: the aliases of this file stand for more than %d values once expanded (at *l5); write the values out or nest fewer aliases", MaxAliasNodes)},
		{"MergeChain", laughs(9, true) + "accounts: [*l9]\n",
			fmt.Sprintf(":7: l6.<<[0]: the aliases of this file stand for more than %d values once expanded (at *l5); write the values out or nest fewer aliases", MaxAliasNodes)},
		{"Deep", deepAliases(MaxAliasDepth + 2),
			fmt.Sprintf(":%d: d%d[0]: alias *d%d nests more than %d aliases deep", MaxAliasDepth+2, MaxAliasDepth+1, MaxAliasDepth, MaxAliasDepth)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := writeYAML(t, tt.text)
			_, err := Load(path, testEnv(nil), drivers.Catalog{})
			lines := problemLines(t, err)
			require.Equal(t, []string{path + tt.want}, lines)
		})
	}
}

// deepAliases returns YAML in which each anchor holds an alias to the one
// before, n deep.
func deepAliases(n int) string {
	var b strings.Builder
	b.WriteString("d0: &d0 x\n")
	for i := 1; i < n; i++ {
		fmt.Fprintf(&b, "d%d: &d%d [*d%d]\n", i, i, i-1)
	}
	return b.String()
}

// Aliases within the limits are followed as before.
func TestLoadFollowsModestAliases(t *testing.T) {
	t.Parallel()
	path := writeYAML(t, laughs(4, false)+"x: *l4\n") // 9^4 = 6561 values
	_, err := Load(path, testEnv(nil), drivers.Catalog{})
	lines := problemLines(t, err)
	require.NotContains(t, strings.Join(lines, "\n"), "alias")
}

// Loading stops when its context ends, with the context's error.
func TestLoadContextCancelled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	path := writeYAML(t, laughs(4, false)+"x: *l4\n")
	_, err := LoadContext(ctx, path, testEnv(nil), drivers.Catalog{})
	require.ErrorIs(t, err, context.Canceled)
	var ve *ValidationError
	require.False(t, errors.As(err, &ve))

	// And within one file's walk, not only between files.
	var doc yaml.Node
	big := "x: [" + strings.TrimSuffix(strings.Repeat("v, ", 10_000), ", ") + "]\n"
	require.NoError(t, yaml.Unmarshal([]byte(big), &doc))
	f := &fileCtx{l: &loader{ctx: ctx}, path: path}
	ok, err := f.checkTree(ctx, &doc)
	require.False(t, ok)
	require.ErrorIs(t, err, context.Canceled)
}

// Text Postgres refuses (a NUL byte, invalid UTF-8) is refused when the
// file is loaded, with file, line and field, rather than by the database
// in the middle of apply.
func TestLoadRefusesUnstorableText(t *testing.T) {
	t.Parallel()
	env := testEnv(map[string]string{"BOTSAILOR_API_TOKEN": "x", "BAD": "caf\xe9"})
	csvOf := func(path string) string { return filepath.Join(filepath.Dir(path), "customers.csv") }

	path := writeCampaign(t, "hi\x00there", "phone,name", []string{"4915112345678,Ann"})
	_, err := Load(path, env, drivers.Catalog{})
	require.Equal(t, []string{path + `:15: broadcasts[0].message.text: contains a NUL byte (\0), which cannot be stored`}, problemLines(t, err))

	path = writeCampaign(t, "hi ${BAD}", "phone,name", []string{"4915112345678,Ann"})
	_, err = Load(path, env, drivers.Catalog{})
	require.Equal(t, []string{path + `:15: broadcasts[0].message.text: ${BAD} is not expanded here: ` + envFieldsMsg}, problemLines(t, err))

	path = writeCampaign(t, "hi {{code}}", "phone,name,code", []string{
		"4915112345678,Ann,A1",
		"4915112345679,B\x00b,A2",
		"4915112345680,Cy,A\xff3",
	})
	_, err = Load(path, env, drivers.Catalog{})
	require.Equal(t, []string{
		csvOf(path) + `:3: broadcasts[0] (big).audience.csv row 3 name: contains a NUL byte (\0), which cannot be stored`,
		csvOf(path) + `:4: broadcasts[0] (big).audience.csv row 4 code: is not valid UTF-8`,
	}, problemLines(t, err))

	path = writeCampaign(t, "hi", "phone,co\xffde", []string{"4915112345678,A1"})
	_, err = Load(path, env, drivers.Catalog{})
	require.Equal(t, []string{csvOf(path) + `:1: broadcasts[0] (big).audience.csv: the name of column 2 is not valid UTF-8`}, problemLines(t, err))

	// A variable's name in YAML, and people files for enroll, likewise.
	path = writeYAML(t, "accounts: []\nbroadcasts:\n  - name: b\n    audience:\n      recipients:\n        - {phone: \"4915112345678\", vars: {\"c\\0\": x}}\n")
	_, err = Load(path, env, drivers.Catalog{})
	require.Contains(t, problemLines(t, err), path+`:6: broadcasts[0].audience.recipients[0].vars: contains a NUL byte (\0), which cannot be stored`)

	people := filepath.Join(t.TempDir(), "people.csv")
	require.NoError(t, os.WriteFile(people, []byte("phone,name\n4915112345678,\xc3\n"), 0o600))
	_, err = LoadPeople(context.Background(), people, LoadOptions{})
	require.Equal(t, []string{people + ":2: people row 2 name: is not valid UTF-8"}, problemLines(t, err))
}

// A message with more different placeholders than a message takes is
// refused with one problem, before every recipient is checked against
// each: a template variable's value holding 100,000 of them made validate
// take 24 s (the listing was quadratic, and each recipient was checked
// against all).
func TestLoadRefusesTooManyPlaceholders(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	for i := range 100_000 {
		fmt.Fprintf(&b, "{{v%d}}", i)
	}
	path := writeYAML(t, `accounts:
  - name: main
    provider: botsailor
    customer_service_window: not_enforced
    api_token: ${BOTSAILOR_API_TOKEN}
    phone_number_id: "1"
    whatsapp_bot_id: 1
broadcasts:
  - name: b
    account: main
    audience: {recipients: [{phone: "4915112345678"}]}
    message: {template: {id: "1", vars: {body: "`+b.String()+`"}}}
`)
	_, err := Load(path, testEnv(map[string]string{"BOTSAILOR_API_TOKEN": "x"}), drivers.Catalog{})
	require.Equal(t, []string{path + ":12: broadcasts[0].message: uses 100000 different placeholders; a message takes at most 250"}, problemLines(t, err))
}
