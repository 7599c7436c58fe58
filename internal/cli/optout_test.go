package cli_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/consent"
	"github.com/wacamp/wacamp/store"
)

// The suppression list's commands: add, list (phones masked; in full with
// --json), remove; import refuses a file with a bad row (naming its line)
// and writes nothing, then imports; an enrolled person who is added ends
// their enrollment.
func TestOptoutCommands(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	path := w.sequence(`{after: 0s, message: {text: "Welcome {{name}}!"}}`, `{after: 24h, message: {text: "Day two"}}`)
	code, out := w.run("apply", "-f", path)
	require.Equal(t, 0, code, out)
	code, out = w.run("enroll", "onboarding", "--phone", "+49 151 0000 0001", "--name", "Ann")
	require.Equal(t, 0, code, out)

	code, out = w.run("optout", "add", "--phone", "+49 151 0000 0001", "--reason", "asked by phone")
	require.Equal(t, 0, code, out)
	require.Equal(t, "account:main: *********0001 (all) added; enrollments ended in onboarding\n", out)
	code, out = w.run("optout", "add", "--phone", "4915100000001")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "already there; nothing changed")
	code, out = w.run("optout", "add", "--phone", "4915100000002", "--scope", "marketing", "--account", "main")
	require.Equal(t, 0, code, out)
	code, out = w.run("optout", "add", "--phone", "12")
	require.Equal(t, 2, code, out)
	require.Contains(t, out, `--phone "12"`)
	code, out = w.run("optout", "add", "--phone", "4915100000003", "--account", "nope")
	require.Equal(t, 1, code, out)
	require.Contains(t, out, `no such account: "nope" (the accounts are main)`)
	code, out = w.run("status", "onboarding")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "enrollments: 1 exited")
	require.Contains(t, out, "step 1: 1 skipped (skipped: 1 opted_out)")

	code, out = w.run("optout", "list")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "*********0001  all        cli")
	require.Contains(t, out, "asked by phone")
	require.Contains(t, out, "*********0002  marketing  cli")
	require.Contains(t, out, "2 entries")
	require.NotContains(t, out, "4915100000001", "human output masks phones")
	code, out = w.run("optout", "list", "--json")
	require.Equal(t, 0, code, out)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 2, out)
	var e struct{ List, Phone, Scope, Source string }
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &e))
	require.Equal(t, "4915100000001", e.Phone)

	bad := w.write("bad.csv", "phone,scope\n4915100000005,all\n12,all\n4915100000006,some\n")
	code, out = w.run("optout", "import", "-f", bad)
	require.Equal(t, 1, code, out)
	require.Contains(t, out, "bad.csv:3: row 3 phone:")
	require.Contains(t, out, `bad.csv:4: row 4 scope: "some" must be all or marketing`)
	require.Contains(t, out, "2 problem(s); nothing was imported")
	code, out = w.run("optout", "list")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "2 entries")

	good := w.write("good.csv", "Phone,Scope,Reason\n+49 151 0000 0005,,\n4915100000006,marketing,form\n4915100000001,,\n")
	code, out = w.run("optout", "import", "-f", good, "--reason", "CRM unsubscribes")
	require.Equal(t, 0, code, out)
	require.Equal(t, "account:main: 3 rows read, 2 added, 1 already there\n", out)

	code, out = w.run("optout", "remove", "--phone", "4915100000001")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "*********0001: 1 entry removed (account:main)")
	code, out = w.run("optout", "remove", "--phone", "4915100000001")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "nothing changed")

	code, out = w.run("optout", "export")
	require.Equal(t, 0, code, out)
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	require.NoError(t, err)
	require.Equal(t, []string{"phone", "scope", "reason", "source", "created_at", "list", "zone"}, rows[0])
	require.Len(t, rows, 4)
	require.Equal(t, []string{"4915100000002", "marketing", "added by operator", "cli"}, rows[1][:4])
	require.Equal(t, []string{"4915100000005", "all", "CRM unsubscribes", "import"}, rows[2][:4])
	require.Equal(t, []string{"4915100000006", "marketing", "form", "import"}, rows[3][:4])

	code, out = w.run("optout", "frobnicate")
	require.Equal(t, 2, code, out)
}

// What export writes, import reads back into another installation: the
// same people, scopes, reasons and times (their source is import there).
func TestOptoutExportImportRoundTrip(t *testing.T) {
	t.Parallel()
	a, b := newWorld(t), newWorld(t)
	for _, w := range []*world{a, b} {
		code, out := w.run("apply", "-f", w.sequence(`{after: 0s, message: {text: "Hi"}}`))
		require.Equal(t, 0, code, out)
	}
	a.write("in.csv", "phone,scope,reason\n4915100000011,all,wrote STOP\n4915100000012,marketing,provider error 131050\n4915100000011,marketing,both scopes\n")
	code, out := a.run("optout", "import", "-f", a.dir+"/in.csv")
	require.Equal(t, 0, code, out)
	code, out = a.run("optout", "add", "--phone", "4915100000013")
	require.Equal(t, 0, code, out)
	code, exported := a.run("optout", "export")
	require.Equal(t, 0, code, exported)

	code, out = b.run("optout", "import", "-f", b.write("from-a.csv", exported))
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "4 rows read, 4 added")
	code, again := b.run("optout", "export")
	require.Equal(t, 0, code, again)

	keep := func(s string) [][]string { // phone, scope, reason, created_at
		rows, err := csv.NewReader(strings.NewReader(s)).ReadAll()
		require.NoError(t, err)
		out := make([][]string, len(rows))
		for i, r := range rows {
			out[i] = []string{r[0], r[1], r[2], r[4]}
		}
		return out
	}
	require.Equal(t, keep(exported), keep(again))
	require.Len(t, keep(again), 5)
	require.Contains(t, again, ",import,")
	// Each entry carries its number's zone (a +49 number: Berlin).
	rows, err := csv.NewReader(strings.NewReader(again)).ReadAll()
	require.NoError(t, err)
	for _, r := range rows[1:] {
		require.Equal(t, "Europe/Berlin", r[6], "%q", r)
	}
}

// An account's confirmation shows as its reply sequence: apply creates it,
// a keyword acted on enrolls the person (once per message), `status` lists
// it with the rest and shows its step, and `enroll` refuses it.
func TestOptoutConfirmationVisible(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	path := w.sequence(`{after: 0s, message: {text: "Hi"}}`)
	yaml, err := os.ReadFile(path)
	require.NoError(t, err)
	w.write("s.yaml", strings.Replace(string(yaml), "    daily_unique_limit: unlimited\n",
		"    daily_unique_limit: unlimited\n    opt_out: {confirmation: \"Done: no more messages. Reply START to undo.\"}\n", 1))
	code, out := w.run("apply", "-f", path)
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "~opt-out:main")

	db, err := store.Open(context.Background(), w.env["DATABASE_URL"], nil)
	require.NoError(t, err)
	defer db.Close()
	ctx := context.Background()
	acct, _, err := db.AccountID(ctx, "main")
	require.NoError(t, err)
	for range 2 { // the same message twice
		_, err = db.RecordInbound(ctx, acct, []consent.Inbound{{Phone: "4915100000001", Text: "STOP", At: time.Now(), Ref: "wamid.in1"}}, time.Now())
		require.NoError(t, err)
	}
	code, out = w.run("status")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "~opt-out:main (version 1): 1 active")
	code, out = w.run("status", "~opt-out:main")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "step 1: 1 planned")
	code, out = w.run("enroll", "~opt-out:main", "--phone", "4915100000002")
	require.NotEqual(t, 0, code, out)
	require.Contains(t, out, "is wacamp's own")
}
