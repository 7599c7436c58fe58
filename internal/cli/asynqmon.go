package cli

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hibiken/asynq"
	"github.com/hibiken/asynqmon"

	"github.com/wacamp/wacamp/config"
	"github.com/wacamp/wacamp/internal/app"
	"github.com/wacamp/wacamp/internal/ops"
)

// Credentials are the web UI's basic-auth user and password.
type Credentials struct{ User, Password string }

// UICredentials are cfg's ASYNQMON_USER and ASYNQMON_PASSWORD (or the
// content of ASYNQMON_PASSWORD_FILE, a secret file).
func UICredentials(cfg config.Config) (Credentials, error) {
	c := Credentials{User: cfg.AsynqmonUser, Password: cfg.AsynqmonPassword}
	if f := cfg.AsynqmonPasswordFile; f != "" && c.Password == "" {
		b, err := os.ReadFile(f) // #nosec G304 -- the operator names the password file
		if err != nil {
			return c, fmt.Errorf("ASYNQMON_PASSWORD_FILE: %w", err)
		}
		c.Password = strings.TrimSpace(string(b))
	}
	if c.User == "" || c.Password == "" {
		return c, errors.New("set ASYNQMON_USER and ASYNQMON_PASSWORD (or ASYNQMON_PASSWORD_FILE) for the web UI's basic auth, or pass --insecure-no-auth")
	}
	if n := utf8.RuneCountInString(c.Password); n < MinUIPassword {
		return c, fmt.Errorf("the web UI's password (ASYNQMON_PASSWORD or ASYNQMON_PASSWORD_FILE) has %d characters: use at least %d (e.g. openssl rand -hex 16)", n, MinUIPassword)
	}
	return c, nil
}

// MinUIPassword is the fewest characters the web UI's password may have:
// it guards pause, cancel and the queues, behind basic auth that anyone
// who reaches the port may try.
const MinUIPassword = 12

// BasicAuth wraps h so that every request needs the credentials. The
// comparison takes constant time; failures are logged without what was sent.
func BasicAuth(h http.Handler, c Credentials, log *slog.Logger) http.Handler {
	wantU, wantP := sha256.Sum256([]byte(c.User)), sha256.Sum256([]byte(c.Password))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		gotU, gotP := sha256.Sum256([]byte(u)), sha256.Sum256([]byte(p))
		if !ok || subtle.ConstantTimeCompare(gotU[:], wantU[:])&subtle.ConstantTimeCompare(gotP[:], wantP[:]) != 1 {
			if ok && log != nil {
				log.Warn("asynqmon: rejected credentials", slog.String("remote", r.RemoteAddr))
			}
			w.Header().Set("WWW-Authenticate", `Basic realm="wacamp", charset="UTF-8"`)
			// The connection closes: a client without the login cannot
			// hold one of the server's connection slots idle.
			w.Header().Set("Connection", "close")
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// UIHandler is the asynqmon web UI for the Redis at opt.
func UIHandler(opt asynq.RedisConnOpt, readOnly bool) *asynqmon.HTTPHandler {
	return asynqmon.New(asynqmon.Options{RootPath: "/", RedisConnOpt: opt, ReadOnly: readOnly})
}

// consoleMaxConns is the web UI server's Postgres pool unless
// WACAMP_DB_MAX_CONNS says otherwise: a few people's page views.
const consoleMaxConns = 4

// Asynqmon runs the asynqmon command: the Asynq UI, and beside it (with
// DATABASE_URL) the campaign console.
func Asynqmon(ctx context.Context, args []string, io IO) error {
	fs := newFlags("asynqmon", io)
	fs.Init("asynqmon", fs.ErrorHandling())
	addr := fs.String("addr", "127.0.0.1:8080", "listen address")
	readOnly := fs.Bool("read-only", false, "view only: no deleting, retrying or pausing from the UI, no actions in the console")
	noAuth := fs.Bool("insecure-no-auth", false, "serve without authentication (loopback addresses only: behind your own auth proxy on this host)")
	mf := addMetricsFlags(fs, DefaultAsynqmonMetricsAddr)
	if _, err := ParseFlags(fs, args); err != nil {
		return &exitError{code: 2}
	}
	if err := noAuthOnLoopback(*noAuth, *addr); err != nil {
		return err
	}
	cfg, err := settings(io)
	if err != nil {
		return err
	}
	token, err := mf.check(cfg)
	if err != nil {
		return err
	}
	log := Logger(io)
	redisURL := cfg.RedisURL
	if redisURL == "" {
		return errors.New("REDIS_URL is not set (e.g. redis://127.0.0.1:6379/0)")
	}
	target, err := app.ParseRedisURL(redisURL)
	if err != nil {
		return err
	}
	var creds Credentials
	if !*noAuth {
		if creds, err = UICredentials(cfg); err != nil {
			return &exitError{code: 2, msg: err.Error()}
		}
	}
	ui := UIHandler(target.Asynq, *readOnly)
	defer ui.Close()
	var c http.Handler = noConsole
	var readyChecks []ops.Check
	if cfg.DatabaseURL != "" {
		if cfg.DBMaxConns < 1 {
			cfg.DBMaxConns = consoleMaxConns
		}
		conns, err := app.Open(ctx, cfg, log)
		if err != nil {
			return err
		}
		defer conns.Close()
		readyChecks = app.ReadyChecks(conns)
		var closeConsole func()
		c, closeConsole = NewConsole(conns, *readOnly, log)
		defer closeConsole()
	} else {
		log.Warn("asynqmon: DATABASE_URL is not set: serving the Asynq UI without the campaign console")
	}
	var h = WithConsole(ui, c)
	if !*noAuth {
		h = BasicAuth(h, creds, log)
	} else {
		log.Warn("asynqmon: serving WITHOUT authentication (--insecure-no-auth)")
		h = LoopbackHostOnly(h)
	}
	// Ready when Redis answers and, with the console, Postgres answers
	// with its schema current.
	checks := readyChecks
	if checks == nil {
		rc := target.NewClient()
		defer func() { _ = rc.Close() }()
		checks = []ops.Check{app.RedisCheck(rc)}
	}
	if err := mf.serve(ctx, token, ops.New(), checks, log); err != nil {
		return err
	}
	return Serve(ctx, *addr, h, log, "asynqmon: web UI (campaign console at "+ConsolePath+"/)")
}

// Serve serves the web UI h on addr until ctx ends, hardened (see HardenUI),
// with timeouts and at most maxUIConns connections open.
func Serve(ctx context.Context, addr string, h http.Handler, log *slog.Logger, what string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", addr, err)
	}
	srv := uiServer(h)
	log.Info(what, slog.String("url", "http://"+ln.Addr().String()+"/"))
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(limitConns(ln, maxUIConns)) }()
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	case err := <-errc:
		return err
	}
}

// noAuthOnLoopback refuses --insecure-no-auth on an address beyond
// loopback: a server without authentication answers only on this host.
func noAuthOnLoopback(noAuth bool, addr string) error {
	if noAuth && !ops.Loopback(addr) {
		return UsageError("--insecure-no-auth serves only on a loopback address (127.0.0.1, ::1, localhost), not %s", addr)
	}
	return nil
}
