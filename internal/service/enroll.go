package service

import (
	"context"
	"errors"
	"fmt"
	"iter"

	"github.com/wacamp/wacamp/provider/drivers"
	"github.com/wacamp/wacamp/sequence"
	"github.com/wacamp/wacamp/spec"
)

// EnrollBatch is how many people one enroll transaction takes.
const EnrollBatch = 1000

// PeopleRefused is an enroll refused because some people could not be
// sent a step of the sequence (a variable without a value, a name the
// provider requires): they would fail days later. Enrolled is how many
// were enrolled before the problem was found (0 unless the people
// changed between the check and their enrollment, Changed).
type PeopleRefused struct {
	Sequence string
	Problems []spec.Problem
	Enrolled int
	Changed  bool
}

func (e *PeopleRefused) Error() string {
	if e.Changed {
		return fmt.Sprintf("the people changed since they were checked: %d problem(s); %d were enrolled before this", len(e.Problems), e.Enrolled)
	}
	return fmt.Sprintf("sequence %s: %d problem(s); nobody was enrolled", e.Sequence, len(e.Problems))
}

// EnrollOptions are the optional parts of an enroll.
type EnrollOptions struct {
	// Count is how many people there are (for Progress); 0 if unknown.
	Count int
	// Progress is told how many were enrolled after each batch.
	Progress func(enrolled, count int)
}

// Enroll starts the sequence named name for people, a batch of
// EnrollBatch at a time. Everyone is checked against the sequence's
// current version first (spec.CheckPeople), and each batch again as it is
// enrolled (a file edited meanwhile never enrolls anyone the check would
// refuse): a refusal is a *PeopleRefused. Someone already active (or
// finished, in a sequence that does not re-enter) is skipped, so enrolling
// the same people again changes nothing. people is called twice: it must
// yield the same people each time.
func (s *Service) Enroll(ctx context.Context, name string, people func(context.Context) iter.Seq2[spec.Person, error], opts EnrollOptions) (sequence.EnrollResult, error) {
	var total sequence.EnrollResult
	seq, acct, err := s.Sequences.Target(ctx, name)
	if err != nil {
		return total, err
	}
	check := func(ps iter.Seq2[spec.Person, error], enrolled int, changed bool) error {
		err := spec.CheckPeople(seq, drivers.Catalog{}, acct.Provider, ps)
		var ve *spec.ValidationError
		if errors.As(err, &ve) {
			return &PeopleRefused{Sequence: name, Problems: ve.Problems, Enrolled: enrolled, Changed: changed}
		}
		return err
	}
	if err := check(people(ctx), 0, false); err != nil {
		return total, err
	}
	var batch []spec.Person
	enrolled := 0
	enroll := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := check(spec.Persons(batch...), enrolled, true); err != nil {
			return err
		}
		enrollees := make([]sequence.Enrollee, len(batch))
		for i, p := range batch {
			enrollees[i] = sequence.Enrollee{Phone: p.Phone, Name: p.Name, Vars: p.Vars}
		}
		res, err := s.Sequences.Enroll(ctx, name, enrollees)
		if err != nil {
			return err
		}
		total.Enrolled += res.Enrolled
		total.Skipped += res.Skipped
		total.OptedOut += res.OptedOut
		enrolled += len(batch)
		batch = batch[:0]
		if opts.Progress != nil {
			opts.Progress(enrolled, opts.Count)
		}
		return nil
	}
	for p, err := range people(ctx) {
		if err != nil {
			if enrolled > 0 {
				return total, fmt.Errorf("%w (%d of %d people were enrolled before this)", err, enrolled, opts.Count)
			}
			return total, err
		}
		if len(batch) == EnrollBatch {
			if err := enroll(); err != nil {
				return total, err
			}
		}
		batch = append(batch, p)
	}
	return total, enroll()
}

// Unenroll ends phone's active enrollment in the sequence; false when
// there was none (nothing changed).
func (s *Service) Unenroll(ctx context.Context, name, phone, reason string) (bool, error) {
	return s.Sequences.Unenroll(ctx, name, phone, reason)
}

// Exit reports an event (sequence.ExitReply, …) about phone: every active
// enrollment in a sequence that exits on it ends. It returns the
// sequences exited.
func (s *Service) Exit(ctx context.Context, phone, event string) ([]string, error) {
	return s.Sequences.Exit(ctx, phone, event)
}
