package delivery

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/hibiken/asynq"

	"github.com/wacamp/wacamp/provider"
	"github.com/wacamp/wacamp/templates"
	"github.com/wacamp/wacamp/throttle"
)

// SendHandler processes send tasks. It is safe for concurrent use.
type SendHandler struct {
	store      WorkerStore
	senders    Senders
	limiter    Limiter
	recipients RecipientLimits
	webhooks   PendingWebhooks
	owners     Owners
	queue      Enqueuer
	opts       Options
}

// SendDeps are what a SendHandler works with.
type SendDeps struct {
	Store   WorkerStore
	Senders Senders
	Limiter Limiter
	// Recipients may be nil, which turns off the pair interval and the
	// unique-recipient budget.
	Recipients RecipientLimits
	// Webhooks may be nil: a send of unknown outcome then sees only the
	// status webhooks already applied when its settle window ends.
	Webhooks PendingWebhooks
	// Owners decide what differs between the kinds of delivery: one per
	// kind of Owned a job may carry.
	Owners Owners
	// Queue takes the send tasks a batch hands its deliveries to when they
	// must be tried again later; nil = batch send tasks fail (TypeSend
	// tasks need none).
	Queue Enqueuer
}

// RecipientLimits holds sends back per recipient, fleet-wide: the pair
// interval, the rolling unique-recipient budget and the frequency cap
// (throttle.Recipients satisfies it). Admit only looks when take is false.
type RecipientLimits interface {
	Admit(ctx context.Context, g throttle.Gate, now time.Time, take bool) (throttle.Verdict, error)
	HoldPair(ctx context.Context, g throttle.Gate, d time.Duration) error
}

// Refunder is RecipientLimits that can hand back what a send's Admit took
// (throttle.Recipients): its place in the frequency cap and the pair
// interval it started, when the send was surely not made. Without it
// nothing is handed back: the cap over-counts, and the recipient's next
// attempt waits out a pair interval after a message that never went.
type Refunder interface {
	Refund(ctx context.Context, g throttle.Gate, v throttle.Verdict) error
}

// BudgetWindow is the span of the unique-recipient budget: WhatsApp's
// messaging limit counts unique recipients over a moving 24 h.
const BudgetWindow = 24 * time.Hour

// Outcomes remembers, fleet-wide, the last outcomes of a broadcast's sends
// (throttle.Outcomes satisfies it). Record returns how many of the last
// window failed and how many there are.
type Outcomes interface {
	Record(ctx context.Context, key string, failed bool, window int) (fails, total int, err error)
}

// NewSendHandler returns the handler for TypeSend tasks.
func NewSendHandler(d SendDeps, opts Options) *SendHandler {
	return &SendHandler{store: d.Store, senders: d.Senders, limiter: d.Limiter,
		recipients: d.Recipients, webhooks: d.Webhooks, owners: d.Owners, queue: d.Queue, opts: opts.WithDefaults()}
}

// ownerOf returns the owner of job's delivery; ProcessTask has checked
// that there is one.
func (h *SendHandler) ownerOf(job Job) Owner {
	own, _ := h.owners.of(job)
	return own
}

// gate describes a send to job's recipient for the recipient limits. The
// delivery is the send's name in the frequency cap. A Reply takes only the
// pair interval: it is no business-initiated message, for the budget or
// the cap.
func gate(job Job) throttle.Gate {
	a := job.Account
	g := throttle.Gate{Number: a.RateKey(), Recipient: job.Phone, PairInterval: a.PairInterval,
		Ledger: a.Ledger(), Limit: a.DailyUniqueLimit, Window: BudgetWindow,
		Cap: throttle.Cap{Messages: a.FrequencyCap.Messages, Per: a.FrequencyCap.Per}, Send: strconv.FormatInt(job.ID, 10)}
	if job.Reply {
		g.Limit, g.Cap = 0, throttle.Cap{}
	}
	return g
}

// admit applies the recipient limits to a send: with take false it only
// looks (before waiting for a rate token, so a held send takes none), with
// take true it takes the recipient's place (right before the request). A
// send held by the pair interval or the budget returns a *WaitError: it is
// deferred, never failed. One over the frequency cap returns the verdict
// (HoldCap) and no error: its owner decides (overCap).
func (h *SendHandler) admit(ctx context.Context, log *slog.Logger, job Job, take bool) (throttle.Verdict, error) {
	if h.recipients == nil {
		return throttle.Verdict{}, nil
	}
	v, err := h.recipients.Admit(ctx, gate(job), h.opts.Now(), take)
	if err != nil {
		return v, err
	}
	switch v.Hold {
	case throttle.HoldPair:
		return v, &WaitError{After: v.Wait, Kind: WaitPair, Reason: "pair interval: a message to this recipient from this number went out less than " + job.Account.PairInterval.String() + " ago"}
	case throttle.HoldBudget:
		log.DebugContext(ctx, "delivery: send deferred by the daily unique-recipient budget", slog.Int("limit", job.Account.DailyUniqueLimit), slog.Duration("room_in", v.Wait))
		return v, &WaitError{After: budgetDelay(v.Wait, h.opts.BudgetRecheck, rand.Float64()), Ends: v.Wait, Kind: WaitBudget, Reason: fmt.Sprintf("daily unique-recipient budget of %d (%s) used up; room in %s",
			job.Account.DailyUniqueLimit, job.Account.Ledger(), v.Wait.Round(time.Second))}
	}
	return v, nil
}

// budgetDelay is how long a send held by the budget waits before it asks
// again: until the window frees room, but at least a few seconds (when
// entries leave milliseconds apart, a whole window of held sends must not
// come back at once) and at most recheck (so a raised limit applies soon),
// spread by up to a quarter of recheck.
func budgetDelay(room, recheck time.Duration, jitter float64) time.Duration {
	floor := min(5*time.Second, recheck)
	return min(max(room, floor), recheck) + time.Duration(jitter*float64(recheck/4))
}

// ProcessTask implements asynq.Handler for TypeSend tasks. It returns nil
// once the delivery needs nothing more from this task, a *WaitError to be
// run again later without counting a failure, and any other error for a
// retry with back-off.
func (h *SendHandler) ProcessTask(ctx context.Context, t *asynq.Task) error {
	var p SendPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil {
		return fmt.Errorf("decode send payload: %v: %w", err, asynq.SkipRetry)
	}
	ref := Ref{ID: p.DeliveryID, Gen: p.Gen}
	job, err := h.store.Job(ctx, ref.ID)
	if errors.Is(err, ErrNotFound) {
		return nil // the broadcast was deleted; nothing to send
	}
	if err != nil {
		return err
	}
	return h.send(ctx, ref, job)
}

// send runs one generation (ref) of a delivery, loaded as job; it returns
// what ProcessTask does. A wait it returns is counted as a deferral
// (Options.Metrics).
//
// A long wait (longer than ParkAfter) of a delivery whose owner is a
// Parker parks the delivery until then instead, and the task ends: a wait
// for a send window, a cap, the budget or the account, whose delivery is
// not being sent (parkable). Waits for a lease, a settle or a reconcile
// are not parked, nor a step run early (a worker's clock behind).
func (h *SendHandler) send(ctx context.Context, ref Ref, job Job) error {
	err := h.sendOnce(ctx, ref, job)
	var w *WaitError
	if !errors.As(err, &w) {
		return err
	}
	if m := h.opts.Metrics; m != nil {
		m.Deferred(job.Account.Name, w.KindOf())
	}
	if h.park(ctx, ref, job, w) {
		return nil
	}
	return err
}

// park parks the delivery of ref (job) for wait w when its owner is a
// Parker and the wait is parkable and long (see send), and reports
// whether it did. A failed park is logged: the delivery then waits in its
// task.
func (h *SendHandler) park(ctx context.Context, ref Ref, job Job, w *WaitError) bool {
	if !parkable[w.KindOf()] {
		return false
	}
	ends := w.Ends
	if ends > w.After {
		// Room for many held at once comes at one instant: spread them,
		// or all but one would wake to park again.
		ends += time.Duration(rand.Int64N(int64(ends/16) + 1))
	}
	wait := max(w.After, min(ends, ParkRecheck))
	if wait <= ParkAfter {
		return false
	}
	own, err := h.owners.of(job)
	p, ok := own.(Parker)
	if err != nil || !ok {
		return false
	}
	now := h.opts.Now()
	job.Ref = ref
	parked, err := p.Park(context.WithoutCancel(ctx), job, now.Add(wait), w.Reason, now)
	if err != nil {
		h.opts.Logger.WarnContext(ctx, "delivery: cannot park a long wait; it waits in its task", slog.Int64("delivery_id", ref.ID), slog.String("error", err.Error()))
	}
	return parked
}

// sendOnce is send, uncounted.
func (h *SendHandler) sendOnce(ctx context.Context, ref Ref, job Job) error {
	if job.Gen != ref.Gen {
		return nil // a newer generation of this delivery owns it now
	}
	own, err := h.owners.of(job)
	if err != nil {
		return err
	}
	log := h.opts.Logger.With(slog.Int64("delivery_id", ref.ID)).With(own.LogAttrs(job)...)
	now := h.opts.Now()

	switch job.Status {
	case Planned, Queued:
	case Sending:
		if job.LeaseUntil != nil && job.LeaseUntil.After(now) {
			// Another attempt is in flight (asynq is at-least-once). Come
			// back when its lease ends and reconcile then.
			return &WaitError{After: job.LeaseUntil.Sub(now) + time.Second, Kind: WaitInFlight, Reason: "send in flight elsewhere"}
		}
		done, err := h.reconcile(ctx, log, job)
		if done || err != nil {
			return err
		}
		job.Status = Queued // not at the provider: send it normally
	default:
		return nil // already accepted or finished: never send twice
	}

	switch state, reason := own.State(job); state {
	case OwnerRunning:
	case OwnerStopped:
		_, err := h.store.Finish(ctx, ref, Skipped, "", reason, now)
		return err
	default:
		return nil // paused or not started: the feeder puts it back when it runs again
	}
	if sb := job.SendBy; !sb.IsZero() && now.After(sb) {
		_, err := h.store.Finish(ctx, ref, Expired, "", "deadline passed before the message could be sent", now)
		return err
	}
	if job.Attempts >= SendMaxAttempts {
		_, err := h.store.Finish(ctx, ref, Failed, "", fmt.Sprintf("gave up after %d attempts", job.Attempts), now)
		return err
	}
	if err := own.Ready(ctx, job, now); err != nil {
		if errors.Is(err, ErrDone) {
			return nil
		}
		return err
	}

	msg, err := job.Message.Render(job.Variables())
	if err != nil {
		_, ferr := h.store.Finish(ctx, ref, Failed, "", "render message: "+err.Error(), now)
		return ferr
	}
	// The recipient limits first only look, so a held send reads no
	// conversation and takes no rate token; right after the token they take
	// the recipient's place.
	if v, err := h.admit(ctx, log, job, false); v.Hold == throttle.HoldCap {
		return h.overCap(ctx, log, own, job, v.Wait, nil)
	} else if err != nil {
		return err
	}
	sender, err := h.senders.Sender(ctx, job.Account)
	if err != nil {
		// No usable credentials in this process: stop the account, loudly.
		reason := "account " + job.Account.Name + ": " + err.Error()
		paused, perr := h.store.PauseAccount(ctx, job.Account.ID, reason, now)
		if perr != nil {
			return perr
		}
		if len(paused) > 0 {
			// Once per pause, not once per delivery in flight.
			log.ErrorContext(ctx, "delivery: account paused", slog.String("reason", reason), slog.Int("broadcasts", len(paused)))
		} else {
			log.WarnContext(ctx, "delivery: account cannot send; this delivery waits", slog.String("reason", reason))
		}
		return own.AccountDown(reason)
	}
	caps := sender.Capabilities()
	// On a provider whose replies are only in the conversation history,
	// the history is read before a send to someone wacamp messaged
	// before (they may have written STOP), before a send whose answer
	// carries no wamid (its mark, below), and before a free-form send to
	// someone not known to be inside the 24-hour window; what they wrote
	// is recorded first, so an opt-out read here stops this very send at
	// the claim. It is read once: the window, the reply exit and the mark
	// take what this one read found.
	_, recording := h.store.(InboundStore)
	var conv []provider.ConversationMessage
	read := false
	readConv := func() ([]provider.ConversationMessage, error) {
		if !read {
			c, err := h.readConversation(ctx, log, sender, job)
			if err != nil {
				return nil, fmt.Errorf("read conversation before send: %w", err)
			}
			conv, read = c, true
		}
		return conv, nil
	}
	// The 24-hour window, right before the request as the owner's checks
	// are: a free-form message to someone outside it is skipped or becomes
	// its fallback template, which the claim records (in the mark) so its
	// reconciliation and polls look for the template.
	verdict, err := h.window(ctx, readConv, caps, job, now)
	if err != nil {
		return err
	}
	if verdict == windowFallback {
		msg, _ = msg.Fallback()
	}
	marked := needsMark(msg) && caps.History
	if caps.History && (marked || (job.Contacted && recording)) {
		if _, err := readConv(); err != nil {
			return err
		}
	}
	src := sender
	if read {
		src = &convMemo{Sender: sender, phone: job.Phone, conv: conv, limit: h.opts.ConversationLimit}
	}
	if ended, err := own.EndedBeforeSend(ctx, log, src, caps, job, now); ended || err != nil {
		return err
	}
	if verdict == windowSkip {
		return h.skipOutsideWindow(ctx, log, job, now)
	}

	// The number's rate token first, holding nothing: a send waiting for its
	// token has claimed nothing (until claimAhead before its departure), so
	// a worker killed meanwhile strands no delivery, and a pause or cancel
	// during the wait is seen by the claim.
	// Waiting is not a failure: a wait that cannot end in time comes back
	// later, the attempt not counted.
	// withVerdict adds to a mark that the fallback template is what goes.
	withVerdict := func(mark []string) []string {
		if verdict != windowFallback {
			return mark
		}
		return append(mark, markOutsideWindow)
	}
	var mark []string
	if marked {
		// The answer will carry no wamid: note what the conversation holds
		// now, so that only newer messages can be ours. It is read before
		// the token, so that (after a short wait) only the claim separates
		// the grant from the request.
		mark = markOf(conv)
	}
	mark = withVerdict(mark)
	waitStart := time.Now()
	depart, err := h.waitToken(ctx, job)
	if m := h.opts.Metrics; m != nil {
		m.RateWaited(job.Account.Name, time.Since(waitStart))
	}
	if err != nil {
		return &WaitError{After: time.Second, Kind: WaitRate, Reason: "rate limiter: " + err.Error()}
	}
	if marked && time.Since(waitStart) > markFresh {
		// Messages may have arrived while we waited: look again, so none
		// of them can pass for ours. (This read between the grant and the
		// request can put a template later than its grant.)
		if conv, err = h.readConversation(ctx, log, sender, job); err != nil {
			return fmt.Errorf("read conversation before send: %w", err)
		}
		mark = withVerdict(markOf(conv))
	}

	// The claim is the re-check: one statement, right before the request,
	// that takes the delivery only while its broadcast runs (or its
	// enrollment is active) and its recipient is not on the suppression
	// list, and records the mark. A pause, a cancel, an ended enrollment or
	// an opt-out since the task started stops the send here.
	now = h.opts.Now()
	// The lease's exact value identifies this attempt's claim (microseconds:
	// what Postgres keeps).
	leaseUntil := asLease(now.Add(h.opts.Lease))
	check := job.OptOut()
	ok, err := h.store.Claim(ctx, ref, now, leaseUntil, mark, check)
	if err != nil {
		return err
	}
	if !ok {
		// Paused, cancelled, ended or taken meanwhile: whoever moved the
		// row owns it (a pause or cancel also took it out of the queue).
		// Or the recipient opted out, which the claim does not say: then
		// the delivery is skipped (a statement only when a claim fails).
		if skipped, err := h.store.SkipOptedOut(ctx, ref, check, now); err != nil || skipped {
			if skipped {
				log.InfoContext(ctx, "delivery: skipped: the recipient opted out")
			}
			return err
		}
		return nil
	}
	job.Attempts++
	job.LeaseUntil, job.SendingAt, job.ConvMark = &leaseUntil, &now, mark
	// The recipient's place (pair interval, budget, frequency cap) is
	// taken last of all.
	v, err := h.admit(ctx, log, job, true)
	if v.Hold == throttle.HoldCap {
		return h.overCap(ctx, log, own, job, v.Wait, &leaseUntil) // other sends to this person filled the cap meanwhile
	}
	if err != nil {
		return h.release(ctx, job.Ref, leaseUntil, err) // another send to this recipient won the race, or the budget filled
	}
	// From here on, a send that is surely not made hands back what v took:
	// its place in the cap and its pair interval (one whose outcome is
	// unknown keeps them: never under-count).
	// The request leaves at the number's departure slot, which the claim
	// came ahead of, so how long the claim took does not reach the
	// provider. A send that comes too late for its slot (its claim
	// overran) hands its claim back rather than hold it while waiting for
	// another slot; the task comes back for one.
	if d, ok := h.limiter.(Departer); ok {
		if err := d.Depart(ctx, job.Account.RateKey(), job.Account.RatePerSecond, depart); err != nil {
			h.refund(ctx, log, job, v)
			return h.release(ctx, job.Ref, leaseUntil, &WaitError{After: departRetry(err, time.Now()), Kind: WaitRate, Reason: "rate limiter: " + err.Error()})
		}
	}
	// Only send while the lease surely outlasts the request (a third of it
	// left: 40 s of the default 2 min, above the 30 s HTTP timeout), and end
	// the request an eighth before the lease does, to record the outcome:
	// no other attempt can reconcile (and resend) while this one is in
	// flight. Only a stall since the claim (a paused process, a slow Redis)
	// can leave less; then nothing is sent and the claim is handed back.
	left := leaseUntil.Sub(h.opts.Now())
	if left < h.opts.Lease/3 {
		// Not sent: hand the claim back, not counted (only while it is
		// still ours; if another attempt took it over, this does nothing).
		h.refund(ctx, log, job, v)
		return h.release(ctx, job.Ref, leaseUntil, &WaitError{After: time.Second, Kind: WaitStalled, Reason: "claim stalled before sending"})
	}
	sctx, cancelSend := context.WithTimeout(ctx, left-h.opts.Lease/8)
	defer cancelSend()

	res, err := sender.Send(provider.WithRecipientName(sctx, job.Name), job.Phone, msg)
	h.holdPairAfter(ctx, log, job)
	if err != nil {
		return h.sendFailed(ctx, log, job, err, v.WithoutPair()) // the request was made: the interval stays
	}
	wamid := res.WAMID
	if wamid == "" && caps.History {
		// Template sends and bot triggers answer without a wamid: look it
		// up in the conversation. If it is not there yet, the status poller
		// resolves it later.
		if w, found, lerr := h.lookup(ctx, sender, job, msg); lerr == nil && found {
			wamid = w
		}
	}
	if err := h.markSent(ctx, log, job, caps, wamid); err != nil {
		return err
	}
	own.Outcome(ctx, log, job, false, "")
	return nil
}

// waitToken waits for the number's rate token; with a Departer it
// returns claimAhead before the slot it returns (the claim comes in
// between). The wait is bounded by two
// thirds of the lease, and leaves sendBudget (or a quarter of what is left)
// of the task's own deadline for the request; the worker's shutdown ends it
// at once. Bounds are durations on the wall clock: the engine's Clock
// decides what is due, never how long a real wait lasts.
func (h *SendHandler) waitToken(ctx context.Context, job Job) (time.Time, error) {
	wait := h.opts.Lease * 2 / 3
	if dl, ok := ctx.Deadline(); ok {
		left := time.Until(dl)
		wait = min(wait, left-min(sendBudget, left/4))
	}
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	if h.opts.Stop != nil {
		stopWaiting := context.AfterFunc(h.opts.Stop, cancel)
		defer stopWaiting()
	}
	if d, ok := h.limiter.(Departer); ok {
		return d.WaitAhead(wctx, job.Account.RateKey(), job.Account.RatePerSecond, claimAhead)
	}
	return time.Time{}, h.limiter.Wait(wctx, job.Account.RateKey(), job.Account.RatePerSecond)
}

// claimAhead is how long before its departure slot a send is woken to
// claim its delivery: more than a claim takes on a loaded machine.
const claimAhead = 100 * time.Millisecond

// holdPairAfter holds the recipient's pair interval again from the
// answer: taking the recipient's place started it before the request, but
// requests reach the provider after varying delays, so two sends whose
// places were taken an interval apart could arrive closer than that. The
// next send to the recipient from this number starts only an interval
// after this one's answer, which came after its request arrived.
func (h *SendHandler) holdPairAfter(ctx context.Context, log *slog.Logger, job Job) {
	if h.recipients == nil || job.Account.PairInterval <= 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := h.recipients.HoldPair(ctx, gate(job), job.Account.PairInterval); err != nil {
		log.WarnContext(ctx, "delivery: cannot hold the pair interval after the answer", slog.String("error", err.Error()))
	}
}

// markFresh is how long a rate wait may take before the conversation mark
// read ahead of it is read again.
const markFresh = 2 * time.Second

// AccountRetry is how long a delivery whose owner has no pause (a sequence
// step) waits when its account cannot send (no credentials, or the
// provider halted the account).
const AccountRetry = 15 * time.Minute

// release hands back a claim whose wait did not end in time (not sent,
// attempt not counted) and returns why. It runs even when the task's
// context has ended.
func (h *SendHandler) release(ctx context.Context, ref Ref, lease time.Time, why error) error {
	return HandBack(ctx, h.store, h.opts.Logger, ref, lease, why, h.opts.Now())
}

// Penalizer is a Limiter that can lower a key's rate for a while
// (throttle.Fleet is one: it halves the rate, at most once per short hold,
// and recovers it step by step).
type Penalizer interface {
	Penalize(ctx context.Context, key string) (throttle.Penalty, error)
}

// departRetry is how long a send whose Depart failed waits before its task
// comes back: until the number's next free slot as Depart saw it (a
// *throttle.LateError's Next), so that the last sends of a broadcast, late
// for their slots, do not each wait out a second while the number idles; at
// most, and for any other failure, a second.
func departRetry(err error, now time.Time) time.Duration {
	var late *throttle.LateError
	if errors.As(err, &late) && !late.Next.IsZero() {
		return min(max(late.Next.Sub(now), 0), time.Second)
	}
	return time.Second
}

// sendBudget is what a send needs after its rate token: the claim, the
// provider's answer (HTTP timeout 30 s) and recording it. Short task
// timeouts keep a quarter of their time instead.
const sendBudget = 45 * time.Second

// needsMark reports whether a send's answer carries no wamid, so the wamid
// must be found in the conversation afterwards.
func needsMark(m templates.Message) bool {
	return m.Kind == templates.KindTemplate || m.Kind == templates.KindBotFlow
}

// markOf returns what a conversation holds (never nil): the wamid and the
// provider's entry id of every entry, so that an entry listed without a
// wamid can be told apart too (see markItems).
func markOf(conv []provider.ConversationMessage) []string {
	ids := make([]string, 0, 2*len(conv))
	for _, c := range conv {
		ids = append(ids, markItems(c)...)
	}
	return ids
}

// readConversation reads the job's recipient's conversation and records
// what they wrote in it (see recordInbound).
func (h *SendHandler) readConversation(ctx context.Context, log *slog.Logger, s Sender, job Job) ([]provider.ConversationMessage, error) {
	conv, err := s.Conversation(ctx, job.Phone, h.opts.ConversationLimit)
	if err != nil {
		return nil, err
	}
	if err := recordInbound(ctx, h.store, log, job.Account, job.Phone, conv, h.opts.Now()); err != nil {
		return nil, err
	}
	return conv, nil
}

// unclaim puts a claimed delivery that surely did not reach the provider (or
// that it refused) back in the queue (same generation: its task retries),
// recording code ("" for none) and reason, while job's attempt holds it (its
// lease). It runs even when the task's context has ended, so no claim is
// left behind by a shutdown.
func (h *SendHandler) unclaim(ctx context.Context, job Job, code, reason string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if _, err := h.store.Unclaim(ctx, job.Ref, leaseOf(job), false, code, reason, h.opts.Now()); err != nil {
		h.opts.Logger.ErrorContext(ctx, "delivery: could not unclaim delivery; the sweep will reconcile it", slog.Int64("delivery_id", job.ID), slog.String("error", err.Error()))
	}
}

func (h *SendHandler) markSent(ctx context.Context, log *slog.Logger, job Job, caps provider.Capabilities, wamid string) error {
	now := h.opts.Now()
	var firstPoll time.Time // none: the provider pushes statuses
	if caps.StatusPoll || (wamid == "" && caps.History) {
		firstPoll = now.Add(h.opts.Polls.first(rand.Float64()))
	}
	// Use a context that survives the task's cancellation: the provider has
	// accepted the message, so recording it must not be skipped.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	ok, err := h.ownerOf(job).RecordSent(ctx, job.Ref, wamid, now, firstPoll, now.Add(h.opts.TrackFor))
	if err == nil && !ok {
		log.ErrorContext(ctx, "delivery: provider accepted a send the store no longer shows as sending", slog.String("wamid", wamid))
	}
	if err == nil && ok && caps.StatusWebhook {
		// The webhook may have beaten the answer: apply what it said.
		if _, merr := h.store.MatchWebhookEvents(ctx, job.ID, now); merr != nil {
			log.WarnContext(ctx, "delivery: could not match early webhook events; the sweep will", slog.String("error", merr.Error()))
		}
	}
	return err
}

// sendFailed applies the error policy to a failed send. took is what this
// attempt's Admit took and may hand back (its place in the frequency
// cap): handed back unless the send may have been made.
func (h *SendHandler) sendFailed(ctx context.Context, log *slog.Logger, job Job, err error, took throttle.Verdict) error {
	now := h.opts.Now()
	var pe *provider.Error
	errors.As(err, &pe)
	code, text := "", err.Error()
	if pe != nil {
		code = pe.Code
	}
	if pe != nil && pe.Code == "130429" {
		// The number is over its throughput: slow it down fleet-wide
		// (WHATSAPP.md §4, §8), then retry this one with back-off. The
		// 130429s of one burst halve the rate once.
		if p, ok := h.limiter.(Penalizer); ok {
			switch pen, perr := p.Penalize(ctx, job.Account.RateKey()); {
			case perr != nil:
				log.WarnContext(ctx, "delivery: provider rate limit hit; cannot lower the number's rate", slog.String("error", perr.Error()))
			case pen.Halved:
				log.WarnContext(ctx, "delivery: provider rate limit hit; number's rate halved", slog.Float64("rate_factor", pen.Factor))
			}
		}
	}
	class := provider.ClassOf(err)
	if pe == nil && ctx.Err() != nil {
		// Not a driver's error, and the request may have been cut off
		// after it was written: reconcile before resending. A driver's
		// error says itself whether the send may have gone out (the
		// request written and no answer, a bare 500) or surely did not
		// (not written, a gateway's 502/503, 429, an answer that says to
		// try again).
		class = provider.ClassAmbiguous
	}
	if class != provider.ClassAmbiguous {
		h.refund(ctx, log, job, took) // refused or never written: nothing reached the person
	}
	if code == CodeMarketingCap {
		return h.marketingCapped(ctx, log, job, code, text)
	}
	switch class {
	case provider.ClassAmbiguous:
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if rerr := h.store.ReleaseLease(rctx, job.Ref, leaseOf(job), now.Add(h.opts.AmbiguousDelay), "answer lost: "+text, now); rerr != nil {
			return rerr
		}
		log.InfoContext(ctx, "delivery: send outcome unknown; will look for it at the provider (its conversation, or its status webhooks) before sending again", slog.String("error", text))
		return &WaitError{After: h.opts.AmbiguousDelay, Kind: WaitReconcile, Reason: "reconcile after lost answer"}
	case provider.ClassPermanent:
		_, ferr := h.store.Finish(ctx, job.Ref, Failed, code, text, now)
		h.ownerOf(job).Outcome(ctx, log, job, true, text)
		return ferr
	case provider.ClassHaltCampaign, provider.ClassHaltAccount:
		return h.ownerOf(job).Halted(ctx, log, job, class, code, text)
	default: // transient and surely not accepted
		wait, tries := transientPolicy(code, job.Attempts)
		if pe != nil {
			wait = max(wait, pe.RetryAfter)
		}
		if job.Attempts >= cmp.Or(tries, SendMaxAttempts) {
			_, ferr := h.store.Finish(ctx, job.Ref, Failed, code, fmt.Sprintf("gave up after %d attempts: %s", job.Attempts, text), now)
			h.ownerOf(job).Outcome(ctx, log, job, true, text)
			return ferr
		}
		if code == "131056" && h.recipients != nil {
			// Pair rate hit: hold every send to this recipient from this
			// number, whichever campaign it belongs to.
			if herr := h.recipients.HoldPair(ctx, gate(job), wait); herr != nil {
				log.WarnContext(ctx, "delivery: cannot hold recipient after pair-rate error", slog.String("error", herr.Error()))
			}
		}
		h.unclaim(ctx, job, "", text)
		if pe != nil && wait > pe.RetryAfter {
			pe.RetryAfter = wait // RetryDelay honours it
		}
		return err
	}
}

// reconcile settles a delivery left sending by a crashed or answerless
// attempt: it takes over the lease and looks for the message in the
// provider's conversation history. done means the delivery is settled (or
// someone else has it); otherwise the caller may send.
func (h *SendHandler) reconcile(ctx context.Context, log *slog.Logger, job Job) (done bool, err error) {
	now := h.opts.Now()
	// The lease's exact value identifies this attempt from here on: a
	// stalled attempt whose lease another took over changes nothing.
	lease := asLease(now.Add(h.opts.Lease))
	ok, err := h.store.Reclaim(ctx, job.Ref, now, lease)
	if err != nil || !ok {
		return true, err
	}
	job.LeaseUntil = &lease
	sender, err := h.senders.Sender(ctx, job.Account)
	if err != nil {
		return true, err
	}
	msg, err := job.Message.Render(job.Variables())
	if err != nil {
		_, ferr := h.store.Finish(ctx, job.Ref, Failed, "", "render message: "+err.Error(), now)
		return true, ferr
	}
	msg = sentAs(msg, job.ConvMark) // the fallback template, if that is what went
	if needsMark(msg) && job.ConvMark == nil && sender.Capabilities().History {
		// The mark is recorded before every such send: without one, the
		// attempt died before it reached the provider.
		h.unclaim(ctx, job, "", "reconciled: never reached the provider")
		return false, nil
	}
	wamid, found, err := h.lookup(ctx, sender, job, msg)
	if errors.Is(err, provider.ErrUnsupported) {
		// No history to look in: the provider's webhooks settle it, or
		// the account's on_unknown_outcome says otherwise (settle.go).
		return h.settleUnknown(ctx, log, job)
	}
	if err != nil {
		// Never send blind: without the history we cannot know.
		if job.SendingAt != nil && now.Sub(*job.SendingAt) > h.opts.ReconcileFor {
			_, ferr := h.store.Finish(ctx, job.Ref, Failed, "", "outcome unknown: the provider's history could not be read to check whether it was sent: "+err.Error(), now)
			return true, ferr
		}
		_ = h.store.ReleaseLease(ctx, job.Ref, lease, now.Add(h.opts.AmbiguousDelay), "reconcile: "+err.Error(), now)
		return true, &WaitError{After: h.opts.AmbiguousDelay, Kind: WaitReconcile, Reason: "reconcile: " + err.Error()}
	}
	if found {
		log.InfoContext(ctx, "delivery: reconciled send found at provider", slog.String("wamid", wamid))
		return true, h.markSent(ctx, log, job, sender.Capabilities(), wamid)
	}
	_, window := job.Account.policy(h.opts.SettleWindow)
	if job.SendingAt != nil {
		// Not there yet is not "not sent": a slow provider accepts a request
		// long after the client gave up on it (seen: 45 s). Keep looking
		// until the settle window since the request began has passed, and
		// only then send again.
		if until := job.SendingAt.Add(window); now.Before(until) {
			next := now.Add(min(h.opts.AmbiguousDelay, until.Sub(now)))
			const reason = ReasonAwaiting + ": not in the conversation yet"
			if st, ok := h.store.(SettleStore); ok {
				// Shown as awaiting (status, export), and not counted as
				// in flight by the feeder meanwhile.
				if _, err := awaitSettle(ctx, st, &job, next, reason, now); err != nil {
					return true, err
				}
			} else if err := h.store.ReleaseLease(ctx, job.Ref, lease, next, reason, now); err != nil {
				return true, err
			}
			return true, &WaitError{After: next.Sub(now), Kind: WaitSettle, Reason: reason}
		}
	}
	const reason = "reconciled: not found at the provider within the settle window; sent again"
	log.InfoContext(ctx, "delivery: reconciled send not found at provider within the settle window; sending again", slog.Duration("settle_window", window))
	if st, ok := h.store.(SettleStore); ok && job.SendingAt != nil {
		return h.resend(ctx, log, st, job, reason)
	}
	h.unclaim(ctx, job, "", reason)
	return false, nil
}

// lookup finds msg in the recipient's conversation: found means it was sent.
// The wamid is empty when the provider lists the message without one; the
// entry that proves the send is then recorded on the delivery, and the
// status poller tracks it from that entry (a delivery found this way must
// be marked sent, never sent again).
func (h *SendHandler) lookup(ctx context.Context, s Sender, job Job, msg templates.Message) (string, bool, error) {
	conv, err := s.Conversation(ctx, job.Phone, h.opts.ConversationLimit)
	if err != nil {
		return "", false, err
	}
	scope := scopeOf(job.Account, job.Phone)
	c, found, err := matchSent(ctx, h.store, conv, msg, job.ConvMark, scope)
	if err != nil || !found {
		return "", false, err
	}
	if c.WAMID == "" {
		if err := recordEntry(ctx, h.store, job.ID, scope, c); err != nil {
			return "", false, err
		}
	}
	return c.WAMID, true, nil
}

// matchSent picks the conversation entry (scope's) that is msg: a message
// from the business, not yet recorded on any delivery (by wamid or entry
// id), and
//   - for text and media, carrying a wamid and the same text, caption or
//     URL (newest first);
//   - for templates and bot flows, whose rendered content only the provider
//     knows, the oldest such message that was not in the conversation before
//     the send (mark), with a wamid or, when the mark records entry ids, an
//     entry id only: a newer business message is the evidence of the send
//     whether or not the provider has its wamid yet. Without a mark nothing
//     is guessed.
func matchSent(ctx context.Context, store SentLookup, conv []provider.ConversationMessage, msg templates.Message, mark []string, scope entryScope) (provider.ConversationMessage, bool, error) {
	var none provider.ConversationMessage
	var ids []string
	for _, c := range conv {
		if c.FromBot && c.WAMID != "" {
			ids = append(ids, c.WAMID)
		}
	}
	known, err := store.KnownWAMIDs(ctx, ids)
	if err != nil {
		return none, false, err
	}
	if needsMark(msg) {
		if mark == nil {
			return none, false, nil
		}
		m := readMark(mark)
		taken, err := scope.taken(ctx, store, conv)
		if err != nil {
			return none, false, err
		}
		for i := len(conv) - 1; i >= 0; i-- { // newest first: walk from the oldest
			c := conv[i]
			id := entryID(c)
			identified := c.WAMID != "" || (m.byEntry && id != "")
			free := !known[c.WAMID] && (id == "" || !taken[scope.key(id)])
			if c.FromBot && identified && free && !m.before(c) && kindMatches(c, msg) {
				return c, true, nil
			}
		}
		return none, false, nil
	}
	for _, c := range conv {
		if c.FromBot && c.WAMID != "" && !known[c.WAMID] && contentMatches(c, msg) {
			return c, true, nil
		}
	}
	return none, false, nil
}

// kindMatches rules out conversation entries that cannot be msg: for a
// template, content that is a Meta message of another type (a chatbot's
// text reply, say). Content that is not JSON, or has no type, is not ruled
// out.
func kindMatches(c provider.ConversationMessage, m templates.Message) bool {
	if m.Kind != templates.KindTemplate {
		return true
	}
	var v struct {
		Type string `json:"type"`
	}
	if json.Unmarshal([]byte(c.Content), &v) != nil || v.Type == "" {
		return true
	}
	return v.Type == "template"
}

// contentMatches reports whether a conversation entry carries a text or
// media msg: text compared exactly, media by caption or URL.
func contentMatches(c provider.ConversationMessage, m templates.Message) bool {
	norm := func(s string) string { return strings.TrimSpace(s) }
	switch m.Kind {
	case templates.KindText:
		return norm(c.Text) == norm(m.Text)
	case templates.KindMedia:
		if m.Media.Caption != "" && norm(c.Text) == norm(m.Media.Caption) {
			return true
		}
		return strings.Contains(c.Content, m.Media.URL) || strings.Contains(c.Content, strings.ReplaceAll(m.Media.URL, "/", `\/`))
	}
	return false
}
