package ops

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
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Check is one readiness check: the process is ready when every check's
// Func returns nil within CheckTimeout.
type Check struct {
	Name string // e.g. "redis", "postgres", "migrations"
	Func func(ctx context.Context) error
}

// CheckTimeout bounds one readiness check.
const CheckTimeout = 3 * time.Second

// Server is what Serve serves: /metrics (Gatherer, in Prometheus' text
// format), /healthz (200 while the process runs) and /readyz (200 when
// every check passes, else 503 naming the failed ones).
type Server struct {
	// Addr is the listen address, e.g. 127.0.0.1:9470 (":0" picks a port).
	Addr string
	// Gatherer is what /metrics serves: Metrics.Registry().
	Gatherer prometheus.Gatherer
	Checks   []Check
	// Token, when set, is the bearer token /metrics and /readyz require
	// (Authorization: Bearer TOKEN, compared in constant time). /healthz
	// tells nothing and needs none.
	Token string
	// NoAuth allows serving on an address beyond loopback without a
	// token (behind the operator's own network controls); see CheckAuth.
	NoAuth bool
	Logger *slog.Logger
	// Listening, if not nil, is called with the address once listening.
	Listening func(net.Addr)
}

// ErrNoToken is CheckAuth's refusal: an address beyond loopback and no
// token.
var ErrNoToken = errors.New("the metrics address is not on loopback: set WACAMP_METRICS_TOKEN (or WACAMP_METRICS_TOKEN_FILE) for a bearer token, or pass --metrics-insecure-no-auth")

// CheckAuth is the ops server's rule: on a loopback address (127.0.0.0/8,
// ::1, localhost) it may serve without a token; beyond loopback (":9470"
// is every interface) it needs a token, or noAuth.
func CheckAuth(addr, token string, noAuth bool) error {
	if token != "" || noAuth || Loopback(addr) {
		return nil
	}
	return ErrNoToken
}

// Loopback reports whether addr (host:port) listens on loopback only.
func Loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// LoadToken is the bearer token: value, or else the trimmed content of
// file (a secret file); "" when neither is set.
func LoadToken(value, file string) (string, error) {
	if value != "" || file == "" {
		return value, nil
	}
	b, err := os.ReadFile(file) // #nosec G304 -- the operator names the token file
	if err != nil {
		return "", fmt.Errorf("WACAMP_METRICS_TOKEN_FILE: %w", err)
	}
	t := strings.TrimSpace(string(b))
	if t == "" {
		return "", errors.New("WACAMP_METRICS_TOKEN_FILE: the file is empty")
	}
	return t, nil
}

// Serve serves s until ctx ends. It refuses to start when CheckAuth does.
// This is the one call a long-running process makes:
//
//	m := ops.New()
//	go ops.Serve(ctx, ops.Server{Addr: addr, Gatherer: m.Registry(), Checks: checks, Token: token, Logger: log})
func Serve(ctx context.Context, s Server) error {
	if err := CheckAuth(s.Addr, s.Token, s.NoAuth); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", s.Addr)
	if err != nil {
		return fmt.Errorf("metrics: listen on %s: %w", s.Addr, err)
	}
	return s.ServeOn(ctx, ln)
}

// ServeOn is Serve on a listener already open (s.Addr is not used, and
// CheckAuth is the caller's).
func (s Server) ServeOn(ctx context.Context, ln net.Listener) error {
	log := s.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: time.Minute}
	if s.Listening != nil {
		s.Listening(ln.Addr())
	}
	log.InfoContext(ctx, "metrics: serving /metrics, /healthz and /readyz", slog.String("url", "http://"+ln.Addr().String()+"/metrics"),
		slog.Bool("token", s.Token != ""))
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("metrics: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("metrics: shut down: %w", err)
	}
	return nil
}

// Handler is s's routes, authenticated as Server.Token says.
func (s Server) Handler() http.Handler {
	mux := http.NewServeMux()
	g := s.Gatherer
	if g == nil {
		g = prometheus.NewRegistry()
	}
	mux.Handle("GET /metrics", s.auth(promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError, Timeout: 20 * time.Second})))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.Handle("GET /readyz", s.auth(http.HandlerFunc(s.ready)))
	return mux
}

// ready runs the checks at once and answers 200 when all pass, else 503;
// the body has one line per check.
func (s Server) ready(w http.ResponseWriter, r *http.Request) {
	errs := make([]error, len(s.Checks))
	var wg sync.WaitGroup
	for i, c := range s.Checks {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(r.Context(), CheckTimeout)
			defer cancel()
			errs[i] = c.Func(ctx)
		})
	}
	wg.Wait()
	var b strings.Builder
	code := http.StatusOK
	for i, c := range s.Checks {
		if errs[i] != nil {
			code = http.StatusServiceUnavailable
			fmt.Fprintf(&b, "%s: not ready: %v\n", c.Name, errs[i])
			if s.Logger != nil {
				s.Logger.DebugContext(r.Context(), "metrics: not ready", slog.String("check", c.Name), slog.String("error", errs[i].Error()))
			}
			continue
		}
		fmt.Fprintf(&b, "%s: ok\n", c.Name)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(b.String()))
}

// auth requires the bearer token, if there is one.
func (s Server) auth(h http.Handler) http.Handler {
	if s.Token == "" {
		return h
	}
	want := sha256.Sum256([]byte(s.Token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		sum := sha256.Sum256([]byte(got))
		if !ok || subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="wacamp-metrics"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}
