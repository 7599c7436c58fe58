package cli

import (
	"cmp"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/wacamp/wacamp/consent"
	"github.com/wacamp/wacamp/internal/phone"
	"github.com/wacamp/wacamp/localtime"
	"github.com/wacamp/wacamp/spec"
)

const optoutUsage = `usage: scheduler optout COMMAND [flags]

  add --phone NUMBER [--account NAME] [--scope all|marketing] [--reason TEXT]
                  put someone on the account's suppression list (its portfolio's,
                  if it has one); scope all ends their active enrollments
  remove --phone NUMBER [--account NAME] [--scope all|marketing]
                  take them off every list the account's sends check
  list [--account NAME] [--json]
                  the entries (phones masked; --json: full, one object a line)
  import -f people.csv [--account NAME] [--scope all|marketing] [--reason TEXT]
                  a CSV with a phone column (optional columns scope, reason,
                  created_at override the flags); nothing is written if a row is bad
  export [--account NAME]
                  CSV on stdout: phone,scope,reason,source,created_at,list

--account may be left out when exactly one account is applied.
`

// schedOptout runs `scheduler optout …`: the suppression list.
func schedOptout(ctx context.Context, args []string, io IO) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(io.Stdout, optoutUsage)
		if len(args) == 0 {
			return &exitError{code: 2}
		}
		return nil
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "add":
		return optoutAdd(ctx, rest, io)
	case "remove":
		return optoutRemove(ctx, rest, io)
	case "list":
		return optoutList(ctx, rest, io, false)
	case "export":
		return optoutList(ctx, rest, io, true)
	case "import":
		return optoutImport(ctx, rest, io)
	}
	return UsageError("optout: unknown command %q\n\n%s", cmd, optoutUsage)
}

// openConsent opens the database (opt-out commands need no Redis) and
// returns the suppression list's service over it.
func openConsent(ctx context.Context, io IO) (*consent.Service, func(), error) {
	conns, err := openDB(ctx, io)
	if err != nil {
		return nil, nil, err
	}
	return consent.NewService(conns.Store, io.now), conns.Close, nil
}

// optoutFlags are the flags every optout command may take.
type optoutFlags struct {
	account, phone, scope, reason, file *string
	asJSON                              *bool
}

// optoutCmd is an optout command's parsed flags, its service, and the
// account it is about: the one --account names, or the only one (nil when
// the command may go without one and none was named).
type optoutCmd struct {
	optoutFlags
	svc     *consent.Service
	account *consent.Account
	close   func()
}

// parseOptout parses an optout command's flags (those it takes: the
// others are left nil), opens the service and finds the account (needed:
// even when --account is left out); a bad --phone is refused before
// anything is opened.
func parseOptout(ctx context.Context, name string, args []string, io IO, needed bool, flags ...string) (optoutCmd, error) {
	f, svc, closeDB, err := parseOptoutFlags(ctx, name, args, io, flags...)
	if err != nil {
		return optoutCmd{}, err
	}
	c := optoutCmd{optoutFlags: f, svc: svc, close: closeDB}
	if needed || *f.account != "" {
		a, err := svc.Account(ctx, *f.account)
		if err != nil {
			closeDB()
			return optoutCmd{}, err
		}
		c.account = &a
	}
	return c, nil
}

func parseOptoutFlags(ctx context.Context, name string, args []string, io IO, flags ...string) (optoutFlags, *consent.Service, func(), error) {
	fs := newFlags("optout "+name, io)
	var f optoutFlags
	f.account = fs.String("account", "", "the account (may be left out when there is only one)")
	for _, fl := range flags {
		switch fl {
		case "phone":
			f.phone = fs.String("phone", "", "phone number (E.164, + optional)")
		case "scope":
			f.scope = fs.String("scope", "", "all (every message) or marketing (marketing templates)")
		case "reason":
			f.reason = fs.String("reason", "", "recorded with the entry")
		case "f":
			f.file = fs.String("f", "", "CSV file with a phone column")
		case "json":
			f.asJSON = fs.Bool("json", false, "print JSON, one entry a line, phones in full")
		}
	}
	pos, err := ParseFlags(fs, args)
	if err != nil {
		return f, nil, nil, &exitError{code: 2}
	}
	if len(pos) > 0 {
		return f, nil, nil, UsageError("optout %s takes no arguments (got %q)\n\n%s", name, pos[0], optoutUsage)
	}
	if f.phone != nil {
		if *f.phone == "" {
			return f, nil, nil, UsageError("optout %s needs --phone NUMBER", name)
		}
		p, err := phone.Normalize(*f.phone)
		if err != nil {
			return f, nil, nil, UsageError("--phone %q: %v", *f.phone, err)
		}
		*f.phone = p
	}
	if f.scope != nil && *f.scope != "" && !consent.ValidScope(*f.scope) {
		return f, nil, nil, UsageError("--scope %q: want all or marketing", *f.scope)
	}
	if f.file != nil && *f.file == "" {
		return f, nil, nil, UsageError("optout %s needs -f FILE", name)
	}
	svc, closeDB, err := openConsent(ctx, io)
	return f, svc, closeDB, err
}

func optoutAdd(ctx context.Context, args []string, io IO) error {
	f, err := parseOptout(ctx, "add", args, io, true, "phone", "scope", "reason")
	if err != nil {
		return err
	}
	defer f.close()
	a := *f.account
	res, err := f.svc.Add(ctx, a, consent.SourceCLI, []consent.Entry{{Phone: *f.phone, Scope: orAll(*f.scope), Reason: cmp.Or(*f.reason, "added by operator")}})
	if err != nil {
		return err
	}
	what := "added"
	if res.Added == 0 {
		what = "already there; nothing changed"
	}
	fmt.Fprintf(io.Stdout, "%s: %s (%s) %s%s\n", a.List(), phone.Mask(*f.phone), orAll(*f.scope), what, endedText(res.Ended))
	return nil
}

func orAll(scope string) string {
	if scope == "" {
		return consent.ScopeAll
	}
	return scope
}

// endedText says which sequences an opt-out ended enrollments in.
func endedText(seqs []string) string {
	if len(seqs) == 0 {
		return ""
	}
	return "; enrollments ended in " + strings.Join(seqs, ", ")
}

func optoutRemove(ctx context.Context, args []string, io IO) error {
	f, err := parseOptout(ctx, "remove", args, io, true, "phone", "scope")
	if err != nil {
		return err
	}
	defer f.close()
	a := *f.account
	n, err := f.svc.Remove(ctx, a, *f.phone, *f.scope)
	if err != nil {
		return err
	}
	if n == 0 {
		fmt.Fprintf(io.Stdout, "%s is on no list account %s checks; nothing changed\n", phone.Mask(*f.phone), a.Name)
		return nil
	}
	fmt.Fprintf(io.Stdout, "%s: %d entr%s removed (%s)\n", phone.Mask(*f.phone), n, plural(n, "y", "ies"), strings.Join(a.Lists(), ", "))
	return nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// exportHeader is the header of `optout export`, which `optout import`
// reads back (phone, scope, reason, created_at; source, list and zone are
// informative: an imported entry's source is import, its list the
// account's). zone is the number's time zone (IANA), as local-time
// broadcasts resolve it without a timezone variable; "" when the number
// does not tell.
var exportHeader = []string{"phone", "scope", "reason", "source", "created_at", "list", "zone"}

// optoutList prints the entries: a table with masked phones, JSON lines
// with full ones, or (export) CSV.
func optoutList(ctx context.Context, args []string, io IO, export bool) error {
	name, flags := "list", []string{"json"}
	if export {
		name, flags = "export", nil
	}
	f, err := parseOptout(ctx, name, args, io, false, flags...)
	if err != nil {
		return err
	}
	defer f.close()
	svc, acct := f.svc, f.account
	n := 0
	switch {
	case export:
		w := csv.NewWriter(io.Stdout)
		if err := w.Write(exportHeader); err != nil {
			return err
		}
		err = svc.List(ctx, acct, func(e consent.Entry) error {
			n++
			zone, _ := localtime.RecipientZone(e.Phone, nil)
			return w.Write([]string{e.Phone, e.Scope, e.Reason, e.Source, e.CreatedAt.Format(time.RFC3339Nano), e.List, zone})
		})
		w.Flush()
		if err == nil {
			err = w.Error()
		}
	case *f.asJSON:
		enc := json.NewEncoder(io.Stdout)
		err = svc.List(ctx, acct, func(e consent.Entry) error {
			n++
			return enc.Encode(e)
		})
	default:
		tw := tabwriter.NewWriter(io.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "LIST\tPHONE\tSCOPE\tSOURCE\tSINCE\tREASON")
		err = svc.List(ctx, acct, func(e consent.Entry) error {
			n++
			_, err := fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e.List, phone.Mask(e.Phone), e.Scope, e.Source,
				e.CreatedAt.Format(time.RFC3339), e.Reason)
			return err
		})
		if ferr := tw.Flush(); err == nil {
			err = ferr
		}
		if err == nil {
			fmt.Fprintf(io.Stdout, "%d entr%s\n", n, plural(n, "y", "ies"))
		}
	}
	return err
}

// importBatch is how many entries one import transaction writes.
const importBatch = 1000

// optoutImport reads a CSV of people to suppress: it checks every row
// first (a bad number, scope or time is reported with its line, and
// nothing is written), then writes them in batches.
func optoutImport(ctx context.Context, args []string, io IO) error {
	f, err := parseOptout(ctx, "import", args, io, true, "f", "scope", "reason")
	if err != nil {
		return err
	}
	defer f.close()
	svc, a := f.svc, *f.account
	reason := cmp.Or(*f.reason, "imported from "+*f.file)
	var probs []string
	entry := func(p spec.Person) (consent.Entry, bool) {
		e := consent.Entry{Phone: p.Phone, Scope: orAll(*f.scope), Reason: reason}
		if v := column(p, "scope"); v != "" {
			e.Scope = strings.ToLower(v)
		}
		if v := column(p, "reason"); v != "" {
			e.Reason = v
		}
		ok := true
		if !consent.ValidScope(e.Scope) {
			probs = append(probs, fmt.Sprintf("%s: row %d scope: %q must be all or marketing", p.Pos, p.Pos.Line, e.Scope))
			ok = false
		}
		if v := column(p, "created_at"); v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				probs = append(probs, fmt.Sprintf("%s: row %d created_at: %q is not a time such as 2026-03-01T09:00:00Z", p.Pos, p.Pos.Line, v))
				ok = false
			}
			e.CreatedAt = t
		}
		return e, ok
	}
	err = spec.ReadPhones(ctx, *f.file, func(p spec.Person) error {
		entry(p)
		return nil
	})
	var ve *spec.ValidationError
	if errors.As(err, &ve) {
		for _, p := range ve.Problems {
			probs = append(probs, p.String())
		}
	} else if err != nil {
		return err
	}
	if len(probs) > 0 {
		fmt.Fprintln(io.Stderr, strings.Join(probs, "\n"))
		return &exitError{code: 1, msg: fmt.Sprintf("%s: %d problem(s); nothing was imported", *f.file, len(probs))}
	}
	var (
		batch []consent.Entry
		total consent.SuppressResult
		rows  int
	)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		res, err := svc.Add(ctx, a, consent.SourceImport, batch)
		if err != nil {
			return fmt.Errorf("%w (%d of the file's rows were imported before this)", err, rows)
		}
		total.Added += res.Added
		total.Ended = append(total.Ended, res.Ended...)
		rows += len(batch)
		batch = batch[:0]
		return nil
	}
	err = spec.ReadPhones(ctx, *f.file, func(p spec.Person) error {
		e, ok := entry(p)
		if !ok {
			return fmt.Errorf("%s changed since it was checked: %s", *f.file, probs[len(probs)-1])
		}
		batch = append(batch, e)
		if len(batch) == importBatch {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		if errors.As(err, &ve) {
			return fmt.Errorf("%s changed since it was checked (%d rows were imported before this): %w", *f.file, rows, err)
		}
		return err
	}
	fmt.Fprintf(io.Stdout, "%s: %d rows read, %d added, %d already there%s\n", a.List(), rows, total.Added, rows-total.Added, endedText(dedup(total.Ended)))
	return nil
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
