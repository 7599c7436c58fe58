package config

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// getenv is a getenv over vars.
func getenv(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func TestFromEnv(t *testing.T) {
	t.Parallel()
	cfg, err := FromEnv(getenv(map[string]string{
		"REDIS_URL":              "redis://:redispw@localhost:6379/0",
		"DATABASE_URL":           "postgres://wacamp:dbpw@db:5432/wacamp?sslmode=disable",
		"WACAMP_DB_MAX_CONNS":    " 4",
		"WACAMP_LOG_LEVEL":       "debug",
		"WACAMP_LEASE":           "3m",
		"WACAMP_SETTLE_WINDOW":   "10m",
		"WACAMP_STALE_AFTER":     "1m",
		"WACAMP_FIRST_POLL":      "5s",
		"WACAMP_FEED_AHEAD":      "30s",
		"WACAMP_QUEUE_LEAD":      "250ms",
		"WACAMP_WEBHOOK_ADDR":    ":8090",
		"WACAMP_SECRET_DIRS":     "/a/:: /b ",
		"WACAMP_AUDIENCE_DIRS":   "/c",
		"ASYNQMON_USER":          "u",
		"ASYNQMON_PASSWORD":      "p",
		"ASYNQMON_PASSWORD_FILE": "/f",
	}))
	require.NoError(t, err)
	cfg.raw = nil
	require.Equal(t, Config{
		RedisURL:             "redis://:redispw@localhost:6379/0",
		DatabaseURL:          "postgres://wacamp:dbpw@db:5432/wacamp?sslmode=disable",
		DBMaxConns:           4,
		LogLevel:             slog.LevelDebug,
		Lease:                3 * time.Minute,
		SettleWindow:         10 * time.Minute,
		StaleAfter:           time.Minute,
		FirstPoll:            5 * time.Second,
		FeedAhead:            30 * time.Second,
		QueueLead:            250 * time.Millisecond,
		WebhookAddr:          ":8090",
		SecretDirs:           []string{"/a", "/b"},
		AudienceDirs:         []string{"/c"},
		AsynqmonUser:         "u",
		AsynqmonPassword:     "p",
		AsynqmonPasswordFile: "/f",
	}, cfg)
}

// Unset settings take their defaults; the engine's durations stay 0, the
// engine's own defaults.
func TestFromEnvDefaults(t *testing.T) {
	t.Parallel()
	cfg, err := FromEnv(getenv(nil))
	require.NoError(t, err)
	cfg.raw = nil
	require.Equal(t, Config{DBMaxConns: DefaultDBMaxConns, LogLevel: slog.LevelInfo, SecretDirs: []string{DefaultSecretDirs}}, cfg)

	cfg, err = FromEnv(getenv(map[string]string{"WACAMP_LOG_LEVEL": "loud", "WACAMP_SECRET_DIRS": "  "}))
	require.NoError(t, err, "a log level that is none is info, not an error")
	require.Equal(t, slog.LevelInfo, cfg.LogLevel)
	require.Equal(t, []string{DefaultSecretDirs}, cfg.SecretDirs)
}

// A bad value is refused, naming the variable and quoting the value as
// written; every bad value at once.
func TestFromEnvRefusesBadValues(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"0", "-3", "ten", "2.5"} {
		_, err := FromEnv(getenv(map[string]string{"WACAMP_DB_MAX_CONNS": bad}))
		require.EqualError(t, err, `WACAMP_DB_MAX_CONNS="`+bad+`": want a whole number of Postgres connections per process, at least 1 (default 10)`)
	}
	for name, tc := range map[string]struct{ bad, want string }{
		"WACAMP_LEASE":         {"soon", `WACAMP_LEASE="soon": want a duration of at least 1s, such as 2m`},
		"WACAMP_SETTLE_WINDOW": {"-1m", `WACAMP_SETTLE_WINDOW="-1m": want a duration of at least 1s, such as 5m`},
		"WACAMP_STALE_AFTER":   {"1s", `WACAMP_STALE_AFTER="1s": want a duration of at least 5s, such as 5m`},
		"WACAMP_FEED_AHEAD":    {"500ms", `WACAMP_FEED_AHEAD="500ms": want a duration of at least 2s, such as 5s`},
		"WACAMP_FIRST_POLL":    {"10ms", `WACAMP_FIRST_POLL="10ms": want a duration of at least 1s, such as 1m`},
		"WACAMP_QUEUE_LEAD":    {"5m", `WACAMP_QUEUE_LEAD="5m": want a duration from 100ms to 1m0s, such as 500ms, or off`},
	} {
		_, err := FromEnv(getenv(map[string]string{name: tc.bad}))
		require.EqualError(t, err, tc.want)
	}
	for _, bad := range []string{"soon", "-1s", "10ms"} {
		_, err := FromEnv(getenv(map[string]string{"WACAMP_QUEUE_LEAD": bad}))
		require.ErrorContains(t, err, `WACAMP_QUEUE_LEAD="`+bad+`"`)
	}
	off, err := FromEnv(getenv(map[string]string{"WACAMP_QUEUE_LEAD": "Off"}))
	require.NoError(t, err)
	require.Equal(t, QueueLeadOff, off.QueueLead)
	_, err = FromEnv(getenv(map[string]string{"WACAMP_DB_MAX_CONNS": "x", "WACAMP_LEASE": "x"}))
	require.Len(t, strings.Split(err.Error(), "\n"), 2)

	require.EqualError(t, Config{DBMaxConns: 1, Lease: 500 * time.Millisecond}.Validate(),
		`WACAMP_LEASE="500ms": want a duration of at least 1s, such as 2m`, "a Config built in code shows its value formatted")
}

func TestReserved(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"DATABASE_URL", "redis_url", "WACAMP_ANYTHING", "Asynqmon_x"} {
		require.True(t, Reserved(name), name)
	}
	for _, name := range []string{"TOKEN", "DATABASE_URL_2", "MY_WACAMP_TOKEN"} {
		require.False(t, Reserved(name), name)
	}
}
