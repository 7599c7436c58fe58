package cli_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/internal/cli"
	"github.com/wacamp/wacamp/internal/testenv"
)

// `worker` and `scheduler run` stop at start, non-zero, when Redis or
// Postgres cannot be reached, naming the URL with its password masked;
// they do not run on waiting for it.
func TestDaemonsFailFastWithoutRedisOrPostgres(t *testing.T) {
	t.Parallel()
	const pw = "hunter2-s3cret"
	dsn := testenv.NewDatabase(t)
	daemons := map[string]func(ctx context.Context, io cli.IO) error{
		"worker":        func(ctx context.Context, io cli.IO) error { return cli.Worker(ctx, nil, io) },
		"scheduler run": func(ctx context.Context, io cli.IO) error { return cli.Scheduler(ctx, []string{"run"}, io) },
	}
	for _, tc := range []struct {
		name, redis, db, want string
	}{
		{"redis down", "redis://:" + pw + "@" + testenv.ClosedAddr(t) + "/0", dsn, "cannot reach Redis at REDIS_URL=redis://:xxxxx@127.0.0.1:"},
		{"postgres down", testenv.RedisURL(), "postgres://wacamp:" + pw + "@" + testenv.ClosedAddr(t) + "/wacamp?sslmode=disable", "postgres://wacamp:xxxxx@127.0.0.1:"},
	} {
		for name, run := range daemons {
			env := map[string]string{"REDIS_URL": tc.redis, "DATABASE_URL": tc.db}
			out := &syncBuf{}
			// The guard only ends a daemon that wrongly keeps running.
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			err := run(ctx, cli.IO{Stdout: out, Stderr: out, Getenv: func(k string) string { return env[k] }})
			require.NoError(t, ctx.Err(), "%s, %s: it kept running", name, tc.name)
			cancel()
			code := cli.Exit(err, out)
			require.NotZero(t, code, "%s, %s", name, tc.name)
			require.Contains(t, out.String(), tc.want, "%s, %s", name, tc.name)
			require.Contains(t, out.String(), "connection refused", "%s, %s", name, tc.name)
			require.NotContains(t, out.String(), pw, "%s, %s", name, tc.name)
		}
	}
}

// A worker whose -webhook-addr is taken stops at start, non-zero, before
// it says it runs (before, it logged "worker: running" and then exited).
func TestWorkerFailsFastWhenTheWebhookAddressIsTaken(t *testing.T) {
	t.Parallel()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = taken.Close() })
	env := map[string]string{"REDIS_URL": testenv.NewRedis(t).URL, "DATABASE_URL": testenv.NewMigratedDatabase(t), "WACAMP_DB_MAX_CONNS": "2"}
	out := &syncBuf{}
	// The guard only ends a worker that wrongly keeps running.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err = cli.Worker(ctx, []string{"-webhook-addr", taken.Addr().String(), "-metrics-addr", ""},
		cli.IO{Stdout: out, Stderr: out, Getenv: func(k string) string { return env[k] }})
	require.NoError(t, ctx.Err(), "it kept running")
	require.NotZero(t, cli.Exit(err, out))
	require.Contains(t, out.String(), "webhooks: listen on "+taken.Addr().String())
	require.NotContains(t, out.String(), "worker: running")
}
