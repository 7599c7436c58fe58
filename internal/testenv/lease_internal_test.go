package testenv

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// A lease left by a test process that no longer runs (killed by hand) is
// taken back; one held by a live process, or by a process of another
// host, is left to its holder.
func TestAbandonedLeaseIsFreed(t *testing.T) {
	t.Parallel()
	r := NewRedis(t) // a database of its own for the keys below
	ctx := context.Background()
	ctl := r.Client.(*redis.Client)
	done := exec.Command("true")
	require.NoError(t, done.Run())
	gone := strconv.Itoa(done.ProcessState.Pid())
	host, err := os.Hostname()
	require.NoError(t, err)

	for _, c := range []struct {
		name, holder string
		freed        bool
	}{
		{"process gone", host + " " + gone + " a1", true},
		{"process runs", host + " " + strconv.Itoa(os.Getpid()) + " a2", false},
		{"another host", host + "-elsewhere " + gone + " a3", false},
		{"not ours", "something else", false},
	} {
		key := "wacamp:testenv:lease:check:" + c.name
		require.NoError(t, ctl.Set(ctx, key, c.holder, 0).Err())
		require.NoError(t, freeAbandoned(ctx, ctl, key))
		n, err := ctl.Exists(ctx, key).Result()
		require.NoError(t, err)
		require.Equal(t, c.freed, n == 0, c.name)
	}
}
