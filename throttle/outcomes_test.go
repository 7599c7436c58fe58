package throttle_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/internal/testenv"
	"github.com/wacamp/wacamp/throttle"
)

func TestOutcomesKeepsTheLastN(t *testing.T) {
	t.Parallel()
	rds := testenv.NewRedis(t)
	o := throttle.NewOutcomes(rds.Client)
	ctx := context.Background()
	for i := range 10 {
		f, n, err := o.Record(ctx, "b1", i < 3, 5) // three failures first, then successes
		require.NoError(t, err)
		require.Equal(t, min(i+1, 5), n)
		want := min(i+1, 3) // failures still in the window of 5
		if i >= 5 {
			want = max(0, 3-(i-4))
		}
		require.Equal(t, want, f, "after %d outcomes", i+1)
	}
	f, n, err := o.Record(ctx, "other", true, 5)
	require.NoError(t, err)
	require.Equal(t, 1, f)
	require.Equal(t, 1, n, "keys are independent")
}
