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
// recipient stored once. It never asserts timings or memory.
func TestRunAudienceSmall(t *testing.T) {
	t.Parallel()
	var progress bytes.Buffer
	res, err := bench.RunAudience(context.Background(), bench.AudienceConfig{
		Rows: 2000, DatabaseURL: testenv.PostgresURL(), RedisURL: testenv.RedisURL(), Dir: t.TempDir(),
	}, &progress)
	require.NoError(t, err, progress.String())
	require.Equal(t, 1980, res.Recipients, "one row in a hundred repeats a number")
	require.EqualValues(t, 1980, res.Stored)
	require.Greater(t, res.Validate.Seconds, 0.0)
	require.Greater(t, res.Apply.PeakRSSMiB, 0.0)
	require.Contains(t, progress.String(), "20 duplicate recipients removed")
	var table bytes.Buffer
	require.NoError(t, res.WriteTable(&table))
	require.Contains(t, table.String(), "scheduler apply")
}
