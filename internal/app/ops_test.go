package app_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/config"
	"github.com/wacamp/wacamp/internal/app"
	"github.com/wacamp/wacamp/internal/ops"
	"github.com/wacamp/wacamp/internal/testenv"
)

// readyz asks the readiness endpoint of a process with c's connections.
func readyz(t *testing.T, c *app.Conns) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	ops.Server{Checks: app.ReadyChecks(c)}.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	return rec.Code, rec.Body.String()
}

// A process is ready when Redis and Postgres answer and the schema is
// current; Redis down (a closed port), the schema behind, or Postgres
// gone each make it not ready, naming which.
func TestReadyChecks(t *testing.T) {
	t.Parallel()
	dsn := testenv.NewMigratedDatabase(t)
	open := func(redisURL string) *app.Conns {
		c, err := app.Open(context.Background(), config.Config{RedisURL: redisURL, DatabaseURL: dsn, DBMaxConns: 2}, nil)
		require.NoError(t, err)
		t.Cleanup(c.Close)
		return c
	}
	c := open(testenv.NewRedis(t).URL)
	code, body := readyz(t, c)
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, "redis: ok\npostgres: ok\nmigrations: ok\n", body)

	down := open("redis://" + testenv.ClosedAddr(t) + "/0")
	code, body = readyz(t, down)
	require.Equal(t, http.StatusServiceUnavailable, code)
	// refused, or (under load, while the client retries the dial) timed out
	require.Contains(t, body, "redis: not ready: ping Redis: ")
	require.Contains(t, body, "postgres: ok\nmigrations: ok\n")

	// The newest migration undone in the version table: behind.
	want, err := c.Store.SchemaVersion()
	require.NoError(t, err)
	require.NoError(t, c.Store.Gorm().Exec(`DELETE FROM goose_db_version WHERE version_id = ?`, want).Error)
	code, body = readyz(t, c)
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Contains(t, body, "migrations: not ready: the database's schema is at version "+strconv.FormatInt(want-1, 10)+"; this program needs "+strconv.FormatInt(want, 10))

	require.NoError(t, c.Store.Close())
	code, body = readyz(t, c)
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Contains(t, body, "redis: ok\npostgres: not ready: ")
}
