package app_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/config"
	"github.com/wacamp/wacamp/internal/app"
	"github.com/wacamp/wacamp/internal/testenv"
	"github.com/wacamp/wacamp/provider"
	"github.com/wacamp/wacamp/spec"
	"github.com/wacamp/wacamp/store"
)

// Connection and parse errors name the URL with its password masked.
func TestOpenErrorsNeverShowPasswords(t *testing.T) {
	t.Parallel()
	const pw = "hunter2-s3cret"
	for _, env := range []config.Config{
		{RedisURL: "redis://:" + pw + "%zz@127.0.0.1:6379/0", DatabaseURL: "postgres://u@127.0.0.1:1/x"},
		{RedisURL: "redis://127.0.0.1:6379/0", DatabaseURL: "postgres://wacamp:" + pw + "@127.0.0.1:1/wacamp?sslmode=disable"},
		{RedisURL: "redis://127.0.0.1:6379/0", DatabaseURL: "postgres://wacamp@127.0.0.1:1/wacamp?password=" + pw + "&sslmode=disable"},
		{RedisURL: "redis://127.0.0.1:6379/0", DatabaseURL: "mysql://root:" + pw + "@127.0.0.1/x"},
	} {
		_, err := app.Open(context.Background(), env, nil)
		require.Error(t, err)
		require.NotContains(t, err.Error(), pw)
	}
}

// WACAMP_DB_MAX_CONNS sizes the Postgres pool; a bad value is refused
// before anything connects, naming the variable.
func TestOpenSizesThePoolFromTheEnvironment(t *testing.T) {
	t.Parallel()
	open := func(dsn, maxConns string) (*app.Conns, error) {
		env := map[string]string{"REDIS_URL": "redis://127.0.0.1:6379/0", "DATABASE_URL": dsn, "WACAMP_DB_MAX_CONNS": maxConns}
		cfg, err := config.FromEnv(func(k string) string { return env[k] })
		if err != nil {
			return nil, err
		}
		return app.Open(context.Background(), cfg, nil)
	}
	for _, bad := range []string{"0", "-3", "ten", "2.5"} {
		_, err := open("postgres://u@"+testenv.ClosedAddr(t)+"/x", bad)
		require.ErrorContains(t, err, `WACAMP_DB_MAX_CONNS="`+bad+`": want a whole number`)
	}
	require.Equal(t, store.DefaultMaxConns, config.DefaultDBMaxConns, "config's default is the store's")
	dsn := testenv.NewDatabase(t)
	for _, tc := range []struct {
		env  string
		want int
	}{{"", store.DefaultMaxConns}, {"3", 3}} {
		c, err := open(dsn, tc.env)
		require.NoError(t, err)
		sqlDB, err := c.Store.Gorm().DB()
		require.NoError(t, err)
		require.Equal(t, tc.want, sqlDB.Stats().MaxOpenConnections, "WACAMP_DB_MAX_CONNS=%q", tc.env)
		c.Close()
	}
}

// PingRedis names REDIS_URL, its password masked, when Redis does not answer.
func TestPingRedisNamesTheURLNotThePassword(t *testing.T) {
	t.Parallel()
	const pw = "hunter2-s3cret"
	url := "redis://:" + pw + "@" + testenv.ClosedAddr(t) + "/0"
	c, err := app.Open(context.Background(), config.Config{RedisURL: url, DatabaseURL: testenv.NewDatabase(t)}, nil)
	require.NoError(t, err)
	defer c.Close()
	err = c.PingRedis(context.Background())
	require.ErrorContains(t, err, "cannot reach Redis at REDIS_URL=redis://:xxxxx@127.0.0.1:")
	require.ErrorContains(t, err, "connection refused")
	require.NotContains(t, err.Error(), pw)
}

// Every worker applies the status webhooks a receiver kept in the database
// while Redis was away.
func TestWorkerAppliesKeptWebhooks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rd := testenv.NewRedis(t)
	c, err := app.Open(ctx, config.Config{RedisURL: rd.URL, DatabaseURL: testenv.NewDatabase(t), DBMaxConns: 4}, nil)
	require.NoError(t, err)
	t.Cleanup(c.Close)
	_, err = c.Store.Apply(ctx, &spec.Bundle{Accounts: []spec.Account{{Name: "shop", Provider: "sobot", BaseURL: "http://127.0.0.1:1",
		TokenRef: "env:K", SecretRef: "env:S", WebhookSecretRef: "env:HOOK", RatePerSecond: 80}}}, time.Now())
	require.NoError(t, err)
	accts, err := c.Store.WebhookAccounts(ctx)
	require.NoError(t, err)
	require.Len(t, accts, 1)
	// A status about a message not recorded yet: applying it keeps it in
	// webhook_events for its send.
	body, err := json.Marshal(map[string]any{"account_id": accts[0].ID, "account": "shop",
		"events": []provider.Event{{WAMID: "wamid.X", Status: provider.StatusDelivered}}})
	require.NoError(t, err)
	require.NoError(t, c.Store.KeepWebhook(ctx, accts[0].ID, body, time.Now()))

	w := app.NewWorker(c, app.WorkerConfig{Concurrency: 2})
	require.NoError(t, w.Start())
	t.Cleanup(w.Shutdown)
	require.Eventually(t, func() bool {
		var kept, inbox int
		require.NoError(t, c.Store.Gorm().Raw(`SELECT (SELECT COUNT(*) FROM webhook_events WHERE wamid = 'wamid.X'),
			(SELECT COUNT(*) FROM webhook_inbox)`).Row().Scan(&kept, &inbox))
		return kept == 1 && inbox == 0
	}, time.Minute, 100*time.Millisecond)
}

// The production binaries carry no SQLite: a sqlite: DATABASE_URL is
// refused with what to use instead (the demo links it).
func TestOpenRefusesSQLiteWithoutTheDemo(t *testing.T) {
	t.Parallel()
	_, err := app.Open(context.Background(), config.Config{RedisURL: "redis://127.0.0.1:6379/0", DatabaseURL: "sqlite:" + t.TempDir() + "/w.db"}, nil)
	require.ErrorContains(t, err, "this program has no embedded SQLite database")
}
