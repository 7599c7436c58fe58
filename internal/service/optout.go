package service

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/wacamp/wacamp/consent"
	"github.com/wacamp/wacamp/internal/phone"
	"github.com/wacamp/wacamp/localtime"
	"github.com/wacamp/wacamp/spec"
)

// OptoutStore is what the suppression list's verbs need from persistence
// (store.DB satisfies it).
type OptoutStore interface {
	consent.Store
	SuppressionPage(ctx context.Context, lists []string, after *consent.Entry, limit int) ([]consent.Entry, error)
}

// Optouts is the suppression list's verbs (`scheduler optout …` and the
// API's /v1/optouts): the same checks, defaults and results for both.
type Optouts struct {
	store OptoutStore
	svc   *consent.Service
}

// NewOptouts returns the suppression list's verbs over st; now nil is
// time.Now.
func NewOptouts(st OptoutStore, now func() time.Time) *Optouts {
	return &Optouts{store: st, svc: consent.NewService(st, now)}
}

// Optouts returns the suppression list's verbs over the service's store.
func (s *Service) Optouts() *Optouts { return NewOptouts(s.Store, s.now) }

// ErrNoAccount: the account named is not applied, or none was named and
// there is not exactly one.
var ErrNoAccount = consent.ErrNoAccount

// OptoutExportHeader is the header of an export, which an import reads
// back (phone, scope, reason, created_at; source, list and zone are
// informative: an imported entry's source is import, its list the
// account's). zone is the number's time zone (IANA), as local-time
// broadcasts resolve it without a timezone variable; "" when the number
// does not tell.
var OptoutExportHeader = []string{"phone", "scope", "reason", "source", "created_at", "list", "zone"}

// OptoutImportBatch is how many entries one import transaction writes.
const OptoutImportBatch = 1000

// OptoutEntry is one person to put on (or take off) an account's list.
type OptoutEntry struct {
	// Account is the account's name; "" is the only one there is.
	Account string
	Phone   string
	// Scope is all or marketing; "" is all for Add, every scope for
	// Remove.
	Scope  string
	Reason string
}

// OptoutAdded is what Add did.
type OptoutAdded struct {
	List  string `json:"list"`
	Phone string `json:"phone"`
	Scope string `json:"scope"`
	// Added is false when the entry was there already (nothing changed).
	Added bool `json:"added"`
	// Ended are the sequences whose active enrollment of the person an
	// opt-out of everything ended.
	Ended []string `json:"ended_enrollments"`
}

// OptoutRemoved is what Remove did.
type OptoutRemoved struct {
	Account string   `json:"account"`
	Lists   []string `json:"lists"`
	Phone   string   `json:"phone"`
	Removed int      `json:"removed"`
}

// OptoutImported is what Import did.
type OptoutImported struct {
	List    string   `json:"list"`
	Rows    int      `json:"rows"`
	Added   int      `json:"added"`
	Already int      `json:"already_there"`
	Ended   []string `json:"ended_enrollments"`
}

// OptoutPage is one page of the suppression list; Next is the cursor of
// the next page ("": none).
type OptoutPage struct {
	Entries []consent.Entry `json:"optouts"`
	Next    string          `json:"next,omitempty"`
}

// ImportRefused is an import refused because rows are bad: nothing was
// written. Problems name each bad row by its line.
type ImportRefused struct {
	Name     string
	Problems []spec.Problem
}

func (e *ImportRefused) Error() string {
	return fmt.Sprintf("%s: %d problem(s); nothing was imported", e.Name, len(e.Problems))
}

// checkEntry normalises e's phone and checks its scope.
func checkEntry(e *OptoutEntry) error {
	p, err := phone.Normalize(e.Phone)
	if err != nil {
		return &InputError{Msg: fmt.Sprintf("phone %q: %v", e.Phone, err)}
	}
	e.Phone = p
	if e.Scope != "" && !consent.ValidScope(e.Scope) {
		return &InputError{Msg: fmt.Sprintf("scope %q: want all or marketing", e.Scope)}
	}
	return nil
}

// Add puts e on its account's list (its portfolio's, if it has one) with
// source; scope all also ends the person's active enrollments. A reason
// left out is "added by operator".
func (o *Optouts) Add(ctx context.Context, e OptoutEntry, source string) (OptoutAdded, error) {
	if err := checkEntry(&e); err != nil {
		return OptoutAdded{}, err
	}
	a, err := o.svc.Account(ctx, e.Account)
	if err != nil {
		return OptoutAdded{}, err
	}
	scope := cmp.Or(e.Scope, consent.ScopeAll)
	res, err := o.svc.Add(ctx, a, source, []consent.Entry{{Phone: e.Phone, Scope: scope, Reason: cmp.Or(e.Reason, "added by operator")}})
	if err != nil {
		return OptoutAdded{}, err
	}
	return OptoutAdded{List: a.List(), Phone: e.Phone, Scope: scope, Added: res.Added > 0, Ended: nonNil(res.Ended)}, nil
}

// Remove takes e's phone off every list its account's sends check: its
// entries of e's scope ("" = every scope), whatever their source.
func (o *Optouts) Remove(ctx context.Context, e OptoutEntry) (OptoutRemoved, error) {
	if err := checkEntry(&e); err != nil {
		return OptoutRemoved{}, err
	}
	a, err := o.svc.Account(ctx, e.Account)
	if err != nil {
		return OptoutRemoved{}, err
	}
	n, err := o.svc.Remove(ctx, a, e.Phone, e.Scope)
	if err != nil {
		return OptoutRemoved{}, err
	}
	return OptoutRemoved{Account: a.Name, Lists: a.Lists(), Phone: e.Phone, Removed: n}, nil
}

// Account returns the account named name; with name "", the only account
// there is (ErrNoAccount otherwise).
func (o *Optouts) Account(ctx context.Context, name string) (consent.Account, error) {
	return o.svc.Account(ctx, name)
}

// lists are the lists account's sends check; every list (nil) for "".
func (o *Optouts) lists(ctx context.Context, account string) ([]string, error) {
	if account == "" {
		return nil, nil
	}
	a, err := o.svc.Account(ctx, account)
	if err != nil {
		return nil, err
	}
	return a.Lists(), nil
}

// Each calls fn for each entry of the lists account's sends check (every
// list for ""), by list, phone and scope.
func (o *Optouts) Each(ctx context.Context, account string, fn func(consent.Entry) error) error {
	lists, err := o.lists(ctx, account)
	if err != nil {
		return err
	}
	return o.store.Suppressions(ctx, lists, fn)
}

// Page returns at most limit (at most MaxPage) entries of the lists
// account's sends check (every list for ""), after the cursor after (""
// from the first).
func (o *Optouts) Page(ctx context.Context, account, after string, limit int) (OptoutPage, error) {
	lists, err := o.lists(ctx, account)
	if err != nil {
		return OptoutPage{}, err
	}
	var from *consent.Entry
	if after != "" {
		if from, err = decodeOptoutCursor(after); err != nil {
			return OptoutPage{}, err
		}
	}
	limit = min(max(limit, 1), MaxPage)
	entries, err := o.store.SuppressionPage(ctx, lists, from, limit)
	if err != nil {
		return OptoutPage{}, err
	}
	p := OptoutPage{Entries: nonNil(entries)}
	if len(entries) == limit {
		last := entries[len(entries)-1]
		p.Next = base64.RawURLEncoding.EncodeToString([]byte(last.List + "\x00" + last.Phone + "\x00" + last.Scope))
	}
	return p, nil
}

func decodeOptoutCursor(s string) (*consent.Entry, error) {
	bad := &InputError{Msg: "after: want the next cursor of the previous page"}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, bad
	}
	parts := strings.Split(string(b), "\x00")
	if len(parts) != 3 {
		return nil, bad
	}
	return &consent.Entry{List: parts[0], Phone: parts[1], Scope: parts[2]}, nil
}

// Export writes the entries of the lists account's sends check (every
// list for "") as CSV with OptoutExportHeader, which Import reads back,
// and returns how many it wrote. Rows are read a batch at a time.
func (o *Optouts) Export(ctx context.Context, account string, w io.Writer) (int, error) {
	lists, err := o.lists(ctx, account)
	if err != nil {
		return 0, err
	}
	cw := csv.NewWriter(w)
	if err := cw.Write(OptoutExportHeader); err != nil {
		return 0, err
	}
	n := 0
	err = o.store.Suppressions(ctx, lists, func(e consent.Entry) error {
		n++
		zone, _ := localtime.RecipientZone(e.Phone, nil)
		if err := cw.Write([]string{e.Phone, e.Scope, e.Reason, e.Source, e.CreatedAt.Format(time.RFC3339Nano), e.List, zone}); err != nil {
			return err
		}
		if n%OptoutImportBatch == 0 {
			cw.Flush()
			if f, ok := w.(interface{ Flush() }); ok {
				f.Flush()
			}
		}
		return cw.Error()
	})
	cw.Flush()
	if err == nil {
		err = cw.Error()
	}
	return n, err
}

// OptoutImport is a CSV of people to suppress.
type OptoutImport struct {
	// Account is the account's name; "" is the only one there is.
	Account string
	// Path is the CSV file: a phone column, and optional columns scope,
	// reason and created_at, which override Scope and Reason.
	Path string
	// Name is the file's name in problems and errors ("": Path).
	Name string
	// Scope ("" = all) and Reason ("" = "imported from NAME") are the
	// defaults of a row without its own.
	Scope, Reason string
}

// Import reads a CSV of people to suppress: it checks every row first (a
// bad number, scope or time is a problem with its line, and nothing is
// written: *ImportRefused), then writes them in batches of
// OptoutImportBatch, with source import.
func (o *Optouts) Import(ctx context.Context, in OptoutImport) (OptoutImported, error) {
	if in.Scope != "" && !consent.ValidScope(in.Scope) {
		return OptoutImported{}, &InputError{Msg: fmt.Sprintf("scope %q: want all or marketing", in.Scope)}
	}
	name := cmp.Or(in.Name, in.Path)
	a, err := o.svc.Account(ctx, in.Account)
	if err != nil {
		return OptoutImported{}, err
	}
	reason := cmp.Or(in.Reason, "imported from "+name)
	var probs []spec.Problem
	problem := func(p spec.Person, field, format string, args ...any) {
		probs = append(probs, spec.Problem{File: name, Line: p.Pos.Line, Field: fmt.Sprintf("row %d %s", p.Pos.Line, field), Msg: fmt.Sprintf(format, args...)})
	}
	entry := func(p spec.Person) (consent.Entry, bool) {
		e := consent.Entry{Phone: p.Phone, Scope: cmp.Or(in.Scope, consent.ScopeAll), Reason: reason}
		if v := column(p, "scope"); v != "" {
			e.Scope = strings.ToLower(v)
		}
		if v := column(p, "reason"); v != "" {
			e.Reason = v
		}
		ok := true
		if !consent.ValidScope(e.Scope) {
			problem(p, "scope", "%q must be all or marketing", e.Scope)
			ok = false
		}
		if v := column(p, "created_at"); v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				problem(p, "created_at", "%q is not a time such as 2026-03-01T09:00:00Z", v)
				ok = false
			}
			e.CreatedAt = t
		}
		return e, ok
	}
	var ve *spec.ValidationError
	err = spec.ReadPhones(ctx, in.Path, func(p spec.Person) error {
		entry(p)
		return nil
	})
	if errors.As(err, &ve) {
		for _, p := range ve.Problems {
			if p.File == in.Path {
				p.File = name
			}
			probs = append(probs, p)
		}
	} else if err != nil {
		return OptoutImported{}, err
	}
	if len(probs) > 0 {
		return OptoutImported{}, &ImportRefused{Name: name, Problems: probs}
	}
	var (
		batch []consent.Entry
		total OptoutImported
	)
	total.List = a.List()
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		res, err := o.svc.Add(ctx, a, consent.SourceImport, batch)
		if err != nil {
			return fmt.Errorf("%w (%d of the file's rows were imported before this)", err, total.Rows)
		}
		total.Added += res.Added
		total.Ended = append(total.Ended, res.Ended...)
		total.Rows += len(batch)
		batch = batch[:0]
		return nil
	}
	err = spec.ReadPhones(ctx, in.Path, func(p spec.Person) error {
		e, ok := entry(p)
		if !ok {
			return fmt.Errorf("%s changed since it was checked: %s", name, probs[len(probs)-1])
		}
		batch = append(batch, e)
		if len(batch) == OptoutImportBatch {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		if errors.As(err, &ve) {
			return total, fmt.Errorf("%s changed since it was checked (%d rows were imported before this): %w", name, total.Rows, err)
		}
		return total, err
	}
	total.Already = total.Rows - total.Added
	total.Ended = nonNil(dedup(total.Ended))
	return total, nil
}

// column is the value of a person's column named name (any case).
func column(p spec.Person, name string) string {
	for k, v := range p.Vars {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// dedup returns ss without repeats, in first-seen order.
func dedup(ss []string) []string {
	seen := map[string]bool{}
	out := ss[:0:0]
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// nonNil is xs, or an empty slice for nil (a JSON list, not null).
func nonNil[T any](xs []T) []T {
	if xs == nil {
		return []T{}
	}
	return xs
}
