package spec

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wacamp/wacamp/provider/drivers"
)

var providerEnv = map[string]string{"SOBOT_KEY": "k-SECRET", "SOBOT_SECRET": "s-SECRET", "SOBOT_HOOK": "h-SECRET",
	"SALEBOT_KEY": "sb-SECRET", "WAAPI_TOKEN": "w-SECRET"}

// A message the account's provider cannot send is refused at load, naming
// the broadcast or the sequence step and why.
func TestLoadRefusesWhatTheProviderCannotSend(t *testing.T) {
	t.Parallel()
	_, err := Load("testdata/providers/campaigns.yaml", testEnv(providerEnv), drivers.Catalog{})
	if err == nil {
		t.Fatal("loaded a campaign its providers cannot send")
	}
	got := err.Error()
	for _, want := range []string{
		"campaigns.yaml:20: broadcast flow-on-sobot: message: account sobot-main: sobot cannot send bot flow triggers",
		"campaigns.yaml:34: sequence drip: step 2: message: account salebot-main: salebot cannot send WhatsApp templates",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("problems lack %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "text-on-waapi") {
		t.Errorf("a text message on waapi was refused:\n%s", got)
	}
	if strings.Contains(got, "SECRET") {
		t.Errorf("a secret reached an error:\n%s", got)
	}
}

func TestLoadProviderAccountProblems(t *testing.T) {
	t.Parallel()
	_, err := Load("testdata/providers/accounts_bad.yaml", testEnv(providerEnv), drivers.Catalog{})
	if err == nil {
		t.Fatal("loaded bad accounts")
	}
	got := err.Error()
	for _, want := range []string{
		"accounts_bad.yaml:2: accounts[0].api_secret: is required",
		"accounts_bad.yaml:6: accounts[1].base_url: is required for waapi",
		"accounts_bad.yaml:6: accounts[1].session_id: is required for waapi",
		"accounts_bad.yaml:10: accounts[2].whatsapp_bot_id: is required",
		"accounts_bad.yaml:13: accounts[2].session_id: is only used by waapi",
		"accounts_bad.yaml:6: accounts[1].webhook_secret: is required for waapi",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("problems lack %q:\n%s", want, got)
		}
	}
}

func TestLoadProviderAccounts(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("testdata/providers/campaigns.yaml")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "a.yaml")
	if err := os.WriteFile(path, []byte(strings.Split(string(data), "broadcasts:")[0]), 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := Load(path, testEnv(providerEnv), drivers.Catalog{})
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]Account{}
	for _, a := range b.Accounts {
		byName[a.Name] = a
	}
	if a := byName["sobot-main"]; a.Provider != "sobot" || a.BaseURL != "https://api.sobot.in" || a.SecretRef != "env:SOBOT_SECRET" || a.WebhookSecretRef != "env:SOBOT_HOOK" {
		t.Errorf("sobot account = %+v", a)
	}
	if a := byName["session"]; a.Provider != "waapi" || a.SessionID != "2ad8-07c9-447b-994d-eb8b" || a.SecretRef != "" {
		t.Errorf("waapi account = %+v", a)
	}
	if a := byName["salebot-main"]; a.WhatsAppBotID != 77 || a.BaseURL != "https://chatter.salebot.pro/api" {
		t.Errorf("salebot account = %+v", a)
	}
}
