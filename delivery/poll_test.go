package delivery_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/campaign"
	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/internal/app"
	"github.com/wacamp/wacamp/internal/testclock"
	"github.com/wacamp/wacamp/internal/testenv"
	"github.com/wacamp/wacamp/provider"
	"github.com/wacamp/wacamp/provider/botsailor/botsailorsim"
	"github.com/wacamp/wacamp/provider/drivers"
	"github.com/wacamp/wacamp/provider/sim"
	"github.com/wacamp/wacamp/spec"
	"github.com/wacamp/wacamp/store"
)

const (
	day   = 24 * time.Hour
	never = time.Duration(-1)
)

// life is what becomes of one message at the provider, and what tracking
// it with the default poll plan must record over its whole life.
type life struct {
	name string
	// deliver is how long after the send the message is delivered (or
	// failed, when fail); never: it stays sent. read is how long after
	// the delivery it is read; never: not read.
	deliver, read time.Duration
	fail          bool
	// template sends a template (whose answer names no wamid); listAfter
	// is how long the conversation takes to list it, noWAMIDFor how long
	// it is listed without its wamid (never: for good; 0: listed with it).
	template              bool
	listAfter, noWAMIDFor time.Duration
	// failReadCheck makes the provider's answer to the message's second
	// get/message-status call an error.
	failReadCheck bool

	polls     int             // status polls over the message's life
	calls     int             // of them, get/message-status calls the provider answered
	status    delivery.Status // where it ends
	readAt    bool            // read_at recorded
	wantWAMID bool            // its wamid recorded
}

var lives = []life{
	// A recipient who is online: the first poll (+1 min) finds it
	// delivered, the read check 48 h later is the last poll.
	{name: "online, never read", deliver: 5 * time.Second, read: never, polls: 2, calls: 2, status: delivery.Delivered, wantWAMID: true},
	{name: "online, read 47 h after delivery", deliver: 5 * time.Second, read: 47 * time.Hour, polls: 2, calls: 2, status: delivery.Read, readAt: true, wantWAMID: true},
	{name: "online, read 60 h after delivery: given up", deliver: 5 * time.Second, read: 60 * time.Hour, polls: 2, calls: 2, status: delivery.Delivered, wantWAMID: true},
	{name: "read at once (delivered skipped)", deliver: 5 * time.Second, read: 0, polls: 1, calls: 1, status: delivery.Read, readAt: true, wantWAMID: true},
	{name: "failed at once", deliver: 5 * time.Second, read: never, fail: true, polls: 1, calls: 1, status: delivery.Failed, wantWAMID: true},
	{name: "read check unanswered, tried again", deliver: 5 * time.Second, read: 47 * time.Hour, failReadCheck: true, polls: 3, calls: 2, status: delivery.Read, readAt: true, wantWAMID: true},
	// A phone that is offline: the first poll finds it sent, the next one
	// (+24 h) too or delivered; the last comes 48 h after that.
	{name: "offline 10 h, read 47 h after delivery", deliver: 10 * time.Hour, read: 47 * time.Hour, polls: 3, calls: 3, status: delivery.Read, readAt: true, wantWAMID: true},
	{name: "offline 30 h, read 30 h after delivery", deliver: 30 * time.Hour, read: 30 * time.Hour, polls: 3, calls: 3, status: delivery.Read, readAt: true, wantWAMID: true},
	{name: "offline 30 h, never read", deliver: 30 * time.Hour, read: never, polls: 3, calls: 3, status: delivery.Delivered, wantWAMID: true},
	{name: "offline 5 days: delivered after the last poll", deliver: 5 * day, read: never, polls: 3, calls: 3, status: delivery.Sent, wantWAMID: true},
	{name: "never delivered", deliver: never, read: never, polls: 3, calls: 3, status: delivery.Sent, wantWAMID: true},
	// Templates, whose send answers name no wamid: finding the message in
	// the conversation is part of a poll, within the same budget.
	{name: "template listed late: the first poll finds its wamid", template: true, listAfter: 30 * time.Second,
		deliver: 5 * time.Second, read: 40 * time.Hour, polls: 2, calls: 2, status: delivery.Read, readAt: true, wantWAMID: true},
	{name: "template listed without wamid: status from its entry, wamid by the read check", template: true, noWAMIDFor: 36 * time.Hour,
		deliver: 5 * time.Second, read: never, polls: 2, calls: 1, status: delivery.Delivered, wantWAMID: true},
	{name: "template listed without wamid for good", template: true, noWAMIDFor: never,
		deliver: 5 * time.Second, read: 10 * time.Hour, polls: 2, calls: 0, status: delivery.Read, readAt: true},
	{name: "template listed after 2 h: found by the 24 h poll", template: true, listAfter: 2 * time.Hour,
		deliver: 5 * time.Second, read: never, polls: 3, calls: 2, status: delivery.Delivered, wantWAMID: true},
}

// TestStatusPollsOverAMessagesLife sends one message per life above with
// the default options, on a test clock, and runs every status poll as it
// falls due (moving the clock to it) until none is left and the 30 days of
// tracking are over: each message is polled exactly as often as the plan
// says (never more than delivery.MaxPolls), and a read within 48 h of its
// delivery is recorded.
func TestStatusPollsOverAMessagesLife(t *testing.T) {
	t.Parallel()
	w := newPollWorld(t, delivery.Options{})
	w.sendAll(lives)
	start := w.clk.Now()
	w.runPolls(start.Add(delivery.Options{}.WithDefaults().TrackFor + day))

	rows := w.deliveries()
	total := 0
	for i, l := range lives {
		t.Run(l.name, func(t *testing.T) {
			d := rows[i]
			require.Equal(t, l.polls, d.PollCount, "status polls over the message's life")
			require.LessOrEqual(t, d.PollCount, delivery.MaxPolls)
			require.Nil(t, d.NextPollAt, "tracking is over")
			require.Equal(t, string(l.status), d.Status)
			require.Equal(t, l.readAt, d.ReadAt != nil, "read_at recorded")
			if l.readAt {
				require.WithinDuration(t, d.SentAt.Add(l.deliver+l.read), *d.ReadAt, time.Second, "the provider's read time")
			}
			require.Equal(t, l.wantWAMID, d.Wamid != nil && *d.Wamid != "", "wamid recorded")
			if d.Wamid != nil {
				require.Equal(t, w.wamidOf(d.Phone), *d.Wamid)
			}
		})
		total += l.calls
	}
	// A poll asks get/message-status once it knows the wamid; before, it
	// reads the conversation (a template listed late, or without its
	// wamid, whose status the entry shows).
	st := w.sim.Stats()
	require.Equal(t, total, st.StatusPolls, "get/message-status calls")
	t.Logf("%d messages, %d status polls (get/message-status %d, get/conversation %d)", len(lives), w.pollsMade(), st.StatusPolls, st.ConversationCalls)
}

// pollWorld is one BotSailor account on a simulator, the engine's send and
// poll handlers on a test clock, and a Postgres store.
type pollWorld struct {
	t    *testing.T
	ctx  context.Context
	clk  *testclock.Clock
	db   *store.DB
	sim  *botsailorsim.Server
	send *delivery.SendHandler
	poll *delivery.PollHandler

	mu         sync.Mutex
	failChecks map[string]bool // phones whose read check fails
	calls      map[string]int  // get/message-status calls by wamid
}

const pollToken = "test-token-0123456789abcdef"

func newPollWorld(t *testing.T, opts delivery.Options) *pollWorld {
	t.Helper()
	w := &pollWorld{t: t, ctx: context.Background(), clk: testclock.New(time.Now().UTC().Truncate(time.Second)),
		db: testenv.NewStore(t), failChecks: map[string]bool{}, calls: map[string]int{}}
	w.sim = botsailorsim.New(botsailorsim.Options{Tokens: []string{pollToken}, Knobs: sim.Knobs{Now: w.clk.Now, Seed: 1}})
	ts := httptest.NewServer(w.sim)
	t.Cleanup(ts.Close)
	opts.Now = w.clk.Now
	senders := &flakySenders{inner: &app.Senders{Getenv: pollGetenv}, w: w}
	w.send = campaign.NewSendHandler(campaign.SendDeps{Store: w.db, Senders: senders, Limiter: noLimit{}}, opts)
	w.poll = delivery.NewPollHandler(w.db, senders, opts)
	w.apply(ts.URL + "/api/v1")
	return w
}

func pollGetenv(k string) string {
	if k == "SIM_TOKEN" {
		return pollToken
	}
	return ""
}

// apply applies an account on the simulator and two broadcasts of
// len(lives) recipients each, "text" and "tpl", starting now.
func (w *pollWorld) apply(baseURL string) {
	w.t.Helper()
	var people strings.Builder
	for i := range lives {
		fmt.Fprintf(&people, "        - {phone: \"%s\"}\n", phoneOf(i))
	}
	yaml := fmt.Sprintf(`accounts:
  - name: main
    provider: botsailor
    customer_service_window: not_enforced
    base_url: %s
    api_token: ${SIM_TOKEN}
    phone_number_id: "119060000040020"
    whatsapp_bot_id: 123
    rate_per_second: 80
broadcasts:
  - name: text
    account: main
    audience:
      recipients:
%s    message: {text: "Hello"}
  - name: tpl
    account: main
    audience:
      recipients:
%s    message: {template: {id: "313823"}}
`, baseURL, people.String(), people.String())
	path := filepath.Join(w.t.TempDir(), "polls.yaml")
	require.NoError(w.t, os.WriteFile(path, []byte(yaml), 0o600))
	b, err := spec.Load(path, pollGetenv, drivers.Catalog{})
	require.NoError(w.t, err)
	_, err = w.db.Apply(w.ctx, b, w.clk.Now())
	require.NoError(w.t, err)
}

func phoneOf(i int) string { return fmt.Sprintf("49151%08d", 100+i) }

// sendAll sends life i's message to phoneOf(i), from the broadcast of its
// kind, with the simulator set to give it that life.
func (w *pollWorld) sendAll(ls []life) {
	w.t.Helper()
	refs := map[string][]delivery.Ref{}
	for _, name := range []string{"text", "tpl"} {
		b, err := w.db.BroadcastByName(w.ctx, name)
		require.NoError(w.t, err)
		_, _, err = w.db.PlanBatch(w.ctx, b.ID, 0, 1000, w.clk.Now())
		require.NoError(w.t, err)
		ok, err := w.db.SetStatus(w.ctx, b.ID, []campaign.Status{campaign.StatusScheduled}, campaign.StatusRunning, "test", w.clk.Now())
		require.NoError(w.t, err)
		require.True(w.t, ok)
		refs[name], err = w.db.NextPlanned(w.ctx, b.ID, 1000)
		require.NoError(w.t, err)
		require.Len(w.t, refs[name], len(ls))
	}
	for i, l := range ls {
		w.sim.SetOptions(func(o *botsailorsim.Options) {
			o.DeliverAfter, o.ReadAfter, o.ReadShare, o.FailShare = l.deliver, l.read, 1, 0
			if l.deliver == 0 {
				o.DeliverAfter = time.Nanosecond // 0 would be the simulator's default
			}
			if l.read == never {
				o.ReadShare = 0
			}
			if l.fail {
				o.FailShare = 1
			}
			o.ListAfter, o.ConvNoWAMIDRate, o.ConvWAMIDAfter = l.listAfter, 0, 0
			if l.noWAMIDFor != 0 {
				o.ConvNoWAMIDRate = 1
				o.ConvWAMIDAfter = max(l.noWAMIDFor, 0)
			}
		})
		if l.failReadCheck {
			w.mu.Lock()
			w.failChecks[phoneOf(i)] = true
			w.mu.Unlock()
		}
		kind := "text"
		if l.template {
			kind = "tpl"
		}
		ref := refs[kind][i]
		p, err := json.Marshal(delivery.SendPayload{DeliveryID: ref.ID, Gen: ref.Gen})
		require.NoError(w.t, err)
		require.NoError(w.t, w.send.ProcessTask(w.ctx, asynq.NewTask(delivery.TypeSend, p)), "send %s", l.name)
		w.clk.Add(time.Second) // so that sent_at orders the messages as the lives
	}
	require.Len(w.t, w.sim.Sends(), len(ls))
}

// runPolls runs the status polls as the scheduler and a worker would: it
// moves the clock to the next one due, leases what is due and runs it,
// until no poll is due before until. The clock then reads until.
func (w *pollWorld) runPolls(until time.Time) {
	w.t.Helper()
	for {
		var next sql.NullTime
		require.NoError(w.t, w.db.Gorm().WithContext(w.ctx).Raw(`SELECT MIN(next_poll_at) FROM deliveries`).Row().Scan(&next))
		if !next.Valid || next.Time.After(until) {
			break
		}
		if next.Time.After(w.clk.Now()) {
			w.clk.Set(next.Time)
		}
		now := w.clk.Now()
		due, err := w.db.LeaseDuePolls(w.ctx, now, now.Add(5*time.Minute), 1000)
		require.NoError(w.t, err)
		for _, p := range due {
			require.NoError(w.t, w.poll.ProcessTask(w.ctx, delivery.NewPollTask(p)))
		}
	}
	w.clk.Set(until)
}

// pollRow is a deliveries row as these tests read it.
type pollRow struct {
	ID         int64
	Phone      string
	Status     string
	Wamid      *string
	SentAt     *time.Time
	ReadAt     *time.Time
	NextPollAt *time.Time
	PollCount  int
}

// deliveries returns the sent deliveries, one per life in order (of the
// broadcast its life sends from).
func (w *pollWorld) deliveries() []pollRow {
	w.t.Helper()
	var rows []pollRow
	require.NoError(w.t, w.db.Gorm().WithContext(w.ctx).Raw(`SELECT id, phone, status, wamid, sent_at, read_at, next_poll_at, poll_count
		FROM deliveries WHERE sent_at IS NOT NULL ORDER BY sent_at`).Scan(&rows).Error)
	require.Len(w.t, rows, len(lives))
	return rows
}

func (w *pollWorld) pollsMade() int {
	var n int
	require.NoError(w.t, w.db.Gorm().WithContext(w.ctx).Raw(`SELECT COALESCE(SUM(poll_count), 0) FROM deliveries`).Scan(&n).Error)
	return n
}

// wamidOf is the wamid the simulator gave the message to phone.
func (w *pollWorld) wamidOf(phone string) string {
	for _, s := range w.sim.Sends() {
		if s.Phone == phone {
			return s.WAMID
		}
	}
	return ""
}

func (w *pollWorld) failCheck(wamid string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.calls[wamid]++
	for _, s := range w.sim.Sends() {
		if s.WAMID == wamid {
			return w.failChecks[s.Phone] && w.calls[wamid] == 2
		}
	}
	return false
}

// flakySenders are the real drivers, with get/message-status failing where
// the world says.
type flakySenders struct {
	inner delivery.Senders
	w     *pollWorld
}

func (s *flakySenders) Sender(ctx context.Context, a delivery.Account) (delivery.Sender, error) {
	inner, err := s.inner.Sender(ctx, a)
	if err != nil {
		return nil, err
	}
	return flakySender{inner, s.w}, nil
}

type flakySender struct {
	delivery.Sender
	w *pollWorld
}

func (s flakySender) MessageStatus(ctx context.Context, wamid string) (provider.StatusReport, error) {
	if s.w.failCheck(wamid) {
		return provider.StatusReport{}, &provider.Error{Provider: "botsailor", Op: "message-status", HTTPStatus: 503, Class: provider.ClassTransient}
	}
	return s.Sender.MessageStatus(ctx, wamid)
}

type noLimit struct{}

func (noLimit) Wait(context.Context, string, float64) error { return nil }

// A status poll in a process without the account's credentials waits (a
// WaitError of kind account: not a failure logged once a second per
// message) and is not counted: the poll comes back, with its budget whole.
func TestPollWithoutCredentialsWaits(t *testing.T) {
	t.Parallel()
	w := newPollWorld(t, delivery.Options{})
	w.sendAll(lives)
	noCreds := delivery.NewPollHandler(w.db, &app.Senders{Getenv: func(string) string { return "" }}, delivery.Options{Now: w.clk.Now})
	var next sql.NullTime
	require.NoError(t, w.db.Gorm().WithContext(w.ctx).Raw(`SELECT MIN(next_poll_at) FROM deliveries`).Row().Scan(&next))
	require.True(t, next.Valid)
	w.clk.Set(next.Time)
	due, err := w.db.LeaseDuePolls(w.ctx, w.clk.Now(), w.clk.Now().Add(5*time.Minute), 1)
	require.NoError(t, err)
	require.Len(t, due, 1)
	err = noCreds.ProcessTask(w.ctx, delivery.NewPollTask(due[0]))
	var wait *delivery.WaitError
	require.ErrorAs(t, err, &wait)
	require.Equal(t, delivery.WaitAccount, wait.KindOf())
	require.False(t, delivery.IsFailure(err), "not logged as a failed task")
	require.ErrorContains(t, err, "SIM_TOKEN")
	for _, d := range w.deliveries() {
		require.Zero(t, d.PollCount, "no poll counted")
	}
}
