package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/wacamp/wacamp/consent"
	"github.com/wacamp/wacamp/internal/phone"
	"github.com/wacamp/wacamp/internal/service"
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
                  CSV on stdout: phone,scope,reason,source,created_at,list,zone

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

// openOptouts opens the database (opt-out commands need no Redis) and
// returns the suppression list's verbs over it.
func openOptouts(ctx context.Context, io IO) (*service.Optouts, func(), error) {
	conns, err := openDB(ctx, io)
	if err != nil {
		return nil, nil, err
	}
	return service.NewOptouts(conns.Store, io.now), conns.Close, nil
}

// optoutFlags are the flags every optout command may take.
type optoutFlags struct {
	account, phone, scope, reason, file *string
	asJSON                              *bool
}

// optoutCmd is an optout command's parsed flags and its service.
type optoutCmd struct {
	optoutFlags
	svc   *service.Optouts
	close func()
}

// parseOptout parses an optout command's flags (those it takes: the
// others are left nil) and opens the service; a bad --phone or --scope is
// refused before anything is opened.
func parseOptout(ctx context.Context, name string, args []string, io IO, flags ...string) (optoutCmd, error) {
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
		return optoutCmd{}, &exitError{code: 2}
	}
	if len(pos) > 0 {
		return optoutCmd{}, UsageError("optout %s takes no arguments (got %q)\n\n%s", name, pos[0], optoutUsage)
	}
	if f.phone != nil {
		if *f.phone == "" {
			return optoutCmd{}, UsageError("optout %s needs --phone NUMBER", name)
		}
		p, err := phone.Normalize(*f.phone)
		if err != nil {
			return optoutCmd{}, UsageError("--phone %q: %v", *f.phone, err)
		}
		*f.phone = p
	}
	if f.scope != nil && *f.scope != "" && !consent.ValidScope(*f.scope) {
		return optoutCmd{}, UsageError("--scope %q: want all or marketing", *f.scope)
	}
	if f.file != nil && *f.file == "" {
		return optoutCmd{}, UsageError("optout %s needs -f FILE", name)
	}
	svc, closeDB, err := openOptouts(ctx, io)
	if err != nil {
		return optoutCmd{}, err
	}
	return optoutCmd{optoutFlags: f, svc: svc, close: closeDB}, nil
}

func optoutAdd(ctx context.Context, args []string, io IO) error {
	f, err := parseOptout(ctx, "add", args, io, "phone", "scope", "reason")
	if err != nil {
		return err
	}
	defer f.close()
	res, err := f.svc.Add(ctx, service.OptoutEntry{Account: *f.account, Phone: *f.phone, Scope: *f.scope, Reason: *f.reason}, consent.SourceCLI)
	if err != nil {
		return err
	}
	what := "added"
	if !res.Added {
		what = "already there; nothing changed"
	}
	fmt.Fprintf(io.Stdout, "%s: %s (%s) %s%s\n", res.List, phone.Mask(res.Phone), res.Scope, what, endedText(res.Ended))
	return nil
}

// endedText says which sequences an opt-out ended enrollments in.
func endedText(seqs []string) string {
	if len(seqs) == 0 {
		return ""
	}
	return "; enrollments ended in " + strings.Join(seqs, ", ")
}

func optoutRemove(ctx context.Context, args []string, io IO) error {
	f, err := parseOptout(ctx, "remove", args, io, "phone", "scope")
	if err != nil {
		return err
	}
	defer f.close()
	res, err := f.svc.Remove(ctx, service.OptoutEntry{Account: *f.account, Phone: *f.phone, Scope: *f.scope})
	if err != nil {
		return err
	}
	n := res.Removed
	if n == 0 {
		fmt.Fprintf(io.Stdout, "%s is on no list account %s checks; nothing changed\n", phone.Mask(res.Phone), res.Account)
		return nil
	}
	fmt.Fprintf(io.Stdout, "%s: %d entr%s removed (%s)\n", phone.Mask(res.Phone), n, plural(n, "y", "ies"), strings.Join(res.Lists, ", "))
	return nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// optoutList prints the entries: a table with masked phones, JSON lines
// with full ones, or (export) CSV.
func optoutList(ctx context.Context, args []string, io IO, export bool) error {
	name, flags := "list", []string{"json"}
	if export {
		name, flags = "export", nil
	}
	f, err := parseOptout(ctx, name, args, io, flags...)
	if err != nil {
		return err
	}
	defer f.close()
	svc, acct := f.svc, *f.account
	n := 0
	switch {
	case export:
		_, err = svc.Export(ctx, acct, io.Stdout)
	case *f.asJSON:
		enc := json.NewEncoder(io.Stdout)
		err = svc.Each(ctx, acct, func(e consent.Entry) error {
			return enc.Encode(e)
		})
	default:
		tw := tabwriter.NewWriter(io.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "LIST\tPHONE\tSCOPE\tSOURCE\tSINCE\tREASON")
		err = svc.Each(ctx, acct, func(e consent.Entry) error {
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

// optoutImport reads a CSV of people to suppress (service.Optouts.Import:
// every row is checked first, and nothing is written if one is bad).
func optoutImport(ctx context.Context, args []string, io IO) error {
	f, err := parseOptout(ctx, "import", args, io, "f", "scope", "reason")
	if err != nil {
		return err
	}
	defer f.close()
	res, err := f.svc.Import(ctx, service.OptoutImport{Account: *f.account, Path: *f.file, Scope: *f.scope, Reason: *f.reason})
	var refused *service.ImportRefused
	if errors.As(err, &refused) {
		for _, p := range refused.Problems {
			fmt.Fprintln(io.Stderr, p.String())
		}
		return &exitError{code: 1, msg: refused.Error()}
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(io.Stdout, "%s: %d rows read, %d added, %d already there%s\n", res.List, res.Rows, res.Added, res.Already, endedText(res.Ended))
	return nil
}
