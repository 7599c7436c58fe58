package spec

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/provider/drivers"
)

// writeAccounts writes a campaign file of BotSailor accounts, one per base
// URL, and returns its path.
func writeAccounts(t *testing.T, bases ...string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("accounts:\n")
	for i, base := range bases {
		b.WriteString("  - name: a" + string(rune('0'+i)) + "\n    provider: botsailor\n    base_url: " + base +
			"\n    api_token: ${BOTSAILOR_API_TOKEN}\n    phone_number_id: \"1\"\n    whatsapp_bot_id: 1\n    daily_unique_limit: unlimited\n")
	}
	path := filepath.Join(t.TempDir(), "campaign.yaml")
	require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o600))
	return path
}

// A base_url with user:password@ is refused without printing the password;
// plain http to a host that is not loopback is a warning naming
// file:line:field.
func TestBaseURLCredentialsAndPlainHTTP(t *testing.T) {
	t.Parallel()
	env := testEnv(map[string]string{"BOTSAILOR_API_TOKEN": "tok-SECRET"})
	path := writeAccounts(t, "https://admin:hunter2-SECRET@botsailor.com/api/v1", "http://user@10.0.0.7:8080/api",
		"https://admin:pipe|SECRET@botsailor.com")
	_, err := Load(path, env, drivers.Catalog{})
	require.Error(t, err)
	lines := problemLines(t, err)
	require.Contains(t, lines, path+":4: accounts[0].base_url: must not hold credentials (user:password@): the token goes in api_token or api_token_file")
	require.Contains(t, lines, path+":11: accounts[1].base_url: must not hold credentials (user:password@): the token goes in api_token or api_token_file")
	require.Contains(t, lines, path+":18: accounts[2].base_url: must not hold credentials (user:password@): the token goes in api_token or api_token_file")
	require.NotContains(t, err.Error(), "SECRET")
	require.NotContains(t, err.Error(), "admin")

	path = writeAccounts(t, "http://api.example.com/v1", "http://127.0.0.1:8080", "http://localhost/api",
		"http://[::1]:9/", "https://botsailor.com/api/v1")
	b, err := Load(path, env, drivers.Catalog{})
	require.NoError(t, err)
	var plain []string
	for _, w := range b.Warnings {
		if strings.Contains(w, "plain http") {
			plain = append(plain, w)
		}
	}
	require.Equal(t, []string{path + `:4: accounts[0].base_url: account a0: base_url "http://api.example.com" is plain http to a host that is not loopback: the API token crosses the network unencrypted; use https`}, plain)
}
