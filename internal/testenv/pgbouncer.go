package testenv

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wacamp/wacamp/store"
)

// PgBouncer is a private pgbouncer process in transaction pooling mode in
// front of the tests' Postgres (PostgresURL), on a loopback port.
type PgBouncer struct {
	// Addr is its host:port.
	Addr string
}

// ErrNoPgBouncer is returned (wrapped) when pgbouncer is not on PATH.
var ErrNoPgBouncer = errors.New("pgbouncer is not on PATH: install it (Debian: apt-get install pgbouncer; .ci/run does)")

// pgbouncerUser is who pgbouncer runs as when the tests run as root (it
// refuses to run as root).
const pgbouncerUser = "nobody"

// NewPgBouncer starts pgbouncer (it must be on PATH: the test fails, not
// skips, without it) in transaction mode, serving every database of the
// tests' Postgres, and stops it when the test ends. Each database gets at
// most four server connections.
func NewPgBouncer(t testing.TB) *PgBouncer {
	t.Helper()
	p, err := startPgBouncer(t)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return p
}

func startPgBouncer(t testing.TB) (*PgBouncer, error) {
	if _, err := exec.LookPath("pgbouncer"); err != nil {
		return nil, ErrNoPgBouncer
	}
	pg, err := url.Parse(PostgresURL())
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", PostgresURL(), err)
	}
	user := pg.User.Username()
	password, _ := pg.User.Password()
	// pgbouncer drops root for another user, who must read its files: not
	// in t.TempDir(), whose parent only root may enter.
	dir, err := os.MkdirTemp("", "wacamp-pgbouncer-")
	if err != nil {
		return nil, fmt.Errorf("pgbouncer: %w", err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil { // #nosec G302 -- a test's pooler configuration, no secret
		return nil, fmt.Errorf("pgbouncer: %w", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("pgbouncer: find a free port: %w", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	target := fmt.Sprintf("host=%s port=%s", pg.Hostname(), cmp.Or(pg.Port(), "5432"))
	ini := fmt.Sprintf(`[databases]
* = %s
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir =
auth_type = trust
auth_file = %s
pool_mode = transaction
default_pool_size = 4
max_client_conn = 200
ignore_startup_parameters = extra_float_digits
`, target, port, filepath.Join(dir, "users.txt"))
	files := map[string]string{"pgbouncer.ini": ini, "users.txt": strconv.Quote(user) + " " + strconv.Quote(password) + "\n"}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil { // #nosec G306 -- read by the pooler's user; the test Postgres trusts loopback
			return nil, fmt.Errorf("pgbouncer: %w", err)
		}
	}
	args := []string{filepath.Join(dir, "pgbouncer.ini")}
	if os.Geteuid() == 0 {
		args = append([]string{"-u", pgbouncerUser}, args...)
	}
	logPath := filepath.Join(dir, "pgbouncer.log")
	logFile, err := os.Create(logPath) // #nosec G304 -- a file in the directory made above
	if err != nil {
		return nil, fmt.Errorf("pgbouncer: %w", err)
	}
	// The process keeps a descriptor of its own.
	defer func() { _ = logFile.Close() }()
	cmd := exec.Command("pgbouncer", args...) // #nosec G204 -- fixed program; its configuration is written above
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start pgbouncer: %w", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	p := &PgBouncer{Addr: "127.0.0.1:" + strconv.Itoa(port)}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		c, err := pgx.Connect(ctx, p.URL(PostgresURL()))
		if err == nil {
			_ = c.Close(ctx)
			return p, nil
		}
		select {
		case <-ctx.Done():
			out, _ := os.ReadFile(logPath) // #nosec G304 -- the log written above
			return nil, fmt.Errorf("pgbouncer on %s did not come up: %w; its log:\n%s", p.Addr, err, out)
		case <-time.After(20 * time.Millisecond): // a starting process sends no signal
		}
	}
}

// URL is dsn, a URL of the tests' Postgres, through the pooler, with the
// setting a transaction-mode pooler needs (the README's "Running a fleet"):
// default_query_exec_mode=exec, so that no statement is prepared by name
// on one server connection and used on another.
func (p *PgBouncer) URL(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return dsn
	}
	u.Host = p.Addr
	q := u.Query()
	q.Set("default_query_exec_mode", "exec")
	u.RawQuery = q.Encode()
	return u.String()
}

// NewStoreThroughPgBouncer opens a store on a fresh, empty database through
// a private pgbouncer in transaction mode (NewPgBouncer): the migrations,
// and everything after, go through the pooler, as in a fleet that uses one.
func NewStoreThroughPgBouncer(t testing.TB) *store.DB {
	t.Helper()
	p := NewPgBouncer(t)
	db, err := store.Open(context.Background(), p.URL(NewDatabase(t)), nil)
	if err != nil {
		t.Fatalf("testenv: open store through pgbouncer: %v", err)
	}
	db.SetMaxConns(6)
	t.Cleanup(func() { _ = db.Close() })
	return db
}
