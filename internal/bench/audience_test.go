package bench_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/internal/bench"
	"github.com/wacamp/wacamp/internal/testenv"
)

// TestRunAudienceSmall runs the audience benchmark on 2,000 rows: the
// scheduler's validate and apply as processes of their own, every
// recipient stored once, then the scheduler until the broadcast sends,
// with status and export run beside it. It never asserts timings or
// memory.
func TestRunAudienceSmall(t *testing.T) {
	t.Parallel()
	rds := testenv.NewRedis(t)
	var progress bytes.Buffer
	res, err := bench.RunAudience(context.Background(), bench.AudienceConfig{
		Rows: 2000, DatabaseURL: testenv.PostgresURL(), RedisURL: testenv.RedisURL(), Dir: t.TempDir(),
		Plan: true, RedisDB: rds.DB, RedisLeased: true,
	}, &progress)
	require.NoError(t, err, progress.String())
	require.Equal(t, 1980, res.Recipients, "one row in a hundred repeats a number")
	require.EqualValues(t, 1980, res.Stored)
	require.Greater(t, res.Validate.Seconds, 0.0)
	require.Greater(t, res.Apply.PeakRSSMiB, 0.0)
	require.Contains(t, progress.String(), "20 duplicate recipients removed")
	require.NotNil(t, res.Plan)
	require.EqualValues(t, 1980, res.Plan.Deliveries, "the window (30 s at 1000/s) holds the whole audience: %+v", res.Plan)
	require.Equal(t, res.Plan.Deliveries, res.Plan.Queued)
	require.Positive(t, res.Plan.Tasks, "send tasks in Redis")
	require.GreaterOrEqual(t, res.Plan.Status.Runs, 5)
	require.Equal(t, res.Plan.Status.Runs, res.Plan.Export.Runs)
	var table bytes.Buffer
	require.NoError(t, res.WriteTable(&table))
	require.Contains(t, table.String(), "scheduler apply")
	require.Contains(t, table.String(), "scheduler run")
}
