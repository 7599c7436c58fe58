package campaign

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/localtime"
	"github.com/wacamp/wacamp/throttle"
)

// Service is the operator's view of broadcasts: lifecycle verbs, status and
// export. Its verbs take effect across the whole fleet at once: handlers
// check the broadcast's state in the same statement that claims a delivery.
type Service struct {
	store   ServiceStore
	tasks   Tasks
	budgets BudgetReader
	opts    delivery.Options
}

// BudgetReader reads a unique-recipient budget's use (throttle.Recipients
// satisfies it).
type BudgetReader interface {
	Usage(ctx context.Context, ledger string, window time.Duration, now time.Time) (throttle.Usage, error)
}

// UseBudgets lets Status report the account's unique-recipient budget.
func (s *Service) UseBudgets(b BudgetReader) { s.budgets = b }

// NewService returns a Service. The Queue is not used any more (cancel
// planned the whole audience through a feeder of its own before
// broadcasts were planned as they send); it stays for the callers.
func NewService(store ServiceStore, _ Queue, tasks Tasks, opts delivery.Options) *Service {
	return &Service{store: store, tasks: tasks, opts: opts.WithDefaults()}
}

// Pause stops a scheduled or running broadcast: nothing new starts, in-flight
// sends finish. Its queued tasks are deleted and their deliveries planned
// again under a new generation.
func (s *Service) Pause(ctx context.Context, name string) (Broadcast, error) {
	b, err := s.transition(ctx, name, Lifecycle[MovePause].From, Lifecycle[MovePause].To, "paused by operator")
	if err != nil {
		return b, err
	}
	refs, err := s.store.Unqueue(ctx, b.ID, s.opts.Now())
	if err != nil {
		return b, err
	}
	deleteSendTasks(s.tasks, refs)
	return b, nil
}

// Resume continues a paused broadcast where it stopped. Deliveries already
// sent are never sent again.
func (s *Service) Resume(ctx context.Context, name string) (Broadcast, error) {
	b, err := s.store.BroadcastByName(ctx, name)
	if err != nil {
		return b, err
	}
	if !slices.Contains(Lifecycle[MoveResume].From, b.Status) {
		return b, fmt.Errorf("broadcast %q is %s, not paused: %w", name, b.Status, ErrInvalidTransition)
	}
	// Deliveries a handler left queued while the broadcast was paused go
	// back to planned so the feeder sends them again.
	refs, err := s.store.Unqueue(ctx, b.ID, s.opts.Now())
	if err != nil {
		return b, err
	}
	deleteSendTasks(s.tasks, refs)
	to := Lifecycle[MoveResume].To
	if b.StartedAt == nil {
		to = StatusScheduled // it never started: its start_at decides
	}
	return s.transition(ctx, name, Lifecycle[MoveResume].From, to, "")
}

// Cancel stops a broadcast for good: its queued tasks are deleted and every
// delivery not yet handed to the provider is marked skipped, as is every
// recipient not planned yet.
func (s *Service) Cancel(ctx context.Context, name string) (Broadcast, error) {
	b, err := s.store.BroadcastByName(ctx, name)
	if err != nil {
		return b, err
	}
	if b.Status.Final() {
		return b, fmt.Errorf("broadcast %q is already %s: %w", name, b.Status, ErrInvalidTransition)
	}
	if b.Status == StatusRecurring {
		// A recurring broadcast never sends itself: cancelling it stops
		// future occurrences; those already created are broadcasts of
		// their own.
		return s.transition(ctx, name, Lifecycle[MoveStopRecurring].From, Lifecycle[MoveStopRecurring].To, "cancelled by operator: no more occurrences")
	}
	b, err = s.transition(ctx, name, Lifecycle[MoveCancel].From, Lifecycle[MoveCancel].To, "cancelled by operator")
	if err != nil {
		return b, err
	}
	refs, err := s.store.FinishPending(ctx, b.ID, delivery.Skipped, "broadcast cancelled", s.opts.Now())
	if err != nil {
		return b, err
	}
	deleteSendTasks(s.tasks, refs)
	return b, nil
}

func (s *Service) transition(ctx context.Context, name string, from []Status, to Status, reason string) (Broadcast, error) {
	b, err := s.store.BroadcastByName(ctx, name)
	if err != nil {
		return b, err
	}
	ok, err := s.store.SetStatus(ctx, b.ID, from, to, reason, s.opts.Now())
	if err != nil {
		return b, err
	}
	if !ok {
		if b.Status == to {
			return b, fmt.Errorf("broadcast %q is already %s: %w", name, to, ErrInvalidTransition)
		}
		return b, fmt.Errorf("broadcast %q is %s; cannot move to %s: %w", name, b.Status, to, ErrInvalidTransition)
	}
	return s.store.BroadcastByName(ctx, name)
}

// Report is a broadcast's progress, as `scheduler status` shows it.
type Report struct {
	Name       string         `json:"name"`
	Status     Status         `json:"status"`
	Reason     string         `json:"reason,omitempty"`
	Account    string         `json:"account"`
	StartAt    time.Time      `json:"start_at"`
	StartedAt  *time.Time     `json:"started_at,omitempty"`
	FinishedAt *time.Time     `json:"finished_at,omitempty"`
	Recipients int            `json:"recipients"`
	Duplicates int            `json:"duplicates_removed"`
	Counts     map[string]int `json:"counts"`
	// MarketingCapRefused counts the deliveries Meta refused under its own
	// per-user marketing limit (failed, code 131049): the frequency cap's
	// count beside the skipped ones (Skips[delivery.ReasonFrequencyCap]).
	MarketingCapRefused int `json:"marketing_cap_refused,omitempty"`
	// Handed is how many deliveries the provider accepted or that ended
	// otherwise (failed, skipped, expired); Total is the audience size.
	Handed int `json:"handed"`
	Total  int `json:"total"`
	// Rate is sends per second over the last 10 s; ETA the time left at
	// that rate (or the account's rate) while sending; nil when idle.
	Rate          float64  `json:"rate_per_second"`
	ConfiguredMax float64  `json:"max_rate_per_second"`
	ETASeconds    *float64 `json:"eta_seconds,omitempty"`
	// Budget is the account's unique-recipient budget, when it has one.
	Budget *BudgetReport `json:"budget,omitempty"`
	// Settle counts the deliveries whose send outcome was unknown, by how
	// it is being settled: SettleAwaiting, SettleSettled (from the
	// provider's webhooks), SettleResent (sent again); empty when none.
	Settle map[string]int `json:"settle,omitempty"`
	// LocalTime, Date and Window say when a zoned broadcast reaches each
	// recipient in their zone; Zones is its progress by zone, earliest
	// due first. Empty for a broadcast sent to everyone from its start.
	LocalTime string       `json:"local_time,omitempty"`
	Date      string       `json:"date,omitempty"`
	Window    string       `json:"window,omitempty"`
	Zones     []ZoneReport `json:"zones,omitempty"`
	// Skips counts the skipped deliveries that have a reason code, by it
	// (delivery.ReasonFrequencyCap, consent.ReasonOptedOut); empty when
	// none.
	Skips map[string]int `json:"skipped_by_reason,omitempty"`
}

// SkipCounter counts a broadcast's skipped deliveries per reason code
// (store.DB satisfies it); status shows them when the store offers it.
type SkipCounter interface {
	SkipCounts(ctx context.Context, broadcastID int64) (map[string]int, error)
}

// ZoneReport is one time zone of a zoned broadcast's audience, as status
// shows it.
type ZoneReport struct {
	Zone string `json:"zone"` // IANA
	// Due is when its recipients' time comes (their local time, moved into
	// the window), in UTC; Local is that time on the zone's wall clock.
	Due        time.Time `json:"due"`
	Local      string    `json:"local"`
	Recipients int       `json:"recipients"`
	// Counts are its deliveries per state, recipients not planned yet
	// counted planned (until the broadcast is over), as in Report.Counts;
	// Handed is how many were accepted or ended otherwise.
	Counts map[string]int `json:"counts"`
	Handed int            `json:"handed"`
	// State is ZoneWaiting, ZoneHeld, ZoneSending, ZoneDone or ZoneLate.
	State string `json:"state"`
}

// The states of a zone in a ZoneReport.
const (
	ZoneWaiting = "waiting" // its time has not come
	ZoneHeld    = "held"    // its time has come; its window is closed now
	ZoneSending = "sending" // its time has come; not all of it is handed on yet
	ZoneDone    = "done"    // every recipient handed on (or the broadcast is over)
	ZoneLate    = "late"    // its time comes after the deadline: it will expire
)

// SettleCounter counts a broadcast's deliveries per settle state (store.DB
// satisfies it); status shows them when the store offers it.
type SettleCounter interface {
	SettleCounts(ctx context.Context, broadcastID int64) (map[string]int, error)
}

// BudgetReport is the state of a rolling 24 h unique-recipient budget.
type BudgetReport struct {
	Ledger string `json:"ledger"` // "account:NAME" or "portfolio:NAME"
	Limit  int    `json:"limit"`
	Used   int    `json:"used"`
	// Full means sends to recipients not counted yet wait for room.
	Full bool `json:"full"`
	// NextRoom is when the oldest counted recipient leaves the window.
	NextRoom *time.Time `json:"next_room,omitempty"`
	// Error says why the budget could not be read (Redis unreachable).
	Error string `json:"error,omitempty"`
}

// MarketingCapCounter counts a broadcast's deliveries refused under Meta's
// per-user marketing limit (store.DB satisfies it).
type MarketingCapCounter interface {
	MarketingCapRefusals(ctx context.Context, broadcastID int64) (int, error)
}

// Status reports a broadcast's progress.
func (s *Service) Status(ctx context.Context, name string) (Report, error) {
	b, err := s.store.BroadcastByName(ctx, name)
	if err != nil {
		return Report{}, err
	}
	a, err := s.store.Account(ctx, b.AccountID)
	if err != nil {
		return Report{}, err
	}
	counts, err := s.store.CountByStatus(ctx, b.ID)
	if err != nil {
		return Report{}, err
	}
	r := Report{Name: b.Name, Status: b.Status, Reason: b.Reason, Account: a.Name, StartAt: b.StartAt,
		StartedAt: b.StartedAt, FinishedAt: b.FinishedAt, Recipients: b.RecipientCount, Duplicates: b.Duplicates,
		Counts: make(map[string]int, len(delivery.Statuses)), Total: b.RecipientCount, ConfiguredMax: a.RatePerSecond}
	planned := 0
	for _, st := range delivery.Statuses {
		r.Counts[string(st)] = counts[st]
		planned += counts[st]
		if !st.Pending() {
			r.Handed += counts[st]
		}
	}
	if planned < b.RecipientCount && !b.Status.Final() {
		// Not planned yet: the whole audience is waiting.
		r.Counts[string(delivery.Planned)] += b.RecipientCount - planned
	}
	if mc, ok := s.store.(MarketingCapCounter); ok && counts[delivery.Failed] > 0 {
		if r.MarketingCapRefused, err = mc.MarketingCapRefusals(ctx, b.ID); err != nil {
			return Report{}, err
		}
	}
	if sc, ok := s.store.(SettleCounter); ok {
		if r.Settle, err = sc.SettleCounts(ctx, b.ID); err != nil {
			return Report{}, err
		}
	}
	if sc, ok := s.store.(SkipCounter); ok {
		if r.Skips, err = sc.SkipCounts(ctx, b.ID); err != nil {
			return Report{}, err
		}
	}
	if b.Timing.Zoned() {
		if err := s.zoneReport(ctx, b, &r); err != nil {
			return Report{}, err
		}
	}
	const span = 10 * time.Second
	n, err := s.store.SentSince(ctx, b.ID, s.opts.Now().Add(-span))
	if err != nil {
		return Report{}, err
	}
	r.Rate = float64(n) / span.Seconds()
	if a.DailyUniqueLimit > 0 && s.budgets != nil {
		r.Budget = &BudgetReport{Ledger: a.Ledger(), Limit: a.DailyUniqueLimit}
		// The budget lives in Redis; without it the rest is still worth
		// showing.
		if u, err := s.budgets.Usage(ctx, a.Ledger(), delivery.BudgetWindow, s.opts.Now()); err != nil {
			r.Budget.Error = err.Error()
		} else {
			r.Budget.Used, r.Budget.Full = u.Used, u.Used >= a.DailyUniqueLimit
			if !u.NextRoom.IsZero() {
				r.Budget.NextRoom = &u.NextRoom
			}
		}
	}
	if left := r.Total - r.Handed; left > 0 && b.Status == StatusRunning {
		rate := r.Rate
		if rate == 0 {
			rate = a.RatePerSecond
		}
		eta := float64(left) / rate
		// A zoned broadcast ends no sooner than its last zone's time and
		// that zone's recipients at the rate.
		if n := len(r.Zones); n > 0 {
			last := r.Zones[n-1]
			wait := last.Due.Sub(s.opts.Now()).Seconds() + float64(last.Recipients-last.Handed)/rate
			eta = max(eta, wait)
		}
		r.ETASeconds = &eta
	}
	return r, nil
}

// zoneReport fills in r's timing and progress by zone, for a zoned
// broadcast.
func (s *Service) zoneReport(ctx context.Context, b Broadcast, r *Report) error {
	zones, err := s.store.Zones(ctx, b.ID)
	if err != nil {
		return err
	}
	r.LocalTime, r.Date = b.Timing.LocalTime, b.Timing.Date
	if w := b.Timing.Window; !w.Always() {
		r.Window = w.String()
	}
	now := s.opts.Now()
	for _, z := range zones {
		loc := localtime.AccountZone(z.Name)
		due := b.Timing.Due(b.StartAt, loc)
		zr := ZoneReport{Zone: z.Name, Due: due, Local: due.In(loc).Format("Mon 2006-01-02 15:04 MST"),
			Recipients: z.Recipients, Counts: make(map[string]int, len(delivery.Statuses))}
		planned := 0
		for _, st := range delivery.Statuses {
			zr.Counts[string(st)] = z.Counts[st]
			planned += z.Counts[st]
			if !st.Pending() {
				zr.Handed += z.Counts[st]
			}
		}
		if planned < z.Recipients && !b.Status.Final() {
			zr.Counts[string(delivery.Planned)] += z.Recipients - planned
		}
		switch sb := b.SendBy(); {
		case zr.Handed >= z.Recipients || b.Status.Final():
			zr.State = ZoneDone
		case !sb.IsZero() && due.After(sb):
			zr.State = ZoneLate
		case due.After(now):
			zr.State = ZoneWaiting
		case !b.Timing.Window.Open(now, loc):
			zr.State = ZoneHeld
		default:
			zr.State = ZoneSending
		}
		r.Zones = append(r.Zones, zr)
	}
	slices.SortStableFunc(r.Zones, func(a, b ZoneReport) int { return cmp.Or(a.Due.Compare(b.Due), cmp.Compare(a.Zone, b.Zone)) })
	return nil
}

// Export calls fn for every delivery of the broadcast, in id order.
func (s *Service) Export(ctx context.Context, name string, fn func(delivery.Row) error) error {
	b, err := s.store.BroadcastByName(ctx, name)
	if err != nil {
		return err
	}
	return s.store.Export(ctx, b.ID, fn)
}

// All reports every broadcast.
func (s *Service) All(ctx context.Context) ([]Report, error) {
	bs, err := s.store.BroadcastsIn(ctx, StatusDraft, StatusScheduled, StatusRunning, StatusPaused, StatusCompleted, StatusCancelled, StatusFailed, StatusRecurring)
	if err != nil {
		return nil, err
	}
	out := make([]Report, 0, len(bs))
	for _, b := range bs {
		r, err := s.Status(ctx, b.Name)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}
