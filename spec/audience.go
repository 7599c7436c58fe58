package spec

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/wacamp/wacamp/internal/phone"
	"github.com/wacamp/wacamp/templates"
)

// AudienceFile is a broadcast's CSV audience file. Its rows are never
// held in memory: [Load] reads the file twice (checking every row, then
// dropping repeated numbers, checking each recipient's message and hashing
// the audience), and [Broadcast.EachRecipient] reads it again for whoever
// needs the recipients (apply, streaming them into the database).
type AudienceFile struct {
	Path string // absolute, to read it again from anywhere
	Name string // as problems name it: as written, joined to the YAML file's directory
	// Rows is how many recipients the file adds: its valid rows less
	// Duplicates, the rows whose number came earlier (inline or in the file).
	Rows       int
	Duplicates int
	Size       int64 // in bytes, when read

	hash     string   // the audience's hash (Broadcast.SpecHash), inline recipients included
	dups     bitset   // the data rows dropped as repeats
	dirs     []string // where the file must stay (audience directories); nil: anywhere (people)
	progress func(Progress)
}

// open opens the file again, if it still is a regular file where it may be.
func (a *AudienceFile) open() (*os.File, error) {
	if a.dirs != nil {
		if ok, err := inside(a.Path, a.dirs, true); err != nil || !ok {
			return nil, fmt.Errorf("it is no longer in the campaign directory (%s)", strings.Join(a.dirs, ":"))
		}
	}
	return openRegular(a.Path)
}

// ErrAudienceChanged is returned (wrapped) when an audience file no longer
// holds the rows [Load] read: it was edited, replaced or truncated since.
var ErrAudienceChanged = errors.New("changed since it was validated")

// RecipientCount is how many recipients b has: its inline ones and its CSV
// file's, duplicates removed.
func (b Broadcast) RecipientCount() int {
	n := len(b.Recipients)
	if b.CSV != nil {
		n += b.CSV.Rows
	}
	return n
}

// EachRecipient yields b's recipients in order, each number once: the
// inline ones (b.Recipients), then the CSV file's rows, read again from
// b.CSV.Path. Memory does not grow with the audience.
//
// If the file can no longer be read, or no longer holds exactly the
// recipients Load read (its audience hash differs at the end), it yields
// the error, wrapping [ErrAudienceChanged] in the second case, and stops:
// a consumer that yields recipients into a transaction must roll it back.
// It stops with ctx's error when ctx ends.
func (b Broadcast) EachRecipient(ctx context.Context) iter.Seq2[Recipient, error] {
	return func(yield func(Recipient, error) bool) {
		for _, r := range b.Recipients {
			if !yield(r, nil) {
				return
			}
		}
		if b.CSV == nil {
			return
		}
		stopped := false
		err := b.CSV.read(ctx, StageRead, b.Recipients, true, func(r Recipient, _ int) bool {
			stopped = !yield(r, nil)
			return !stopped
		})
		if err != nil && !stopped {
			yield(Recipient{}, err)
		}
	}
}

// read reads the file again, calling fn with each recipient that stays
// (repeats dropped) and its line, until fn returns false. When it read to
// the end, it checks that the file held the audience Load hashed (inline,
// the recipients that came before the file); it returns an error wrapping
// ErrAudienceChanged otherwise. Strict, a row with a problem means the
// file changed; otherwise (while loading, which reported it) it is
// skipped, as Load skipped it.
func (a *AudienceFile) read(ctx context.Context, stage string, inline []Recipient, strict bool, fn func(r Recipient, line int) bool) error {
	changed := func(why string, args ...any) error {
		return fmt.Errorf("%s %w (%s); validate it again", a.Name, ErrAudienceChanged, fmt.Sprintf(why, args...))
	}
	file, err := a.open()
	if err != nil {
		return fmt.Errorf("%s: %w", a.Name, err)
	}
	c, probs, fatal := newCSVReader(a.Name, file)
	defer c.close()
	if fatal {
		return changed("line %d: %s", probs[0].line, probs[0].msg)
	}
	h := newAudienceHash()
	for _, r := range inline {
		h.add(r)
	}
	kept := 0
	errStop := errors.New("stop")
	prob, err := scanCSV(ctx, c, stage, a.progress, func(row *csvRow) error {
		if a.dups.has(row.index) {
			return nil
		}
		switch {
		case row.ok:
		case strict:
			p := row.probs[0]
			return changed("line %d: %s", p.line, p.msg)
		default:
			return nil
		}
		kept++
		h.add(row.rcpt)
		if !fn(row.rcpt, row.line) {
			return errStop
		}
		return nil
	})
	switch {
	case errors.Is(err, errStop):
		return nil
	case err != nil:
		return err
	case prob != nil && strict:
		return changed("line %d: %s", prob.line, prob.msg)
	case kept != a.Rows:
		return changed("%d recipients, not %d", kept, a.Rows)
	case h.sum() != a.hash:
		return changed("other recipients")
	}
	return nil
}

// audience is a broadcast's recipients while loading: the inline ones in
// memory, the CSV file's rows only while it is read.
type audience struct {
	yaml   string      // the YAML file
	inline []Recipient // valid inline recipients, in order (repeats dropped by dedupe)
	lines  []int       // where inline[i] is in the YAML file
	csv    *AudienceFile
	first  csvPass   // what the first pass over the CSV file saw
	set    *phoneSet // every valid recipient's number, until dedupe

	duplicates     int
	firstDuplicate string // where the first dropped duplicate is
}

// csvPass is what one pass over a CSV file saw, to tell whether a later
// pass read the same file.
type csvPass struct {
	rows     int
	checksum uint32
	complete bool // read to its end
}

// audience decodes a broadcast's audience: inline recipients, then the CSV
// file's rows, read a first time (see readCSV). field is the broadcast's
// field path, name its name.
func (f *fileCtx) audience(p pair, field, name string, broadcastLine int) *audience {
	aud := &audience{yaml: f.path, set: newPhoneSet()}
	fld := subfield(field, "audience")
	if isNull(p.val) {
		f.problem(broadcastLine, fld, "is required: recipients and/or csv")
		return aud
	}
	obj, ok := f.object(p.val, fld, "recipients", "csv")
	if !ok {
		return aud
	}
	before := f.l.probs.total()
	rows := 0
	items := f.list(obj["recipients"].val, subfield(fld, "recipients"))
	for i, n := range items {
		rows++
		seen := f.l.probs.total()
		r := f.recipient(n, index(subfield(fld, "recipients"), i))
		if f.l.probs.total() == seen {
			aud.inline = append(aud.inline, r)
			aud.lines = append(aud.lines, resolve(n).Line)
			aud.set.add(r.Phone)
		}
	}
	csvFld := subfield(fld, "csv")
	if rel, _ := f.str(obj["csv"].val, csvFld); rel != "" {
		rowsField := fmt.Sprintf("%s (%s).audience.csv", field, name)
		if name == "" {
			rowsField = csvFld
		}
		rows += f.readCSV(rel, resolve(obj["csv"].val).Line, csvFld, rowsField, aud)
	}
	if rows == 0 && f.l.probs.total() == before {
		f.problem(resolve(p.val).Line, fld, "has no recipients; list recipients and/or give a csv file")
	}
	return aud
}

// readCSV reads the audience CSV file rel (relative to the YAML file) a
// first time (see firstPass); problems with opening it are reported on
// the YAML file's csv line (yamlField at yamlLine). It returns how many
// rows it read.
func (f *fileCtx) readCSV(rel string, yamlLine int, yamlField, rowsField string, aud *audience) (rows int) {
	path, file := f.openAudience(rel, yamlLine, yamlField)
	if file == nil {
		return 0
	}
	rows = f.l.firstPass(path, file, rowsField, aud)
	if aud.csv != nil {
		aud.csv.dirs = f.l.audienceDirs()
	}
	return rows
}

// firstPass reads the CSV file path, opened as file (and closed here), a
// first time: it checks every row (see csvReader), reporting problems on
// the CSV file's lines under rowsField ("broadcasts[0] (name).audience.csv",
// "people"), and adds each recipient's number to aud.set. It returns how
// many rows it read.
func (l *loader) firstPass(path string, file *os.File, rowsField string, aud *audience) (rows int) {
	c, probs, fatal := newCSVReader(path, file)
	defer c.close()
	report := func(p csvProblem) { l.probs.add(path, p.line, rowsField+p.field, "%s", p.msg) }
	for _, p := range probs {
		report(p)
	}
	if fatal {
		return 0
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		l.probs.add(path, 0, rowsField, "%v", err)
		return 0
	}
	aud.csv = &AudienceFile{Path: abs, Name: path, Size: c.size, progress: l.opts.Progress}
	c.phoneOnly = true
	prob, err := scanCSV(l.ctx, c, StageValidate, l.opts.Progress, func(row *csvRow) error {
		for _, p := range row.probs {
			report(p)
		}
		if row.ok {
			aud.set.add(row.rcpt.Phone)
		}
		return nil
	})
	if err != nil {
		l.stopped = err
		return c.rows
	}
	if prob != nil {
		report(*prob)
	}
	aud.first = csvPass{rows: c.rows, checksum: c.checksum(), complete: prob == nil}
	return c.rows
}

// dedupe reads the audience a second time, now that every number is
// known: it drops repeated numbers (the first occurrence stays; inline
// recipients come before the CSV file's rows), counts them, hashes what
// stays, and shows each recipient that stays to check (if not nil), with
// a function naming it for problems ("4915112345678 (file:line)").
func (l *loader) dedupe(aud *audience, check func(r Recipient, who func() string)) {
	if l.stopped != nil {
		return
	}
	set := aud.set
	set.finish()
	aud.set = nil
	h := newAudienceHash()
	dropped := func(at Pos) {
		if aud.duplicates == 0 {
			aud.firstDuplicate = at.String()
		}
		aud.duplicates++
	}
	stay := func(r Recipient, at Pos) {
		h.add(r)
		if check != nil {
			check(r, func() string { return r.Phone + " (" + at.String() + ")" })
		}
	}
	kept, keptLines := aud.inline[:0], aud.lines[:0]
	for i, r := range aud.inline {
		at := Pos{File: aud.yaml, Line: aud.lines[i]}
		if !set.firstTime(r.Phone) {
			dropped(at)
			continue
		}
		kept, keptLines = append(kept, r), append(keptLines, aud.lines[i])
		stay(r, at)
	}
	aud.inline, aud.lines = kept, keptLines
	a := aud.csv
	if a == nil {
		return
	}
	changed := func() {
		l.probs.add(a.Name, 0, "", "changed while it was being read; validate it again")
	}
	file, err := a.open()
	if err != nil {
		l.probs.add(a.Name, 0, "", "cannot read it again: %v", err)
		return
	}
	c, _, fatal := newCSVReader(a.Name, file)
	defer c.close()
	if fatal {
		changed()
		return
	}
	prob, err := scanCSV(l.ctx, c, StageCheck, l.opts.Progress, func(row *csvRow) error {
		if !row.ok {
			return nil
		}
		at := Pos{File: a.Name, Line: row.line}
		if !set.firstTime(row.rcpt.Phone) {
			if a.dups == nil {
				a.dups = newBitset(aud.first.rows)
			}
			if row.index < aud.first.rows {
				a.dups.set(row.index)
			}
			dropped(at)
			a.Duplicates++
			return nil
		}
		a.Rows++
		stay(row.rcpt, at)
		return nil
	})
	if err != nil {
		l.stopped = err
		return
	}
	if (csvPass{rows: c.rows, checksum: c.checksum(), complete: prob == nil}) != aud.first {
		changed()
	}
	a.hash = h.sum()
}

// recipient decodes one inline recipient, reporting its problems.
func (f *fileCtx) recipient(n *yaml.Node, field string) Recipient {
	var r Recipient
	obj, ok := f.object(n, field, "phone", "name", "vars")
	if !ok {
		return r
	}
	fld := subfield(field, "phone")
	p := obj["phone"]
	switch raw, ok := f.str(p.val, fld); {
	case !ok:
		// reported
	case raw == "":
		f.problem(resolve(n).Line, fld, "is required")
	default:
		num, err := phone.Normalize(raw)
		if err != nil {
			f.problem(resolve(p.val).Line, fld, "%v", err)
		}
		r.Phone = num
	}
	r.Name, _ = f.str(obj["name"].val, subfield(field, "name"))
	vars := obj["vars"].val
	fld = subfield(field, "vars")
	if isNull(vars) {
		return r
	}
	if vars = resolve(vars); vars.Kind != yaml.MappingNode {
		f.problem(vars.Line, fld, "expected a mapping of variable to value, got %s", describe(vars))
		return r
	}
	for _, kv := range f.pairs(vars, fld) {
		key := kv.key.Value
		vfld := subfield(fld, key)
		if key == "phone" || key == "name" {
			f.problem(kv.key.Line, vfld, "is reserved; set the recipient's own %s field", key)
			continue
		}
		if isNull(kv.val) {
			continue // no value
		}
		if v, ok := f.str(kv.val, vfld); ok {
			if r.Vars == nil {
				r.Vars = make(map[string]string)
			}
			r.Vars[key] = v
		}
	}
	return r
}

// exampleGroup is the recipients one problem applies to: how many, and the
// first few, named.
type exampleGroup struct {
	n        int
	examples []string
	msg      string
}

// fieldGroups groups the recipients for whom a rendered message fails, by
// message field, in the order the fields first failed.
type fieldGroups struct {
	by    map[string]*exampleGroup
	order []string
}

// add counts err's field errors for the recipient named by who (the first
// of each field is its example).
func (fg *fieldGroups) add(err error, who func() string) {
	for _, fe := range fieldErrors(err) {
		g := fg.by[fe.Field]
		if g == nil {
			if fg.by == nil {
				fg.by = map[string]*exampleGroup{}
			}
			g = &exampleGroup{examples: []string{who()}, msg: fe.Msg}
			fg.by[fe.Field] = g
			fg.order = append(fg.order, fe.Field)
		}
		g.n++
	}
}

// listed names the examples: "a, b and 3 more".
func (g *exampleGroup) listed() string {
	list := strings.Join(g.examples, ", ")
	if more := g.n - len(g.examples); more > 0 {
		list += fmt.Sprintf(" and %d more", more)
	}
	return list
}

// forFirst names the recipients by the first example: "recipient a", "3
// recipients, e.g. a".
func (g *exampleGroup) forFirst() string {
	if g.n > 1 {
		return fmt.Sprintf("%d recipients, e.g. %s", g.n, g.examples[0])
	}
	return "recipient " + g.examples[0]
}

// varCheck finds placeholders of a message that have no value for some
// recipient, and messages that are invalid once rendered (a text grown
// too long, a URL broken by a value), recipient by recipient.
type varCheck struct {
	m       templates.Message
	vars    []string
	fieldOf map[string]string        // variable → first field using it
	missing map[string]*exampleGroup // by variable
	failed  fieldGroups              // after rendering
}

// newVarCheck returns a check of m's placeholders; nil if m has none.
func newVarCheck(m templates.Message) *varCheck {
	vars := m.Variables()
	if len(vars) == 0 {
		return nil
	}
	c := &varCheck{m: m, vars: vars, fieldOf: make(map[string]string, len(vars)), missing: map[string]*exampleGroup{}}
	for path, s := range m.TextFields() {
		for _, v := range templates.Placeholders(s) {
			if _, ok := c.fieldOf[v]; !ok {
				c.fieldOf[v] = path
			}
		}
	}
	return c
}

// observe checks the message for recipient r, named by who.
func (c *varCheck) observe(r Recipient, who func() string) {
	values := r.RenderVars()
	complete := true
	for _, v := range c.vars {
		if _, ok := values[v]; ok {
			continue
		}
		complete = false
		g := c.missing[v]
		if g == nil {
			g = &exampleGroup{}
			c.missing[v] = g
		}
		if g.n++; len(g.examples) < 5 {
			g.examples = append(g.examples, who())
		}
	}
	if !complete {
		return
	}
	out, err := c.m.Render(values)
	if err == nil {
		err = out.Validate()
	}
	c.failed.add(err, who)
}

// report reports what observe found. field is the message's field path.
func (c *varCheck) report(f *fileCtx, fl fieldLines, field string) {
	for _, v := range c.vars {
		g := c.missing[v]
		if g == nil {
			continue
		}
		who := "recipient " + g.listed()
		if g.n > 1 {
			who = fmt.Sprintf("%d recipients: %s", g.n, g.listed())
		}
		f.problem(fl.line(c.fieldOf[v]), subfield(field, c.fieldOf[v]), "{{%s}} has no value for %s", v, who)
	}
	for _, fld := range c.failed.order {
		g := c.failed.by[fld]
		f.problem(fl.line(fld), subfield(field, fld), "after rendering for %s: %s", g.forFirst(), g.msg)
	}
}
