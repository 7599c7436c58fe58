package cli

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"strings"
	"time"

	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/provider/drivers"
	"github.com/wacamp/wacamp/spec"
	"github.com/wacamp/wacamp/store"
	"github.com/wacamp/wacamp/templates"
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
// get (the message's outside_window); and the same for each sequence
// with free-form steps on such an account, over the people enrolled in it
// now (active enrollments, from the database). It reads the database
// (DATABASE_URL) as the frequency-cap estimate does; offline, or without
// one, the line says why there is no count. Problems reading it are
// warnings.
func windowEstimates(ctx context.Context, io IO, b *spec.Bundle, offline bool) (notes, seqNotes map[string]string, warnings []string) {
	accounts := map[string]spec.Account{}
	for _, a := range b.Accounts {
		accounts[a.Name] = a
	}
	enforces := func(account string) (spec.Account, bool) {
		a, ok := accounts[account]
		caps, _ := drivers.CapabilitiesOf(a.Provider)
		return a, ok && a.EnforcesWindow(caps)
	}
	inHistory := func(a spec.Account, note string) string {
		if caps, _ := drivers.CapabilitiesOf(a.Provider); caps.History {
			note += "; the conversation history is read again before each send outside it"
		}
		return note
	}
	notes = map[string]string{}
	todo := map[string]spec.Broadcast{}
	var names []string
	for _, bc := range b.Broadcasts {
		if _, ok := enforces(bc.Account); !ok || !bc.Message.Restricted() {
			continue
		}
		notes[bc.Name] = "24-hour window (outside it: " + outsideText(bc.Message) + "): "
		todo[bc.Name], names = bc, append(names, bc.Name)
	}
	warnings = historyEstimates(ctx, io, offline, "24-hour window", "broadcast", names, notes, func(db *store.DB, name string) (string, error) {
		bc := todo[name]
		a := accounts[bc.Account]
		inside, outside, unknown, err := estimateWindow(ctx, db, recipientPhones(ctx, bc), a, io.now())
		if err != nil {
			return "", err
		}
		return inHistory(a, fmt.Sprintf("%d inside, %d outside, %d unknown (never wrote) of %d recipients if it sent now", inside, outside, unknown, bc.RecipientCount())), nil
	})

	seqNotes = map[string]string{}
	seqs := map[string]spec.Sequence{}
	names = nil
	for _, sq := range b.Sequences {
		if _, ok := enforces(sq.Account); !ok {
			continue
		}
		var steps []string
		for i, st := range sq.Steps {
			if st.Message.Restricted() {
				steps = append(steps, fmt.Sprintf("%d (outside it: %s)", i+1, outsideText(st.Message)))
			}
		}
		if len(steps) == 0 {
			continue
		}
		seqNotes[sq.Name] = "24-hour window, free-form step(s) " + strings.Join(steps, ", ") + ": "
		seqs[sq.Name], names = sq, append(names, sq.Name)
	}
	warnings = append(warnings, historyEstimates(ctx, io, offline, "24-hour window", "sequence", names, seqNotes, func(db *store.DB, name string) (string, error) {
		a := accounts[seqs[name].Account]
		inside, outside, unknown, err := estimateWindow(ctx, db, enrolledPhones(ctx, db, name), a, io.now())
		if err != nil {
			return "", err
		}
		return inHistory(a, fmt.Sprintf("of the %d people enrolled now, %d inside, %d outside, %d unknown (never wrote) if a step were due now",
			inside+outside+unknown, inside, outside, unknown)), nil
	})...)
	return notes, seqNotes, warnings
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
func enrolledPhones(ctx context.Context, db *store.DB, sequence string) iter.Seq2[string, error] {
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

// outsideText says what the recipients of m outside the window get.
func outsideText(m templates.Message) string {
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
// 24-hour window at now, capChunk phones a statement. Times read from a
// conversation history count delivery.HistorySkew older, as the send
// path counts them.
func estimateWindow(ctx context.Context, db inboundHistory, phones iter.Seq2[string, error], a spec.Account, now time.Time) (inside, outside, unknown int, err error) {
	id, stored, err := db.AccountID(ctx, a.Name)
	if err != nil {
		return 0, 0, 0, err
	}
	since := now.Add(-delivery.ServiceWindow)
	if caps, _ := drivers.CapabilitiesOf(a.Provider); caps.History {
		since = since.Add(delivery.HistorySkew)
	}
	total, known := 0, 0
	chunk := make([]string, 0, 1024)
	flush := func() error {
		if stored { // no account yet: nobody wrote to it
			in, k, err := db.WindowCounts(ctx, id, chunk, since)
			if err != nil {
				return err
			}
			inside, known = inside+in, known+k
		}
		total += len(chunk)
		chunk = chunk[:0]
		return nil
	}
	for p, err := range phones {
		if err != nil {
			return 0, 0, 0, err
		}
		if chunk = append(chunk, p); len(chunk) == capChunk {
			if err := flush(); err != nil {
				return 0, 0, 0, err
			}
		}
	}
	if len(chunk) > 0 {
		if err := flush(); err != nil {
			return 0, 0, 0, err
		}
	}
	return inside, known - inside, total - known, nil
}
