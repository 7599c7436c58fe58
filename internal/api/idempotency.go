package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/wacamp/wacamp/internal/service"
	"github.com/wacamp/wacamp/store"
)

// Idempotency-Key handling: a write request that carries the header is
// answered once per (token name, key); a retry with the same method, path
// and body gets the recorded answer (header Idempotent-Replayed: true)
// without running again, one with another request is refused (422), and
// one that comes while the first is being answered waits for its answer.
const (
	// IdempotencyTTL is how long a key is remembered.
	IdempotencyTTL = 24 * time.Hour
	// idempotencyWait is how long a request waits for a concurrent one
	// with its key before it is told to retry (409).
	idempotencyWait = 30 * time.Second
	maxKeyLen       = 255
)

// recorder keeps an answer to record it before sending it.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}
func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}

func (s *Server) idempotent(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("Idempotency-Key")
		if key == "" || s.cfg.Idempotency == nil {
			h(w, r)
			return
		}
		if len(key) > maxKeyLen || !printable(key) {
			writeError(w, http.StatusBadRequest, "bad_request", "Idempotency-Key: want 1 to 255 printable ASCII characters")
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, service.MaxSourceBytes))
		if err != nil {
			s.fail(w, r, err)
			return
		}
		sum := sha256.New()
		io.WriteString(sum, r.Method+" "+r.URL.RequestURI()+"\n")
		sum.Write(body)
		hash := hex.EncodeToString(sum.Sum(nil))
		owner := tokenOf(r).Name
		ctx := r.Context()
		claimed, rec, err := s.cfg.Idempotency.ClaimIdempotencyKey(ctx, owner, key, hash, IdempotencyTTL, s.cfg.Now())
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if !claimed {
			s.replay(w, r, owner, key, hash, rec)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		rw := &recorder{header: w.Header()}
		h(rw, r)
		if rw.status == 0 {
			rw.status = http.StatusOK
		}
		// A server error is not an answer to repeat: the key is released,
		// and a retry runs the request again.
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if rw.status >= 500 {
			err = s.cfg.Idempotency.ReleaseIdempotencyKey(wctx, owner, key)
		} else {
			err = s.cfg.Idempotency.FinishIdempotencyKey(wctx, owner, key, rw.status, rw.header.Get("Content-Type"), rw.body.Bytes())
		}
		if err != nil {
			s.cfg.Logger.ErrorContext(ctx, "api: cannot record the answer of an Idempotency-Key", slog.String("error", err.Error()))
		}
		w.WriteHeader(rw.status)
		_, _ = w.Write(rw.body.Bytes())
	}
}

// replay answers a request whose key was recorded before: with the
// recorded answer, once there is one.
func (s *Server) replay(w http.ResponseWriter, r *http.Request, owner, key, hash string, got store.IdempotencyRecord) {
	deadline := time.Now().Add(idempotencyWait)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if got.RequestHash != hash {
			writeError(w, http.StatusUnprocessableEntity, "idempotency_key_reused",
				"this Idempotency-Key was used with another request; use a new key for a new request")
			return
		}
		if got.Status != 0 {
			w.Header().Set("Content-Type", got.ContentType)
			w.Header().Set("Idempotent-Replayed", "true")
			w.WriteHeader(got.Status)
			_, _ = w.Write(got.Body)
			return
		}
		if time.Now().After(deadline) {
			writeError(w, http.StatusConflict, "in_progress", "a request with this Idempotency-Key is still being answered; retry later")
			return
		}
		select {
		case <-r.Context().Done():
			return
		case <-tick.C:
		}
		rec, err := s.cfg.Idempotency.IdempotencyKey(r.Context(), owner, key)
		if errors.Is(err, service.ErrNotFound) {
			// The first request failed and released the key: run it.
			writeError(w, http.StatusConflict, "in_progress", "the first request with this Idempotency-Key failed; retry")
			return
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		got = rec
	}
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
