package spec

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/localtime"
	"github.com/wacamp/wacamp/provider/drivers"
	"github.com/wacamp/wacamp/templates"
)

// testEnv returns a getenv over vars.
// testEnv is a getenv for Load. Unless vars says otherwise, secret files
// may be in the system's temporary directory, where writeTokenFile puts
// them.
func testEnv(vars map[string]string) func(string) string {
	return func(k string) string {
		if v, ok := vars[k]; ok || k != "WACAMP_SECRET_DIRS" {
			return v
		}
		return os.TempDir()
	}
}

// writeTokenFile writes a token file in a temporary directory and returns
// its absolute path.
func writeTokenFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "token")
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
	return path
}

// problemLines returns the lines of err, which must be a *ValidationError.
func problemLines(t *testing.T, err error) []string {
	t.Helper()
	var ve *ValidationError
	require.True(t, errors.As(err, &ve), "want a *ValidationError, got %T: %v", err, err)
	lines := make([]string, len(ve.Problems))
	for i, p := range ve.Problems {
		lines[i] = p.String()
	}
	require.Equal(t, strings.Join(lines, "\n"), err.Error())
	return lines
}

// allRecipients returns b's recipients as EachRecipient yields them, and
// checks that the hash Load stored for a CSV audience is the one the whole
// list has (the hash stored before audiences were streamed).
func allRecipients(t *testing.T, b Broadcast) []Recipient {
	t.Helper()
	var all []Recipient
	for r, err := range b.EachRecipient(context.Background()) {
		require.NoError(t, err)
		all = append(all, r)
	}
	require.Equal(t, b.RecipientCount(), len(all))
	_, h := b.SpecHash()
	require.Equal(t, hashJSON(all), h)
	return all
}

func TestLoadDirectory(t *testing.T) {
	t.Parallel()
	tokenFile := writeTokenFile(t, "  resold-token\n")
	b, err := Load("testdata/good", testEnv(map[string]string{
		"BOTSAILOR_API_TOKEN": "main-token",
		"TOKEN_FILE":          tokenFile,
		"GREETING":            "Hello",
	}), drivers.Catalog{})
	require.NoError(t, err)

	require.Equal(t, []Account{
		{
			Name: "main", Provider: "botsailor", BaseURL: "https://botsailor.com/api/v1",
			TokenRef: "env:BOTSAILOR_API_TOKEN", PhoneNumberID: "119060000040020",
			WhatsAppBotID: 123, RatePerSecond: 80, PairInterval: 6 * time.Second,
			DailyUniqueLimit: 2000, Portfolio: "acme",
			Pos: Pos{File: "testdata/good/accounts.yaml", Line: 3},
		},
		{
			Name: "resold", Provider: "botsailor", BaseURL: "https://app.wabotick.com/api/v1",
			TokenRef: "file:" + tokenFile, PhoneNumberID: "119060000040021",
			WhatsAppBotID: 123, RatePerSecond: 12.5, PairInterval: 10 * time.Second,
			Pos: Pos{File: "testdata/good/accounts.yaml", Line: 13},
		},
	}, b.Accounts)

	start := time.Date(2026, 11, 27, 9, 0, 0, 0, time.FixedZone("", 3600))
	require.Len(t, b.Broadcasts, 2)
	bf := b.Broadcasts[0]
	require.Equal(t, "black-friday", bf.Name)
	require.Equal(t, "main", bf.Account)
	require.NotNil(t, bf.StartAt)
	require.True(t, start.Equal(*bf.StartAt))
	require.Equal(t, 12*time.Hour, bf.Deadline)
	require.Equal(t, 0.1, bf.StormShare)
	require.Equal(t, 500, bf.StormWindow)
	require.Equal(t, templates.Message{Kind: templates.KindText, Text: "Hi {{name}}, your code is {{code}}",
		OutsideWindow: &templates.OutsideWindow{Template: &templates.Template{ID: "313823", Vars: []templates.TemplateVar{
			{Name: "name", Index: 1, Value: "{{name}}"}, {Name: "code", Index: 2, Value: "{{code}}"}}}}}, bf.Message)
	require.Equal(t, []Recipient{
		{Phone: "4915112345678", Name: "Ann", Vars: map[string]string{"code": "BF10"}},
		{Phone: "4915112345679", Name: "Ben", Vars: map[string]string{"code": ""}},
		{Phone: "4915112345690", Name: "Bob", Vars: map[string]string{"code": "BF20"}},
		{Phone: "4915112345691", Name: "Cleo", Vars: map[string]string{"code": "BF21"}},
	}, allRecipients(t, bf))
	require.Len(t, bf.Recipients, 2, "inline recipients")
	require.Equal(t, 2, bf.CSV.Rows)
	require.Equal(t, 2, bf.CSV.Duplicates)
	require.Equal(t, 2, bf.Duplicates)
	require.Equal(t, Pos{File: "testdata/good/black-friday.yaml", Line: 2}, bf.Pos)

	launch := b.Broadcasts[1]
	require.Nil(t, launch.StartAt)
	require.Equal(t, DefaultDeadline, launch.Deadline)
	require.Equal(t, DefaultStormShare, launch.StormShare)
	require.Equal(t, DefaultStormWindow, launch.StormWindow)
	require.Equal(t, templates.Message{Kind: templates.KindTemplate, Template: &templates.Template{
		ID: "313823",
		Vars: []templates.TemplateVar{
			{Name: "phone", Index: 1, Value: "{{phone}}"},
			{Name: "code", Index: 3, Value: "LAUNCH"},
			{Name: "greeting", Index: 3, Value: "Hello"},
		},
	}}, launch.Message)
	require.Equal(t, []Recipient{{Phone: "4915112345678"}}, launch.Recipients)

	require.Equal(t, []string{
		"black-friday: 2 duplicate recipients removed (first at testdata/good/customers.csv:4)",
	}, b.Warnings)
}

func TestLoadSingleFile(t *testing.T) {
	t.Parallel()
	b, err := Load("testdata/bom/bom.yaml", testEnv(map[string]string{"BOTSAILOR_API_TOKEN": "x"}), drivers.Catalog{})
	require.NoError(t, err)
	require.Len(t, b.Accounts, 1)
	require.Len(t, b.Broadcasts, 1)
	require.Equal(t, DefaultPairInterval, b.Accounts[0].PairInterval)
	require.Zero(t, b.Accounts[0].DailyUniqueLimit)
	require.Equal(t, []string{
		`testdata/bom/bom.yaml:9: account main sets no daily_unique_limit, so no 24 h unique-recipient budget is kept; set your portfolio's messaging limit (250, 2000, 10000, 100000) or "unlimited"`,
	}, b.Warnings)
}

// A CSV file with a byte order mark, CRLF line ends, a quoted multi-line
// cell and blank rows loads like a plain one.
func TestLoadCSVWithBOMAndCRLF(t *testing.T) {
	t.Parallel()
	b, err := Load("testdata/bom", testEnv(map[string]string{"BOTSAILOR_API_TOKEN": "x"}), drivers.Catalog{})
	require.NoError(t, err)
	require.Equal(t, []Recipient{
		{Phone: "4915112345678", Name: "Ann", Vars: map[string]string{"Code": "BF10", "Note": "multi\nline"}},
		{Phone: "4915112345679", Name: "Ben", Vars: map[string]string{"Code": "BF11"}},
		{Phone: "4915112345680", Name: "Cleo", Vars: map[string]string{"Code": "BF12", "Note": "x"}},
	}, allRecipients(t, b.Broadcasts[0]))
	require.Equal(t, "Hi {{name}}, {{Code}}", b.Broadcasts[0].Message.Text)
}

func TestLoadProblems(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		path string
		want []string
	}{
		{
			name: "Syntax",
			path: "testdata/bad/syntax.yaml",
			want: []string{
				`testdata/bad/syntax.yaml:2: invalid YAML: did not find expected ',' or ']'`,
			},
		},
		{
			name: "TwoDocuments",
			path: "testdata/bad/two_docs.yaml",
			want: []string{
				`testdata/bad/two_docs.yaml:2: only one YAML document per file is supported (found a second one)`,
			},
		},
		{
			name: "DuplicateKey",
			path: "testdata/bad/dup_keys.yaml",
			want: []string{
				`testdata/bad/dup_keys.yaml:2: accounts[0].api_token: is required (a ${VAR} reference), or set api_token_file`,
				`testdata/bad/dup_keys.yaml:2: accounts[0].phone_number_id: is required`,
				`testdata/bad/dup_keys.yaml:2: accounts[0].whatsapp_bot_id: is required (the provider's bot ID, used to poll message status)`,
				`testdata/bad/dup_keys.yaml:3: accounts[0].name: duplicate key (first at line 2)`,
			},
		},
		{
			name: "UnknownKeys",
			path: "testdata/bad/unknown_keys.yaml",
			want: []string{
				`testdata/bad/unknown_keys.yaml:1: acounts: unknown key (did you mean "accounts"?)`,
				`testdata/bad/unknown_keys.yaml:3: broadcasts[0].message: is required: one of text, media, template, bot_flow, location, buttons, list`,
				`testdata/bad/unknown_keys.yaml:4: broadcasts[0].account: unknown account "main" (no accounts are defined: the files given must define every account they use; through the API, as the operator applied it)`,
				`testdata/bad/unknown_keys.yaml:5: broadcasts[0].mesage: unknown key (did you mean "message"?)`,
				`testdata/bad/unknown_keys.yaml:9: broadcasts[0].audience.recipients[0].nmae: unknown key (did you mean "name"?)`,
				`testdata/bad/unknown_keys.yaml:10: broadcasts[0].audience.cvs: unknown key (did you mean "csv"?)`,
				`testdata/bad/unknown_keys.yaml:11: broadcasts[0].start: unknown key (did you mean "start_at"?)`,
			},
		},
		{
			name: "Accounts",
			path: "testdata/bad/account_problems.yaml",
			want: []string{
				`testdata/bad/account_problems.yaml:3: accounts[0].provider: unknown provider "twilio" (known: botsailor, wabotick, sobot, salebot, waapi)`,
				`testdata/bad/account_problems.yaml:4: accounts[0].base_url: "ftp://botsailor.com" is not an http(s) URL`,
				`testdata/bad/account_problems.yaml:6: accounts[0].phone_number_id: "+49 151" must be digits only (the provider's phone number ID, not the phone number)`,
				`testdata/bad/account_problems.yaml:7: accounts[0].whatsapp_bot_id: must be a whole number, got "abc"`,
				`testdata/bad/account_problems.yaml:8: accounts[0].rate_per_second: must be more than 0 and at most 1000, got 0`,
				`testdata/bad/account_problems.yaml:9: accounts[1].name: "Bad Name": use lower-case letters, digits, '_', '.' and '-', starting with a letter or digit`,
				`testdata/bad/account_problems.yaml:12: accounts[1].api_token: environment variable MISSING_TOKEN is not set or is empty`,
				`testdata/bad/account_problems.yaml:15: accounts[1].rate_per_second: must be more than 0 and at most 1000, got 1001`,
				`testdata/bad/account_problems.yaml:16: accounts[2].name: duplicate account name "main" (first defined at testdata/bad/account_problems.yaml:2)`,
				`testdata/bad/account_problems.yaml:19: accounts[2].api_token: api_token must be a ${VAR} reference or use api_token_file; literal tokens are refused so they never reach git or the database`,
				`testdata/bad/account_problems.yaml:21: accounts[2].whatsapp_bot_id: must be positive, got -3`,
				`testdata/bad/account_problems.yaml:22: accounts[3].name: is required`,
				`testdata/bad/account_problems.yaml:22: accounts[3].phone_number_id: is required`,
				`testdata/bad/account_problems.yaml:22: accounts[3].whatsapp_bot_id: is required (the provider's bot ID, used to poll message status)`,
				`testdata/bad/account_problems.yaml:24: accounts[3].base_url: environment variable MISSING_BASE is not set or is empty`,
				`testdata/bad/account_problems.yaml:25: accounts[3].api_token_file: "/nonexistent/wacamp/token" is outside the directories secret files are read from (` + os.TempDir() + `); put the file there, or add its directory to WACAMP_SECRET_DIRS`,
				`testdata/bad/account_problems.yaml:30: accounts[4].api_token_file: set either api_token or api_token_file, not both`,
				`testdata/bad/account_problems.yaml:36: accounts[5].api_token_file: "secrets/token" is not an absolute path; workers on other machines read the same path`,
				`testdata/bad/account_problems.yaml:40: accounts[6].provider: expected a string, got a mapping`,
				`testdata/bad/account_problems.yaml:41: accounts[6].api_token: expected a ${VAR} reference, got a list`,
				`testdata/bad/account_problems.yaml:50: accounts[7].pair_interval: "6" is not a duration such as 24h, 90m or 2h30m`,
				`testdata/bad/account_problems.yaml:51: accounts[7].daily_unique_limit: "250 per day" must be a positive number of recipients (WhatsApp's tiers: 250, 2000, 10000, 100000) or "unlimited"`,
				`testdata/bad/account_problems.yaml:52: accounts[7].portfolio: "Acme Corp" must be lower case letters, digits, '.', '_' or '-'`,
				`testdata/bad/account_problems.yaml:59: accounts[8].pair_interval: must not be negative, got -1s`,
				`testdata/bad/account_problems.yaml:60: accounts[8].daily_unique_limit: "0" must be a positive number of recipients (WhatsApp's tiers: 250, 2000, 10000, 100000) or "unlimited"`,
				`testdata/bad/account_problems.yaml:69: portfolio: account "shared-b" shares portfolio "acme" with account "shared-a" (testdata/bad/account_problems.yaml:61) but sets daily_unique_limit 10000; accounts of one portfolio share one budget and must agree`,
			},
		},
		{
			name: "Broadcasts",
			path: "testdata/bad/broadcast_problems.yaml",
			want: []string{
				`testdata/bad/broadcast_problems.yaml:10: broadcasts[0].account: unknown account "mian" (did you mean "main"?)`,
				`testdata/bad/broadcast_problems.yaml:11: broadcasts[0].start_at: "27.11.2026 09:00" is not an RFC 3339 time with offset, e.g. 2027-11-26T09:00:00+01:00`,
				`testdata/bad/broadcast_problems.yaml:12: broadcasts[0].deadline: "1d" is not a duration such as 24h, 90m or 2h30m`,
				`testdata/bad/broadcast_problems.yaml:16: broadcasts[0].message: needs exactly one of text, media, template, bot_flow, location, buttons, list`,
				`testdata/bad/broadcast_problems.yaml:19: broadcasts[1].deadline: must be positive, got -1h`,
				`testdata/bad/broadcast_problems.yaml:20: broadcasts[1].audience: has no recipients; list recipients and/or give a csv file`,
				`testdata/bad/broadcast_problems.yaml:22: broadcasts[1].message: has text and bot_flow; a message has exactly one of text, media, template, bot_flow, location, buttons, list`,
				`testdata/bad/broadcast_problems.yaml:24: broadcasts[2].name: "Two Kinds": use lower-case letters, digits, '_', '.' and '-', starting with a letter or digit`,
				`testdata/bad/broadcast_problems.yaml:30: broadcasts[2].message.media.url: "ftp://x/a.jpg" is not an http(s) URL`,
				`testdata/bad/broadcast_problems.yaml:30: broadcasts[2].message.media.type: must be one of image, video, audio, document, sticker`,
				`testdata/bad/broadcast_problems.yaml:30: broadcasts[2].message.media.caption: malformed placeholder "{{ }}": a name starts with a letter or _ and has only letters, digits, _ . -`,
				`testdata/bad/broadcast_problems.yaml:31: broadcasts[3].name: duplicate broadcast name "no-kind" (first defined at testdata/bad/broadcast_problems.yaml:9)`,
				`testdata/bad/broadcast_problems.yaml:31: broadcasts[3].account: is required`,
				`testdata/bad/broadcast_problems.yaml:35: broadcasts[3].audience.recipients[1].phone: "12" has 2 digits; a phone number needs 8–15 digits with country code`,
				`testdata/bad/broadcast_problems.yaml:36: broadcasts[3].audience.recipients[2].phone: "49151abc" contains 'a'; a phone number has only digits, spaces, dashes, dots, parentheses and a leading + or 00`,
				`testdata/bad/broadcast_problems.yaml:37: broadcasts[3].audience.recipients[3].phone: is required`,
				`testdata/bad/broadcast_problems.yaml:38: broadcasts[3].audience.recipients[4].vars.name: is reserved; set the recipient's own name field`,
				`testdata/bad/broadcast_problems.yaml:41: broadcasts[3].message.template.id: is empty; set id (BotSailor family), or name and language (Sobot)`,
				`testdata/bad/broadcast_problems.yaml:42: broadcasts[3].message.template.vars[0].index: must be 1 or more, got 0`,
				`testdata/bad/broadcast_problems.yaml:42: broadcasts[3].message.template.vars[2]: a-2 is set twice (also template.vars[1])`,
				`testdata/bad/broadcast_problems.yaml:45: broadcasts[4].audience: expected a mapping, got a list`,
				`testdata/bad/broadcast_problems.yaml:46: broadcasts[4].message: expected a mapping, got "hi"`,
				`testdata/bad/broadcast_problems.yaml:47: broadcasts[5].message: is required: one of text, media, template, bot_flow, location, buttons, list`,
				`testdata/bad/broadcast_problems.yaml:50: broadcasts[5].audience.recipients: expected a list, got a mapping`,
			},
		},
		{
			name: "CSV",
			path: "testdata/bad/csv_problems.yaml",
			want: []string{
				`testdata/bad/bad_rows.csv:3: broadcasts[0] (bad-rows).audience.csv row 3 phone: "12" has 2 digits; a phone number needs 8–15 digits with country code`,
				`testdata/bad/bad_rows.csv:5: broadcasts[0] (bad-rows).audience.csv row 5: has 3 fields; the header has 2`,
				`testdata/bad/bad_rows.csv:6: broadcasts[0] (bad-rows).audience.csv row 6 phone: "0151 1234567" has no country code (it starts with 0 after any + or 00); write it in international form, e.g. +49 151 1234567`,
				`testdata/bad/bad_rows.csv:7: broadcasts[0] (bad-rows).audience.csv row 7 phone: "4915123456789.0" looks like a number a spreadsheet wrote as a decimal, which changes its digits; format the phone column as text and export again`,
				`testdata/bad/bad_rows.csv:8: broadcasts[0] (bad-rows).audience.csv row 8 phone: "1 555 0100" is too short for a full number with country code +1 (US)`,
				`testdata/bad/no_phone.csv:1: broadcasts[1] (no-phone).audience.csv: the header has no phone column (columns: mobile, name)`,
				`testdata/bad/csv_problems.yaml:22: broadcasts[2].audience.csv: cannot read testdata/bad/does_not_exist.csv: no such file or directory`,
				`testdata/bad/semicolons.csv:1: broadcasts[3] (semicolons).audience.csv: the first line is not a header with a phone column (not shown: this may not be a CSV file); columns must be separated by commas`,
				`testdata/bad/broken_quote.csv:3: broadcasts[4] (broken-quote).audience.csv: extraneous or missing " in quoted-field`,
			},
		},
		{
			name: "ImpossiblePhones",
			path: "testdata/bad/phones.yaml",
			want: []string{
				`testdata/bad/phones.yaml:14: broadcasts[0].audience.recipients[1].phone: "4915123456789.0" looks like a number a spreadsheet wrote as a decimal, which changes its digits; format the phone column as text and export again`,
				`testdata/bad/phones.yaml:15: broadcasts[0].audience.recipients[2].phone: "1 555 0100" is too short for a full number with country code +1 (US)`,
				`testdata/bad/phones.yaml:16: broadcasts[0].audience.recipients[3].phone: "+999 1234 5678" starts with no country code in use; write the number with its country code`,
			},
		},
		{
			name: "MissingVariables",
			path: "testdata/bad/vars.yaml",
			want: []string{
				`testdata/bad/vars.yaml:17: broadcasts[0].message.text: {{name}} has no value for 7 recipients: 4915112345679 (testdata/bad/vars.yaml:14), 4915112345681 (testdata/bad/vars.csv:3), 4915112345683 (testdata/bad/vars.csv:5), 4915112345684 (testdata/bad/vars.csv:6), 4915112345685 (testdata/bad/vars.csv:7) and 2 more`,
				`testdata/bad/vars.yaml:17: broadcasts[0].message.text: {{code}} has no value for 7 recipients: 4915112345679 (testdata/bad/vars.yaml:14), 4915112345682 (testdata/bad/vars.csv:4), 4915112345683 (testdata/bad/vars.csv:5), 4915112345684 (testdata/bad/vars.csv:6), 4915112345685 (testdata/bad/vars.csv:7) and 2 more`,
				`testdata/bad/vars.yaml:25: broadcasts[1].message.media.url: after rendering for recipient 4915112345678 (testdata/bad/vars.yaml:22): "https://cdn example com/a.jpg" is not an http(s) URL`,
			},
		},
		{
			name: "DuplicatesAcrossFiles",
			path: "testdata/dupdir",
			want: []string{
				`testdata/dupdir/b.yml:2: accounts[0].name: duplicate account name "main" (first defined at testdata/dupdir/a.yaml:2)`,
				`testdata/dupdir/b.yml:9: broadcasts[0].name: duplicate broadcast name "promo" (first defined at testdata/dupdir/a.yaml:9)`,
				`testdata/dupdir/b.yml:10: broadcasts[0].account: unknown account "mian" (did you mean "main"?)`,
			},
		},
		{
			name: "TokenVariableElsewhere",
			path: "testdata/bad/token_reuse.yaml",
			want: []string{
				`testdata/bad/token_reuse.yaml:14: broadcasts[0].message.text: ${BOTSAILOR_API_TOKEN} is not expanded here: ` + envFieldsMsg,
			},
		},
		{
			name: "NoSuchPath",
			path: "testdata/nope",
			want: []string{`testdata/nope: cannot read: no such file or directory`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b, err := Load(tt.path, testEnv(map[string]string{"BOTSAILOR_API_TOKEN": "tok-SECRET-123"}), drivers.Catalog{})
			require.Nil(t, b)
			require.Equal(t, tt.want, problemLines(t, err))
			// neither the variable's value nor a literal token
			require.NotContains(t, err.Error(), "tok-SECRET-123")
			require.NotContains(t, err.Error(), "SECRET_literal")

		})
	}
}

func TestLoadEmptyDirectory(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("x"), 0o600))
	_, err := Load(dir, testEnv(nil), drivers.Catalog{})
	require.Equal(t, []string{dir + ": no *.yaml or *.yml files in directory"}, problemLines(t, err))
}

func TestLoadEmptyFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "empty.yaml")
	require.NoError(t, os.WriteFile(path, []byte("# nothing yet\n"), 0o600))
	b, err := Load(path, testEnv(nil), drivers.Catalog{})
	require.NoError(t, err)
	require.Empty(t, b.Accounts)
	require.Empty(t, b.Broadcasts)
}

// No error message contains a token, whether it is pasted into the file,
// referenced from a field that is not api_token, or sits in a token file.
func TestLoadNeverPrintsTokens(t *testing.T) {
	t.Parallel()
	const secret = "tok-SECRET-123"
	empty := writeTokenFile(t, " \n")
	_, err := Load("testdata/bad/token_leak.yaml", testEnv(map[string]string{
		"BOTSAILOR_API_TOKEN": secret,
		"EMPTY_TOKEN_FILE":    empty,
	}), drivers.Catalog{})
	lines := problemLines(t, err)
	require.Equal(t, []string{
		`testdata/bad/token_leak.yaml:5: accounts[0].base_url: ${VAR} may stand only for the host (and port) of base_url, as in https://${API_HOST}/api/v1`,
		`testdata/bad/token_leak.yaml:6: accounts[0].api_token: ` + literalTokenMsg,
		`testdata/bad/token_leak.yaml:7: accounts[0].phone_number_id: "${BOTSAILOR_API_TOKEN}" must be digits only (the provider's phone number ID, not the phone number)`,
		`testdata/bad/token_leak.yaml:8: accounts[0].whatsapp_bot_id: must be a whole number, got "${BOTSAILOR_API_TOKEN}"`,
		`testdata/bad/token_leak.yaml:9: accounts[0].rate_per_second: ${BOTSAILOR_API_TOKEN} is not expanded here: ` + envFieldsMsg,
		`testdata/bad/token_leak.yaml:13: accounts[1].api_token: ` + literalTokenMsg,
		// A path from the environment is shown as written, like any value.
		`testdata/bad/token_leak.yaml:19: accounts[2].api_token_file: "${EMPTY_TOKEN_FILE}" is empty`,
	}, lines)
	require.NotContains(t, err.Error(), "SECRET")
}

func TestLoadTokenFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tokenFile := writeTokenFile(t, "abc\n")
	yaml := fmt.Sprintf(`accounts:
  - name: main
    provider: botsailor
    customer_service_window: not_enforced
    api_token_file: %s
    phone_number_id: "1"
    whatsapp_bot_id: 1
`, tokenFile)
	path := filepath.Join(dir, "a.yaml")
	require.NoError(t, os.WriteFile(path, []byte(yaml), 0o600))
	b, err := Load(path, testEnv(nil), drivers.Catalog{})
	require.NoError(t, err)
	require.Equal(t, "file:"+tokenFile, b.Accounts[0].TokenRef)
	tok, err := ResolveToken(b.Accounts[0].TokenRef, testEnv(nil))
	require.NoError(t, err)
	require.Equal(t, "abc", tok)
}

// writeCampaign writes a campaign file with one account and one text
// broadcast whose audience is the CSV file customers.csv, with the given
// header and rows, and returns the YAML file's path.
func writeCampaign(t *testing.T, text, header string, rows []string) string {
	t.Helper()
	dir := t.TempDir()
	csv := header + "\n" + strings.Join(rows, "\n") + "\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "customers.csv"), []byte(csv), 0o600))
	yaml := fmt.Sprintf(`accounts:
  - name: main
    provider: botsailor
    customer_service_window: not_enforced
    api_token: ${BOTSAILOR_API_TOKEN}
    phone_number_id: "1"
    whatsapp_bot_id: 1
    daily_unique_limit: unlimited
broadcasts:
  - name: big
    account: main
    audience:
      csv: customers.csv
    message:
      text: %q
`, text)
	path := filepath.Join(dir, "campaign.yaml")
	require.NoError(t, os.WriteFile(path, []byte(yaml), 0o600))
	return path
}

// Ten thousand rows, one in ten a duplicate: every duplicate is counted and
// reported once, with where the first one is.
func TestLoadLargeCSV(t *testing.T) {
	t.Parallel()
	const n = 10_000
	rows := make([]string, n)
	for i := range rows {
		num := 4915100000000 + i
		if i%10 == 9 {
			num = 4915100000000 + i - 1 // repeats the row before
		}
		rows[i] = fmt.Sprintf("%d,Name %d,CODE%d", num, i, i)
	}
	path := writeCampaign(t, "Hi {{name}}, {{code}} for {{phone}}", "phone,name,code", rows)

	b, err := Load(path, testEnv(map[string]string{"BOTSAILOR_API_TOKEN": "x"}), drivers.Catalog{})
	require.NoError(t, err)
	require.Len(t, allRecipients(t, b.Broadcasts[0]), n-n/10)
	require.Equal(t, n/10, b.Broadcasts[0].Duplicates)
	require.Equal(t, []string{fmt.Sprintf("big: %d duplicate recipients removed (first at %s:11)", n/10, filepath.Join(filepath.Dir(path), "customers.csv"))}, b.Warnings)
}

// A file's problems are capped at 50 and counted beyond that.
func TestLoadCapsProblemsPerFile(t *testing.T) {
	t.Parallel()
	rows := make([]string, 60)
	for i := range rows {
		rows[i] = fmt.Sprintf("%d,x", i+1)
	}
	path := writeCampaign(t, "hi", "phone,name", rows)
	_, err := Load(path, testEnv(map[string]string{"BOTSAILOR_API_TOKEN": "x"}), drivers.Catalog{})
	lines := problemLines(t, err)
	require.Len(t, lines, 51)
	csvPath := filepath.Join(filepath.Dir(path), "customers.csv")
	require.Equal(t, csvPath+`:2: broadcasts[0] (big).audience.csv row 2 phone: "1" has 1 digits; a phone number needs 8–15 digits with country code`, lines[0])
	require.Equal(t, csvPath+": and 10 more problems", lines[50])
}

// An empty CSV cell is no value: a placeholder needing it is an error.
func TestLoadEmptyCellIsNoValue(t *testing.T) {
	t.Parallel()
	path := writeCampaign(t, "Code {{code}}", "phone,code", []string{"4915112345678,A1", "4915112345679,  "})
	_, err := Load(path, testEnv(map[string]string{"BOTSAILOR_API_TOKEN": "x"}), drivers.Catalog{})
	csvPath := filepath.Join(filepath.Dir(path), "customers.csv")
	require.Equal(t, []string{
		path + ":15: broadcasts[0].message.text: {{code}} has no value for recipient 4915112345679 (" + csvPath + ":3)",
	}, problemLines(t, err))
}

// A rendered text longer than WhatsApp allows is refused per recipient.
func TestLoadRenderedTooLong(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", templates.MaxTextLen)
	path := writeCampaign(t, "{{note}}!", "phone,note", []string{"4915112345678,short", "4915112345679," + long, "4915112345680," + long})
	_, err := Load(path, testEnv(map[string]string{"BOTSAILOR_API_TOKEN": "x"}), drivers.Catalog{})
	csvPath := filepath.Join(filepath.Dir(path), "customers.csv")
	require.Equal(t, []string{
		path + ":15: broadcasts[0].message.text: after rendering for 2 recipients, e.g. 4915112345679 (" + csvPath + ":3): has 4097 characters; at most 4096 are allowed",
	}, problemLines(t, err))
}

func TestLoadCSVHeaderProblems(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		header string
		rows   []string
		want   string // the problem after "<csv>:"
	}{
		{"DuplicateColumn", "phone,code,code", []string{"4915112345678,a,b"}, `1: broadcasts[0] (big).audience.csv: columns 2 and 3 are both named "code"`},
		{"DuplicatePhone", "Phone,PHONE", []string{"4915112345678,4915112345678"}, `1: broadcasts[0] (big).audience.csv: columns 1 and 2 are both named "PHONE"`},
		{"UnnamedColumnWithValue", "phone,", []string{"4915112345678,", "4915112345679,x"}, `3: broadcasts[0] (big).audience.csv row 3: column 2 has a value but no name in the header`},
		{"ShortRow", "phone,name", []string{"4915112345678"}, `2: broadcasts[0] (big).audience.csv row 2: has 1 fields; the header has 2`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := writeCampaign(t, "hi", tt.header, tt.rows)
			_, err := Load(path, testEnv(map[string]string{"BOTSAILOR_API_TOKEN": "x"}), drivers.Catalog{})
			require.Equal(t, []string{filepath.Join(filepath.Dir(path), "customers.csv") + ":" + tt.want}, problemLines(t, err))
		})
	}
}

func TestLoadEmptyCSV(t *testing.T) {
	t.Parallel()
	path := writeCampaign(t, "hi", "phone", nil)
	require.NoError(t, os.WriteFile(filepath.Join(filepath.Dir(path), "customers.csv"), nil, 0o600))
	_, err := Load(path, testEnv(map[string]string{"BOTSAILOR_API_TOKEN": "x"}), drivers.Catalog{})
	require.Equal(t, []string{
		filepath.Join(filepath.Dir(path), "customers.csv") + ": broadcasts[0] (big).audience.csv: is empty; the first row must be a header with a phone column",
	}, problemLines(t, err))
}

func TestRecipientRenderVars(t *testing.T) {
	t.Parallel()
	require.Equal(t, map[string]string{"phone": "4915112345678", "name": "Ann", "code": "BF10"},
		Recipient{Phone: "4915112345678", Name: "Ann", Vars: map[string]string{"code": "BF10"}}.RenderVars())
	require.Equal(t, map[string]string{"phone": "4915112345678"}, Recipient{Phone: "4915112345678"}.RenderVars())
}

func TestPosString(t *testing.T) {
	t.Parallel()
	require.Equal(t, "campaigns/bf.yaml:14", Pos{File: "campaigns/bf.yaml", Line: 14}.String())
}

// The recipient limits: Meta's tier names, intervals below WhatsApp's pair
// rate, and audiences the budget cannot cover before their deadline.
func TestLoadLimitSettings(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "c.yaml")
	require.NoError(t, os.WriteFile(path, []byte(`accounts:
  - name: small
    provider: botsailor
    customer_service_window: not_enforced
    api_token: ${BOTSAILOR_API_TOKEN}
    phone_number_id: "1"
    whatsapp_bot_id: 1
    pair_interval: 2s
    daily_unique_limit: TIER_2K
  - name: tiny
    provider: botsailor
    customer_service_window: not_enforced
    api_token: ${BOTSAILOR_API_TOKEN}
    phone_number_id: "2"
    whatsapp_bot_id: 1
    pair_interval: 0s
    daily_unique_limit: 2
broadcasts:
  - name: short
    account: tiny
    audience: {recipients: [{phone: "4915100000001"}, {phone: "4915100000002"}, {phone: "4915100000003"}]}
    message: {text: hi}
  - name: long
    account: tiny
    deadline: 72h
    audience: {recipients: [{phone: "4915100000001"}, {phone: "4915100000002"}, {phone: "4915100000003"}]}
    message: {text: hi}
`), 0o600))
	b, err := Load(path, testEnv(map[string]string{"BOTSAILOR_API_TOKEN": "x"}), drivers.Catalog{})
	require.NoError(t, err)
	require.Equal(t, 2000, b.Accounts[0].DailyUniqueLimit)
	require.Equal(t, 2*time.Second, b.Accounts[0].PairInterval)
	require.Zero(t, b.Accounts[1].PairInterval)
	require.Equal(t, []string{
		path + ":8: account small: pair_interval 2s is below WhatsApp's pair rate (one message per 6 s to the same user); the provider may answer 131056",
		path + ":16: account tiny: pair_interval 0s is below WhatsApp's pair rate (one message per 6 s to the same user); the provider may answer 131056",
		path + ":19: broadcast short has 3 recipients but account tiny's daily_unique_limit is 2: the other 1 wait for room, at least 24 h after the first sends, after its deadline (24h0m0s): they would expire; set a longer deadline",
		path + ":23: broadcast long has 3 recipients but account tiny's daily_unique_limit is 2: the other 1 wait for room, at least 24 h after the first sends",
	}, b.Warnings)

	require.NoError(t, os.WriteFile(path, []byte(`accounts:
  - name: bad
    provider: botsailor
    customer_service_window: not_enforced
    api_token: ${BOTSAILOR_API_TOKEN}
    phone_number_id: "1"
    whatsapp_bot_id: 1
    pair_interval: 500us
    daily_unique_limit: TIER_MANY
`), 0o600))
	_, err = Load(path, testEnv(map[string]string{"BOTSAILOR_API_TOKEN": "x"}), drivers.Catalog{})
	require.Equal(t, []string{
		path + `:8: accounts[0].pair_interval: must be 0s (off) or at least 1ms, got 500us`,
		path + `:9: accounts[0].daily_unique_limit: "TIER_MANY" must be a positive number of recipients (WhatsApp's tiers: 250, 2000, 10000, 100000) or "unlimited"`,
	}, problemLines(t, err))
}

func TestLoadSequences(t *testing.T) {
	t.Parallel()
	_, err := Load("testdata/sequences/bad.yaml", testEnv(map[string]string{"BOTSAILOR_API_TOKEN": "x"}), drivers.Catalog{})
	p := "testdata/sequences/bad.yaml"
	require.Equal(t, []string{
		p + `:24: sequences[1].name: "bad seq": use lower-case letters, digits, '_', '.' and '-', starting with a letter or digit`,
		p + `:25: sequences[1].account: unknown account "mian" (did you mean "main"?)`,
		p + `:26: sequences[1].window: unknown day "funday" (use mon, tue, wed, thu, fri, sat, sun or daily)`,
		p + `:27: sequences[1].timezone: "Mars/Olympus" is neither "recipient" nor an IANA time zone such as Europe/Berlin`,
		p + `:28: sequences[1].exit_on[1]: "clicked" is not an exit rule (reply, unsubscribe)`,
		p + `:29: sequences[1].reenter: must be true or false, got "maybe"`,
		p + `:30: sequences[1].steps: a sequence needs at least one step`,
		p + `:31: sequences[2].steps: a sequence needs at least one step`,
		p + `:33: sequences[2].window: needs from and to, e.g. {days: [mon, tue], from: "09:00", to: "20:00"}`,
		p + `:37: sequences[3].steps[0].after: is required (0s for at once)`,
		p + `:38: sequences[3].steps[1].after: must not be negative, got -1h`,
		p + `:39: sequences[3].steps[1].message.text: malformed placeholder "{{ }}": a name starts with a letter or _ and has only letters, digits, _ . -`,
		p + `:40: sequences[3].steps[1].deadline: must be positive, got 0s`,
		p + `:41: sequences[3].steps[2].message: is required: one of text, media, template, bot_flow, location, buttons, list`,
	}, problemLines(t, err))
}

func TestLoadSequenceDefinition(t *testing.T) {
	t.Parallel()
	b, err := Load("testdata/sequences-good/onboarding.yaml", testEnv(map[string]string{"BOTSAILOR_API_TOKEN": "x"}), drivers.Catalog{})
	require.NoError(t, err)
	require.Len(t, b.Sequences, 1)
	sq := b.Sequences[0]
	require.Equal(t, "onboarding", sq.Name)
	require.Equal(t, "main", sq.Account)
	require.Equal(t, "recipient", sq.Timezone)
	require.Equal(t, []string{"reply", "unsubscribe"}, sq.ExitOn)
	require.False(t, sq.Reenter)
	weekdays, err := localtime.ParseWindow([]string{"mon", "tue", "wed", "thu", "fri"}, "09:00", "20:00")
	require.NoError(t, err)
	require.Equal(t, weekdays, sq.Window)
	require.Len(t, sq.Steps, 3)
	require.Equal(t, time.Duration(0), sq.Steps[0].After)
	require.Equal(t, templates.Message{Kind: templates.KindText, Text: "Welcome {{name}}!"}, sq.Steps[0].Message)
	require.Nil(t, sq.Steps[0].Window)
	require.Equal(t, DefaultDeadline, sq.Steps[0].Deadline)
	require.Equal(t, 24*time.Hour, sq.Steps[1].After)
	require.Equal(t, 6*time.Hour, sq.Steps[1].Deadline)
	late, err := localtime.ParseWindow(nil, "10:00", "12:00")
	require.NoError(t, err)
	require.Equal(t, &late, sq.Steps[1].Window)
	require.Equal(t, templates.KindTemplate, sq.Steps[1].Message.Kind)
	require.Equal(t, templates.Message{Kind: templates.KindBotFlow, BotFlow: "FLOW-ID"}, sq.Steps[2].Message)
	require.Equal(t, Pos{File: "testdata/sequences-good/onboarding.yaml", Line: 22}, sq.Steps[2].Pos)
}

func TestLoadCronBroadcasts(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "c.yaml")
	require.NoError(t, os.WriteFile(path, []byte(`accounts:
  - name: main
    provider: botsailor
    customer_service_window: not_enforced
    api_token: ${BOTSAILOR_API_TOKEN}
    phone_number_id: "1"
    whatsapp_bot_id: 1
    daily_unique_limit: unlimited
    timezone: Europe/Berlin
broadcasts:
  - name: weekly
    account: main
    cron: "0 9 * * MON"
    timezone: America/New_York
    audience: {recipients: [{phone: "4915100000001"}]}
    message: {text: "hi"}
  - name: bad-spec
    account: main
    cron: "every monday"
    audience: {recipients: [{phone: "4915100000001"}]}
    message: {text: "hi"}
  - name: both
    account: main
    start_at: "2026-12-01T09:00:00Z"
    cron: "@daily"
    audience: {recipients: [{phone: "4915100000001"}]}
    message: {text: "hi"}
  - name: zone-alone
    account: main
    timezone: Europe/Paris
    audience: {recipients: [{phone: "4915100000001"}]}
    message: {text: "hi"}
  - name: every
    account: main
    cron: "@every 30s"
    audience: {recipients: [{phone: "4915100000001"}]}
    message: {text: "hi"}
`), 0o600))
	_, err := Load(path, testEnv(map[string]string{"BOTSAILOR_API_TOKEN": "x"}), drivers.Catalog{})
	lines := problemLines(t, err)
	require.Len(t, lines, 4, lines)
	require.Contains(t, lines[0], `:19: broadcasts[1].cron: "every monday" is not a cron schedule`)
	require.Contains(t, lines[1], `:25: broadcasts[2].cron: a broadcast has either start_at (once) or cron (recurring), not both`)
	require.Contains(t, lines[2], `:30: broadcasts[3].timezone: only applies with cron`)
	require.Contains(t, lines[3], `:35: broadcasts[4].cron: "@every 30s": use a five-field spec`)
}

// salebotAccount is a file with one valid Salebot account whose secrets
// are ${T}; its settings go on from line 8.
const salebotAccount = `accounts:
  - name: s
    provider: salebot
    customer_service_window: not_enforced
    api_token: ${T}
    whatsapp_bot_id: 1
    webhook_secret: ${T}
    daily_unique_limit: unlimited
`

// on_unknown_outcome and settle_window choose what a send whose outcome is
// unknown does; bad values are refused naming the field.
func TestLoadUnknownOutcomeSettings(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "c.yaml")
	head := salebotAccount
	env := testEnv(map[string]string{"T": "x"})
	require.NoError(t, os.WriteFile(path, []byte(head), 0o600))
	b, err := Load(path, env, drivers.Catalog{})
	require.NoError(t, err)
	require.Equal(t, "", b.Accounts[0].OnUnknownOutcome, "the default, settle")
	require.Zero(t, b.Accounts[0].SettleWindow, "the default window")

	require.NoError(t, os.WriteFile(path, []byte(head+"    on_unknown_outcome: resend\n    settle_window: 90s\n"), 0o600))
	b, err = Load(path, env, drivers.Catalog{})
	require.NoError(t, err)
	require.Equal(t, OutcomeResend, b.Accounts[0].OnUnknownOutcome)
	require.Equal(t, 90*time.Second, b.Accounts[0].SettleWindow)

	require.NoError(t, os.WriteFile(path, []byte(head+"    on_unknown_outcome: maybe\n    settle_window: 1s\n"), 0o600))
	_, err = Load(path, env, drivers.Catalog{})
	require.Equal(t, []string{
		path + `:9: accounts[0].on_unknown_outcome: "maybe" must be settle (wait for the provider's webhooks, then send again), fail (at most once) or resend (at least once)`,
		path + `:10: accounts[0].settle_window: must be between 5s and 24h, got 1s`,
	}, problemLines(t, err))
}

// A file that is not a CSV, named as an audience (a secret file, a system
// file), is refused without any of its content in the error: a campaign
// file is untrusted input, and validate's output is read by people who must
// not see production secrets.
func TestCSVErrorsNeverShowANonCSVFile(t *testing.T) {
	t.Parallel()
	for name, content := range map[string]string{
		"token":  "sk_live_0123456789abcdef\n",
		"shadow": "root:$6$saltsalt$hashhashhash:19000:0:99999:7:::\nbin:*:19000:0:99999:7:::\n",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			require.NoError(t, os.WriteFile(filepath.Join(dir, "data"), []byte(content), 0o600))
			require.NoError(t, os.WriteFile(filepath.Join(dir, "c.yaml"), []byte(`accounts:
  - name: main
    provider: botsailor
    customer_service_window: not_enforced
    base_url: http://127.0.0.1:1/api/v1
    api_token: ${TOKEN}
    phone_number_id: "1"
    whatsapp_bot_id: 1
    daily_unique_limit: unlimited
broadcasts:
  - name: b
    account: main
    audience: {csv: data}
    message: {text: "hi"}
`), 0o600))
			_, err := Load(filepath.Join(dir, "c.yaml"), testEnv(map[string]string{"TOKEN": "x"}), drivers.Catalog{})
			require.ErrorContains(t, err, "not shown: this may not be a CSV file")
			first, _, _ := strings.Cut(content, "\n")
			for _, part := range strings.FieldsFunc(first, func(r rune) bool { return r == ':' || r == '$' }) {
				if len(part) > 5 {
					require.NotContains(t, err.Error(), part)
				}
			}
		})
	}
}

// A value from the environment never shows in a problem, whichever field
// quotes it (a phone number, a token file's path): problems show the
// ${VAR} reference as written (found by fuzzing; both printed the secret).
func TestProblemsShowReferencesNotValues(t *testing.T) {
	t.Parallel()
	const dbURL = "postgres://wacamp:Sup3r-Secret-pw@db.internal/wacamp"
	path := writeYAML(t, `accounts:
  - name: main
    provider: botsailor
    customer_service_window: not_enforced
    api_token: ${BOTSAILOR_API_TOKEN}
    webhook_secret_file: /nonexistent/${BOTSAILOR_API_TOKEN}
    phone_number_id: "1"
    whatsapp_bot_id: 1
    daily_unique_limit: unlimited
broadcasts:
  - name: b
    account: main
    audience: {recipients: [{phone: "${DATABASE_URL}"}]}
    message: {text: "hi"}
`)
	_, err := Load(path, testEnv(map[string]string{"BOTSAILOR_API_TOKEN": "tok-0123456789abcdef", "DATABASE_URL": dbURL}), drivers.Catalog{})
	lines := problemLines(t, err)
	require.Contains(t, lines, path+`:6: accounts[0].webhook_secret_file: "/nonexistent/${BOTSAILOR_API_TOKEN}" is outside the directories secret files are read from (`+os.TempDir()+`); put the file there, or add its directory to WACAMP_SECRET_DIRS`)
	require.Contains(t, strings.Join(lines, "\n"), `phone: environment variable DATABASE_URL is a setting of wacamp's own processes`)
	require.NotContains(t, err.Error(), "tok-0123456789abcdef")
	require.NotContains(t, err.Error(), "Sup3r-Secret-pw")
}

// frequency_cap caps the messages to one person: {messages, per,
// sequences}; bad values are refused naming the field and its line, and
// accounts of one portfolio must agree on it.
func TestLoadFrequencyCap(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "c.yaml")
	head := salebotAccount
	env := testEnv(map[string]string{"T": "x"})
	load := func(extra string) (*Bundle, error) {
		t.Helper()
		require.NoError(t, os.WriteFile(path, []byte(head+extra), 0o600))
		return Load(path, env, drivers.Catalog{})
	}
	b, err := load("")
	require.NoError(t, err)
	require.Zero(t, b.Accounts[0].FrequencyCap, "no cap unless asked")

	b, err = load("    frequency_cap: {messages: 2, per: 168h}\n")
	require.NoError(t, err)
	require.Equal(t, FrequencyCap{Messages: 2, Per: 168 * time.Hour}, b.Accounts[0].FrequencyCap)
	b, err = load("    frequency_cap:\n      messages: 1\n      per: 1s\n      sequences: skip\n")
	require.NoError(t, err)
	require.Equal(t, FrequencyCap{Messages: 1, Per: time.Second, Sequences: CapSkip}, b.Accounts[0].FrequencyCap, "the shortest window")
	b, err = load("    frequency_cap: {messages: 3, per: 744h, sequences: defer}\n")
	require.NoError(t, err)
	require.Equal(t, FrequencyCap{Messages: 3, Per: 744 * time.Hour}, b.Accounts[0].FrequencyCap)

	_, err = load("    frequency_cap: {messages: 0, per: 500ms, sequences: later, every: 2}\n")
	require.Equal(t, []string{
		path + `:9: accounts[0].frequency_cap.every: unknown key`,
		path + `:9: accounts[0].frequency_cap.messages: must be between 1 and 100 messages, got 0`,
		path + `:9: accounts[0].frequency_cap.per: must be between 1s and 744h, got 500ms`,
		path + `:9: accounts[0].frequency_cap.sequences: "later" must be defer (a step over the cap waits for room, within its deadline) or skip (it is skipped; the enrollment goes on)`,
	}, problemLines(t, err))
	_, err = load("    frequency_cap:\n      messages: 101\n      per: 745h\n")
	require.Equal(t, []string{
		path + `:10: accounts[0].frequency_cap.messages: must be between 1 and 100 messages, got 101`,
		path + `:11: accounts[0].frequency_cap.per: must be between 1s and 744h, got 745h`,
	}, problemLines(t, err))
	_, err = load("    frequency_cap: {per: a week}\n")
	require.Equal(t, []string{
		path + `:9: accounts[0].frequency_cap.messages: is required: how many messages one person may get per window, e.g. {messages: 2, per: 168h}`,
		path + `:9: accounts[0].frequency_cap.per: "a week" is not a duration such as 24h, 90m or 2h30m`,
	}, problemLines(t, err))
	_, err = load("    frequency_cap: {messages: 2}\n")
	require.Equal(t, []string{
		path + `:9: accounts[0].frequency_cap.per: is required: the window the messages are counted over, e.g. 168h for a week`,
	}, problemLines(t, err))
	_, err = load("    frequency_cap: 2\n")
	require.Equal(t, []string{path + `:9: accounts[0].frequency_cap: expected a mapping, got "2"`}, problemLines(t, err))

	// One portfolio, one cap.
	two := `accounts:
  - name: a
    provider: salebot
    customer_service_window: not_enforced
    api_token: ${T}
    whatsapp_bot_id: 1
    webhook_secret: ${T}
    daily_unique_limit: unlimited
    portfolio: acme
    frequency_cap: {messages: 2, per: 168h}
  - name: b
    provider: salebot
    customer_service_window: not_enforced
    api_token: ${T}
    whatsapp_bot_id: 2
    webhook_secret: ${T}
    daily_unique_limit: unlimited
    portfolio: acme
    frequency_cap: {messages: 2, per: 168h, sequences: skip}
`
	require.NoError(t, os.WriteFile(path, []byte(two), 0o600))
	_, err = Load(path, env, drivers.Catalog{})
	require.NoError(t, err, "sequences may differ: it is what each account's steps do")
	require.NoError(t, os.WriteFile(path, []byte(strings.Replace(two, "{messages: 2, per: 168h, sequences: skip}", "{messages: 2, per: 24h}", 1)), 0o600))
	_, err = Load(path, env, drivers.Catalog{})
	require.Equal(t, []string{
		path + `:11: portfolio: account "b" shares portfolio "acme" with account "a" (` + path + `:2) but sets frequency_cap 2 per 24h, not 2 per 168h; accounts of one portfolio share one frequency cap and must agree`,
	}, problemLines(t, err))
}
