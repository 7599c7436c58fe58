package testenv

import (
	"bytes"
	"log/slog"
	"sync"
	"testing"
)

// Logger returns a logger writing records at level and above to t's log,
// so that a failing test shows what the engine logged (a passing one shows
// it with -v only). Records logged after t ended (by a goroutine still
// stopping) are dropped rather than failing the run.
func Logger(t testing.TB, level slog.Level) *slog.Logger {
	w := &tbWriter{t: t}
	t.Cleanup(func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

// tbWriter writes each record (slog's text handler writes one per call)
// to its test's log.
type tbWriter struct {
	t    testing.TB
	mu   sync.Mutex
	done bool
}

func (w *tbWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(string(bytes.TrimRight(p, "\n")))
	}
	return len(p), nil
}
