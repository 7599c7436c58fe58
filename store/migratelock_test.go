package store_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pressly/goose/v3/lock"
	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/internal/testenv"
	"github.com/wacamp/wacamp/store"
)

// Processes that start at once on an empty database migrate it once: the
// others wait for the lock, then find it migrated. Half of them reach
// Postgres through PgBouncer in transaction mode, where a session-level
// lock would stay on whichever server connection took it.
func TestConcurrentStartsMigrateOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := testenv.NewDatabase(t)
	pooled := testenv.NewPgBouncer(t).URL(dsn)
	errs := make([]error, 4)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Go(func() {
			u := dsn
			if i%2 == 1 {
				u = pooled
			}
			db, err := store.Open(ctx, u, nil)
			if err == nil {
				err = db.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		require.NoError(t, err, "process %d", i)
	}
}

// A process of an earlier version that is migrating holds goose's
// session-level advisory lock; a new process waits for it (the
// transaction-scoped lock has the same key, and the two conflict), and
// migrates once it is released.
func TestMigrationWaitsForAnEarlierVersionsLock(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := testenv.NewDatabase(t)
	old, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	t.Cleanup(func() { _ = old.Close(context.Background()) })
	_, err = old.Exec(ctx, "SELECT pg_advisory_lock($1)", lock.DefaultLockID)
	require.NoError(t, err)

	done := make(chan error, 1)
	go func() {
		db, err := store.Open(ctx, dsn, nil)
		if err == nil {
			err = db.Close()
		}
		done <- err
	}()
	// Postgres shows the new process waiting for the lock (there is no
	// other signal to wait on).
	require.Eventually(t, func() bool {
		var waiting int
		require.NoError(t, old.QueryRow(ctx, `SELECT COUNT(*) FROM pg_locks
			WHERE locktype = 'advisory' AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&waiting))
		return waiting == 1
	}, 30*time.Second, 10*time.Millisecond, "the new process waits for the lock")
	select {
	case err := <-done:
		t.Fatalf("migrated while an earlier version held the lock (%v)", err)
	default:
	}
	_, err = old.Exec(ctx, "SELECT pg_advisory_unlock($1)", lock.DefaultLockID)
	require.NoError(t, err)
	require.NoError(t, <-done)
}
