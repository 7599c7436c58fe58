package cli_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/internal/cli"
)

// TestFrequencyCapAcrossWorkerProcesses: an account capped at two
// messages an hour to one person; two broadcasts and a sequence step go to
// the same people at once, sent by two worker processes (this test binary
// run again as `worker`, sharing only Redis and Postgres). At the provider
// nobody gets more than two messages, and everyone gets exactly two: for
// each person, one of the three waits — a broadcast's delivery skipped
// (frequency_cap) or the step deferred until an hour after the first.
func TestFrequencyCapAcrossWorkerProcesses(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	const n = 30
	var csv strings.Builder
	csv.WriteString("phone,name\n")
	for i := range n {
		fmt.Fprintf(&csv, "3161%07d,P%d\n", i, i)
	}
	people := w.write("people.csv", csv.String())
	broadcast := func(name string) string {
		return `  - name: ` + name + `
    account: main
    audience: {csv: people.csv}
    message: {text: "` + name + ` {{name}}"}
`
	}
	path := w.write("c.yaml", `accounts:
  - name: main
    provider: wabotick
    customer_service_window: not_enforced
    base_url: `+w.simURL+`
    api_token: ${SIM_TOKEN}
    phone_number_id: "1190600"
    whatsapp_bot_id: 7
    rate_per_second: 100
    pair_interval: 0s
    daily_unique_limit: unlimited
    frequency_cap: {messages: 2, per: 1h}
broadcasts:
`+broadcast("one")+broadcast("two")+`sequences:
  - name: drip
    account: main
    steps:
      - {after: 0s, message: {text: "Welcome {{name}}"}}
`)
	code, out := w.run("apply", "-f", path)
	require.Equal(t, 0, code, out)
	code, out = w.run("enroll", "drip", "-f", people)
	require.Equal(t, 0, code, out)

	for range 2 {
		w.workerProcess([]string{"WACAMP_DB_MAX_CONNS=4"}, "-concurrency", "10")
	}
	w.daemon(cli.Scheduler, "run", "-interval", "100ms")

	done := func(name string) bool {
		code, out := w.run("status", name, "--json")
		return code == 0 && strings.Contains(out, `"status": "completed"`)
	}
	perPhone := func() map[string]int {
		m := map[string]int{}
		for _, s := range w.sim.Sends() {
			m[s.Phone]++
		}
		return m
	}
	require.Eventually(t, func() bool {
		if !done("one") || !done("two") {
			return false
		}
		got := perPhone()
		if len(got) < n {
			return false
		}
		for _, c := range got {
			if c != 2 {
				return false
			}
		}
		return true
	}, 120*time.Second, 200*time.Millisecond, "both broadcasts done and everyone sent two messages")

	got := perPhone()
	require.Len(t, got, n)
	for p, c := range got {
		require.Equal(t, 2, c, "%s got %d messages", p, c)
	}
	// Who waited: the broadcasts' skips and the steps still planned add
	// up to one per person.
	skipped := 0
	for _, name := range []string{"one", "two"} {
		_, out := w.run("status", name, "--json")
		var st struct {
			Skips map[string]int `json:"skipped_by_reason"`
		}
		require.NoError(t, json.Unmarshal([]byte(out), &st), out)
		skipped += st.Skips["frequency_cap"]
	}
	_, out = w.run("status", "drip")
	planned := 0
	if i := strings.Index(out, "step 1: "); i >= 0 {
		for _, part := range strings.Split(strings.SplitN(out[i+len("step 1: "):], ";", 2)[0], ",") {
			var k int
			var state string
			if _, err := fmt.Sscanf(strings.TrimSpace(part), "%d %s", &k, &state); err == nil && (state == "planned" || state == "queued") {
				planned += k
			}
		}
	}
	require.Equal(t, n, skipped+planned, "one wait per person: %d skipped, %d steps deferred\n%s", skipped, planned, out)
}
