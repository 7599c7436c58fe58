package spec

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/provider/drivers"
)

// startsCampaign writes one account and a text broadcast per start_at
// (name b0, b1, …, each with a 12 h deadline and two recipients) and
// returns the file's path.
func startsCampaign(t *testing.T, starts ...time.Time) string {
	t.Helper()
	var b strings.Builder
	b.WriteString(`accounts:
  - name: main
    provider: botsailor
    customer_service_window: not_enforced
    api_token: ${BOTSAILOR_API_TOKEN}
    phone_number_id: "1"
    whatsapp_bot_id: 1
    rate_per_second: 80
broadcasts:
`)
	for i, s := range starts {
		fmt.Fprintf(&b, `  - name: b%d
    account: main
    start_at: %s
    deadline: 12h
    audience: {recipients: [{phone: "4915100000001"}, {phone: "4915100000002"}]}
    message: {text: hi}
`, i, s.Format(time.RFC3339))
	}
	path := filepath.Join(t.TempDir(), "c.yaml")
	require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o600))
	return path
}

// A start_at further back than the deadline would expire every delivery
// the moment it is planned: it is refused with its file, line and field. A
// start_at in the past whose deadline has not passed starts late: a
// warning says how much of the deadline is left. Instants are relative to
// now, so the test holds on any date.
func TestCheckStartsRefusesAWindowThatHasPassed(t *testing.T) {
	t.Parallel()
	now := time.Now().Truncate(time.Second)
	gone := now.Add(-3 * 24 * time.Hour)  // ended 2d12h ago
	late := now.Add(-2 * time.Hour)       // 10h of 12h left
	future := now.Add(7 * 24 * time.Hour) // fine
	path := startsCampaign(t, gone, late, future)
	b, err := Load(path, testEnv(map[string]string{"BOTSAILOR_API_TOKEN": "x"}), drivers.Catalog{})
	require.NoError(t, err, "Load does not read the clock")

	warnings, err := b.CheckStarts(now, nil)
	require.Equal(t, []string{
		fmt.Sprintf("%s:12: broadcasts[0].start_at: %s plus the deadline (12h) ended %s, 2d12h ago: every delivery would expire at once; set a later start_at, leave it out to start when applied, or lengthen deadline",
			path, gone.Format(time.RFC3339), gone.Add(12*time.Hour).Format(time.RFC3339)),
	}, problemLines(t, err))
	require.Equal(t, []string{
		fmt.Sprintf("%s:18: broadcast b1: start_at %s is 2h in the past: it starts at once, with 10h of its 12h deadline left", path, late.Format(time.RFC3339)),
	}, warnings)

	// Already stored with this start (it ran): applying it again is fine.
	warnings, err = b.CheckStarts(now, func(bc Broadcast) bool { return bc.Name == "b0" && bc.StartAt.Equal(gone) })
	require.NoError(t, err)
	require.Len(t, warnings, 1)

	// The same file a year later: everything has passed.
	_, err = b.CheckStarts(now.AddDate(1, 0, 0), nil)
	require.Len(t, problemLines(t, err), 3)
}

// The shipped example stays valid whenever it is loaded: it has no
// absolute start in the past.
func TestExampleCampaignStartsValid(t *testing.T) {
	t.Parallel()
	b, err := Load("../examples", testEnv(map[string]string{"BOTSAILOR_API_TOKEN": "x"}), drivers.Catalog{})
	require.NoError(t, err)
	for _, now := range []time.Time{time.Now(), time.Now().AddDate(1, 0, 0), time.Now().AddDate(5, 0, 0)} {
		warnings, err := b.CheckStarts(now, nil)
		require.NoError(t, err)
		require.Empty(t, warnings)
	}
}

// 10,000 recipients at 0.1/s take ≈27h46m (as 100,000 at 1/s do): with a
// 24 h deadline about 1,360 would expire, and validate says so with the
// numbers.
func TestLoadWarnsWhenTheAudienceOutlastsTheDeadline(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const n = 10_000
	var csv strings.Builder
	csv.WriteString("phone\n")
	for i := range n {
		fmt.Fprintf(&csv, "%d\n", 4915100000000+i)
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "all.csv"), []byte(csv.String()), 0o600))
	path := filepath.Join(dir, "c.yaml")
	require.NoError(t, os.WriteFile(path, []byte(`accounts:
  - name: slow
    provider: botsailor
    customer_service_window: not_enforced
    api_token: ${BOTSAILOR_API_TOKEN}
    phone_number_id: "1"
    whatsapp_bot_id: 1
    rate_per_second: 0.1
    daily_unique_limit: unlimited
broadcasts:
  - name: everyone
    account: slow
    deadline: 24h
    audience: {csv: all.csv}
    message: {text: hi}
  - name: few
    account: slow
    deadline: 24h
    audience: {recipients: [{phone: "4915100000001"}]}
    message: {text: hi}
`), 0o600))
	b, err := Load(path, testEnv(map[string]string{"BOTSAILOR_API_TOKEN": "x"}), drivers.Catalog{})
	require.NoError(t, err)
	require.Equal(t, []string{
		path + ":11: broadcast everyone: 10000 recipients at account slow's rate of 0.1/s take ≈27h46m, longer than the deadline (24h): about 1360 would expire; raise rate_per_second if the number's tier allows, lengthen deadline, or split the audience",
	}, b.Warnings)
}
