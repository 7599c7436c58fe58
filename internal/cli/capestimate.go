package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/wacamp/wacamp/internal/service"
	"github.com/wacamp/wacamp/spec"
	"github.com/wacamp/wacamp/store"
)

// estimateNotes computes the bundle's estimates (service.Estimate: the
// frequency cap, the 24-hour window) from the database validate estimates
// from (historyDB) and words them as validate prints them: a note by
// broadcast (cap, then window) and by sequence. Problems reading the
// database are warnings: validation must not depend on it.
func estimateNotes(ctx context.Context, io IO, b *spec.Bundle, offline bool) (notes map[string][]string, seqNotes map[string]string, warnings []string) {
	est := service.Estimate(ctx, nil, "", b, io.now())
	if !est.Empty() { // the database is opened only when there is something to estimate
		db, why, err := historyDB(ctx, io, offline)
		if err != nil {
			warnings = append(warnings, "estimates: "+err.Error())
		}
		if db != nil {
			defer db.Close()
			est = service.Estimate(ctx, db, "", b, io.now())
		} else {
			est = service.Estimate(ctx, nil, why, b, io.now())
		}
	}
	warnings = append(warnings, est.Warnings...)
	notes = map[string][]string{}
	for _, bc := range b.Broadcasts {
		if c, ok := est.FrequencyCap[bc.Name]; ok {
			note := "frequency cap " + c.Cap + ": " + c.NotEstimated
			if c.Estimated {
				note += fmt.Sprintf("%d of %d recipients already had %d message(s) in the last %s and would be skipped if it started now",
					c.AtCap, c.Recipients, c.Messages, c.Per)
			}
			notes[bc.Name] = append(notes[bc.Name], note)
		}
		if w, ok := est.Window[bc.Name]; ok {
			note := "24-hour window (outside it: " + w.OutsideWindow + "): " + w.NotEstimated
			if w.Estimated {
				note += windowText(w, fmt.Sprintf("%d inside, %d outside, %d unknown (never wrote) of %d recipients if it sent now",
					w.Inside, w.Outside, w.Unknown, w.People))
			}
			notes[bc.Name] = append(notes[bc.Name], note)
		}
	}
	seqNotes = map[string]string{}
	for name, w := range est.SequenceWindow {
		steps := make([]string, len(w.Steps))
		for i, st := range w.Steps {
			steps[i] = fmt.Sprintf("%d (outside it: %s)", st.Step, st.OutsideWindow)
		}
		note := "24-hour window, free-form step(s) " + strings.Join(steps, ", ") + ": " + w.NotEstimated
		if w.Estimated {
			note += windowText(w, fmt.Sprintf("of the %d people enrolled now, %d inside, %d outside, %d unknown (never wrote) if a step were due now",
				w.People, w.Inside, w.Outside, w.Unknown))
		}
		seqNotes[name] = note
	}
	return notes, seqNotes, warnings
}

func windowText(w *service.WindowEstimate, counts string) string {
	if w.HistoryReread {
		counts += "; the conversation history is read again before each send outside it"
	}
	return counts
}

// historyDB opens the database validate estimates from, read-only with
// one connection (the caller closes it), or says why there is none: why
// is "" with a database. An error opening it is returned beside why.
func historyDB(ctx context.Context, io IO, offline bool) (db *store.DB, why string, err error) {
	cfg, err := settings(io)
	switch {
	case offline:
		return nil, service.NotEstimatedOffline, nil
	case err != nil || cfg.DatabaseURL == "":
		return nil, "not estimated (set DATABASE_URL to estimate from the history)", nil
	}
	if db, err = store.OpenReadOnly(ctx, cfg.DatabaseURL, Logger(io)); err != nil {
		return nil, "not estimated", err
	}
	db.SetMaxConns(1)
	if current, _, err := db.SchemaCurrent(ctx); err != nil || !current {
		// A database apply has not migrated yet (or an older program
		// did) holds no history to read, or not in the tables this
		// program reads: say so, not the SQL error.
		_ = db.Close()
		return nil, "not estimated (the database is not migrated to this version yet: scheduler apply migrates it)", nil
	}
	return db, "", nil
}
