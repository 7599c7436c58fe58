package bench_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/internal/bench"
	"github.com/wacamp/wacamp/internal/testenv"
)

// TestRunSmall runs both phases with tiny numbers against the real services.
// It never asserts timings: only that both rates were measured and that the
// send path delivered every message exactly once.
func TestRunSmall(t *testing.T) {
	t.Parallel()
	rds := testenv.NewRedis(t)
	var progress bytes.Buffer
	res, err := bench.Run(context.Background(), bench.Config{
		NoopTasks:   200,
		Sends:       100,
		Concurrency: 10,
		Rounds:      2,
		RedisURL:    testenv.RedisURL(),
		RedisDB:     rds.DB,
		RedisLeased: true,
		DatabaseURL: testenv.PostgresURL(),
		Timeout:     2 * time.Minute,
		StatsDelay:  time.Millisecond, // the profile's Postgres counts may lag: not asserted
	}, &progress)
	require.NoError(t, err, progress.String())

	require.Equal(t, 200, res.Noop.Tasks)
	p := res.Send.Profile
	require.Greater(t, p.GoCPUMillis, 0.0, "this process's CPU per send")
	require.Greater(t, p.RedisCommands, 0.0, "Redis commands per send")
	require.True(t, p.PostgresCPUMillis == -1 || p.PostgresCPUMillis >= 0, "Postgres CPU per send, or -1: %v", p.PostgresCPUMillis)
	require.Greater(t, res.Noop.PerSecond, 0.0)
	require.Greater(t, res.Send.PerSecond, 0.0)
	require.Greater(t, res.Send.SteadyPerSecond, 0.0)
	require.Greater(t, res.Ratio, 0.0)
	require.Equal(t, 100, res.Send.Recipients)
	require.Equal(t, 100, res.Send.SimAccepted, "the simulator accepted every send once")
	require.Zero(t, res.Send.Duplicates)
	require.Zero(t, res.Send.Missing)
	require.GreaterOrEqual(t, res.Send.Carried, 100, "successful send task runs carried every send")
	require.GreaterOrEqual(t, res.Send.HandlerRuns, 1)
	require.Equal(t, 2, strings.Count(progress.String(), "bench: dropped database"), "each round's database is dropped")
	require.Len(t, res.Rounds, 2)
	median := false
	for _, r := range res.Rounds {
		require.Greater(t, r.NoopPerSecond, 0.0)
		require.Greater(t, r.SendPerSecond, 0.0)
		require.InDelta(t, r.SendPerSecond/r.NoopPerSecond, r.Ratio, 1e-9)
		median = median || r.Ratio == res.Ratio
	}
	require.True(t, median, "the result is one of its rounds")
	require.Equal(t, min(res.Rounds[0].Ratio, res.Rounds[1].Ratio), res.Ratio, "of two rounds, the lower middle one")
	require.Equal(t, res.Rounds[res.ShownRound-1].Ratio, res.Ratio, "ShownRound names it")
	require.False(t, res.Stopped)

	var table bytes.Buffer
	require.NoError(t, res.WriteTable(&table))
	require.Contains(t, table.String(), "raw asynq no-op rate")
	require.Contains(t, table.String(), "per send: CPU ")
	require.Contains(t, table.String(), fmt.Sprintf("2 rounds, each a no-op phase and then a send phase; the table above is round %d", res.ShownRound))
	b, err := json.Marshal(res)
	require.NoError(t, err)
	var back bench.Result
	require.NoError(t, json.Unmarshal(b, &back))
	require.Equal(t, res, back)
}

func TestRunRejectsNegativeRedisDB(t *testing.T) {
	t.Parallel()
	_, err := bench.Run(context.Background(), bench.Config{RedisDB: -1}, io.Discard)
	require.ErrorContains(t, err, "redis db must be 1 or more")
}

// The webhook benchmark answers every request and applies every status;
// its timings are reported, never asserted.
func TestRunWebhooksSmall(t *testing.T) {
	t.Parallel()
	rds := testenv.NewRedis(t)
	var progress bytes.Buffer
	res, err := bench.RunWebhooks(context.Background(), bench.WebhooksConfig{
		Messages: 300, Clients: 4, Concurrency: 10,
		RedisURL: testenv.RedisURL(), RedisDB: rds.DB, RedisLeased: true,
		DatabaseURL: testenv.PostgresURL(), Timeout: 2 * time.Minute,
	}, &progress)
	require.NoError(t, err, progress.String())
	require.Equal(t, 330, res.Requests, "a tenth duplicated")
	require.Zero(t, res.Non200)
	require.Greater(t, res.AppliedPerSecond, 0.0)
	require.Greater(t, res.P50Millis, 0.0)
}

// The fault benchmark, tiny and scaled down (slow accepts of 2 s past a 1 s
// client timeout, a 15 s settle window): every recipient accepted once,
// and sending resumes after the Redis restart. Timings are not asserted
// beyond the verdict's bound.
func TestRunFaultsSmall(t *testing.T) {
	t.Parallel()
	var progress bytes.Buffer
	res, err := bench.RunFaults(context.Background(), bench.FaultsConfig{
		Texts: 150, Templates: 100, Rate: 50, Concurrency: 10,
		SlowAccept: 2 * time.Second, ClientTimeout: time.Second,
		SettleWindow: 15 * time.Second, AmbiguousDelay: time.Second,
		// StaleAfter stays the engine's 5 min: sends whose answer was lost
		// just before the kill come back through the loss recovery.
		DatabaseURL: testenv.PostgresURL(), Timeout: 90 * time.Second,
	}, &progress)
	var table bytes.Buffer
	require.NoError(t, res.WriteTable(&table))
	require.NoError(t, err, "%s\n%s", table.String(), progress.String())
	require.True(t, res.Holds)
	require.Contains(t, table.String(), "HOLDS")
	for _, p := range []bench.FaultPart{res.Text, res.Template} {
		require.Equal(t, p.Recipients, p.Accepted)
		require.Zero(t, p.Duplicates)
		require.Zero(t, p.Lost)
		require.Zero(t, p.Resent)
	}
	require.Positive(t, res.Text.Faulted, "some sends were slow")
	require.Positive(t, res.Template.Faulted, "some answers were dropped")
	// Every slow send is found, none resent; on a loaded machine a send the
	// simulator did not slow can outlast the client's timeout too, and is
	// found the same way.
	require.GreaterOrEqual(t, res.Text.Found, res.Text.Faulted, "every slow send found")
	require.Positive(t, res.Template.NoWAMID, "templates found without a wamid are recorded")
	require.Positive(t, res.Restart.AtAccepted)
	require.Positive(t, res.Restart.ResumeSeconds)
}

// The steps benchmark sends every step once, none before it is due, and
// measures lateness against the rate's floor; the figures are reported,
// never asserted.
func TestRunStepsSmall(t *testing.T) {
	t.Parallel()
	rds := testenv.NewRedis(t)
	var progress bytes.Buffer
	res, err := bench.RunSteps(context.Background(), bench.StepsConfig{
		Enrollments: 300, Rate: 100, Window: 2 * time.Second, Lead: 3 * time.Second, Concurrency: 10,
		RedisURL: testenv.RedisURL(), RedisDB: rds.DB, RedisLeased: true,
		DatabaseURL: testenv.PostgresURL(), Timeout: 2 * time.Minute,
	}, &progress)
	var table bytes.Buffer
	require.NoError(t, res.WriteTable(&table))
	require.NoError(t, err, "%s\n%s", table.String(), progress.String())
	require.Zero(t, res.Early)
	require.Zero(t, res.Duplicates)
	require.Zero(t, res.Missing)
	require.Positive(t, res.FloorMax, "300 steps due within 2 s at 100/s: the rate makes some late")
	require.Contains(t, table.String(), "beyond that floor")
	require.Equal(t, 200, res.OtherSteps, "another number sends beside the backlog")
	require.GreaterOrEqual(t, res.Departures, 300+200, "every step left at a departure slot")
	require.Contains(t, table.String(), "left late")
}

func TestRunRejectsRoundsOutOfRange(t *testing.T) {
	t.Parallel()
	for _, n := range []int{-1, 100} {
		_, err := bench.Run(context.Background(), bench.Config{Rounds: n}, io.Discard)
		require.ErrorContains(t, err, "rounds must be 1–99")
	}
}

// A run that stopped at a failed round says so, and that the table is
// that round's, not a median.
func TestWriteTableOfAStoppedRun(t *testing.T) {
	t.Parallel()
	res := bench.Result{Rounds: []bench.Round{{NoopPerSecond: 100, SendPerSecond: 40, Ratio: 0.4}}, ShownRound: 2, Stopped: true}
	var table bytes.Buffer
	require.NoError(t, res.WriteTable(&table))
	require.Contains(t, table.String(), "the run stopped at round 2, which the table above shows; the rounds before it:\n  round 1: no-op    100/s")
	require.NotContains(t, table.String(), "median")
}
