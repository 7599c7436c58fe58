package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"sort"
	"strings"
	"time"

	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/internal/app"
	"github.com/wacamp/wacamp/internal/phone"
	"github.com/wacamp/wacamp/internal/service"
	"github.com/wacamp/wacamp/sequence"
	"github.com/wacamp/wacamp/spec"
)

// openDB opens the database alone, for commands that need no Redis.
func openDB(ctx context.Context, io IO) (*app.Conns, error) {
	cfg, err := settings(io)
	if err != nil {
		return nil, err
	}
	return app.Open(ctx, dbOnly(cfg), Logger(io))
}

// openForPhone normalises a --phone value and opens the database
// (sequence commands need no Redis).
func openForPhone(ctx context.Context, io IO, raw string) (string, *service.Service, func(), error) {
	p, err := phone.Normalize(raw)
	if err != nil {
		return "", nil, nil, UsageError("--phone %q: %v", raw, err)
	}
	svc, closeAll, err := openService(ctx, io, false)
	return p, svc, closeAll, err
}

// varsFlag collects repeated --var key=value flags.
type varsFlag map[string]string

func (v varsFlag) String() string { return "" }

func (v varsFlag) Set(s string) error {
	k, val, ok := strings.Cut(s, "=")
	if !ok || strings.TrimSpace(k) == "" {
		return fmt.Errorf("want key=value, got %q", s)
	}
	v[strings.TrimSpace(k)] = val
	return nil
}

func schedEnroll(ctx context.Context, args []string, io IO) error {
	fs := newFlags("enroll", io)
	ph := fs.String("phone", "", "phone number to enroll (E.164, + optional)")
	name := fs.String("name", "", "their name, for {{name}}")
	vars := varsFlag{}
	fs.Var(vars, "var", "a value for a placeholder, key=value (repeatable)")
	file := fs.String("f", "", "CSV of people: a phone column, optional name, other columns are variables")
	pos, err := ParseFlags(fs, args)
	if err != nil {
		return &exitError{code: 2}
	}
	const usage = "usage: scheduler enroll SEQUENCE --phone NUMBER [--name NAME] [--var key=value]… | -f people.csv"
	if len(pos) > 1 {
		// "--phone 0151 12345682": the number's second half reads as an
		// argument of its own.
		return UsageError("unexpected argument %q after %q (quote a value that holds spaces, e.g. --phone \"+49 151 1234567\")\n%s", pos[1], pos[0], usage)
	}
	if len(pos) != 1 || (*ph == "") == (*file == "") {
		return UsageError("%s", usage)
	}
	// A people file is not held in memory: it is checked, then read again
	// to check each person against the sequence, then to enroll them.
	var (
		people func(context.Context) iter.Seq2[spec.Person, error]
		count  = 1
	)
	progress := newCSVProgress(io.Stderr)
	progress.readStage = "reading people"
	if *file != "" {
		pf, err := spec.LoadPeople(ctx, *file, spec.LoadOptions{Progress: progress.report})
		if err != nil {
			var ve *spec.ValidationError
			if errors.As(err, &ve) {
				fmt.Fprintln(io.Stderr, ve.Error())
				return &exitError{code: 1, msg: fmt.Sprintf("%s: %d problem(s); nobody was enrolled", *file, len(ve.Problems))}
			}
			return err
		}
		people, count = pf.Each, pf.Count
	} else {
		p, err := phone.Normalize(*ph)
		if err != nil {
			return UsageError("--phone %q: %v", *ph, err)
		}
		one := spec.Person{Recipient: spec.Recipient{Phone: p, Name: *name, Vars: vars}}
		people = func(context.Context) iter.Seq2[spec.Person, error] { return spec.Persons(one) }
	}
	svc, closeAll, err := openService(ctx, io, false)
	if err != nil {
		return err
	}
	defer closeAll()
	total, err := svc.Enroll(ctx, pos[0], people, service.EnrollOptions{Count: count, Progress: func(enrolled, count int) {
		if count > service.EnrollBatch {
			fmt.Fprintf(io.Stderr, "enrolling: %d of %d\n", enrolled, count)
		}
	}})
	var refused *service.PeopleRefused
	if errors.As(err, &refused) {
		printPeopleProblems(io, refused.Problems)
		if refused.Changed {
			return &exitError{code: 1, msg: fmt.Sprintf("%s changed since it was checked: %d problem(s); %d of %d people were enrolled before this",
				*file, len(refused.Problems), refused.Enrolled, count)}
		}
		return &exitError{code: 1, msg: refused.Error()}
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(io.Stdout, "sequence %s: %d enrolled, %d skipped (already active, or finished and the sequence does not re-enter)",
		pos[0], total.Enrolled, total.Skipped)
	if total.OptedOut > 0 {
		fmt.Fprintf(io.Stdout, ", %d opted out (not sent)", total.OptedOut)
	}
	fmt.Fprintln(io.Stdout)
	return nil
}

// printPeopleProblems prints the problems of a people check: with their
// file and line, or the field alone for a person given on the command line.
func printPeopleProblems(io IO, problems []spec.Problem) {
	for _, p := range problems {
		if p.File == "" { // given on the command line
			fmt.Fprintf(io.Stderr, "%s: %s\n", p.Field, p.Msg)
		} else {
			fmt.Fprintln(io.Stderr, p.String())
		}
	}
}

func schedUnenroll(ctx context.Context, args []string, io IO) error {
	fs := newFlags("unenroll", io)
	ph := fs.String("phone", "", "phone number to unenroll")
	reason := fs.String("reason", "unenrolled by operator", "recorded on the enrollment")
	pos, err := ParseFlags(fs, args)
	if err != nil {
		return &exitError{code: 2}
	}
	if len(pos) != 1 || *ph == "" {
		return UsageError("usage: scheduler unenroll SEQUENCE --phone NUMBER [--reason TEXT]")
	}
	p, db, closeDB, err := openForPhone(ctx, io, *ph)
	if err != nil {
		return err
	}
	defer closeDB()
	ok, err := db.Unenroll(ctx, pos[0], p, *reason)
	if err != nil {
		return err
	}
	if !ok {
		fmt.Fprintf(io.Stdout, "sequence %s: %s has no active enrollment; nothing changed\n", pos[0], p)
		return nil
	}
	fmt.Fprintf(io.Stdout, "sequence %s: %s unenrolled; pending steps skipped\n", pos[0], p)
	return nil
}

// schedExit reports an event (a reply, an unsubscribe) for a phone number:
// every active enrollment in a sequence that exits on it ends.
func schedExit(ctx context.Context, args []string, io IO) error {
	fs := newFlags("exit", io)
	ph := fs.String("phone", "", "phone number the event is about")
	on := fs.String("on", "", "the event: reply or unsubscribe")
	if _, err := ParseFlags(fs, args); err != nil {
		return &exitError{code: 2}
	}
	if *ph == "" || (*on != "reply" && *on != "unsubscribe") {
		return UsageError("usage: scheduler exit --phone NUMBER --on reply|unsubscribe")
	}
	p, db, closeDB, err := openForPhone(ctx, io, *ph)
	if err != nil {
		return err
	}
	defer closeDB()
	names, err := db.Exit(ctx, p, *on)
	if err != nil {
		return err
	}
	if len(names) == 0 {
		fmt.Fprintf(io.Stdout, "%s: no active enrollment in a sequence that exits on %s\n", p, *on)
		return nil
	}
	fmt.Fprintf(io.Stdout, "%s: exited %s on %s; pending steps skipped\n", p, strings.Join(names, ", "), *on)
	return nil
}

func printSequenceReport(w io.Writer, r sequence.Report, now time.Time) {
	fmt.Fprintf(w, "sequence %s (version %d)\n", r.Name, r.Version)
	fmt.Fprintf(w, "  enrollments: %s\n", countsLine(r.Enrollments, enrollOrder))
	for _, s := range r.Steps {
		line := countsLine(s.Counts, deliveryOrder())
		if len(s.Skips) > 0 {
			line += " (skipped: " + countsLine(s.Skips, nil) + ")"
		}
		if len(s.Settle) > 0 {
			line += " (" + settleLine(s.Settle) + ")"
		}
		if s.NextDue != nil {
			when := "now"
			if d := s.NextDue.Sub(now); d > 0 {
				when = "in " + d.Round(time.Second).String()
			}
			line += fmt.Sprintf("; next due %s (%s)", s.NextDue.Format(time.RFC3339), when)
			if s.NextWait != "" {
				line += ": " + s.NextWait
			}
		}
		fmt.Fprintf(w, "  step %d: %s\n", s.Step, line)
	}
}

func deliveryOrder() []string {
	out := make([]string, len(delivery.Statuses))
	for i, s := range delivery.Statuses {
		out[i] = string(s)
	}
	return out
}

// countsLine prints non-zero counts in order, then any others by name.
func countsLine(counts map[string]int, order []string) string {
	var parts []string
	seen := map[string]bool{}
	for _, k := range order {
		seen[k] = true
		if counts[k] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[k], k))
		}
	}
	var rest []string
	for k := range counts {
		if !seen[k] && counts[k] > 0 {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	for _, k := range rest {
		parts = append(parts, fmt.Sprintf("%d %s", counts[k], k))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// listSequences prints one line per sequence: its enrollments by state.
func listSequences(ctx context.Context, io IO, svc *service.Service) error {
	reports, err := svc.Sequences.Reports(ctx)
	if err != nil {
		return err
	}
	for _, r := range reports {
		fmt.Fprintf(io.Stdout, "%-10s %s (version %d): %s\n", "sequence", r.Name, r.Version, countsLine(r.Enrollments, enrollOrder))
	}
	return nil
}

var enrollOrder = []string{sequence.EnrollActive, sequence.EnrollCompleted, sequence.EnrollExited, sequence.EnrollUnenrolled, sequence.EnrollStopped}

// SequenceLine is a one-line summary of a sequence for progress output:
// per step what was sent, and what was skipped or failed when any (a step
// for people inside their 24-hour window only is skipped for the others).
func SequenceLine(r sequence.Report) string {
	var parts []string
	for _, st := range r.Steps {
		sent := st.Counts["sent"] + st.Counts["delivered"] + st.Counts["read"]
		part := fmt.Sprintf("step %d sent %d", st.Step, sent)
		for _, k := range []string{"skipped", "failed", "expired"} {
			if n := st.Counts[k]; n > 0 {
				part += fmt.Sprintf(" %s %d", k, n)
			}
		}
		parts = append(parts, part)
	}
	return strings.Join(parts, ", ") + ", " + countsLine(r.Enrollments, enrollOrder)
}
