package app_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/config"
	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/internal/app"
	"github.com/wacamp/wacamp/internal/cli"
	"github.com/wacamp/wacamp/internal/testenv"
)

// REDIS_URL names one server or a Redis Cluster; ParseRedisURL is the one
// place that reads it, for asynq and for go-redis alike.
func TestParseRedisURL(t *testing.T) {
	t.Parallel()
	one, err := app.ParseRedisURL("redis://:pw@127.0.0.1:6380/3?pool_size=7&dial_timeout=2s")
	require.NoError(t, err)
	require.False(t, one.Cluster)
	require.Equal(t, []string{"127.0.0.1:6380"}, one.Addrs)
	require.Equal(t, asynq.RedisClientOpt{Network: "tcp", Addr: "127.0.0.1:6380", Password: "pw", DB: 3, PoolSize: 7, DialTimeout: 2 * time.Second}, one.Asynq)
	c := one.NewClient()
	require.IsType(t, &redis.Client{}, c)
	require.Equal(t, 7, c.(*redis.Client).Options().PoolSize)
	require.NoError(t, c.Close())

	cl, err := app.ParseRedisURL("redis-cluster://ops:pw@10.0.0.1:7000,10.0.0.2:7001,10.0.0.3:7002?read_timeout=4s")
	require.NoError(t, err)
	require.True(t, cl.Cluster)
	addrs := []string{"10.0.0.1:7000", "10.0.0.2:7001", "10.0.0.3:7002"}
	require.Equal(t, addrs, cl.Addrs)
	require.Equal(t, asynq.RedisClusterClientOpt{Addrs: addrs, Username: "ops", Password: "pw", ReadTimeout: 4 * time.Second}, cl.Asynq)
	c = cl.NewClient()
	require.IsType(t, &redis.ClusterClient{}, c)
	require.Equal(t, addrs, c.(*redis.ClusterClient).Options().Addrs)
	require.NoError(t, c.Close())
	for _, ok := range []string{"redis-cluster://10.0.0.1:7000/", "redis-cluster://10.0.0.1:7000/0"} {
		_, err := app.ParseRedisURL(ok)
		require.NoError(t, err, ok)
	}

	tls, err := app.ParseRedisURL("rediss-cluster://10.0.0.1:7000,10.0.0.2:7000")
	require.NoError(t, err)
	opt := tls.Asynq.(asynq.RedisClusterClientOpt)
	require.NotNil(t, opt.TLSConfig)
	require.Empty(t, opt.TLSConfig.ServerName, "each node is checked against its own name")

	const pw = "hunter2-s3cret"
	for url, want := range map[string]string{
		"redis-cluster://:" + pw + "@10.0.0.1:7000/2":            "a Redis Cluster has only database 0",
		"redis-cluster://:" + pw + "@10.0.0.1:7000,10.0.0.2":     "write every node as host:port",
		"redis-cluster://:" + pw + "@10.0.0.1:7000,,10.0.0.2:70": "an empty node",
		"redis-cluster://:" + pw + "@10.0.0.1:99999":             `node "10.0.0.1:99999" is not host:port`,
		"redis-cluster://:" + pw + "@10.0.0.1,10.0.0.2:7000":     `node "10.0.0.1" is not host:port`,
		"redis-cluster://:" + pw + "@10.0.0.1:7000?addr=b:1":     "not with addr=",
		"redis-cluster://:" + pw + "@10.0.0.1:7000?bogus=1":      "unexpected option: bogus",
		"redis://:" + pw + "@10.0.0.1:7000,10.0.0.2:7000":        "for a Redis Cluster write redis-cluster://",
		"redis://:" + pw + "@127.0.0.1?bogus=1":                  "unexpected option: bogus",
		"redis://:" + pw + "%zz@127.0.0.1":                       "is not a valid URL",
		"http://:" + pw + "@127.0.0.1":                           "the scheme must be redis://, rediss:// (one server) or redis-cluster://",
		"127.0.0.1:6379":                                         "is not a valid URL (e.g. redis://127.0.0.1:6379/0",
		"localhost":                                              "the scheme must be",
	} {
		_, err := app.ParseRedisURL(url)
		require.ErrorContains(t, err, want, url)
		require.NotContains(t, err.Error(), pw)
	}
}

// On a real Redis Cluster a process opens its connections from the
// cluster URL, and what wacamp asks of Redis works: the ping, asynq's
// queue and the inspector calls the scheduler makes (GetTaskInfo,
// ListActiveTasks, DeleteTask), the data-loss markers, and the web UI's
// queue list and Redis page. A URL of the wrong kind stops the process at
// start with what to write instead.
func TestOpenOnARedisCluster(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rc := testenv.NewRedisCluster(t)
	c, err := app.Open(ctx, config.Config{RedisURL: rc.URL, DatabaseURL: testenv.NewDatabase(t), DBMaxConns: 2}, nil)
	require.NoError(t, err)
	t.Cleanup(c.Close)
	require.NoError(t, c.PingRedis(ctx))
	require.IsType(t, &redis.ClusterClient{}, c.RedisClient)
	require.IsType(t, asynq.RedisClusterClientOpt{}, c.Redis)

	client, insp := asynq.NewClient(c.Redis), asynq.NewInspector(c.Redis)
	t.Cleanup(func() { _ = client.Close(); _ = insp.Close() })
	ref := delivery.Ref{ID: 1, Gen: 0}
	_, err = client.Enqueue(asynq.NewTask(delivery.TypeSend, []byte("{}")), asynq.TaskID(delivery.SendTaskID(ref)),
		asynq.Queue(delivery.QueueBroadcast), asynq.ProcessIn(time.Hour))
	require.NoError(t, err)
	info, err := insp.GetTaskInfo(delivery.QueueBroadcast, delivery.SendTaskID(ref))
	require.NoError(t, err)
	require.Equal(t, asynq.TaskStateScheduled, info.State)
	active, err := insp.ListActiveTasks(delivery.QueueBroadcast)
	require.NoError(t, err)
	require.Empty(t, active)
	queues, err := insp.Queues()
	require.NoError(t, err)
	require.Contains(t, queues, delivery.QueueBroadcast)

	ui := cli.UIHandler(c.Redis, true)
	t.Cleanup(func() { _ = ui.Close() })
	for _, path := range []string{"/api/queues", "/api/redis_info", "/api/queues/" + delivery.QueueBroadcast + "/scheduled_tasks"} {
		rec := httptest.NewRecorder()
		ui.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		require.Equal(t, http.StatusOK, rec.Code, "%s: %s", path, rec.Body)
	}
	require.NoError(t, insp.DeleteTask(delivery.QueueBroadcast, delivery.SendTaskID(ref)))

	loss := app.NewRedisLoss(c.RedisClient)
	lost, err := loss.Lost(ctx)
	require.NoError(t, err)
	require.True(t, lost, "a Redis new to wacamp")
	lost, err = loss.Lost(ctx)
	require.NoError(t, err)
	require.False(t, lost)
	// One node lost its data: the marker of the queue it held is gone.
	require.NoError(t, c.RedisClient.Del(ctx, "wacamp:data-marker:{"+delivery.QueueStatus+"}").Err())
	lost, err = loss.Lost(ctx)
	require.NoError(t, err)
	require.True(t, lost)

	for url, want := range map[string]string{
		"redis://" + rc.Addrs[0] + "/0":                   "points at a node of a Redis Cluster: list its nodes as redis-cluster://",
		"redis-cluster://" + testenv.NewRedis(t).Addrs[0]: "names a Redis Cluster, but the server is not in cluster mode",
	} {
		wrong, err := app.Open(ctx, config.Config{RedisURL: url, DatabaseURL: testenv.NewDatabase(t), DBMaxConns: 1}, nil)
		require.NoError(t, err)
		require.ErrorContains(t, wrong.PingRedis(ctx), want)
		wrong.Close()
	}
}

// The data-loss marker of earlier versions (one key) means an upgrade, not
// a loss: the scheduler does not warn of lost data nor re-enqueue
// everything when it first runs the new version.
func TestRedisLossUpgradesTheSingleMarker(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rd := testenv.NewRedis(t)
	require.NoError(t, rd.Client.Set(ctx, "wacamp:data-marker", "2026-12-01T00:00:00Z", 0).Err())
	loss := app.NewRedisLoss(rd.Client)
	lost, err := loss.Lost(ctx)
	require.NoError(t, err)
	require.False(t, lost)
	n, err := rd.Client.Exists(ctx, "wacamp:data-marker").Result()
	require.NoError(t, err)
	require.Zero(t, n, "the old marker is gone and masks no later loss")
	require.NoError(t, rd.Client.FlushDB(ctx).Err())
	lost, err = loss.Lost(ctx)
	require.NoError(t, err)
	require.True(t, lost)
}
