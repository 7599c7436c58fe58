package bench

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/provider/botsailor/botsailorsim"
)

func TestWorstWindow(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms ...int) []time.Time {
		out := make([]time.Time, len(ms))
		for i, m := range ms {
			out[i] = t0.Add(time.Duration(m) * time.Millisecond)
		}
		return out
	}
	for _, tc := range []struct {
		name         string
		at           []time.Time
		worst, start int
	}{
		{"none", nil, 0, 0},
		{"one", at(0), 1, 0},
		{"a window is half-open", at(0, 500, 1000, 1500), 2, 0},
		{"just inside", at(0, 500, 999, 1500), 3, 0},
		{"later window", at(0, 1000, 1100, 1200, 1999, 2500), 4, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			worst, start := worstWindow(tc.at, time.Second)
			require.Equal(t, tc.worst, worst)
			require.Equal(t, tc.start, start)
		})
	}
}

func TestMeasure(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	nums := []benchNumber{
		{phoneNumberID: "1", phones: []string{"a1", "a2", "a3"}},
		{phoneNumberID: "2", phones: []string{"b1", "b2", "b3"}},
	}
	send := func(id, phone string, ms int) botsailorsim.Send {
		return botsailorsim.Send{PhoneNumberID: id, Phone: phone, At: t0.Add(time.Duration(ms) * time.Millisecond)}
	}
	// Number 1: 3 sends over 1 s (2/s); number 2 starts 1 s later, sends
	// b1 twice and never b3, 3 sends over 0.5 s (4/s).
	sends := []botsailorsim.Send{
		send("1", "a1", 0), send("1", "a2", 500), send("1", "a3", 1000),
		send("2", "b1", 1000), send("2", "b2", 1250), send("2", "b1", 1500),
	}
	// Number 1's two tokens were granted 1 ms apart, the second let go 2 s
	// after its slot; number 2's was taken by Wait (no departure noted).
	grants := []grant{{"phone:1", t0, t0.Add(5 * time.Millisecond)}, {"phone:1", t0.Add(time.Millisecond), t0.Add(2 * time.Second)},
		{"phone:2", t0, time.Time{}}}
	sc := Scenario{Limit: 4}
	measure(&sc, nums, sends, grants, 12)

	require.Equal(t, 6, sc.Sends)
	require.Equal(t, []int{1, 0, 1, 0, 2, 1, 1}, sc.Timeline, "per 250 ms from the first send, at 0, 500, 1000 ×2, 1250 and 1500 ms")
	require.Equal(t, 1, sc.Duplicates)
	require.Equal(t, 1, sc.Missing)
	require.InDelta(t, 1.5, sc.Seconds, 1e-9)
	require.InDelta(t, 5/1.5, sc.PerSecond, 1e-9)
	require.InDelta(t, 5/1.5/8, sc.FleetUtilisation, 1e-9)
	require.Len(t, sc.PerNumber, 2)
	require.InDelta(t, 2, sc.PerNumber[0].PerSecond, 1e-9)
	require.InDelta(t, 0.5, sc.PerNumber[0].Utilisation, 1e-9)
	require.Equal(t, 2, sc.PerNumber[0].WorstWindow)
	require.InDelta(t, 4, sc.PerNumber[1].PerSecond, 1e-9)
	require.InDelta(t, 1, sc.PerNumber[1].StartSeconds, 1e-9)
	require.Equal(t, 3, sc.PerNumber[1].WorstWindow)
	require.InDelta(t, 0.5, sc.MinUtilisation, 1e-9)
	require.InDelta(t, 0.75, sc.MeanUtilisation, 1e-9)
	require.Equal(t, 3, sc.WorstWindow)
	require.Equal(t, "2", sc.WorstWindowNumber)
	require.InDelta(t, 1, sc.LastStartSeconds, 1e-9)
	require.Equal(t, 3, sc.Grants)
	require.Equal(t, 2, sc.GrantWorstWindow)
	require.Equal(t, 1, sc.DepartWorstWindow, "as they left, a second apart")
	require.Equal(t, 1, sc.PerNumber[0].DepartWorstWindow)
	require.Equal(t, 1, sc.PerNumber[1].DepartWorstWindow, "a Wait's departure is its grant")
	require.Equal(t, 1, sc.LeftLate, "the one let go 2 s after its slot")
	departures, late := leftLate(grants)
	require.Equal(t, [2]int{2, 1}, [2]int{departures, late}, "Wait's token has no departure")
	require.Equal(t, 12, sc.LuaCalls)
	require.InDelta(t, 2, sc.LuaCallsPerSend, 1e-9)
	require.True(t, sc.WithinLimit())
	require.False(t, sc.Utilised())
}

// TestGrantLinesRoundTrip: what a worker child reports of its grants, the
// parent reads back, with the moment each request left (a Wait's token
// left at its grant).
func TestGrantLinesRoundTrip(t *testing.T) {
	t0 := time.Unix(0, 1_700_000_000_123_456_789)
	g := &grantRecorder{grants: []grant{{"phone:1", t0, t0.Add(3 * time.Millisecond)}, {"phone:2", t0, time.Time{}}}}
	var out bytes.Buffer
	require.NoError(t, g.report(&out))
	var back []grant
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		gr, ok := parseGrant(strings.Fields(line))
		require.True(t, ok, line)
		back = append(back, gr)
	}
	require.Equal(t, []grant{{"phone:1", t0, t0.Add(3 * time.Millisecond)}, {"phone:2", t0, t0}}, back)
	_, ok := parseGrant(strings.Fields("grant phone:1 12"))
	require.False(t, ok, "a line without the departure")
}

// TestSimChildReports: the simulator process serves the BotSailor API on
// the URL of its ready line and, when it stops, reports every accepted
// send (number, phone, when) and the send requests of each worker, which
// the parent reads back.
func TestSimChildReports(t *testing.T) {
	env := map[string]string{simRateEnv: "50", tokenVar: simToken}
	stdoutR, stdoutW := io.Pipe()
	parent := &childStdout{ready: make(chan struct{})}
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		_, _ = io.Copy(parent, stdoutR)
	}()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	done := make(chan error, 1)
	go func() {
		done <- RunSimChild(ctx, func(k string) string { return env[k] }, nil, stdoutW)
		_ = stdoutW.Close()
	}()
	select {
	case <-parent.ready:
	case err := <-done:
		t.Fatalf("the simulator stopped before it was ready: %v", err)
	}
	parent.mu.Lock()
	base := parent.url
	parent.mu.Unlock()
	require.True(t, strings.HasPrefix(base, "http://127.0.0.1:"), base)

	form := url.Values{"apiToken": {simToken}, "phone_number_id": {"1190"}, "phone_number": {"14155550100"}, "message": {"hi"}}
	req, err := http.NewRequest(http.MethodPost, base+"/whatsapp/send", strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set(workerHeader, "2")
	before := time.Now()
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusOK, resp.StatusCode)

	cancel()
	require.NoError(t, <-done)
	<-copied
	parent.mu.Lock()
	defer parent.mu.Unlock()
	require.Len(t, parent.sim.sends, 1)
	s := parent.sim.sends[0]
	require.Equal(t, "1190", s.PhoneNumberID)
	require.Equal(t, "14155550100", s.Phone)
	require.False(t, s.At.Before(before.Add(-time.Second)), "accepted at %s", s.At)
	require.Equal(t, []int{0, 1}, parent.sim.counts(2))
	require.Zero(t, parent.sim.rateLimited)
}
