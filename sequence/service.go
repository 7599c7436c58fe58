package sequence

import (
	"context"
	"fmt"
	"time"

	"github.com/wacamp/wacamp/delivery"
)

// Store is what running sequences needs from persistence (store.DB
// satisfies it): enrolling and ending enrollments, each carrying out the
// sequence's rules atomically, and reading what a sequence did.
type Store interface {
	// Enroll starts the named sequence for each person and plans their
	// first step (Spec.Start); someone already active, or done with a
	// sequence that lets nobody re-enter, is skipped.
	Enroll(ctx context.Context, name string, people []Enrollee, now time.Time) (EnrollResult, error)
	// Unenroll ends phone's active enrollment in the named sequence and
	// skips its pending steps; false when there was none.
	Unenroll(ctx context.Context, name, phone, reason string, now time.Time) (bool, error)
	// Exit ends, as exited, phone's active enrollments in every sequence
	// that exits on event (Spec.Exits) and returns those sequences.
	Exit(ctx context.Context, phone, event string, now time.Time) ([]string, error)
	// SequenceSpec returns the current version of the named sequence.
	SequenceSpec(ctx context.Context, name string) (id int64, version int, spec Spec, err error)
	// SequenceAccount returns the account the named sequence sends from.
	SequenceAccount(ctx context.Context, name string) (delivery.Account, error)
	// SequenceReport reports on the named sequence.
	SequenceReport(ctx context.Context, name string) (Report, error)
	// ExportSequence calls fn for each step delivery of the named sequence.
	ExportSequence(ctx context.Context, name string, fn func(Row) error) error
	// SequenceNames lists the sequences by name.
	SequenceNames(ctx context.Context) ([]string, error)
}

// Service is what operators (the CLI, and through it other programs) do
// with sequences: enroll and end enrollments, and see where they are.
type Service struct {
	store Store
	now   func() time.Time
}

// NewService returns a Service over store; now nil means time.Now.
func NewService(store Store, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{store: store, now: now}
}

// Enroll enrolls people in the named sequence.
func (s *Service) Enroll(ctx context.Context, name string, people []Enrollee) (EnrollResult, error) {
	return s.store.Enroll(ctx, name, people, s.now())
}

// Unenroll ends phone's active enrollment in the named sequence; false when
// there was none.
func (s *Service) Unenroll(ctx context.Context, name, phone, reason string) (bool, error) {
	return s.store.Unenroll(ctx, name, phone, reason, s.now())
}

// Exit reports an event about phone: every active enrollment in a sequence
// that exits on it ends. It returns those sequences.
func (s *Service) Exit(ctx context.Context, phone, event string) ([]string, error) {
	if event != "reply" && event != "unsubscribe" {
		return nil, fmt.Errorf("exit on %q: the events are reply and unsubscribe", event)
	}
	return s.store.Exit(ctx, phone, event, s.now())
}

// Target returns the current version of the named sequence and the
// account it sends from: what checking people before enrolling them needs.
func (s *Service) Target(ctx context.Context, name string) (Spec, delivery.Account, error) {
	_, _, spec, err := s.store.SequenceSpec(ctx, name)
	if err != nil {
		return Spec{}, delivery.Account{}, err
	}
	acct, err := s.store.SequenceAccount(ctx, name)
	return spec, acct, err
}

// Report reports on the named sequence.
func (s *Service) Report(ctx context.Context, name string) (Report, error) {
	return s.store.SequenceReport(ctx, name)
}

// Reports reports on every sequence, by name.
func (s *Service) Reports(ctx context.Context) ([]Report, error) {
	names, err := s.store.SequenceNames(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Report, 0, len(names))
	for _, n := range names {
		r, err := s.store.SequenceReport(ctx, n)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// Export calls fn for each step delivery of the named sequence.
func (s *Service) Export(ctx context.Context, name string, fn func(Row) error) error {
	return s.store.ExportSequence(ctx, name, fn)
}
