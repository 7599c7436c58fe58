package testenv_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/internal/testenv"
)

// NewRedisCluster starts a real Redis Cluster: keys spread over its three
// masters, and a script whose keys lie in two slots is refused (CROSSSLOT),
// as a production cluster refuses it.
func TestRedisClusterIsARealCluster(t *testing.T) {
	t.Parallel()
	rc := testenv.NewRedisCluster(t)
	require.True(t, rc.Cluster)
	require.True(t, strings.HasPrefix(rc.URL, "redis-cluster://127.0.0.1:"), rc.URL)
	ctx := context.Background()
	for i := range 100 {
		require.NoError(t, rc.Client.Set(ctx, fmt.Sprintf("k%d", i), i, 0).Err())
	}
	cc, ok := rc.Client.(*redis.ClusterClient)
	require.True(t, ok, "a cluster client")
	var mu sync.Mutex
	keys := map[string]int64{} // per master
	require.NoError(t, cc.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
		n, err := m.DBSize(ctx).Result()
		mu.Lock()
		keys[m.Options().Addr] = n
		mu.Unlock()
		return err
	}))
	require.Len(t, keys, 3)
	for addr, n := range keys {
		require.Positive(t, n, "master %s holds some of the keys", addr)
	}

	err := rc.Client.Eval(ctx, `return redis.call("GET", KEYS[1])`, []string{"{a}x", "{b}y"}).Err()
	require.ErrorContains(t, err, "CROSSSLOT")
	require.NoError(t, rc.Client.Eval(ctx, `return redis.call("SET", KEYS[1], KEYS[2])`, []string{"{a}x", "{a}y"}).Err(), "one slot")

	other := rc.NewClient(t)
	v, err := other.Get(ctx, "k7").Int()
	require.NoError(t, err)
	require.Equal(t, 7, v)
}
