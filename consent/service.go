package consent

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Store is what operating the suppression list needs from persistence
// (store.DB satisfies it).
type Store interface {
	// Suppress puts entries on their lists (one already there keeps its
	// first reason) and ends the active enrollments of people opted out
	// of everything.
	Suppress(ctx context.Context, entries []Entry, now time.Time) (SuppressResult, error)
	// Unsuppress takes phone's entries of scope ("" = every scope) off
	// lists and returns how many it removed.
	Unsuppress(ctx context.Context, lists []string, phone, scope string) (int, error)
	// Suppressions calls fn for each entry of lists (every list when
	// empty), by list, phone and scope.
	Suppressions(ctx context.Context, lists []string, fn func(Entry) error) error
	// OptOutAccounts returns every account, by name.
	OptOutAccounts(ctx context.Context) ([]Account, error)
}

// Service is what operators (the CLI, and the HTTP API once there is one)
// do with the suppression list.
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

// ErrNoAccount: the account named is not applied, or none was named and
// there is not exactly one.
var ErrNoAccount = errors.New("no such account")

// Account returns the account named name; with name "", the only account
// there is.
func (s *Service) Account(ctx context.Context, name string) (Account, error) {
	as, err := s.store.OptOutAccounts(ctx)
	if err != nil {
		return Account{}, err
	}
	names := make([]string, len(as))
	for i, a := range as {
		if a.Name == name || (name == "" && len(as) == 1) {
			return a, nil
		}
		names[i] = a.Name
	}
	switch {
	case len(as) == 0:
		return Account{}, fmt.Errorf("%w: none is applied yet (scheduler apply -f campaigns/)", ErrNoAccount)
	case name == "":
		return Account{}, fmt.Errorf("%w: name one with --account (%s)", ErrNoAccount, strings.Join(names, ", "))
	}
	return Account{}, fmt.Errorf("%w: %q (the accounts are %s)", ErrNoAccount, name, strings.Join(names, ", "))
}

// Add puts entries on a's list (the portfolio's, when a has one), with
// source and, for an entry without one, the time now.
func (s *Service) Add(ctx context.Context, a Account, source string, entries []Entry) (SuppressResult, error) {
	now := s.now()
	for i := range entries {
		entries[i].List, entries[i].Source = a.List(), source
		if !ValidScope(entries[i].Scope) {
			return SuppressResult{}, fmt.Errorf("scope %q: want %s", entries[i].Scope, strings.Join(Scopes, " or "))
		}
	}
	return s.store.Suppress(ctx, entries, now)
}

// Remove takes phone off every list a's sends check: its entries of scope
// ("" = every scope), whatever their source.
func (s *Service) Remove(ctx context.Context, a Account, phone, scope string) (int, error) {
	if scope != "" && !ValidScope(scope) {
		return 0, fmt.Errorf("scope %q: want %s", scope, strings.Join(Scopes, " or "))
	}
	return s.store.Unsuppress(ctx, a.Lists(), phone, scope)
}

// List calls fn for each entry on the lists a's sends check, or on every
// list when a is nil.
func (s *Service) List(ctx context.Context, a *Account, fn func(Entry) error) error {
	var lists []string
	if a != nil {
		lists = a.Lists()
	}
	return s.store.Suppressions(ctx, lists, fn)
}
