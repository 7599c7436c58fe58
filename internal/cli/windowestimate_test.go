package cli_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// windowCampaign writes a campaign of one BotSailor-family account (which
// enforces the 24-hour window) and one text broadcast to phones, whose
// message ends with outside (an outside_window line, or "").
func (w *world) windowCampaign(name, outside string, phones ...string) string {
	var rs []string
	for _, p := range phones {
		rs = append(rs, fmt.Sprintf("{phone: %q}", p))
	}
	return w.write(name+".yaml", `accounts:
  - name: main
    provider: wabotick
    base_url: `+w.simURL+`
    api_token: ${SIM_TOKEN}
    phone_number_id: "1190600"
    whatsapp_bot_id: 7
    daily_unique_limit: unlimited
broadcasts:
  - name: `+name+`
    account: main
    audience: {recipients: [`+strings.Join(rs, ", ")+`]}
    message:
      text: "Hello"`+outside+`
`)
}

// validate refuses a free-form broadcast on a window-enforcing account
// that does not say what happens outside the window, naming the field and
// the fix; with outside_window it passes and says, offline, that the
// window was not estimated.
func TestValidateRefusesAnUnqualifiedTextBroadcast(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	path := w.windowCampaign("bare", "", "4915100000001")
	code, out := w.run("validate", "--offline", "-f", path)
	require.Equal(t, 1, code, out)
	require.Contains(t, out, path+":10: broadcast bare: message.outside_window: is required: account main (botsailor) enforces the 24-hour customer-service window")
	require.Contains(t, out, "add outside_window: skip (skip the others) or outside_window: {template: {...}} (send them an approved template)")

	path = w.windowCampaign("qualified", "\n      outside_window: skip", "4915100000001")
	code, out = w.run("validate", "--offline", "-f", path)
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "\n  24-hour window (outside it: skipped): not estimated offline\n")
}
