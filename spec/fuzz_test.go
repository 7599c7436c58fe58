package spec

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wacamp/wacamp/provider/drivers"
)

// The secrets of the fuzz targets' environment: distinctive, so that any
// appearance is a leak.
const (
	fuzzToken      = "FuzzTok-5c1f9a7e3b2d4086ac"   // BOTSAILOR_API_TOKEN, an account's api_token
	fuzzHook       = "FuzzHook-0e1d2c3b4a596877"    // HOOK, an account's webhook_secret
	fuzzDBPassword = "FuzzDbPw-9e8d7c6b5a403121"    // in DATABASE_URL, a setting of the process
	fuzzFileToken  = "FuzzFileTok-1a2b3c4d5e6f7788" // the content of the token file TOKEN_FILE names
)

// fuzzEnv sets up the fuzz targets' environment, in getenv and in the
// process itself (so /proc/self/environ holds the secrets too), with a
// token file in dir.
func fuzzEnv(f *testing.F, dir string) func(string) string {
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte(fuzzFileToken+"\n"), 0o600); err != nil {
		f.Fatal(err)
	}
	env := map[string]string{
		"BOTSAILOR_API_TOKEN": fuzzToken,
		"HOOK":                fuzzHook,
		"DATABASE_URL":        "postgres://wacamp:" + fuzzDBPassword + "@db.internal:5432/wacamp",
		"GREETING":            "Hello",
		"TOKEN_FILE":          tokenFile,
	}
	for k, v := range env {
		f.Setenv(k, v)
	}
	return func(k string) string { return env[k] }
}

// fuzzLoadTimeout is the deadline of each load; a load still running well
// after it has ignored its context.
const fuzzLoadTimeout = 5 * time.Second

// fuzzLoad runs LoadContext on path under a deadline and checks what
// holds for every input: it returns (no panic, no hang past its context),
// and its error is a *ValidationError, each problem naming a file,
// or the context's.
func fuzzLoad(t *testing.T, path string, getenv func(string) string) (*Bundle, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), fuzzLoadTimeout)
	defer cancel()
	type result struct {
		b   *Bundle
		err error
	}
	done := make(chan result, 1)
	go func() {
		b, err := LoadContext(ctx, path, getenv, drivers.Catalog{})
		done <- result{b, err}
	}()
	var r result
	select {
	case r = <-done:
	case <-time.After(fuzzLoadTimeout + 30*time.Second):
		t.Fatalf("LoadContext still runs 30 s after its context ended")
	}
	if errors.Is(r.err, context.DeadlineExceeded) {
		return nil, r.err
	}
	requireProblems(t, r.err)
	if r.err == nil && r.b == nil {
		t.Fatal("LoadContext returned neither a Bundle nor an error")
	}
	return r.b, r.err
}

// requireProblems checks that err is nil or a *ValidationError whose
// every problem names a file.
func requireProblems(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("want a *ValidationError, got %T: %v", err, err)
	}
	for _, p := range ve.Problems {
		if p.File == "" {
			t.Fatalf("a problem names no file: %q", p.String())
		}
	}
}

// requireNoSecret fails if any of secrets shows in s.
func requireNoSecret(t *testing.T, what, s string, secrets ...string) {
	t.Helper()
	for _, secret := range secrets {
		if strings.Contains(s, secret) {
			t.Fatalf("a secret (%s) shows in %s:\n%s", secret, what, s)
		}
	}
}

// bundleText is everything b holds, as JSON without HTML escaping.
func bundleText(t *testing.T, b *Bundle) string {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(b); err != nil {
		t.Fatalf("the Bundle cannot be encoded: %v", err)
	}
	return buf.String()
}

// fuzzAccount is an account every seed campaign can use.
const fuzzAccount = `accounts:
  - name: main
    provider: botsailor
    customer_service_window: not_enforced
    base_url: http://127.0.0.1:1/api/v1
    api_token: ${BOTSAILOR_API_TOKEN}
    webhook_secret: ${HOOK}
    phone_number_id: "119060000040020"
    whatsapp_bot_id: 1
    daily_unique_limit: unlimited
`

// fuzzCSV is the audience file next to every fuzzed campaign file.
const fuzzCSV = "phone,name,code\n4915112345690,Bob,BF20\n+49 151 1234 5691,Cleo,BF21\n"

// FuzzLoad loads any campaign file (next to a customers.csv, in an
// environment holding secrets) under a deadline. Whatever the file:
// loading returns, its error is a *ValidationError (or the
// context's), and no secret of the environment — the account's token and
// webhook secret, the database password, the content of a token file —
// shows in the error; nor does any in the Bundle, except as the reference
// (env:VAR, file:/path) of the account that holds it.
func FuzzLoad(f *testing.F) {
	valid := fuzzAccount + `broadcasts:
  - name: black-friday
    account: main
    start_at: 2027-11-26T09:00:00+01:00
    deadline: 12h
    error_storm: {share: 0.1, window: 500}
    audience:
      recipients:
        - {phone: "+49 151 1234 5678", name: "Ann", vars: {code: "BF10"}}
      csv: customers.csv
    message:
      text: "${GREETING} {{name}}, your code is {{code}}"
sequences:
  - name: onboarding
    account: main
    window: {days: [mon, tue], from: "09:00", to: "20:00"}
    steps:
      - after: 0s
        message: {template: {id: "313823", vars: {name: "{{name}}", code-2: "x"}}}
`
	var manyVars strings.Builder
	for i := range 300 {
		fmt.Fprintf(&manyVars, "        v%d: \"{{p%d}}\"\n", i, i)
	}
	broadcast := func(fields string) string {
		return fuzzAccount + "broadcasts:\n  - name: b\n    account: main\n    audience: {recipients: [{phone: \"4915112345678\"}]}\n" + fields
	}
	for _, seed := range []string{
		valid,
		"accounts:\n  - &m1 {name: a, <<: *m1}\n",
		"broadcasts: &b [x, *b]\n",
		"a: &a {b: &b {<<: *a}}\n",
		laughs(6, false) + "broadcasts: *l6\n",
		laughs(6, true) + "accounts: [*l6]\n",
		deepAliases(MaxAliasDepth + 4),
		broadcast("    message: {text: \"hi\\0there\"}\n"),
		broadcast("    message: {text: \"hi\x00there\"}\n"),
		broadcast("    message: {text: \"caf\xe9\"}\n"),
		"\xef\xbb\xbf" + valid,
		broadcast("    message:\n      template:\n        id: \"1\"\n        vars:\n" + manyVars.String()),
		broadcast("    message: {text: \"hi ${BOTSAILOR_API_TOKEN}\"}\n"),
		broadcast("    message: {text: \"hi ${DATABASE_URL} ${HOOK} ${TOKEN_FILE}\"}\n"),
		broadcast("    message: {media: {url: \"https://x/${BOTSAILOR_API_TOKEN}\", type: image, caption: \"${DATABASE_URL}\"}}\n"),
		strings.Replace(broadcast("    message: {text: hi}\n"), "name: b", "name: ${BOTSAILOR_API_TOKEN}", 1),
		strings.Replace(broadcast("    message: {text: hi}\n"), "name: b", "name: ${DATABASE_URL}", 1),
		strings.Replace(broadcast("    message: {text: hi}\n"), "deadline", "x", 1) + "    deadline: ${DATABASE_URL}\n    start_at: ${BOTSAILOR_API_TOKEN}\n",
		strings.Replace(fuzzAccount, "http://127.0.0.1:1/api/v1", "http://host/${DATABASE_URL}", 1),
		strings.Replace(fuzzAccount, "http://127.0.0.1:1/api/v1", "${DATABASE_URL}", 1),
		strings.Replace(fuzzAccount, "http://127.0.0.1:1/api/v1", "http://${BOTSAILOR_API_TOKEN}@example.com/", 1),
		strings.Replace(fuzzAccount, `"119060000040020"`, "${DATABASE_URL}", 1) + "    rate_per_second: ${BOTSAILOR_API_TOKEN}\n    pair_interval: ${HOOK}\n",
		strings.Replace(fuzzAccount, "api_token: ${BOTSAILOR_API_TOKEN}", "api_token_file: /proc/self/environ", 1),
		strings.Replace(fuzzAccount, "api_token: ${BOTSAILOR_API_TOKEN}", "api_token_file: ${TOKEN_FILE}", 1),
		strings.Replace(fuzzAccount, "api_token: ${BOTSAILOR_API_TOKEN}", "api_token_file: /nonexistent/${BOTSAILOR_API_TOKEN}", 1),
		strings.Replace(fuzzAccount, "api_token: ${BOTSAILOR_API_TOKEN}", "api_token: \"Bearer ${BOTSAILOR_API_TOKEN}\"", 1),
		strings.Replace(fuzzAccount, "api_token: ${BOTSAILOR_API_TOKEN}", "api_token: "+fuzzToken, 1),
		fuzzAccount + "    frequency_cap: {messages: 2, per: 168h, sequences: skip}\n",
		fuzzAccount + "    frequency_cap: {messages: ${BOTSAILOR_API_TOKEN}, per: ${DATABASE_URL}}\n",
		fuzzAccount + "    opt_out: {confirmation: \"You will get no more messages.\", opt_in_confirmation: \"Welcome back.\"}\n",
		fuzzAccount + "    opt_out: {confirmation: \"${BOTSAILOR_API_TOKEN}\", opt_in_confirmation: ${DATABASE_URL}}\n",
		broadcast("    message: {text: hi}\n") + "    audience: {csv: /proc/self/environ}\n",
		strings.Replace(broadcast("    message: {text: hi}\n"), "{recipients: [{phone: \"4915112345678\"}]}", "{csv: ${TOKEN_FILE}}", 1),
		strings.Replace(broadcast("    message: {text: hi}\n"), "{recipients: [{phone: \"4915112345678\"}]}", "{csv: /etc/passwd}", 1),
		strings.Replace(broadcast("    message: {text: hi}\n"), "4915112345678", "${DATABASE_URL}", 1),
		"${BOTSAILOR_API_TOKEN}: x\n", "accounts: ${DATABASE_URL}\n", "x: ${\ny: ${}\nz: ${BOTSAILOR_API_TOKEN\n",
		"a: 1\n---\nb: 2\n", "", "\t", "[", "{a: 1, a: 2}", "- - - - -",
	} {
		f.Add([]byte(seed))
	}
	getenv := fuzzEnv(f, f.TempDir())
	// One directory for every input (inputs run one at a time in a
	// process): a new one per input would cost more than loading.
	dir := f.TempDir()
	path := filepath.Join(dir, "campaign.yaml")
	if err := os.WriteFile(filepath.Join(dir, "customers.csv"), []byte(fuzzCSV), 0o600); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		b, err := fuzzLoad(t, path, getenv)
		if err != nil {
			requireNoSecret(t, "the error", err.Error(), fuzzToken, fuzzHook, fuzzDBPassword, fuzzFileToken)
			return
		}
		text := bundleText(t, b)
		// wacamp's own settings are refused everywhere in a campaign file.
		requireNoSecret(t, "the Bundle", text, fuzzFileToken, fuzzDBPassword)
		for _, a := range b.Accounts {
			for _, ref := range []string{a.TokenRef, a.SecretRef, a.WebhookSecretRef} {
				switch ref {
				case "env:BOTSAILOR_API_TOKEN":
					requireNoSecret(t, "the Bundle", text, fuzzToken)
				case "env:HOOK":
					requireNoSecret(t, "the Bundle", text, fuzzHook)
				}
			}
		}
	})
}

// FuzzAudienceCSV reads any CSV file as a broadcast's audience (through
// LoadContext, with a fixed campaign file) and as a people file for
// `scheduler enroll` (LoadPeople, then CheckPeople against a
// sequence). Whatever the file: reading returns, errors are
// *ValidationError naming a file, people read have normalised phone
// numbers and their line, and a file that is not a CSV with a phone column
// (a secret file, a system file) has none of its content shown.
func FuzzAudienceCSV(f *testing.F) {
	for _, seed := range []string{
		fuzzCSV,
		"\uFEFFphone,Name,code\r\n4915112345690,Bob,BF20\r\n\r\n,,\r\n",
		"Phone,name,code,,extra\n4915112345690,Bob,BF20,,x\n4915112345690,Bob,BF20,y,\n",
		"phone,name,code\n0151 2,Ann,A\n4915112345690\n4915112345691,B\x00b,c\n4915112345692,C,\xff\n",
		"phone,name,code\n\"4915112345690,Bob,BF20\n",
		"phone;name;code\n4915112345690;Bob;BF20\n",
		"mobile,name\n4915112345690,Bob\n",
		"phone,phone,name\n1,2,3\n",
		"sk_live_0123456789abcdef:Secr3t$Token=xyz\n",
		"ghp$Secret:Token/Value=abcdef0123456789\nsecond line: also=secret\n",
		"root:$6$saltsalt$hashhashhash:19000:0:99999:7:::\nbin:*:19000:0:99999:7:::\n",
		"DATABASE_URL=postgres://wacamp:" + fuzzDBPassword + "@db/x\x00ASYNQMON_PASSWORD=p4ss:w0rd!\x00",
		"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmU=\n-----END OPENSSH PRIVATE KEY-----\n",
		"phone\n" + strings.Repeat("4915112345690\n", 50),
		"", "\n", ",", "\"", "phone\n\"",
	} {
		f.Add([]byte(seed))
	}
	getenv := fuzzEnv(f, f.TempDir())
	seqPath := filepath.Join(f.TempDir(), "sequence.yaml")
	if err := os.WriteFile(seqPath, []byte(fuzzAccount+`sequences:
  - name: onboarding
    account: main
    steps:
      - after: 0s
        message: {text: "Welcome {{name}}, code {{code}}"}
      - after: 24h
        message: {template: {id: "313823", vars: {name: "{{name}}"}}}
`), 0o600); err != nil {
		f.Fatal(err)
	}
	seq, err := Load(seqPath, getenv, drivers.Catalog{})
	if err != nil {
		f.Fatal(err)
	}
	spec := seq.Sequences[0].Spec()
	dir := f.TempDir() // one for every input, as in FuzzLoad
	path := filepath.Join(dir, "campaign.yaml")
	csvPath := filepath.Join(dir, "customers.csv")
	if err := os.WriteFile(path, []byte(fuzzAccount+`broadcasts:
  - name: b
    account: main
    audience: {csv: customers.csv}
    message: {text: "Hi {{name}}, your code is {{code}}"}
`), 0o600); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(csvPath, data, 0o600); err != nil {
			t.Fatal(err)
		}
		hidden := notShown(data)

		b, err := fuzzLoad(t, path, getenv)
		if err == nil {
			// What Load accepted reads back in full: every recipient once,
			// the file unchanged.
			n := 0
			for r, err := range b.Broadcasts[0].EachRecipient(t.Context()) {
				if err != nil {
					t.Fatalf("reading the audience again: %v", err)
				}
				if l := len(r.Phone); l < 8 || l > 15 || strings.Trim(r.Phone, "0123456789") != "" {
					t.Fatalf("recipient's phone %q is not normalised", r.Phone)
				}
				n++
			}
			if n != b.Broadcasts[0].RecipientCount() {
				t.Fatalf("read %d recipients, Load counted %d", n, b.Broadcasts[0].RecipientCount())
			}
		}
		if err != nil {
			var ve *ValidationError
			if errors.As(err, &ve) {
				for _, p := range ve.Problems {
					if p.File != path && p.File != csvPath {
						t.Fatalf("a problem names %s, neither the campaign nor its CSV: %s", p.File, p.String())
					}
				}
			}
			requireNoSecret(t, "the error", err.Error(), hidden...)
		}

		pf, err := LoadPeople(t.Context(), csvPath, LoadOptions{})
		requireProblems(t, err)
		if err != nil {
			var ve *ValidationError
			errors.As(err, &ve)
			for _, p := range ve.Problems {
				if p.File != csvPath {
					t.Fatalf("a problem of the people file names %s: %s", p.File, p.String())
				}
			}
			requireNoSecret(t, "the error", err.Error(), hidden...)
			return
		}
		var people []Person
		for p, err := range pf.Each(t.Context()) {
			if err != nil {
				t.Fatalf("reading the people again: %v", err)
			}
			people = append(people, p)
		}
		if len(people) != pf.Count {
			t.Fatalf("read %d people, LoadPeople counted %d", len(people), pf.Count)
		}
		for _, p := range people {
			if p.Pos.File != csvPath || p.Pos.Line < 2 {
				t.Fatalf("person %s is at %s", p.Phone, p.Pos)
			}
			if n := len(p.Phone); n < 8 || n > 15 || strings.Trim(p.Phone, "0123456789") != "" {
				t.Fatalf("person's phone %q is not normalised", p.Phone)
			}
		}
		for _, provider := range []string{"botsailor", "sobot"} {
			requireProblems(t, CheckPeople(spec, drivers.Catalog{}, provider, Persons(people...)))
		}
	})
}

// notShown returns the distinctive parts of a file (at least 12 bytes,
// with a character no path has) that no error may show: all of them when
// the file is not a CSV with a phone column, else none. It reads the
// first record as the reader does (a UTF-8 byte order mark dropped).
func notShown(data []byte) []string {
	r := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(data, []byte("\uFEFF"))))
	r.FieldsPerRecord = -1
	if header, err := r.Read(); err == nil {
		for _, h := range header {
			if strings.EqualFold(strings.TrimSpace(h), "phone") {
				return nil
			}
		}
	}
	var out []string
	for _, part := range strings.FieldsFunc(string(data), func(r rune) bool {
		return r == ',' || r == '\n' || r == '\r' || r == '"' || r == 0
	}) {
		if len(part) >= 12 && strings.ContainsFunc(part, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '/' || r == '-' || r == ' ')
		}) {
			out = append(out, part)
		}
	}
	return out
}
