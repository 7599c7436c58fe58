package testenv

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/wacamp/wacamp/store"
)

// PostgresURL is the admin URL tests create databases through.
func PostgresURL() string {
	return cmp.Or(os.Getenv("TEST_DATABASE_URL"), "postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
}

// RedisURL is the Redis server tests lease databases from.
func RedisURL() string { return cmp.Or(os.Getenv("TEST_REDIS_URL"), "redis://127.0.0.1:6379") }

// NewDatabase creates an empty Postgres database for the test and returns its
// URL; it is dropped when the test ends.
func NewDatabase(t testing.TB) string {
	t.Helper()
	return newDatabase(t, "")
}

// NewMigratedDatabase creates a Postgres database for the test with the
// store's schema already in it (copied from the template database, see
// migratedTemplate) and returns its URL; it is dropped when the test ends.
func NewMigratedDatabase(t testing.TB) string {
	t.Helper()
	tmpl, err := migratedTemplate()
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return newDatabase(t, tmpl)
}

// newDatabase creates a database (a copy of template, if not "") dropped
// when the test ends, and returns its URL.
func newDatabase(t testing.TB, template string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, PostgresURL())
	if err != nil {
		t.Fatalf("testenv: connect to postgres %s: %v", PostgresURL(), err)
	}
	defer admin.Close(context.Background())
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "wacamp_test_" + hex.EncodeToString(b)
	create := "CREATE DATABASE " + name
	if template != "" {
		create += " TEMPLATE " + template
	}
	if _, err := admin.Exec(ctx, create); err != nil {
		t.Fatalf("testenv: create database: %v", err)
	}
	// A test's commits need not wait for the disk: a crash of Postgres
	// loses nothing a test needs, and waiting made tests that commit
	// often (a thousand webhook events, say) take seconds each while
	// other tests also commit.
	if _, err := admin.Exec(ctx, "ALTER DATABASE "+name+" SET synchronous_commit = off"); err != nil {
		t.Fatalf("testenv: set up database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, PostgresURL())
		if err != nil {
			t.Logf("testenv: drop database %s: %v", name, err)
			return
		}
		defer c.Close(context.Background())
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("testenv: drop database %s: %v", name, err)
		}
	})
	u, err := databaseURL(name)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return u
}

// databaseURL is PostgresURL naming database name instead.
func databaseURL(name string) (string, error) {
	u, err := url.Parse(PostgresURL())
	if err != nil {
		return "", fmt.Errorf("parse %s: %w", PostgresURL(), err)
	}
	u.Path = "/" + name
	return u.String(), nil
}

var migrated struct {
	once sync.Once
	name string
	err  error
}

// templateLock is the advisory lock (on the admin database) under which
// one test process builds the template database while the others wait.
const templateLock = 0x7761636d7470 // "wacmtp"

// migratedTemplate returns the name of the template database holding the
// store's current schema, building it if no test process has yet: one per
// schema (named by store.SchemaID), kept across runs, so a test database
// is a copy of a few megabytes rather than a run of every migration.
func migratedTemplate() (string, error) {
	migrated.once.Do(func() { migrated.name, migrated.err = buildTemplate() })
	return migrated.name, migrated.err
}

func buildTemplate() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	name := "wacamp_tmpl_" + store.SchemaID()[:16]
	admin, err := pgx.Connect(ctx, PostgresURL())
	if err != nil {
		return "", fmt.Errorf("connect to postgres %s: %w", PostgresURL(), err)
	}
	defer admin.Close(context.Background())
	// Test processes of several packages start at once: one builds, the
	// others wait here and then find it built.
	if _, err := admin.Exec(ctx, "SELECT pg_advisory_lock($1)", templateLock); err != nil {
		return "", fmt.Errorf("lock template database: %w", err)
	}
	defer func() { _, _ = admin.Exec(context.Background(), "SELECT pg_advisory_unlock($1)", templateLock) }()
	var ready bool
	err = admin.QueryRow(ctx, "SELECT datistemplate FROM pg_database WHERE datname = $1", name).Scan(&ready)
	switch {
	case err == nil && ready:
		return name, nil
	case err == nil:
		// Left half-built by a process that died: build it again.
		if _, err := admin.Exec(ctx, "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
			return "", fmt.Errorf("drop unfinished template database: %w", err)
		}
	case !errors.Is(err, pgx.ErrNoRows):
		return "", fmt.Errorf("look for template database: %w", err)
	}
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", fmt.Errorf("create template database: %w", err)
	}
	u, err := databaseURL(name)
	if err != nil {
		return "", err
	}
	db, err := store.Open(ctx, u, nil)
	if err != nil {
		return "", fmt.Errorf("migrate template database: %w", err)
	}
	if err := db.Close(); err != nil {
		return "", fmt.Errorf("close template database: %w", err)
	}
	// No one connects to it again (a copy needs it unused), and it is
	// marked done only now.
	if _, err := admin.Exec(ctx, "ALTER DATABASE "+name+" WITH ALLOW_CONNECTIONS false IS_TEMPLATE true"); err != nil {
		return "", fmt.Errorf("mark template database: %w", err)
	}
	return name, nil
}

// NewStore opens a migrated store on a fresh database.
func NewStore(t testing.TB) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), NewMigratedDatabase(t), nil)
	if err != nil {
		t.Fatalf("testenv: open store: %v", err)
	}
	// Small pools: packages run in parallel against one Postgres that
	// allows 100 connections in all.
	db.SetMaxConns(6)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// Redis is a leased, flushed Redis database, or a private Redis Cluster.
type Redis struct {
	URL    string // redis://host:port/N, or redis-cluster://host:port,…
	Opt    asynq.RedisConnOpt
	Client redis.UniversalClient
	// Addrs are the server's host:port, or the cluster's masters'.
	Addrs []string
	// DB is the database index (0 on a cluster).
	DB int
	// Cluster is true for a Redis Cluster.
	Cluster bool
	// newClient makes another client like Client.
	newClient func() redis.UniversalClient
}

// NewClient returns another client on the same database or cluster, with
// its own connections (as another process would have), closed when the
// test ends.
func (r Redis) NewClient(t testing.TB) redis.UniversalClient {
	t.Helper()
	c := r.newClient()
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// NewRedis leases a Redis database index (1–15) for the test, flushes it and
// releases it when the test ends. It waits while all are leased.
func NewRedis(t testing.TB) Redis {
	t.Helper()
	base, err := redis.ParseURL(RedisURL())
	if err != nil {
		t.Fatalf("testenv: parse %s: %v", RedisURL(), err)
	}
	base.DB = 0
	ctl := redis.NewClient(base)
	t.Cleanup(func() { _ = ctl.Close() })
	ctx := context.Background()
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	owner := leaseOwner(hex.EncodeToString(b))
	start := time.Now()
	deadline := start.Add(5 * time.Minute)
	for {
		for n := 1; n <= 15; n++ {
			key := "wacamp:testenv:lease:" + strconv.Itoa(n)
			ok, err := ctl.SetNX(ctx, key, owner, 20*time.Minute).Result()
			if err != nil {
				t.Fatalf("testenv: redis %s: %v", RedisURL(), err)
			}
			if !ok {
				// A test binary killed by hand leaves its leases behind for
				// their 20 minutes: take back one whose process is gone.
				if err := freeAbandoned(ctx, ctl, key); err != nil {
					t.Fatalf("testenv: redis %s: %v", RedisURL(), err)
				}
				continue
			}
			t.Cleanup(func() {
				if v, _ := ctl.Get(context.Background(), key).Result(); v == owner {
					ctl.Del(context.Background(), key)
				}
			})
			if waited := time.Since(start); waited > time.Second {
				// Other test processes (other packages, other runs on the
				// machine) held every database: time not spent testing.
				t.Logf("testenv: waited %s for a free redis database", waited.Round(time.Millisecond))
			}
			opt := *base
			opt.DB = n
			c := redis.NewClient(&opt)
			t.Cleanup(func() { _ = c.Close() })
			if err := c.FlushDB(ctx).Err(); err != nil {
				t.Fatalf("testenv: flush redis db %d: %v", n, err)
			}
			u := fmt.Sprintf("redis://%s/%d", opt.Addr, n)
			return Redis{URL: u, Opt: asynq.RedisClientOpt{Addr: opt.Addr, DB: n, Password: opt.Password}, Client: c, Addrs: []string{opt.Addr}, DB: n,
				newClient: func() redis.UniversalClient { o := opt; return redis.NewClient(&o) }}
		}
		if time.Now().After(deadline) {
			t.Fatal("testenv: no free redis database for 5 minutes")
		}
		time.Sleep(200 * time.Millisecond) // polling a shared lease; no signal exists across processes
	}
}

// leaseOwner names a Redis lease's holder: this host and process, and a
// random part for each lease.
func leaseOwner(random string) string {
	host, _ := os.Hostname()
	return host + " " + strconv.Itoa(os.Getpid()) + " " + random
}

// dropIfHeldBy deletes a lease only while its holder is the one named.
var dropIfHeldBy = redis.NewScript(`if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) end return 0`)

// freeAbandoned deletes the lease key if its holder is a process of this
// host that no longer runs.
func freeAbandoned(ctx context.Context, ctl *redis.Client, key string) error {
	holder, err := ctl.Get(ctx, key).Result()
	if errors.Is(err, redis.Nil) {
		return nil
	}
	if err != nil {
		return err
	}
	host, rest, _ := strings.Cut(holder, " ")
	pid, _, _ := strings.Cut(rest, " ")
	me, _ := os.Hostname()
	n, err := strconv.Atoi(pid)
	if err != nil || host != me || processRuns(n) {
		return nil
	}
	return dropIfHeldBy.Run(ctx, ctl, []string{key}, holder).Err()
}

// processRuns reports whether a process with this id runs on this host
// (one of another user counts: signal 0 is refused, not unanswered).
func processRuns(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	err = p.Signal(syscall.Signal(0))
	return err == nil || errors.Is(err, syscall.EPERM)
}

// ClosedAddr is a loopback address nothing listens on, for pointing a
// client at a service that is down: a connection to it is refused. Its
// port stays bound (a TCP socket that never listens) until the test ends,
// so no other test's server can take it meanwhile (a port merely closed
// again was, once: the client reached an HTTP server instead).
func ClosedAddr(t testing.TB) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatalf("testenv: socket: %v", err)
	}
	t.Cleanup(func() { _ = syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatalf("testenv: bind: %v", err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatalf("testenv: getsockname: %v", err)
	}
	in4, ok := sa.(*syscall.SockaddrInet4)
	if !ok {
		t.Fatalf("testenv: getsockname: %T", sa)
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(in4.Port))
}
