package spec

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/provider/drivers"
)

// outside_window on an account that does not enforce the 24-hour window
// (its setting, or a provider whose channel has none) is a warning, not a
// problem: it never applies. On an enforcing account it is silent.
func TestOutsideWindowOnANonEnforcingAccountWarns(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "c.yaml")
	env := testEnv(map[string]string{"T": "x"})
	require.NoError(t, os.WriteFile(path, []byte(`accounts:
  - name: off
    provider: botsailor
    customer_service_window: not_enforced
    api_token: ${T}
    phone_number_id: "1"
    whatsapp_bot_id: 1
    daily_unique_limit: unlimited
  - name: session
    provider: waapi
    base_url: https://waapi.example.com/api
    api_token: ${T}
    session_id: s1
    webhook_secret: ${T}
    daily_unique_limit: unlimited
  - name: on
    provider: botsailor
    api_token: ${T}
    phone_number_id: "2"
    whatsapp_bot_id: 1
    daily_unique_limit: unlimited
broadcasts:
  - name: b
    account: off
    audience: {recipients: [{phone: "4915112345678"}]}
    message: {text: "Hi", outside_window: skip}
  - name: c
    account: on
    audience: {recipients: [{phone: "4915112345678"}]}
    message: {text: "Hi", outside_window: skip}
sequences:
  - name: s
    account: session
    steps:
      - {after: 0s, message: {text: "Hi", outside_window: skip}}
`), 0o600))
	b, err := Load(path, env, drivers.Catalog{})
	require.NoError(t, err)
	got := b.Warnings
	require.Contains(t, got, path+":23: broadcast b: message.outside_window: is ignored: account off (botsailor) does not enforce the 24-hour customer-service window (customer_service_window: not_enforced), so the message is sent as written to everyone")
	require.Contains(t, got, path+":35: sequence s: step 1: message.outside_window: is ignored: account session (waapi) does not enforce the 24-hour customer-service window (its provider's channel has none), so the message is sent as written to everyone")
	for _, w := range got {
		require.NotContains(t, w, "broadcast c:", "an enforcing account's outside_window applies")
	}
}
