package testenv_test

import (
	"context"
	"net/url"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/internal/testenv"
)

// NewPgBouncer pools in transaction mode: a client's statements may run on
// different server connections, so pgx's default of statements prepared by
// name (kept per connection) fails through it, and the URL's
// default_query_exec_mode=exec does not.
func TestPgBouncerPoolsTransactions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pooled := testenv.NewPgBouncer(t).URL(testenv.NewDatabase(t))
	query := func(dsn string) error {
		c, err := pgx.Connect(ctx, dsn)
		if err != nil {
			return err
		}
		defer func() { _ = c.Close(ctx) }()
		var n int
		return c.QueryRow(ctx, "SELECT $1::int + 1", 41).Scan(&n)
	}
	u, err := url.Parse(pooled)
	require.NoError(t, err)
	require.Equal(t, "exec", u.Query().Get("default_query_exec_mode"))
	q := u.Query()
	q.Del("default_query_exec_mode")
	u.RawQuery = q.Encode()
	// Two clients in turn: the second gets the server connection the
	// first prepared its statement on.
	require.NoError(t, query(u.String()))
	require.ErrorContains(t, query(u.String()), "prepared statement", "statements prepared by name cross clients")
	require.NoError(t, query(pooled))
	require.NoError(t, query(pooled))
}
