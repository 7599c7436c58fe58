package app_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/config"
	"github.com/wacamp/wacamp/internal/app"
	"github.com/wacamp/wacamp/internal/testenv"
	"github.com/wacamp/wacamp/store"
)

// Connection and parse errors name the URL with its password masked.
func TestOpenErrorsNeverShowPasswords(t *testing.T) {
	t.Parallel()
	const pw = "hunter2-s3cret"
	for _, env := range []config.Env{
		{RedisURL: "redis://:" + pw + "%zz@127.0.0.1:6379/0", DatabaseURL: "postgres://u@127.0.0.1:1/x"},
		{RedisURL: "redis://127.0.0.1:6379/0", DatabaseURL: "postgres://wacamp:" + pw + "@127.0.0.1:1/wacamp?sslmode=disable"},
		{RedisURL: "redis://127.0.0.1:6379/0", DatabaseURL: "postgres://wacamp@127.0.0.1:1/wacamp?password=" + pw + "&sslmode=disable"},
		{RedisURL: "redis://127.0.0.1:6379/0", DatabaseURL: "mysql://root:" + pw + "@127.0.0.1/x"},
	} {
		_, err := app.Open(context.Background(), env, false, "", nil)
		require.Error(t, err)
		require.NotContains(t, err.Error(), pw)
	}
}

// WACAMP_DB_MAX_CONNS sizes the Postgres pool; a bad value is refused
// before anything connects, naming the variable.
func TestOpenSizesThePoolFromTheEnvironment(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"0", "-3", "ten", "2.5"} {
		_, err := app.Open(context.Background(), config.Env{RedisURL: "redis://127.0.0.1:6379/0",
			DatabaseURL: "postgres://u@" + testenv.ClosedAddr(t) + "/x", DBMaxConns: bad}, false, "", nil)
		require.ErrorContains(t, err, `WACAMP_DB_MAX_CONNS="`+bad+`": want a whole number`)
	}
	dsn := testenv.NewDatabase(t)
	for _, tc := range []struct {
		env  string
		want int
	}{{"", store.DefaultMaxConns}, {"3", 3}} {
		c, err := app.Open(context.Background(), config.Env{RedisURL: "redis://127.0.0.1:6379/0", DatabaseURL: dsn, DBMaxConns: tc.env}, false, "", nil)
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
	c, err := app.Open(context.Background(), config.Env{RedisURL: url, DatabaseURL: testenv.NewDatabase(t)}, false, "", nil)
	require.NoError(t, err)
	defer c.Close()
	err = c.PingRedis(context.Background())
	require.ErrorContains(t, err, "cannot reach Redis at REDIS_URL=redis://:xxxxx@127.0.0.1:")
	require.ErrorContains(t, err, "connection refused")
	require.NotContains(t, err.Error(), pw)
}
