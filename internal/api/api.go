// Package api is wacamp's HTTP API (`scheduler api`): JSON over HTTP under
// /v1, for other programs (a CRM enrolling sign-ups, a deploy pipeline
// applying campaigns, a dashboard reading progress). Every handler calls
// internal/service, as the `scheduler` commands do, so both mean the same.
// Requests carry a bearer token (read-only or read-write); each is logged
// with the token's name, never its value. The routes are listed in
// Routes and described by api/openapi.yaml, which a test keeps equal.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/wacamp/wacamp/campaign"
	"github.com/wacamp/wacamp/internal/service"
	"github.com/wacamp/wacamp/store"
)

// IdempotencyStore records requests by Idempotency-Key (store.DB
// satisfies it).
type IdempotencyStore interface {
	ClaimIdempotencyKey(ctx context.Context, owner, key, hash string, ttl time.Duration, now time.Time) (bool, store.IdempotencyRecord, error)
	IdempotencyKey(ctx context.Context, owner, key string) (store.IdempotencyRecord, error)
	FinishIdempotencyKey(ctx context.Context, owner, key string, status int, contentType string, body []byte) error
	ReleaseIdempotencyKey(ctx context.Context, owner, key string) error
}

// Config is what a Server serves with.
type Config struct {
	Service *service.Service
	// Idempotency records Idempotency-Keys; nil is Service.Store.
	Idempotency IdempotencyStore
	// Tokens are the accepted bearer tokens; none is refused unless
	// Insecure.
	Tokens []Token
	// Insecure serves without authentication: every request may do
	// everything (--insecure-no-auth).
	Insecure bool
	Logger   *slog.Logger
	// Now is the clock of the Idempotency-Key records; nil is time.Now.
	Now func() time.Time
}

// Server is the API's handler.
type Server struct {
	cfg Config
	mux *http.ServeMux
}

// ErrNoTokens: a server without tokens, not told to be insecure.
var ErrNoTokens = errors.New("no API token: set " + EnvTokensFile + ", " + EnvTokenRW + " or " + EnvTokenRO + " (or run with --insecure-no-auth on a loopback address)")

// New returns the API server.
func New(cfg Config) (*Server, error) {
	if len(cfg.Tokens) == 0 && !cfg.Insecure {
		return nil, ErrNoTokens
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Idempotency == nil && cfg.Service.Store != nil {
		cfg.Idempotency = cfg.Service.Store
	}
	s := &Server{cfg: cfg, mux: http.NewServeMux()}
	for _, rt := range s.routes() {
		h := rt.h
		if rt.write {
			h = s.idempotent(h)
		}
		s.mux.Handle(rt.method+" "+rt.path, s.guard(rt.write, h))
	}
	s.mux.Handle("/", s.guard(false, func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "no such route: "+r.Method+" "+r.URL.Path)
	}))
	return s, nil
}

// ServeHTTP serves the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// route is one endpoint: write routes need a read-write token.
type route struct {
	method, path string
	write        bool
	h            http.HandlerFunc
}

// Routes lists every route as "METHOD /path" (the contract test compares
// them with api/openapi.yaml).
func Routes() []string {
	var out []string
	for _, rt := range (&Server{}).routes() {
		out = append(out, rt.method+" "+rt.path)
	}
	return out
}

func (s *Server) routes() []route {
	return []route{
		{"POST", "/v1/validate", false, s.validate},
		{"POST", "/v1/apply", true, s.apply},
		{"GET", "/v1/broadcasts", false, s.listBroadcasts},
		{"GET", "/v1/broadcasts/{name}", false, s.getBroadcast},
		{"POST", "/v1/broadcasts/{name}/pause", true, s.lifecycle(service.Pause)},
		{"POST", "/v1/broadcasts/{name}/resume", true, s.lifecycle(service.Resume)},
		{"POST", "/v1/broadcasts/{name}/cancel", true, s.lifecycle(service.Cancel)},
		{"POST", "/v1/broadcasts/{name}/retry-failed", true, s.retryFailed},
		{"GET", "/v1/broadcasts/{name}/deliveries", false, s.deliveries},
		{"GET", "/v1/broadcasts/{name}/export", false, s.export(service.KindBroadcast)},
		{"GET", "/v1/sequences", false, s.listSequences},
		{"GET", "/v1/sequences/{name}", false, s.getSequence},
		{"GET", "/v1/sequences/{name}/deliveries", false, s.sequenceDeliveries},
		{"GET", "/v1/sequences/{name}/export", false, s.export(service.KindSequence)},
		{"POST", "/v1/sequences/{name}/enroll", true, s.enroll},
		{"POST", "/v1/sequences/{name}/unenroll", true, s.unenroll},
		{"POST", "/v1/exit", true, s.exit},
		{"POST", "/v1/test-send", true, s.testSend},
		{"GET", "/v1/optouts", false, s.optoutList},
		{"POST", "/v1/optouts", true, s.optoutAdd},
		{"POST", "/v1/optouts/remove", true, s.optoutRemove},
		{"POST", "/v1/optouts/import", true, s.optoutImport},
		{"GET", "/v1/optouts/export", false, s.optoutExport},
	}
}

type ctxKey struct{}

// tokenOf is the token the request was authenticated with.
func tokenOf(r *http.Request) Token {
	t, _ := r.Context().Value(ctxKey{}).(Token)
	return t
}

// statusWriter remembers the status written, for the log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// guard authenticates the request (a read-write token for a write
// route), logs it with the token's name once answered, and answers a
// refusal as JSON.
func (s *Server) guard(write bool, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		tok := Token{Name: "anonymous", Role: ReadWrite}
		var err error
		if !s.cfg.Insecure {
			tok, err = authenticate(s.cfg.Tokens, r)
		}
		defer func() {
			name := tok.Name
			if err != nil {
				name = "-"
			}
			s.cfg.Logger.InfoContext(r.Context(), "api: request", slog.String("method", r.Method), slog.String("path", r.URL.Path),
				slog.Int("status", sw.status), slog.String("token", name), slog.String("remote", r.RemoteAddr),
				slog.Duration("took", time.Since(start)))
		}()
		sw.Header().Set("Cache-Control", "no-store")
		sw.Header().Set("X-Content-Type-Options", "nosniff")
		switch {
		case err != nil:
			sw.Header().Set("WWW-Authenticate", `Bearer realm="wacamp"`)
			// The connection closes: a client without a token cannot hold
			// one of the server's connection slots idle.
			sw.Header().Set("Connection", "close")
			writeError(sw, http.StatusUnauthorized, "unauthorized", err.Error())
		case write && tok.Role != ReadWrite:
			writeError(sw, http.StatusForbidden, "forbidden", "this token is read-only")
		default:
			h(sw, r.WithContext(context.WithValue(r.Context(), ctxKey{}, tok)))
		}
	})
}

// apiError is every error's JSON.
type apiError struct {
	Error    string            `json:"error"`
	Code     string            `json:"code"`
	Problems []service.Problem `json:"problems,omitempty"`
	Warnings []string          `json:"warnings,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, apiError{Error: msg, Code: code})
}

// fail answers err: the service's errors by what they mean, anything else
// a 500 whose detail is logged, not shown.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var (
		input   *service.InputError
		refused *service.PeopleRefused
		tooBig  *http.MaxBytesError
		held    *service.Held
	)
	if failOptout(w, err) {
		return
	}
	switch {
	case errors.As(err, &held):
		w.Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(held.Wait.Seconds())))))
		writeError(w, http.StatusTooManyRequests, "held", held.Error())
	case errors.Is(err, service.ErrOptedOut):
		writeError(w, http.StatusUnprocessableEntity, "opted_out", err.Error())
	case errors.As(err, &refused):
		writeJSON(w, http.StatusUnprocessableEntity, apiError{Error: refused.Error(), Code: "invalid_people", Problems: peopleProblems(refused)})
	case errors.As(err, &tooBig):
		writeError(w, http.StatusRequestEntityTooLarge, "too_large", err.Error())
	case errors.As(err, &input):
		writeError(w, http.StatusBadRequest, "bad_request", input.Msg)
	case errors.Is(err, campaign.ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found", err.Error())
	case errors.Is(err, campaign.ErrInvalidTransition):
		writeError(w, http.StatusConflict, "invalid_transition", err.Error())
	case errors.Is(err, store.ErrConflict):
		writeError(w, http.StatusConflict, "conflict", err.Error()+"; nothing was written")
	case errors.Is(err, context.Canceled):
		writeError(w, 499, "cancelled", "the request was cancelled")
	default:
		s.cfg.Logger.ErrorContext(r.Context(), "api: request failed", slog.String("path", r.URL.Path), slog.String("error", err.Error()))
		writeError(w, http.StatusInternalServerError, "internal", "internal error; see the server's log")
	}
}

func peopleProblems(e *service.PeopleRefused) []service.Problem {
	out := make([]service.Problem, len(e.Problems))
	for i, p := range e.Problems {
		text := p.String()
		if p.File == "" { // a person given in the request
			text = p.Field + ": " + p.Msg
		}
		out[i] = service.Problem{File: p.File, Line: p.Line, Field: p.Field, Message: p.Msg, Text: text}
	}
	return out
}
