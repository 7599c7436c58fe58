package store

import (
	"context"
	"database/sql"
	"io/fs"
	"log/slog"
	"path/filepath"
	"testing"

	_ "github.com/glebarez/go-sqlite" // database/sql driver "sqlite"
	"github.com/pressly/goose/v3"
	"github.com/stretchr/testify/require"
)

// Migration 00004 rebuilds SQLite's deliveries table: rows and their
// delivery_events must survive it, and foreign keys must be on afterwards.
func TestSQLiteStepsMigrationKeepsData(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	raw, err := sql.Open("sqlite", path+"?_pragma=foreign_keys(1)")
	require.NoError(t, err)
	raw.SetMaxOpenConns(1)
	sub, err := fs.Sub(migrations, "migrations/sqlite")
	require.NoError(t, err)
	p, err := goose.NewProvider(goose.DialectSQLite3, raw, sub)
	require.NoError(t, err)
	_, err = p.UpTo(ctx, 3)
	require.NoError(t, err)
	for _, q := range []string{
		`INSERT INTO accounts (id, name, provider, base_url, token_ref, phone_number_id, rate_per_second, spec_hash, created_at, updated_at)
			VALUES (1, 'main', 'botsailor', 'http://x', 'env:T', '1', 80, 'h', '2026-01-01', '2026-01-01')`,
		`INSERT INTO broadcasts (id, name, account_id, status, start_at, deadline_seconds, message, message_hash, audience_hash, recipient_count, created_at, updated_at)
			VALUES (1, 'b', 1, 'completed', '2026-01-01', 0, '{}', 'm', 'a', 1, '2026-01-01', '2026-01-01')`,
		`INSERT INTO recipients (id, broadcast_id, phone) VALUES (1, 1, '4915100000001')`,
		`INSERT INTO deliveries (id, broadcast_id, recipient_id, phone, status, wamid, updated_at) VALUES (7, 1, 1, '4915100000001', 'sent', 'wamid.A', '2026-01-01')`,
		`INSERT INTO delivery_events (delivery_id, status, at, detail) VALUES (7, 'sent', '2026-01-01', 'wamid.A')`,
	} {
		_, err := raw.ExecContext(ctx, q)
		require.NoError(t, err, q)
	}
	require.NoError(t, raw.Close())

	db, err := Open(ctx, "sqlite:"+path, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	defer db.Close()
	var got struct {
		Wamid  string
		Events int
		FK     int
	}
	require.NoError(t, db.Gorm().Raw(`SELECT (SELECT wamid FROM deliveries WHERE id = 7) AS wamid,
		(SELECT COUNT(*) FROM delivery_events WHERE delivery_id = 7) AS events`).Scan(&got).Error)
	require.NoError(t, db.Gorm().Raw(`PRAGMA foreign_keys`).Scan(&got.FK).Error)
	require.Equal(t, "wamid.A", got.Wamid)
	require.Equal(t, 1, got.Events)
	require.Equal(t, 1, got.FK, "foreign keys back on")
	// A delivery without a broadcast must name an enrollment.
	err = db.Gorm().Exec(`INSERT INTO deliveries (phone, status, updated_at) VALUES ('4915100000002', 'planned', '2026-01-01')`).Error
	require.ErrorContains(t, err, "CHECK constraint failed")
}
