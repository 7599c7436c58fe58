// Package webhook receives the status and message notifications providers
// push (Sobot's Meta-style statuses, Salebot's message webhook, the session
// API's events) and applies them to the deliveries they are about.
//
// The receiver answers fast: it authenticates the request by the account's
// secret (in the URL path, /webhooks/<account>/<secret>, or the
// X-Webhook-Secret header on /webhooks/<account>), reads at most 3 MB,
// parses it with the account's driver and puts the events on the status
// queue as one Asynq task. The apply handler records them: statuses only
// move forward, so duplicates and reversed orders change nothing, and a
// status about a message not yet recorded (the webhook beat the send's
// answer) is kept and matched when the send is recorded or by the sweep.
package webhook

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/hibiken/asynq"

	"github.com/wacamp/wacamp/provider"
	"github.com/wacamp/wacamp/store"
)

// MaxBody is the largest webhook body accepted (providers document
// payloads of up to 3 MB).
const MaxBody = 3 << 20

// TypeApply is the Asynq task type that applies one webhook's events.
const TypeApply = "webhook:apply"

// Queue is the Asynq queue the apply tasks go to (the status queue).
const Queue = "status"

// SecretHeader carries the account's webhook secret when it is not in the
// URL path.
const SecretHeader = "X-Webhook-Secret"

// Accounts lists the accounts that take webhooks.
type Accounts interface {
	WebhookAccounts(ctx context.Context) ([]store.WebhookAccount, error)
}

// Enqueuer puts a task on a queue (an *asynq.Client).
type Enqueuer interface {
	EnqueueContext(ctx context.Context, t *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error)
}

// Parser reads one webhook body of a provider.
type Parser func(body []byte) ([]provider.Event, error)

// Receiver is the webhook HTTP handler.
type Receiver struct {
	Accounts Accounts
	Queue    Enqueuer
	// Parser returns the webhook parser of a provider (a driver name).
	Parser func(provider string) (Parser, bool)
	// Getenv resolves secret references; nil means os.Getenv.
	Getenv func(string) string
	// Resolve turns a secret reference into the secret.
	Resolve func(ref string, getenv func(string) string) (string, error)
	Logger  *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	mu       sync.Mutex
	accounts map[string]account
	loaded   time.Time
}

type account struct {
	store.WebhookAccount
	secret string
}

// payload is an apply task's body.
type payload struct {
	AccountID int64            `json:"account_id"`
	Account   string           `json:"account"`
	Events    []provider.Event `json:"events"`
}

// reloadEvery is how often an unknown account name makes the receiver read
// the accounts again.
const reloadEvery = 5 * time.Second

// ServeHTTP handles POST /webhooks/<account>[/<secret>].
func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	log := r.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	rest, ok := strings.CutPrefix(req.URL.Path, "/webhooks/")
	if !ok {
		http.NotFound(w, req)
		return
	}
	name, secret, inPath := strings.Cut(rest, "/")
	if !inPath {
		secret = req.Header.Get(SecretHeader)
	}
	acct, found, err := r.account(req.Context(), name, false)
	if err == nil && found && !r.secretOK(acct, secret) {
		// The secret may have been rotated: read the accounts again (at
		// most every reloadEvery) before refusing.
		acct, found, err = r.account(req.Context(), name, true)
	}
	if err != nil {
		log.ErrorContext(req.Context(), "webhook: cannot load accounts", slog.String("error", err.Error()))
		http.Error(w, "temporarily unavailable", http.StatusServiceUnavailable)
		return
	}
	if !found {
		log.WarnContext(req.Context(), "webhook: refused: no such account takes webhooks", slog.String("remote", req.RemoteAddr), slog.String("account", clip(name)))
		http.NotFound(w, req)
		return
	}
	if !r.secretOK(acct, secret) {
		log.WarnContext(req.Context(), "webhook: refused: wrong secret", slog.String("remote", req.RemoteAddr), slog.String("account", acct.Name))
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, MaxBody))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		log.WarnContext(req.Context(), "webhook: refused: body over 3 MB", slog.String("account", acct.Name))
		http.Error(w, "payload too large", http.StatusRequestEntityTooLarge)
		return
	case err != nil:
		http.Error(w, "cannot read body", http.StatusBadRequest)
		return
	}
	parse, ok := r.Parser(acct.Provider)
	if !ok {
		http.NotFound(w, req)
		return
	}
	events, err := parse(body)
	if err != nil {
		log.WarnContext(req.Context(), "webhook: refused: unreadable payload", slog.String("account", acct.Name), slog.Int("bytes", len(body)))
		http.Error(w, "malformed payload", http.StatusBadRequest)
		return
	}
	if len(events) > 0 {
		data, err := json.Marshal(payload{AccountID: acct.ID, Account: acct.Name, Events: events})
		if err == nil {
			_, err = r.Queue.EnqueueContext(req.Context(), asynq.NewTask(TypeApply, data), asynq.Queue(Queue), asynq.MaxRetry(25))
		}
		if err != nil {
			// Not taken: the provider retries on a non-2xx answer.
			log.ErrorContext(req.Context(), "webhook: cannot queue events", slog.String("account", acct.Name), slog.String("error", err.Error()))
			http.Error(w, "temporarily unavailable", http.StatusServiceUnavailable)
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"status":"ok"}`)
}

// secretOK compares the secret given with the account's in constant time.
func (r *Receiver) secretOK(a account, secret string) bool {
	return secret != "" && a.secret != "" && subtle.ConstantTimeCompare([]byte(secret), []byte(a.secret)) == 1
}

// maxAge is how long the accounts read are used before being read again,
// so a removed account or a rotated secret takes effect soon.
const maxAge = time.Minute

// account returns the webhook account named name. The accounts are read
// again when the last read is older than maxAge, or than reloadEvery when
// name is unknown or recheck is set.
func (r *Receiver) account(ctx context.Context, name string, recheck bool) (account, bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	if r.Now != nil {
		now = r.Now()
	}
	age := now.Sub(r.loaded)
	a, ok := r.accounts[name]
	if age < maxAge && ((ok && !recheck) || age < reloadEvery) {
		return a, ok, nil
	}
	list, err := r.Accounts.WebhookAccounts(ctx)
	if err != nil {
		return account{}, false, err
	}
	getenv := r.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	r.accounts = make(map[string]account, len(list))
	for _, a := range list {
		secret, err := r.Resolve(a.WebhookSecretRef, getenv)
		if err != nil {
			if r.Logger != nil {
				r.Logger.ErrorContext(ctx, "webhook: account's webhook secret cannot be read; its webhooks are refused", slog.String("account", a.Name), slog.String("error", err.Error()))
			}
			continue
		}
		r.accounts[a.Name] = account{WebhookAccount: a, secret: secret}
	}
	r.loaded = now
	a, ok = r.accounts[name]
	return a, ok, nil
}

// clip shortens what a stranger sent before it is logged.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// Store is what applying events needs.
type Store interface {
	ApplyWebhookEvents(ctx context.Context, accountID int64, events []provider.Event, now time.Time) (store.WebhookResult, error)
	SweepWebhookEvents(ctx context.Context, now time.Time, keep time.Duration) (applied, dropped int, err error)
}

// ApplyHandler processes TypeApply tasks.
type ApplyHandler struct {
	Store  Store
	Logger *slog.Logger
	Now    func() time.Time
}

// ProcessTask applies one webhook's events.
func (h *ApplyHandler) ProcessTask(ctx context.Context, t *asynq.Task) error {
	var p payload
	if err := json.Unmarshal(t.Payload(), &p); err != nil {
		return fmt.Errorf("decode webhook payload: %v: %w", err, asynq.SkipRetry)
	}
	now := time.Now()
	if h.Now != nil {
		now = h.Now()
	}
	res, err := h.Store.ApplyWebhookEvents(ctx, p.AccountID, p.Events, now)
	if err != nil {
		return fmt.Errorf("account %s: apply webhook events: %w", p.Account, err)
	}
	if h.Logger != nil {
		for _, seq := range res.Exited {
			h.Logger.InfoContext(ctx, "webhook: reply ended an enrollment", slog.String("account", p.Account), slog.String("sequence", seq))
		}
		h.Logger.DebugContext(ctx, "webhook: events applied", slog.String("account", p.Account),
			slog.Int("applied", res.Applied), slog.Int("kept", res.Kept), slog.Int("ignored", res.Ignored))
	}
	return nil
}

// Keep is how long a status about an unknown message is kept for its send
// to be recorded.
const Keep = 24 * time.Hour

// Sweep matches kept events every interval until ctx ends (see
// store.SweepWebhookEvents).
func Sweep(ctx context.Context, s Store, every time.Duration, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		applied, dropped, err := s.SweepWebhookEvents(ctx, time.Now(), Keep)
		switch {
		case err != nil && ctx.Err() == nil:
			log.WarnContext(ctx, "webhook: sweep failed", slog.String("error", err.Error()))
		case applied+dropped > 0:
			log.InfoContext(ctx, "webhook: swept kept events", slog.Int("matched", applied), slog.Int("dropped", dropped))
		}
	}
}
