package service

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"time"

	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/provider/drivers"
	"github.com/wacamp/wacamp/spec"
	"github.com/wacamp/wacamp/templates"
)

// The estimates validation gives from the database's history (`scheduler
// validate` prints them, POST /v1/validate answers them): how many of a
// broadcast's recipients its account's frequency cap would skip, and how
// many of a broadcast's recipients (a sequence's people enrolled now) are
// inside the 24-hour customer-service window. They only read the
// database, and never call a provider.

// estimateChunk is how many phones one estimate statement weighs: memory
// stays bounded whatever the audience.
const estimateChunk = 50_000

// History is what the estimates read (store.DB).
type History interface {
	LedgerAccounts(ctx context.Context, ledger string) ([]int64, error)
	AtCap(ctx context.Context, accounts []int64, phones []string, since time.Time, messages int) (int, error)
	AccountID(ctx context.Context, name string) (int64, bool, error)
	WindowCounts(ctx context.Context, accountID int64, phones []string, since time.Time) (inside, known int, err error)
	ActivePhones(ctx context.Context, name string, fn func(phone string) error) error
}

// CapEstimate is a broadcast's frequency-cap estimate: of Recipients,
// AtCap already had Messages accepted within Per from the accounts that
// share the cap, and would be skipped if it started now. Estimated is
// false when there is no count (NotEstimated says why).
type CapEstimate struct {
	Cap          string `json:"cap"` // e.g. "2 per 7d"
	Messages     int    `json:"messages"`
	Per          string `json:"per"`
	Recipients   int    `json:"recipients"`
	Estimated    bool   `json:"estimated"`
	NotEstimated string `json:"not_estimated,omitempty"`
	AtCap        int    `json:"at_cap"`
}

// WindowStep is a sequence's free-form step (1-based) and what its
// recipients outside the window get.
type WindowStep struct {
	Step          int    `json:"step"`
	OutsideWindow string `json:"outside_window"`
}

// WindowEstimate is the 24-hour window's estimate of a broadcast's
// free-form message (OutsideWindow: what those outside it get) or of a
// sequence's free-form Steps, on an account that enforces the window: of
// People (the recipients; the people enrolled now), Inside wrote to the
// number in the last 24 hours, Outside before, Unknown never (as far as
// the database knows). HistoryReread: the provider's conversation history
// is read again before each send outside the window.
type WindowEstimate struct {
	OutsideWindow string       `json:"outside_window,omitempty"`
	Steps         []WindowStep `json:"steps,omitempty"`
	Estimated     bool         `json:"estimated"`
	NotEstimated  string       `json:"not_estimated,omitempty"`
	People        int          `json:"people"`
	Inside        int          `json:"inside"`
	Outside       int          `json:"outside"`
	Unknown       int          `json:"unknown"`
	HistoryReread bool         `json:"history_reread"`
}

// Estimates are a bundle's estimates, by broadcast and sequence name (only
// those that have one), and what went wrong reading them (Warnings:
// validation does not depend on them).
type Estimates struct {
	FrequencyCap   map[string]*CapEstimate    `json:"frequency_cap"`
	Window         map[string]*WindowEstimate `json:"window"`
	SequenceWindow map[string]*WindowEstimate `json:"sequence_window"`
	Warnings       []string                   `json:"-"`
}

// Empty reports whether there is no estimate to make.
func (e Estimates) Empty() bool {
	return len(e.FrequencyCap) == 0 && len(e.Window) == 0 && len(e.SequenceWindow) == 0
}

// NotEstimatedOffline is why there is no estimate offline.
const NotEstimatedOffline = "not estimated offline"

// Estimate computes b's estimates at now from db; with db nil, each says
// why instead (its NotEstimated).
func Estimate(ctx context.Context, db History, why string, b *spec.Bundle, now time.Time) Estimates {
	est := Estimates{FrequencyCap: map[string]*CapEstimate{}, Window: map[string]*WindowEstimate{}, SequenceWindow: map[string]*WindowEstimate{}}
	accounts := map[string]spec.Account{}
	for _, a := range b.Accounts {
		accounts[a.Name] = a
	}
	enforces := func(account string) bool {
		a, ok := accounts[account]
		caps, _ := drivers.CapabilitiesOf(a.Provider)
		return ok && a.EnforcesWindow(caps)
	}
	reread := func(a spec.Account) bool {
		caps, _ := drivers.CapabilitiesOf(a.Provider)
		return caps.History
	}
	// run runs estimate unless there is no database; an error is a
	// warning and no count.
	run := func(kind, name, what string, estimated *bool, notEstimated *string, estimate func() error) {
		if db == nil {
			*notEstimated = why
			return
		}
		if err := estimate(); err != nil {
			*notEstimated = "not estimated"
			est.Warnings = append(est.Warnings, fmt.Sprintf("%s %s: %s estimate: %v", kind, name, what, err))
			return
		}
		*estimated = true
	}
	for _, bc := range b.Broadcasts {
		a := accounts[bc.Account]
		if a.FrequencyCap.Messages > 0 {
			c := &CapEstimate{Cap: a.FrequencyCap.String(), Messages: a.FrequencyCap.Messages, Per: spec.ShortDuration(a.FrequencyCap.Per),
				Recipients: bc.RecipientCount()}
			run("broadcast", bc.Name, "frequency cap", &c.Estimated, &c.NotEstimated, func() (err error) {
				c.AtCap, err = estimateCap(ctx, db, bc, a, now)
				return err
			})
			est.FrequencyCap[bc.Name] = c
		}
	}
	for _, bc := range b.Broadcasts {
		a := accounts[bc.Account]
		if !enforces(bc.Account) || !bc.Message.Restricted() {
			continue
		}
		w := &WindowEstimate{OutsideWindow: OutsideText(bc.Message), HistoryReread: reread(a)}
		run("broadcast", bc.Name, "24-hour window", &w.Estimated, &w.NotEstimated, func() (err error) {
			w.Inside, w.Outside, w.Unknown, err = estimateWindow(ctx, db, recipientPhones(ctx, bc), a, now)
			w.People = w.Inside + w.Outside + w.Unknown
			return err
		})
		est.Window[bc.Name] = w
	}
	for _, sq := range b.Sequences {
		if !enforces(sq.Account) {
			continue
		}
		w := &WindowEstimate{HistoryReread: reread(accounts[sq.Account])}
		for i, st := range sq.Steps {
			if st.Message.Restricted() {
				w.Steps = append(w.Steps, WindowStep{Step: i + 1, OutsideWindow: OutsideText(st.Message)})
			}
		}
		if len(w.Steps) == 0 {
			continue
		}
		run("sequence", sq.Name, "24-hour window", &w.Estimated, &w.NotEstimated, func() (err error) {
			w.Inside, w.Outside, w.Unknown, err = estimateWindow(ctx, db, enrolledPhones(ctx, db, sq.Name), accounts[sq.Account], now)
			w.People = w.Inside + w.Outside + w.Unknown
			return err
		})
		est.SequenceWindow[sq.Name] = w
	}
	return est
}

// estimateCap counts the recipients of bc already at a's frequency cap at
// now, estimateChunk phones a statement.
func estimateCap(ctx context.Context, db History, bc spec.Broadcast, a spec.Account, now time.Time) (int, error) {
	ledger := delivery.Account{Name: a.Name, PhoneNumberID: a.PhoneNumberID, Portfolio: a.Portfolio}.Ledger()
	accounts, err := db.LedgerAccounts(ctx, ledger)
	if err != nil || len(accounts) == 0 {
		return 0, err // no account of the ledger stored yet: no history
	}
	since := now.Add(-a.FrequencyCap.Per)
	total := 0
	err = chunked(recipientPhones(ctx, bc), func(phones []string) error {
		n, err := db.AtCap(ctx, accounts, phones, since, a.FrequencyCap.Messages)
		total += n
		return err
	})
	return total, err
}

// chunked calls fn with phones estimateChunk at a time.
func chunked(phones iter.Seq2[string, error], fn func([]string) error) error {
	chunk := make([]string, 0, 1024)
	for p, err := range phones {
		if err != nil {
			return err
		}
		if chunk = append(chunk, p); len(chunk) == estimateChunk {
			if err := fn(chunk); err != nil {
				return err
			}
			chunk = chunk[:0]
		}
	}
	if len(chunk) > 0 {
		return fn(chunk)
	}
	return nil
}

// recipientPhones are bc's recipients' phones, in its audience's order.
func recipientPhones(ctx context.Context, bc spec.Broadcast) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		for r, err := range bc.EachRecipient(ctx) {
			if !yield(r.Phone, err) || err != nil {
				return
			}
		}
	}
}

// enrolledPhones are the phones of a sequence's active enrollments (none
// when it is not stored yet).
func enrolledPhones(ctx context.Context, db History, sequence string) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		stop := errors.New("stop")
		err := db.ActivePhones(ctx, sequence, func(phone string) error {
			if !yield(phone, nil) {
				return stop
			}
			return nil
		})
		if err != nil && !errors.Is(err, stop) {
			yield("", err)
		}
	}
}

// OutsideText says what the recipients of m outside the window get.
func OutsideText(m templates.Message) string {
	switch ow := m.OutsideWindow; {
	case ow == nil:
		return "sent as it is"
	case ow.Skip:
		return "skipped"
	default:
		return "the fallback template"
	}
}

// estimateWindow counts the phones inside, outside and unknown to a's
// 24-hour window at now, estimateChunk phones a statement. Times read
// from a conversation history count delivery.HistorySkew older, as the
// send path counts them.
func estimateWindow(ctx context.Context, db History, phones iter.Seq2[string, error], a spec.Account, now time.Time) (inside, outside, unknown int, err error) {
	id, stored, err := db.AccountID(ctx, a.Name)
	if err != nil {
		return 0, 0, 0, err
	}
	since := now.Add(-delivery.ServiceWindow)
	if caps, _ := drivers.CapabilitiesOf(a.Provider); caps.History {
		since = since.Add(delivery.HistorySkew)
	}
	total, known := 0, 0
	err = chunked(phones, func(chunk []string) error {
		total += len(chunk)
		if !stored { // no account yet: nobody wrote to it
			return nil
		}
		in, k, err := db.WindowCounts(ctx, id, chunk, since)
		inside, known = inside+in, known+k
		return err
	})
	if err != nil {
		return 0, 0, 0, err
	}
	return inside, known - inside, total - known, nil
}
