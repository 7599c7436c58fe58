package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/spec"
	"github.com/wacamp/wacamp/store"
)

// capChunk is how many phones of an audience one estimate statement
// weighs: memory stays bounded whatever the audience.
const capChunk = 50_000

// capHistory is what estimating a frequency cap reads (store.DB).
type capHistory interface {
	LedgerAccounts(ctx context.Context, ledger string) ([]int64, error)
	AtCap(ctx context.Context, accounts []int64, phones []string, since time.Time, messages int) (int, error)
}

// capEstimates says, for each broadcast (by name) whose account has a
// frequency_cap, how many of its recipients the cap would skip if it
// started now: those who already had the cap's number of messages accepted
// within its window from the accounts that share the cap, as the database
// recorded them. It needs the database (DATABASE_URL), which it only
// reads (no migration); offline, or without one, the line says why there
// is no estimate. Problems reading it are warnings: validation must not
// depend on it.
func capEstimates(ctx context.Context, io IO, b *spec.Bundle, offline bool) (notes map[string]string, warnings []string) {
	capped := map[string]spec.Account{}
	for _, a := range b.Accounts {
		if a.FrequencyCap.Messages > 0 {
			capped[a.Name] = a
		}
	}
	notes = map[string]string{}
	todo := map[string]spec.Broadcast{}
	var names []string
	for _, bc := range b.Broadcasts {
		if a, ok := capped[bc.Account]; ok {
			notes[bc.Name] = "frequency cap " + a.FrequencyCap.String() + ": "
			todo[bc.Name], names = bc, append(names, bc.Name)
		}
	}
	warnings = historyEstimates(ctx, io, offline, "frequency cap", "broadcast", names, notes, func(db *store.DB, name string) (string, error) {
		bc := todo[name]
		a := capped[bc.Account]
		n, err := estimateCap(ctx, db, bc, a, io.now())
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%d of %d recipients already had %d message(s) in the last %s and would be skipped if it started now",
			n, bc.RecipientCount(), a.FrequencyCap.Messages, spec.ShortDuration(a.FrequencyCap.Per)), nil
	})
	return notes, warnings
}

// historyEstimates completes the note of each broadcast or sequence (kind)
// named in todo (by name in notes) with what estimate finds in the
// database validate estimates from (historyDB), or with why there is no
// estimate; what names the estimate in
// warnings, which say what went wrong reading it.
func historyEstimates(ctx context.Context, io IO, offline bool, what, kind string, todo []string, notes map[string]string,
	estimate func(*store.DB, string) (string, error)) (warnings []string) {
	if len(todo) == 0 {
		return nil
	}
	db, why, err := historyDB(ctx, io, offline)
	if err != nil {
		warnings = append(warnings, what+" estimates: "+err.Error())
	}
	if db != nil {
		defer db.Close()
	}
	for _, name := range todo {
		if why != "" {
			notes[name] += why
			continue
		}
		note, err := estimate(db, name)
		if err != nil {
			notes[name] += "not estimated"
			warnings = append(warnings, fmt.Sprintf("%s %s: %s estimate: %v", kind, name, what, err))
			continue
		}
		notes[name] += note
	}
	return warnings
}

// historyDB opens the database validate estimates from, read-only with
// one connection (the caller closes it), or says why there is none: why
// is "" with a database. An error opening it is returned beside why.
func historyDB(ctx context.Context, io IO, offline bool) (db *store.DB, why string, err error) {
	cfg, err := settings(io)
	switch {
	case offline:
		return nil, "not estimated offline", nil
	case err != nil || cfg.DatabaseURL == "":
		return nil, "not estimated (set DATABASE_URL to estimate from the history)", nil
	}
	if db, err = store.OpenReadOnly(ctx, cfg.DatabaseURL, Logger(io)); err != nil {
		return nil, "not estimated", err
	}
	db.SetMaxConns(1)
	return db, "", nil
}

// estimateCap counts the recipients of bc already at a's frequency cap at
// now, capChunk phones a statement.
func estimateCap(ctx context.Context, db capHistory, bc spec.Broadcast, a spec.Account, now time.Time) (int, error) {
	ledger := delivery.Account{Name: a.Name, PhoneNumberID: a.PhoneNumberID, Portfolio: a.Portfolio}.Ledger()
	accounts, err := db.LedgerAccounts(ctx, ledger)
	if err != nil || len(accounts) == 0 {
		return 0, err // no account of the ledger stored yet: no history
	}
	since := now.Add(-a.FrequencyCap.Per)
	total := 0
	phones := make([]string, 0, min(capChunk, bc.RecipientCount()))
	flush := func() error {
		n, err := db.AtCap(ctx, accounts, phones, since, a.FrequencyCap.Messages)
		total += n
		phones = phones[:0]
		return err
	}
	for r, err := range bc.EachRecipient(ctx) {
		if err != nil {
			return 0, err
		}
		if phones = append(phones, r.Phone); len(phones) == capChunk {
			if err := flush(); err != nil {
				return 0, err
			}
		}
	}
	if len(phones) > 0 {
		if err := flush(); err != nil {
			return 0, err
		}
	}
	return total, nil
}
