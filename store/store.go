package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"
	"time"

	"github.com/pressly/goose/v3"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/wacamp/wacamp/config"
)

//go:embed migrations
var migrations embed.FS

// DB is the store. Its zero value is not usable; call Open.
type DB struct {
	gorm    *gorm.DB
	dialect string // "postgres" or "sqlite"
	// batch is how many rows a keyset read (export, webhook sweep) or a
	// batched insert handles at once: defaultBatch, smaller in tests so
	// that a few rows cross several batches.
	batch int
	// comb group-commits the send path's writes; nil on SQLite (one
	// connection: nothing runs concurrently to combine).
	comb *combiners
	// sql is the pool under gorm, for the send path's statements that
	// pass arrays (Postgres only; nil on SQLite).
	sql *sql.DB
}

// defaultBatch is DB.batch outside tests.
const defaultBatch = 1000

// openSQLite opens an embedded SQLite database; nil unless the program
// links store/sqlite, as only the demo and tests do: the production
// binaries carry no SQLite.
var openSQLite func(dsn string) gorm.Dialector

// RegisterSQLite makes Open accept "sqlite:PATH", opening it with open.
// store/sqlite calls it; import that package for its side effect.
func RegisterSQLite(open func(dsn string) gorm.Dialector) { openSQLite = open }

// Open connects to dsn and migrates the schema to the newest version.
// dsn is a Postgres URL (postgres:// or postgresql://) or "sqlite:PATH" for
// the embedded database ("sqlite::memory:" for a private in-memory one), if
// the program links it (see RegisterSQLite).
func Open(ctx context.Context, dsn string, log *slog.Logger) (*DB, error) {
	return open(ctx, dsn, log, true)
}

// OpenReadOnly connects to dsn as Open does but leaves the schema as it is,
// for commands that only read and must write nothing (validate's
// estimates): what they read is in every schema version they may meet.
func OpenReadOnly(ctx context.Context, dsn string, log *slog.Logger) (*DB, error) {
	return open(ctx, dsn, log, false)
}

func open(ctx context.Context, dsn string, log *slog.Logger, migrate bool) (*DB, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg := &gorm.Config{
		Logger:  logger.Discard,
		NowFunc: func() time.Time { return time.Now().UTC() },
		// Tables are created by migrations, never by gorm.
		DisableAutomaticPing: false,
		TranslateError:       true,
	}
	var (
		g       *gorm.DB
		err     error
		dialect string
	)
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		dialect = "postgres"
		g, err = gorm.Open(postgres.Open(dsn), cfg)
	case strings.HasPrefix(dsn, "sqlite:"):
		dialect = "sqlite"
		if openSQLite == nil {
			return nil, errors.New("open database: this program has no embedded SQLite database (only the demo and tests link it); DATABASE_URL must be a postgres:// URL")
		}
		path := strings.TrimPrefix(dsn, "sqlite:")
		// WAL and a busy timeout let the demo's scheduler and worker share it.
		g, err = gorm.Open(openSQLite(path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_txlock=immediate"), cfg)
	default:
		return nil, fmt.Errorf("open database: DATABASE_URL must start with postgres://, postgresql:// or sqlite: (got %q)", config.RedactURL(dsn))
	}
	if err != nil {
		return nil, fmt.Errorf("open %s database %s: %w", dialect, config.RedactURL(dsn), err)
	}
	sqlDB, err := g.DB()
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	if dialect == "sqlite" {
		sqlDB.SetMaxOpenConns(1) // one writer; avoids SQLITE_BUSY storms
	} else {
		sqlDB.SetMaxOpenConns(DefaultMaxConns)
		sqlDB.SetMaxIdleConns(DefaultMaxConns)
	}
	if err := sqlDB.PingContext(ctx); err != nil {
		return nil, fmt.Errorf("connect to %s database %s: %w", dialect, config.RedactURL(dsn), err)
	}
	db := &DB{gorm: g, dialect: dialect, batch: defaultBatch}
	if dialect == "postgres" {
		db.comb, db.sql = newCombiners(g, sqlDB, &versionSpecs{}), sqlDB
	}
	if !migrate {
		return db, nil
	}
	if err := db.migrate(ctx, sqlDB, log); err != nil {
		return nil, err
	}
	return db, nil
}

func (db *DB) migrate(ctx context.Context, sqlDB *sql.DB, log *slog.Logger) error {
	sub, err := fs.Sub(migrations, "migrations/"+db.dialect)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	var opts []goose.ProviderOption
	gd := goose.DialectSQLite3
	if db.dialect == "postgres" {
		gd = goose.DialectPostgres
		// Several processes may start at once; one migrates, the others
		// wait. The lock holds through a pooler in transaction mode.
		opts = append(opts, goose.WithLocker(&migrationLock{}))
	}
	p, err := goose.NewProvider(gd, sqlDB, sub, opts...)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	res, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	for _, r := range res {
		log.InfoContext(ctx, "store: applied migration", slog.String("file", r.Source.Path), slog.Duration("took", r.Duration))
	}
	return nil
}

// SchemaID identifies the Postgres schema Open migrates to: a digest of
// the migrations' names and text. Tools that keep a migrated database to
// copy (the tests' template database) name it by this, so a changed or
// added migration makes a new one.
func SchemaID() string {
	h := sha256.New()
	err := fs.WalkDir(migrations, "migrations/postgres", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := migrations.ReadFile(path)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s %d\n", path, len(b))
		h.Write(b)
		return nil
	})
	if err != nil {
		panic("store: read embedded migrations: " + err.Error()) // embedded at build time: cannot fail
	}
	return hex.EncodeToString(h.Sum(nil))
}

// DefaultMaxConns is the Postgres pool size of a process unless
// SetMaxConns changes it.
const DefaultMaxConns = 10

// SetMaxConns bounds the process's Postgres connections (open and idle) to
// n (at least 1). Postgres allows 100 connections by default across every
// process of a fleet, so size it: processes × n must stay below that. The
// embedded SQLite store keeps its single connection.
func (db *DB) SetMaxConns(n int) {
	if db.dialect != "postgres" {
		return
	}
	sqlDB, err := db.gorm.DB()
	if err != nil {
		return
	}
	n = max(n, 1)
	sqlDB.SetMaxOpenConns(n)
	sqlDB.SetMaxIdleConns(n)
}

// Close closes the connection pool.
func (db *DB) Close() error {
	sqlDB, err := db.gorm.DB()
	if err != nil {
		return err
	}
	return sqlDB.Close()
}

// Dialect is "postgres" or "sqlite".
func (db *DB) Dialect() string { return db.dialect }

// Gorm exposes the handle for tests and tools in this module.
func (db *DB) Gorm() *gorm.DB { return db.gorm }

func (db *DB) q(ctx context.Context) *gorm.DB { return db.gorm.WithContext(ctx) }
