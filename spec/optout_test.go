package spec

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/consent"
	"github.com/wacamp/wacamp/provider/drivers"
	"github.com/wacamp/wacamp/templates"
)

// optOutHead is a campaign file's head of one Salebot account, s, to
// which the opt-out tests add its opt_out.
const optOutHead = `accounts:
  - name: s
    provider: salebot
    api_token: ${T}
    whatsapp_bot_id: 1
    webhook_secret: ${T}
    daily_unique_limit: unlimited
`

// An account's opt_out: its own keywords besides the defaults, each a
// word or two that is neither a default of the other kind nor in both of
// its lists (compared without case and accents); a template's category.
func TestLoadOptOutKeywords(t *testing.T) {
	t.Parallel()
	path, env, head := filepath.Join(t.TempDir(), "c.yaml"), testEnv(map[string]string{"T": "x"}), optOutHead
	require.NoError(t, os.WriteFile(path, []byte(head), 0o600))
	b, err := Load(path, env, drivers.Catalog{})
	require.NoError(t, err)
	require.True(t, b.Accounts[0].OptOut.IsZero(), "the defaults only")

	require.NoError(t, os.WriteFile(path, []byte(head+`    opt_out: {keywords: [PARAR, " Désabonner "], opt_in_keywords: [VOLVER]}
broadcasts:
  - name: b
    account: s
    audience: {recipients: [{phone: "4915112345678"}]}
    message: {template: {id: "1", category: Utility}}
`), 0o600))
	_, err = Load(path, env, drivers.Catalog{})
	require.Error(t, err, "salebot sends no templates")
	require.NoError(t, os.WriteFile(path, []byte(head+`    opt_out: {keywords: [PARAR, " Désabonner "], opt_in_keywords: [VOLVER]}
`), 0o600))
	b, err = Load(path, env, drivers.Catalog{})
	require.NoError(t, err)
	require.Equal(t, consent.Settings{Keywords: consent.Keywords{OptOut: []string{"PARAR", "Désabonner"}, OptIn: []string{"VOLVER"}}}, b.Accounts[0].OptOut)

	require.NoError(t, os.WriteFile(path, []byte(head+`    opt_out:
      keywords: [parar, START, "", "!!", "please please please stop sending me these messages now", PARAR, stop]
      opt_in_keywords: [Párar]
      confirm: yes
`), 0o600))
	_, err = Load(path, env, drivers.Catalog{})
	require.Equal(t, []string{
		path + `:9: accounts[0].opt_out.keywords[1]: "START" is already in the default opt-in keywords (keywords are compared without case and accents)`,
		path + `:9: accounts[0].opt_out.keywords[2]: is empty: a keyword needs a letter or digit`,
		path + `:9: accounts[0].opt_out.keywords[3]: is empty: a keyword needs a letter or digit`,
		path + `:9: accounts[0].opt_out.keywords[4]: is 55 characters; a keyword is a word or two, at most 40`,
		path + `:9: accounts[0].opt_out.keywords[6]: "stop" is already in the default opt-out keywords (keywords are compared without case and accents)`,
		path + `:10: accounts[0].opt_out.opt_in_keywords[0]: "Párar" is already in accounts[0].opt_out.keywords (keywords are compared without case and accents)`,
		path + `:11: accounts[0].opt_out.confirm: unknown key (did you mean "confirmation"?)`,
	}, problemLines(t, err))
}

// An account's confirmations: plain text, sent as written, neither blank
// nor longer than WhatsApp's text nor with a placeholder; left out,
// nothing is sent back. They are part of the account's hash.
func TestLoadOptOutConfirmation(t *testing.T) {
	t.Parallel()
	path, env, head := filepath.Join(t.TempDir(), "c.yaml"), testEnv(map[string]string{"T": "x"}), optOutHead
	require.NoError(t, os.WriteFile(path, []byte(head), 0o600))
	b, err := Load(path, env, drivers.Catalog{})
	require.NoError(t, err)
	plain := b.Accounts[0].SpecHash()

	require.NoError(t, os.WriteFile(path, []byte(head+`    opt_out: {confirmation: " You will get no more messages. Reply START to undo. "}
`), 0o600))
	b, err = Load(path, env, drivers.Catalog{})
	require.NoError(t, err)
	require.Equal(t, consent.Confirmations{OptOut: "You will get no more messages. Reply START to undo."}, b.Accounts[0].OptOut.Confirmations)
	require.False(t, b.Accounts[0].OptOut.IsZero())
	require.NotEqual(t, plain, b.Accounts[0].SpecHash())

	require.NoError(t, os.WriteFile(path, []byte(head+`    opt_out:
      confirmation: "  "
      opt_in_confirmation: "Welcome back, {{name}}"
  - name: t
    provider: salebot
    api_token: ${T}
    whatsapp_bot_id: 2
    webhook_secret: ${T}
    daily_unique_limit: unlimited
    opt_out: {confirmation: `+strings.Repeat("x", MaxConfirmationLen+1)+`, opt_in_confirmation: [a]}
`), 0o600))
	_, err = Load(path, env, drivers.Catalog{})
	require.Equal(t, []string{
		path + `:9: accounts[0].opt_out.confirmation: is empty: write the text sent back ("You will get no more messages. Reply START to undo.") or leave it out to send nothing`,
		path + `:10: accounts[0].opt_out.opt_in_confirmation: has a {{placeholder}}: a confirmation is sent as written (the person is known by their number only)`,
		path + `:17: accounts[1].opt_out.confirmation: is 4097 characters; WhatsApp takes at most 4096 in a text`,
		path + `:17: accounts[1].opt_out.opt_in_confirmation: expected a string, got a list`,
	}, problemLines(t, err))
}

func TestLoadTemplateCategory(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "c.yaml")
	yaml := `accounts:
  - name: b
    provider: botsailor
    api_token: ${T}
    phone_number_id: "1"
    whatsapp_bot_id: 1
    daily_unique_limit: unlimited
broadcasts:
  - name: x
    account: b
    audience: {recipients: [{phone: "4915112345678"}]}
    message: {template: {id: "1", category: %s}}
`
	env := testEnv(map[string]string{"T": "x"})
	require.NoError(t, os.WriteFile(path, []byte(fmt.Sprintf(yaml, "Utility")), 0o600))
	b, err := Load(path, env, drivers.Catalog{})
	require.NoError(t, err)
	require.Equal(t, templates.CategoryUtility, b.Broadcasts[0].Message.Template.Category)
	require.NoError(t, os.WriteFile(path, []byte(fmt.Sprintf(yaml, "promo")), 0o600))
	_, err = Load(path, env, drivers.Catalog{})
	require.Equal(t, []string{
		path + `:12: broadcasts[0].message.template.category: "promo" must be one of marketing, utility, authentication (Meta's category of the template; left out, it counts as marketing for opt-outs)`,
	}, problemLines(t, err))
}
