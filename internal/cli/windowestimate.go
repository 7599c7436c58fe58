package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/provider/drivers"
	"github.com/wacamp/wacamp/spec"
	"github.com/wacamp/wacamp/store"
)

// inboundHistory is what estimating the 24-hour window reads (store.DB).
type inboundHistory interface {
	AccountID(ctx context.Context, name string) (int64, bool, error)
	WindowCounts(ctx context.Context, accountID int64, phones []string, since time.Time) (inside, known int, err error)
}

// windowEstimates says, for each broadcast (by name) with a free-form
// message on an account that enforces the 24-hour customer-service
// window, how many of its recipients are inside it now (they wrote to the
// number in the last 24 h), outside it (they wrote before), and unknown
// (they never wrote, as far as the database knows), and what those outside
// get (the message's outside_window). It reads the database (DATABASE_URL)
// as the frequency-cap estimate does; offline, or without one, the line
// says why there is no count. Problems reading it are warnings.
func windowEstimates(ctx context.Context, io IO, b *spec.Bundle, offline bool) (notes map[string]string, warnings []string) {
	accounts := map[string]spec.Account{}
	for _, a := range b.Accounts {
		accounts[a.Name] = a
	}
	notes = map[string]string{}
	var todo []spec.Broadcast
	for _, bc := range b.Broadcasts {
		a, ok := accounts[bc.Account]
		caps, _ := drivers.CapabilitiesOf(a.Provider)
		if !ok || !bc.Message.Restricted() || !a.EnforcesWindow(caps) {
			continue
		}
		notes[bc.Name] = "24-hour window (outside it: " + outsideText(bc) + "): "
		todo = append(todo, bc)
	}
	warnings = historyEstimates(ctx, io, offline, "24-hour window", todo, notes, func(db *store.DB, bc spec.Broadcast) (string, error) {
		a := accounts[bc.Account]
		inside, outside, unknown, err := estimateWindow(ctx, db, bc, a, io.now())
		if err != nil {
			return "", err
		}
		note := fmt.Sprintf("%d inside, %d outside, %d unknown (never wrote) of %d recipients if it sent now", inside, outside, unknown, bc.RecipientCount())
		if caps, _ := drivers.CapabilitiesOf(a.Provider); caps.History {
			note += "; the conversation history is read again before each send outside it"
		}
		return note, nil
	})
	return notes, warnings
}

// outsideText says what bc's recipients outside the window get.
func outsideText(bc spec.Broadcast) string {
	switch ow := bc.Message.OutsideWindow; {
	case ow == nil:
		return "sent as it is"
	case ow.Skip:
		return "skipped"
	default:
		return "the fallback template"
	}
}

// estimateWindow counts bc's recipients inside, outside and unknown to a's
// 24-hour window at now, capChunk phones a statement. Times read from a
// conversation history count delivery.HistorySkew older, as the send
// path counts them.
func estimateWindow(ctx context.Context, db inboundHistory, bc spec.Broadcast, a spec.Account, now time.Time) (inside, outside, unknown int, err error) {
	id, stored, err := db.AccountID(ctx, a.Name)
	if err != nil {
		return 0, 0, 0, err
	}
	if !stored {
		return 0, 0, bc.RecipientCount(), nil // no account yet: nobody wrote to it
	}
	since := now.Add(-delivery.ServiceWindow)
	if caps, _ := drivers.CapabilitiesOf(a.Provider); caps.History {
		since = since.Add(delivery.HistorySkew)
	}
	total, known := 0, 0
	phones := make([]string, 0, min(capChunk, bc.RecipientCount()))
	flush := func() error {
		in, k, err := db.WindowCounts(ctx, id, phones, since)
		inside, known, total = inside+in, known+k, total+len(phones)
		phones = phones[:0]
		return err
	}
	for r, err := range bc.EachRecipient(ctx) {
		if err != nil {
			return 0, 0, 0, err
		}
		if phones = append(phones, r.Phone); len(phones) == capChunk {
			if err := flush(); err != nil {
				return 0, 0, 0, err
			}
		}
	}
	if len(phones) > 0 {
		if err := flush(); err != nil {
			return 0, 0, 0, err
		}
	}
	return inside, known - inside, total - known, nil
}
