package webhook

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
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

	"github.com/wacamp/wacamp/consent"
	"github.com/wacamp/wacamp/provider"
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

// Account is an account that takes webhooks.
type Account struct {
	ID        int64
	Name      string
	Provider  string // the driver's name, which picks the parser
	SecretRef string // the webhook secret's reference, resolved by Receiver.Resolve
	// Keywords are the account's own opt-out and opt-in keywords (besides
	// the defaults): an inbound message's text is kept only when it is one.
	Keywords consent.Keywords
}

// Accounts lists the accounts that take webhooks.
type Accounts interface {
	WebhookAccounts(ctx context.Context) ([]Account, error)
}

// Enqueuer puts a task on a queue (an *asynq.Client).
type Enqueuer interface {
	EnqueueContext(ctx context.Context, t *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error)
}

// Inbox keeps a webhook's events in the database when they cannot be
// queued.
type Inbox interface {
	KeepWebhook(ctx context.Context, accountID int64, payload []byte, now time.Time) error
}

// Parser reads one webhook body of a provider.
type Parser func(body []byte) ([]provider.Event, error)

// Receiver is the webhook HTTP handler.
type Receiver struct {
	Accounts Accounts
	Queue    Enqueuer
	// Inbox keeps what Queue could not take; nil answers 503 instead, for
	// the provider to retry (if it does).
	Inbox Inbox
	// Pending records each webhook's statuses before they are queued, until
	// they are applied (see Pending); nil records nothing, and a send of
	// unknown outcome then sees only webhooks already applied.
	Pending *Pending
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

	qmu            sync.Mutex
	queueDownUntil time.Time // Redis failed: go straight to Inbox until then

	refusals refusalLog
}

type account struct {
	Account
	secret [sha256.Size]byte // the secret's SHA-256, compared in constant time
}

// MinSecretLen is the shortest webhook secret an account may have: it is
// all that stands between the internet and the account's statuses and
// replies. An account with a shorter one takes no webhooks.
const MinSecretLen = 16

// payload is an apply task's body.
type payload struct {
	AccountID int64            `json:"account_id"`
	Account   string           `json:"account"`
	Events    []provider.Event `json:"events"`
	// ID names the webhook in Pending; ReceivedAt is when it reached the
	// receiver, the time its events are kept with. Payloads queued before
	// they existed have neither: nothing to forget, and the time of
	// applying stands for the arrival.
	ID         string    `json:"id,omitempty"`
	ReceivedAt time.Time `json:"received_at,omitzero"`
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
	if !found || !r.secretOK(acct, secret) {
		// The same answer for both: a stranger must not learn which
		// account names exist. Unknown names share one log key, so their
		// number cannot grow the log limiter.
		if !found {
			r.refusals.warn(req.Context(), log, r.now(), "", "webhook: refused: no such account takes webhooks",
				slog.String("remote", req.RemoteAddr), slog.String("account", clip(name)))
		} else {
			r.refusals.warn(req.Context(), log, r.now(), acct.Name, "webhook: refused: wrong secret",
				slog.String("remote", req.RemoteAddr), slog.String("account", acct.Name))
		}
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
		r.refusals.warn(req.Context(), log, r.now(), acct.Name, "webhook: refused: body over 3 MB", slog.String("account", acct.Name))
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
		r.refusals.warn(req.Context(), log, r.now(), acct.Name, "webhook: refused: unreadable payload", slog.String("account", acct.Name), slog.Int("bytes", len(body)))
		http.Error(w, "malformed payload", http.StatusBadRequest)
		return
	}
	if len(events) == 0 {
		// Authenticated, well-formed, and nothing wacamp uses: events it
		// ignores (a group's message, a pending ack), or a shape its
		// parser does not know, which would leave statuses unapplied.
		r.refusals.info(req.Context(), log, r.now(), acct.Name, "webhook: nothing wacamp uses in this payload (events it ignores, or a shape it does not know)",
			slog.String("account", acct.Name), slog.String("provider", acct.Provider), slog.Int("bytes", len(body)))
	}
	events = forApply(events, acct.Keywords)
	if len(events) > 0 {
		if err := r.take(req.Context(), acct, events, log); err != nil {
			// Not taken: the provider retries on a non-2xx answer.
			log.ErrorContext(req.Context(), "webhook: cannot queue or keep events", slog.String("account", acct.Name), slog.String("error", err.Error()))
			http.Error(w, "temporarily unavailable", http.StatusServiceUnavailable)
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"status":"ok"}`)
}

// forApply keeps of each event only what applying it needs, so the task
// payloads in Redis (shown by the web UI, even read-only) and the kept
// webhooks in Postgres carry no more of a customer's data than that. An
// inbound message is reduced to its sender's phone (a reply ends the
// sender's enrollments) and its time (the customer-service window opens
// with it); its text and id only when its whole text is an opt-out or
// opt-in keyword of the account (keywords), never its media; one without a
// phone applies to nothing and is dropped. A status is about one of our
// own messages and keeps what finding it needs (id, phone, and the text or
// media URL that tells two messages to one phone apart).
func forApply(events []provider.Event, keywords consent.Keywords) []provider.Event {
	out := events[:0]
	for _, e := range events {
		if e.Inbound {
			if e.Phone == "" {
				continue
			}
			kept := provider.Event{Inbound: true, Phone: e.Phone, At: e.At}
			if keywords.Classify(e.Text) != consent.None {
				kept.Text, kept.WAMID = e.Text, e.WAMID
			}
			e = kept
		}
		out = append(out, e)
	}
	return out
}

// take queues an authenticated webhook's events for a worker to apply or,
// when Redis cannot take them, keeps them in the inbox. The webhook is
// stamped with its arrival and recorded in Pending before it is queued, so
// from the moment it is taken until it is applied a send of unknown
// outcome to its recipients sees it coming; when Redis cannot record it,
// the inbox keeps it (the engine looks there too).
func (r *Receiver) take(ctx context.Context, acct account, events []provider.Event, log *slog.Logger) error {
	p := payload{AccountID: acct.ID, Account: acct.Name, Events: events, ID: rand.Text(), ReceivedAt: r.now()}
	data, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("encode events: %w", err)
	}
	qerr, recorded := errQueueResting, false
	if r.Inbox == nil || !r.queueResting() {
		qctx, cancel := context.WithTimeout(ctx, QueueTimeout)
		qerr = nil
		if r.Pending != nil {
			qerr = r.Pending.Add(qctx, acct.ID, p.ID, pendingPhones(events), p.ReceivedAt)
			recorded = qerr == nil
		}
		if qerr == nil {
			_, qerr = r.Queue.EnqueueContext(qctx, asynq.NewTask(TypeApply, data), asynq.Queue(Queue), asynq.MaxRetry(applyRetries))
		}
		cancel()
		if qerr == nil {
			return nil
		}
		r.restQueue(log, qerr)
	}
	if r.Inbox == nil {
		return fmt.Errorf("queue: %w", qerr)
	}
	if !recorded {
		// Nothing to forget once applied (Redis is likely away).
		p.ID = ""
		if data, err = json.Marshal(p); err != nil {
			return fmt.Errorf("encode events: %w", err)
		}
	}
	if err := r.Inbox.KeepWebhook(ctx, acct.ID, data, p.ReceivedAt); err != nil {
		return fmt.Errorf("queue: %w; keep in database: %w", qerr, err)
	}
	log.DebugContext(ctx, "webhook: events kept in the database", slog.String("account", acct.Name))
	return nil
}

// applyRetries is how often a failed apply task is retried before asynq
// archives it (see PendingStale).
const applyRetries = 25

// QueueTimeout bounds how long the receiver tries to queue a webhook's
// events before keeping them in the database instead, so a provider never
// waits long for its answer.
const QueueTimeout = time.Second

// QueueRest is how long the receiver keeps webhooks in the database without
// trying Redis after Redis failed to take one.
const QueueRest = 5 * time.Second

var errQueueResting = errors.New("redis failed moments ago; not tried")

// queueResting reports whether Redis failed less than QueueRest ago.
func (r *Receiver) queueResting() bool {
	r.qmu.Lock()
	defer r.qmu.Unlock()
	return r.now().Before(r.queueDownUntil)
}

// restQueue notes that Redis failed, logging the first failure of a run.
func (r *Receiver) restQueue(log *slog.Logger, err error) {
	r.qmu.Lock()
	defer r.qmu.Unlock()
	now := r.now()
	if now.After(r.queueDownUntil.Add(time.Minute)) {
		log.Warn("webhook: cannot queue events on Redis; keeping webhooks in the database for the workers to apply",
			slog.String("error", err.Error()))
	}
	r.queueDownUntil = now.Add(QueueRest)
}

func (r *Receiver) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// secretOK compares the secret given with the account's in constant time:
// it compares their SHA-256 digests, so neither length shows either.
func (r *Receiver) secretOK(a account, secret string) bool {
	got := sha256.Sum256([]byte(secret))
	return subtle.ConstantTimeCompare(got[:], a.secret[:]) == 1
}

// CheckSecrets reads the accounts now to log each whose webhook secret
// cannot be used (unset, unreadable or shorter than MinSecretLen), so a bad
// secret shows when the receiver starts rather than at the first webhook.
//
// It keeps nothing: the first webhook reads the accounts again, so an
// account applied after start-up is not refused for a while.
func (r *Receiver) CheckSecrets(ctx context.Context) error {
	_, err := r.readAccounts(ctx, r.now())
	return err
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
	now := r.now()
	age := now.Sub(r.loaded)
	a, ok := r.accounts[name]
	if age < maxAge && ((ok && !recheck) || age < reloadEvery) {
		return a, ok, nil
	}
	accounts, err := r.readAccounts(ctx, now)
	if err != nil {
		return account{}, false, err
	}
	r.accounts, r.loaded = accounts, now
	a, ok = r.accounts[name]
	return a, ok, nil
}

// readAccounts reads the accounts that take webhooks and resolves their
// secrets, logging (rate-limited) and leaving out each whose secret cannot
// be used.
func (r *Receiver) readAccounts(ctx context.Context, now time.Time) (map[string]account, error) {
	list, err := r.Accounts.WebhookAccounts(ctx)
	if err != nil {
		return nil, err
	}
	getenv := r.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	accounts := make(map[string]account, len(list))
	for _, a := range list {
		secret, err := r.Resolve(a.SecretRef, getenv)
		if err == nil && len(secret) < MinSecretLen {
			err = fmt.Errorf("the secret is shorter than %d characters", MinSecretLen)
		}
		if err != nil {
			if r.Logger != nil {
				r.refusals.error(ctx, r.Logger, now, a.Name, "webhook: account's webhook secret cannot be used; its webhooks are refused", slog.String("account", a.Name), slog.String("error", err.Error()))
			}
			continue
		}
		accounts[a.Name] = account{Account: a, secret: sha256.Sum256([]byte(secret))}
	}
	return accounts, nil
}

// clip shortens what a stranger sent before it is logged.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// Result is what applying one webhook's events did.
type Result struct {
	Applied  int      // statuses that found their message (moved forward or not)
	Kept     int      // statuses kept until their message is known
	Ignored  int      // statuses that carry nothing to record (e.g. sent)
	Settled  int      // sends of unknown outcome that a status showed (recorded sent)
	Exited   []string // sequences whose enrollment a reply (its exit_on) ended
	OptedOut []string // sequences whose enrollment an opt-out ended
	// Keyword is the last opt-out or opt-in keyword acted on.
	Keyword consent.Action
	// Confirmations counts the confirmations the keywords planned (see
	// consent.Confirmations).
	Confirmations int
}

// Store is what applying events needs. ApplyWebhookEvents applies one
// webhook's events, received being when the webhook reached the receiver.
type Store interface {
	ApplyWebhookEvents(ctx context.Context, accountID int64, events []provider.Event, received, now time.Time) (Result, error)
	SweepWebhookEvents(ctx context.Context, now time.Time, keep time.Duration) (applied, dropped int, err error)
}

// ApplyHandler processes TypeApply tasks.
type ApplyHandler struct {
	Store Store
	// Pending forgets each webhook once its events are applied; nil
	// forgets nothing (the receiver's Pending must then be nil too).
	Pending *Pending
	Logger  *slog.Logger
	Now     func() time.Time
}

// ProcessTask applies one webhook's events.
func (h *ApplyHandler) ProcessTask(ctx context.Context, t *asynq.Task) error {
	return h.apply(ctx, t.Payload())
}

// errUnreadable marks a payload that can never be applied.
var errUnreadable = errors.New("unreadable webhook payload")

// apply applies one webhook's events, data being an apply task's body.
func (h *ApplyHandler) apply(ctx context.Context, data []byte) error {
	var p payload
	if err := json.Unmarshal(data, &p); err != nil {
		return fmt.Errorf("%w: %v: %w", errUnreadable, err, asynq.SkipRetry)
	}
	now := time.Now()
	if h.Now != nil {
		now = h.Now()
	}
	received := p.ReceivedAt
	if received.IsZero() {
		received = now
	}
	res, err := h.Store.ApplyWebhookEvents(ctx, p.AccountID, p.Events, received, now)
	if err != nil {
		return fmt.Errorf("account %s: apply webhook events: %w", p.Account, err)
	}
	// Only now, with its events in the database, may a send of unknown
	// outcome stop waiting for this webhook. Failing to forget it is not
	// worth applying it again: its recordings hold sends back until they
	// are stale.
	if h.Pending != nil && p.ID != "" {
		if err := h.Pending.Done(ctx, p.AccountID, p.ID, pendingPhones(p.Events)); err != nil && h.Logger != nil {
			h.Logger.WarnContext(ctx, "webhook: applied, but cannot forget it in Redis; it holds back sending again to its recipients for up to "+PendingStale.String(),
				slog.String("account", p.Account), slog.String("error", err.Error()))
		}
	}
	if h.Logger != nil {
		if res.Keyword != consent.None {
			h.Logger.InfoContext(ctx, "webhook: a keyword changed an opt-out", slog.String("account", p.Account), slog.String("action", res.Keyword.String()),
				slog.Int("confirmations_planned", res.Confirmations))
		}
		for _, seq := range res.Exited {
			h.Logger.InfoContext(ctx, "webhook: reply ended an enrollment", slog.String("account", p.Account), slog.String("sequence", seq))
		}
		for _, seq := range res.OptedOut {
			h.Logger.InfoContext(ctx, "webhook: an opt-out ended an enrollment", slog.String("account", p.Account), slog.String("sequence", seq))
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
// Store.SweepWebhookEvents).
func Sweep(ctx context.Context, s Store, every time.Duration, log *slog.Logger) {
	tick(ctx, every, func() {
		applied, dropped, err := s.SweepWebhookEvents(ctx, time.Now(), Keep)
		switch {
		case err != nil && ctx.Err() == nil:
			log.WarnContext(ctx, "webhook: sweep failed", slog.String("error", err.Error()))
		case applied+dropped > 0:
			log.InfoContext(ctx, "webhook: swept kept events", slog.Int("matched", applied), slog.Int("dropped", dropped))
		}
	})
}

// tick calls fn every interval until ctx ends.
func tick(ctx context.Context, every time.Duration, fn func()) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn()
		}
	}
}

// Kept is a webhook the receiver kept in the database (Inbox) because the
// queue could not take it, as claimed for applying.
type Kept struct {
	ID        int64
	AccountID int64
	Payload   []byte
	// Claim identifies the claim that returned it; ForgetKeptWebhook needs it.
	Claim string
}

// KeptStore is what applying kept webhooks needs.
type KeptStore interface {
	ClaimKeptWebhooks(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]Kept, error)
	ForgetKeptWebhook(ctx context.Context, k Kept) (bool, error)
}

// keptLease is how long a worker holds kept webhooks it claimed: applying a
// batch takes milliseconds, and a worker that died frees them after this.
const keptLease = time.Minute

// keptBatch is how many kept webhooks one claim takes.
const keptBatch = 100

// ApplyKept applies the webhooks the receiver kept in the database because
// Redis could not take them, and forgets each once applied; it returns how
// many it applied. Several workers may run it at once: each kept webhook is
// claimed by one of them (for a minute; a worker that dies meanwhile leaves
// it to another). It needs only the database, so kept statuses are applied
// even while Redis is still away.
func (h *ApplyHandler) ApplyKept(ctx context.Context, kept KeptStore) (int, error) {
	n := 0
	for {
		now := time.Now()
		if h.Now != nil {
			now = h.Now()
		}
		batch, err := kept.ClaimKeptWebhooks(ctx, now, keptLease, keptBatch)
		if err != nil {
			return n, err
		}
		for _, k := range batch {
			err := h.apply(ctx, k.Payload)
			switch {
			case err == nil:
				n++
			case errors.Is(err, errUnreadable):
				if h.Logger != nil {
					h.Logger.ErrorContext(ctx, "webhook: dropped a kept webhook that cannot be read", slog.Int64("id", k.ID), slog.String("error", err.Error()))
				}
			default:
				return n, fmt.Errorf("apply kept webhook %d: %w", k.ID, err)
			}
			if _, err := kept.ForgetKeptWebhook(ctx, k); err != nil {
				return n, err
			}
		}
		if len(batch) < keptBatch {
			return n, nil
		}
	}
}

// Drain runs h.ApplyKept every interval until ctx ends.
func Drain(ctx context.Context, h *ApplyHandler, kept KeptStore, every time.Duration) {
	log := h.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	tick(ctx, every, func() {
		n, err := h.ApplyKept(ctx, kept)
		if n > 0 {
			log.InfoContext(ctx, "webhook: applied webhooks kept in the database", slog.Int("webhooks", n))
		}
		if err != nil && ctx.Err() == nil {
			log.WarnContext(ctx, "webhook: applying kept webhooks failed; retrying", slog.String("error", err.Error()))
		}
	})
}
