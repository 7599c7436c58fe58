// Package service is what an operator can do with wacamp, whoever asks:
// the `scheduler` commands (internal/cli) and the HTTP API
// (internal/api) call it, so validation, apply, status, export, the
// lifecycle verbs, retry-failed and enrollment mean the same thing on
// both. It holds no printing and no HTTP: results are values.
package service

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hibiken/asynq"

	"github.com/wacamp/wacamp/campaign"
	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/internal/app"
	"github.com/wacamp/wacamp/sequence"
	"github.com/wacamp/wacamp/store"
	"github.com/wacamp/wacamp/throttle"
)

// Service is the operator's verbs over one store (and Redis, for the
// lifecycle verbs and the budgets status shows).
type Service struct {
	// Getenv resolves ${VAR} references and secrets in campaign files.
	Getenv func(string) string
	// Now is the clock start times and deadlines are judged by; nil is
	// time.Now.
	Now func() time.Time
	// Store is nil for a service that only validates.
	Store     *store.DB
	Campaigns *campaign.Service
	Sequences *sequence.Service

	// What a test send goes through: the number's departure slots, the
	// recipient limits, the account's provider client.
	fleet      *throttle.Fleet
	recipients *throttle.Recipients
	senders    delivery.Senders
}

// ErrNotFound: no broadcast or sequence by that name.
var ErrNotFound = campaign.ErrNotFound

// New returns the service over conns (nil conns: validation only).
// asynq's client and inspector are opened on conns' Redis; close them
// with the returned function.
func New(conns *app.Conns, getenv func(string) string, now func() time.Time) (*Service, func()) {
	s := &Service{Getenv: getenv, Now: now}
	if conns == nil {
		return s, func() {}
	}
	client := asynq.NewClient(conns.Redis)
	insp := asynq.NewInspector(conns.Redis)
	s.Store = conns.Store
	s.Campaigns = campaign.NewService(conns.Store, client, insp, delivery.Options{Now: s.now})
	if conns.RedisClient != nil {
		s.recipients = throttle.NewRecipients(conns.RedisClient)
		s.fleet = throttle.NewFleet(conns.RedisClient)
		s.Campaigns.UseBudgets(s.recipients)
	}
	s.senders = &app.Senders{Getenv: getenv}
	s.Sequences = sequence.NewService(conns.Store, nil)
	return s, func() { _ = client.Close(); _ = insp.Close() }
}

// Clock is the service's clock (Now, or time.Now).
func (s *Service) Clock() time.Time { return s.now() }

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Kind says whether a name is a broadcast or a sequence.
type Kind string

// The kinds of campaign a name may be.
const (
	KindBroadcast Kind = "broadcast"
	KindSequence  Kind = "sequence"
)

// Status is the progress of one broadcast or sequence, as `scheduler
// status NAME` shows it: exactly one of Broadcast and Sequence is set.
type Status struct {
	Kind      Kind
	Broadcast *campaign.Report
	Sequence  *sequence.Report
}

// StatusOf reports the broadcast named name, or else the sequence.
func (s *Service) StatusOf(ctx context.Context, name string) (Status, error) {
	r, err := s.Campaigns.Status(ctx, name)
	if err == nil {
		return Status{Kind: KindBroadcast, Broadcast: &r}, nil
	}
	if !errors.Is(err, campaign.ErrNotFound) {
		return Status{}, err
	}
	sr, err := s.Sequences.Report(ctx, name)
	if err != nil {
		return Status{}, neither(name, err)
	}
	return Status{Kind: KindSequence, Sequence: &sr}, nil
}

// neither says that name is no broadcast and no sequence when err (the
// sequence's lookup, after the broadcast's) is ErrNotFound; it still
// wraps it.
func neither(name string, err error) error {
	if errors.Is(err, ErrNotFound) {
		return fmt.Errorf("no broadcast or sequence named %q: %w", name, ErrNotFound)
	}
	return err
}

// Export calls broadcast for every recipient of the broadcast named name
// (in recipient order; one not planned yet as planned, id 0), or else
// sequence for every (enrollment, step) of the sequence; it returns the
// kind it found. Rows are read a batch at a time: nothing is held.
func (s *Service) Export(ctx context.Context, name string, broadcast func(delivery.Row) error, sequence func(sequence.Row) error) (Kind, error) {
	err := s.Campaigns.Export(ctx, name, broadcast)
	if !errors.Is(err, campaign.ErrNotFound) {
		return KindBroadcast, err
	}
	return KindSequence, neither(name, s.Sequences.Export(ctx, name, sequence))
}

// Verb is a lifecycle verb of a broadcast.
type Verb string

// The lifecycle verbs.
const (
	Pause  Verb = "pause"
	Resume Verb = "resume"
	Cancel Verb = "cancel"
)

// Lifecycle pauses, resumes or cancels the broadcast named name, across
// the fleet (see campaign.Service).
func (s *Service) Lifecycle(ctx context.Context, verb Verb, name string) (campaign.Broadcast, error) {
	switch verb {
	case Pause:
		return s.Campaigns.Pause(ctx, name)
	case Resume:
		return s.Campaigns.Resume(ctx, name)
	case Cancel:
		return s.Campaigns.Cancel(ctx, name)
	}
	return campaign.Broadcast{}, fmt.Errorf("unknown verb %q", verb)
}

// RetryFailed plans again the broadcast's failed deliveries that may be
// sent again (campaign.Service.RetryFailed).
func (s *Service) RetryFailed(ctx context.Context, name string) (campaign.RetryResult, error) {
	return s.Campaigns.RetryFailed(ctx, name)
}

// DeliveryPage is one page of a broadcast's deliveries; Next is the
// cursor of the next page (0: none).
type DeliveryPage struct {
	Deliveries []delivery.Row `json:"deliveries"`
	Next       int64          `json:"next,omitempty"`
}

// MaxPage is the most deliveries one page holds.
const MaxPage = 1000

// Deliveries returns a page of at most limit (at most MaxPage) of the
// broadcast's deliveries after the cursor after (0: from the first),
// filtered by f, in id order, each with its outcome.
func (s *Service) Deliveries(ctx context.Context, name string, f store.DeliveryFilter, after int64, limit int) (DeliveryPage, error) {
	b, err := s.Store.BroadcastByName(ctx, name)
	if err != nil {
		return DeliveryPage{}, err
	}
	limit = min(max(limit, 1), MaxPage)
	rows, err := s.Store.Deliveries(ctx, b.ID, f, after, limit)
	if err != nil {
		return DeliveryPage{}, err
	}
	p := DeliveryPage{Deliveries: rows}
	if p.Deliveries == nil {
		p.Deliveries = []delivery.Row{}
	}
	if len(rows) == limit {
		p.Next = rows[len(rows)-1].ID
	}
	return p, nil
}

// StepPage is one page of a sequence's deliveries; Next is the cursor of
// the next page ("": none).
type StepPage struct {
	Deliveries []store.StepDelivery `json:"deliveries"`
	Next       string               `json:"next,omitempty"`
}

// SequenceDeliveries returns a page of at most limit (at most MaxPage) of
// the sequence's planned (enrollment, step) deliveries after the cursor
// after ("": from the first), filtered by f, in enrollment then step
// order, each with its outcome.
func (s *Service) SequenceDeliveries(ctx context.Context, name string, f store.DeliveryFilter, after string, limit int) (StepPage, error) {
	var cur store.StepCursor
	if after != "" {
		e, st, ok := strings.Cut(after, ".")
		var err1, err2 error
		cur.Enrollment, err1 = strconv.ParseInt(e, 10, 64)
		cur.Step, err2 = strconv.Atoi(st)
		if !ok || err1 != nil || err2 != nil || cur.Enrollment < 0 || cur.Step < 0 {
			return StepPage{}, &InputError{Msg: "after: want the next cursor of the previous page"}
		}
	}
	id, _, _, err := s.Store.SequenceSpec(ctx, name)
	if err != nil {
		return StepPage{}, err
	}
	limit = min(max(limit, 1), MaxPage)
	rows, err := s.Store.SequenceDeliveries(ctx, id, f, cur, limit)
	if err != nil {
		return StepPage{}, err
	}
	p := StepPage{Deliveries: nonNil(rows)}
	if len(rows) == limit {
		last := rows[len(rows)-1]
		p.Next = fmt.Sprintf("%d.%d", last.Enrollment, last.Step)
	}
	return p, nil
}
