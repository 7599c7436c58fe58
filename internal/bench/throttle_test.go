package bench_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/internal/bench"
	"github.com/wacamp/wacamp/internal/testenv"
)

// TestRunThrottleSmall runs one small scenario with two real worker
// processes (this test binary, see TestMain) against the real services. It
// never asserts rates, windows or utilisation, which depend on the machine's
// load: only that every message was accepted exactly once and the simulator,
// enforcing the same limit, never answered 130429.
func TestRunThrottleSmall(t *testing.T) {
	t.Parallel()
	rds := testenv.NewRedis(t)
	var progress bytes.Buffer
	res, err := bench.RunThrottle(context.Background(), bench.ThrottleConfig{
		Rate:        20,
		Seconds:     2,
		Numbers:     []int{2},
		Concurrency: 10,
		Slow:        1,
		MinWindow:   2,
		RedisURL:    testenv.RedisURL(),
		RedisDB:     rds.DB,
		RedisLeased: true,
		DatabaseURL: testenv.PostgresURL(),
		Timeout:     2 * time.Minute,
	}, &progress)
	require.NoError(t, err, progress.String())

	require.Equal(t, 2, res.Processes)
	require.Equal(t, 1, res.Slow)
	require.Equal(t, 2, res.SendsPerSlowNumber, "2 s at 1/s")
	require.Equal(t, 2, res.MinWindow)
	require.Equal(t, 40, res.SendsPerNumber)
	require.Len(t, res.Scenarios, 1)
	sc := res.Scenarios[0]
	require.Equal(t, 2, sc.Numbers)
	require.Equal(t, 80, sc.Recipients)
	require.Equal(t, 80, sc.Sends, "the simulator accepted every send once")
	require.Zero(t, sc.Duplicates)
	require.Zero(t, sc.Missing)
	require.Zero(t, sc.RateLimited, "the simulator never answered 130429")
	require.Len(t, sc.PerNumber, 2)
	for _, n := range sc.PerNumber {
		require.Equal(t, 40, n.Sends, n.PhoneNumberID)
	}
	require.NotEqual(t, sc.PerNumber[0].PhoneNumberID, sc.PerNumber[1].PhoneNumberID)
	require.Len(t, sc.ProcessRequests, 2)
	require.GreaterOrEqual(t, sc.ProcessRequests[0]+sc.ProcessRequests[1], 80, "every send request came from a worker process")
	require.GreaterOrEqual(t, sc.Grants, 80, "the workers reported a rate token per send")
	require.GreaterOrEqual(t, sc.LuaCalls, sc.Grants, "the workers counted the rate limit's Lua calls: at least one per token")
	require.Contains(t, progress.String(), "worker 1: ")
	require.Contains(t, progress.String(), "worker 2: ")
	require.Contains(t, progress.String(), "bench: dropped database")

	var table bytes.Buffer
	require.NoError(t, res.WriteTable(&table))
	require.Contains(t, table.String(), "2 processes × 2 numbers at 20/s: ")
	require.Contains(t, table.String(), "at departure")
	require.Contains(t, table.String(), "Slow numbers sharing the workers in every scenario: 1 at 1/s, 2 sends each (not in the figures).")
	require.Contains(t, table.String(), "at least 2 deliveries")
	total := 0
	for _, n := range sc.Timeline {
		total += n
	}
	require.Equal(t, sc.Sends, total, "the timeline counts every send once")
	require.Contains(t, table.String(), "  2 numbers (10 at the full rate): ")
	b, err := json.Marshal(res)
	require.NoError(t, err)
	var back bench.ThrottleResult
	require.NoError(t, json.Unmarshal(b, &back))
	require.Equal(t, res, back)
}

func TestRunThrottleRejectsBadConfig(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cfg  bench.ThrottleConfig
		want string
	}{
		{"negative redis db", bench.ThrottleConfig{RedisDB: -1}, "redis db must be 1 or more"},
		{"rate over the config maximum", bench.ThrottleConfig{Rate: 5000}, "rate must be more than 0 and at most"},
		{"too little work", bench.ThrottleConfig{Rate: 1, Seconds: 1}, "at least 2 sends per number"},
		{"no numbers", bench.ThrottleConfig{Numbers: []int{0}}, "numbers must be at least 1"},
		{"negative slow numbers", bench.ThrottleConfig{Slow: -1}, "slow numbers must be 0–1000"},
		{"negative window", bench.ThrottleConfig{MinWindow: -1}, "must not be negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := bench.RunThrottle(context.Background(), tc.cfg, io.Discard)
			require.ErrorContains(t, err, tc.want)
		})
	}
}
