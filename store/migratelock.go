package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/pressly/goose/v3/lock"
)

// MigrationLockTimeout is how long a starting process waits for another's
// migrations before it gives up (as goose's own Postgres locker did).
const MigrationLockTimeout = 5 * time.Minute

// migrationLock keeps two processes from migrating one database at once
// (goose's lock.Locker): a transaction-scoped advisory lock, held by a
// transaction of its own while the migrations run on other connections,
// and released by ending that transaction.
//
// Unlike a session-level lock (goose's session locker, used before), it
// works through a connection pooler in transaction mode (PgBouncer): the
// pooler keeps one server connection for an open transaction, while a
// session lock taken through it stays on whichever server connection ran
// it, and the unlock may reach another. Advisory locks of either level
// conflict when their keys are equal, so it keeps goose's key: a process of
// an earlier version, holding goose's session lock, still excludes it, and
// it that process.
type migrationLock struct {
	tx *sql.Tx
}

// Lock waits (up to MigrationLockTimeout) for the lock and holds it.
func (l *migrationLock) Lock(ctx context.Context, db *sql.DB) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migration lock: %w", err)
	}
	// The transaction idles while the migrations run: a server-side idle
	// timeout must not end it (and release the lock) midway.
	for _, q := range []string{
		"SET LOCAL idle_in_transaction_session_timeout = 0",
		fmt.Sprintf("SET LOCAL lock_timeout = %d", MigrationLockTimeout.Milliseconds()),
	} {
		if _, err = tx.ExecContext(ctx, q); err != nil {
			break
		}
	}
	if err == nil {
		_, err = tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", lock.DefaultLockID)
	}
	if err != nil {
		_ = tx.Rollback()
		return fmt.Errorf("migration lock (another process may have been migrating for %s): %w", MigrationLockTimeout, err)
	}
	l.tx = tx
	return nil
}

// Unlock ends the lock's transaction, which wrote nothing.
func (l *migrationLock) Unlock(context.Context, *sql.DB) error {
	if l.tx == nil {
		return errors.New("migration lock: not held")
	}
	err := l.tx.Rollback()
	l.tx = nil
	if err != nil {
		return fmt.Errorf("migration unlock: %w", err)
	}
	return nil
}
