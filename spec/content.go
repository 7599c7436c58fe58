package spec

import (
	"errors"
	"fmt"
	"iter"
	"strings"

	"github.com/wacamp/wacamp/sequence"
	"github.com/wacamp/wacamp/templates"
)

// msgAt is where a decoded message is written: its field path
// ("broadcasts[0].message"), its fields' lines, and whether it is valid
// (only a valid message is checked further).
type msgAt struct {
	field string
	lines fieldLines
	ok    bool
}

// audienceAt is what loading a broadcast leaves for the checks that need
// every account: where its message and each inline recipient are written,
// and its per-recipient content checks if they could run while its
// audience was read (its account's provider was known by then).
type audienceAt struct {
	msg     msgAt
	lines   []int          // where Broadcast.Recipients[i] is in the broadcast's file
	content *contentChecks // nil: not run yet
}

// checkContent checks broadcasts and sequence steps against what their
// account's provider needs beyond its capabilities (see
// [Providers].ContentCheck and provider.Capabilities.RecipientName):
// each message as written, and a broadcast's message rendered for each
// recipient; and, where the provider requires it, that every recipient
// has a name. Steps are rendered per person when they enroll
// ([CheckPeople]).
func (l *loader) checkContent() {
	providers := make(map[string]string, len(l.bundle.Accounts))
	for _, a := range l.bundle.Accounts {
		providers[a.Name] = a.Provider
	}
	for i, b := range l.bundle.Broadcasts {
		caps, ok := l.providers.Capabilities(providers[b.Account])
		if !ok || i >= len(l.audiences) {
			continue
		}
		at := l.audiences[i]
		checks := at.content
		if checks == nil {
			checks = l.contentChecks(b.Account, b.Message, at.msg.ok)
			l.walkAudience(b, at, checks)
		}
		if check := l.providers.ContentCheck(providers[b.Account]); at.msg.ok && check != nil {
			reported := l.checkWritten(b.Pos.File, at.msg, b.Message, check)
			if checks.rendered != nil {
				checks.rendered.report(l, b.Pos.File, at.msg, reported)
			}
		}
		if checks.names != nil {
			checks.names.report(l, b, caps.Provider)
		}
	}
	for i, s := range l.bundle.Sequences {
		check := l.providers.ContentCheck(providers[s.Account])
		if check == nil || i >= len(l.stepMsgs) {
			continue
		}
		for j, st := range s.Steps {
			if j < len(l.stepMsgs[i]) && l.stepMsgs[i][j].ok {
				l.checkWritten(st.Pos.File, l.stepMsgs[i][j], st.Message, check)
			}
		}
	}
}

// contentChecks are checkContent's per-recipient checks of one broadcast.
type contentChecks struct {
	rendered *renderCheck // nil: none
	names    *nameCheck   // nil: none
}

// contentChecks returns the per-recipient checks of a broadcast of
// account with message m (valid if msgOK); nil if no account of that name
// is known (yet).
func (l *loader) contentChecks(account string, m templates.Message, msgOK bool) *contentChecks {
	provider, found := "", false
	for _, a := range l.bundle.Accounts {
		if a.Name == account {
			provider, found = a.Provider, true
		}
	}
	if !found {
		return nil
	}
	c := &contentChecks{}
	caps, ok := l.providers.Capabilities(provider)
	if !ok {
		return c
	}
	if check := l.providers.ContentCheck(provider); msgOK && check != nil && len(m.Variables()) > 0 {
		c.rendered = &renderCheck{m: m, check: check}
	}
	if caps.RecipientName {
		c.names = &nameCheck{}
	}
	return c
}

func (c *contentChecks) empty() bool { return c == nil || c.rendered == nil && c.names == nil }

// observe runs the checks on recipient r, named by who.
func (c *contentChecks) observe(r Recipient, who func() string) {
	if c.rendered != nil {
		c.rendered.observe(r, who)
	}
	if c.names != nil {
		c.names.observe(r, who)
	}
}

// walkAudience runs checks on every recipient of b, reading its CSV file
// once more.
func (l *loader) walkAudience(b Broadcast, at audienceAt, checks *contentChecks) {
	if checks.empty() || l.stopped != nil {
		return
	}
	for i, r := range b.Recipients {
		pos := Pos{File: b.Pos.File, Line: at.lines[i]}
		checks.observe(r, func() string { return r.Phone + " (" + pos.String() + ")" })
	}
	if b.CSV == nil {
		return
	}
	err := b.CSV.read(l.ctx, StageCheck, b.Recipients, false, func(r Recipient, line int) bool {
		checks.observe(r, func() string { return r.Phone + " (" + Pos{File: b.CSV.Name, Line: line}.String() + ")" })
		return true
	})
	switch {
	case err == nil:
	case l.ctx.Err() != nil:
		l.stopped = l.ctx.Err()
	case errors.Is(err, ErrAudienceChanged):
		l.probs.add(b.CSV.Name, 0, "", "changed while it was being read; validate it again")
	default:
		l.probs.add(b.CSV.Name, 0, "", "cannot read it again: %v", errors.Unwrap(err))
	}
}

// checkWritten runs check on message m as written and reports its
// problems, except in an object (media, a list section…) some field of
// which has a placeholder: only the rendered message can tell. It returns
// the fields it reported.
func (l *loader) checkWritten(file string, at msgAt, m templates.Message, check func(templates.Message) error) map[string]bool {
	open := map[string]bool{} // objects holding a placeholder
	for path, s := range m.TextFields() {
		if len(templates.Placeholders(s)) > 0 {
			open[parentField(path)] = true
		}
	}
	reported := map[string]bool{}
	for _, fe := range fieldErrors(check(m)) {
		if open[parentField(fe.Field)] {
			continue
		}
		reported[fe.Field] = true
		l.probs.add(file, at.lines.line(fe.Field), subfield(at.field, fe.Field), "%s", fe.Msg)
	}
	return reported
}

// renderCheck runs a driver's content check on a message rendered for
// each recipient, grouping the failures by field.
type renderCheck struct {
	m      templates.Message
	check  func(templates.Message) error
	failed fieldGroups
}

func (c *renderCheck) observe(r Recipient, who func() string) {
	out, err := c.m.Render(r.RenderVars())
	if err != nil {
		return // a missing value, reported by varCheck
	}
	c.failed.add(c.check(out), who)
}

// report reports each failing field once, with the first recipient and
// how many fail, leaving out fields already reported as written.
func (c *renderCheck) report(l *loader, file string, msg msgAt, reported map[string]bool) {
	for _, fld := range c.failed.order {
		if reported[fld] {
			continue
		}
		g := c.failed.by[fld]
		l.probs.add(file, msg.lines.line(fld), subfield(msg.field, fld), "after rendering for %s: %s", g.forFirst(), g.msg)
	}
}

// nameCheck finds the recipients without a name, for a provider that
// requires one with every message.
type nameCheck struct{ exampleGroup }

func (c *nameCheck) observe(r Recipient, who func() string) {
	if strings.TrimSpace(r.Name) != "" {
		return
	}
	if c.n++; len(c.examples) < 5 {
		c.examples = append(c.examples, who())
	}
}

func (c *nameCheck) report(l *loader, b Broadcast, provider string) {
	if c.n == 0 {
		return
	}
	have := fmt.Sprintf("%d recipients have", c.n)
	if c.n == 1 {
		have = "1 recipient has"
	}
	l.probs.add(b.Pos.File, b.Pos.Line, subfield(b.Field, "audience"),
		"account %s's provider %s needs each recipient's name (its required customer_name); %s none: %s; give each a name (name: inline, a name column in the CSV)",
		b.Account, provider, have, c.listed())
}

// Person is someone to enroll in a sequence: a recipient and where they
// were read (a CSV line; the zero Pos for the command line).
type Person struct {
	Recipient
	Pos Pos
}

// CheckPeople checks, before anyone is enrolled, that every step of seq
// can be sent to each person through the driver named provider (as
// providers knows it): every placeholder has a value, each step rendered
// for them is valid (templates.Message.Validate) and passes the driver's
// content check, and they have a name when the provider requires one. Otherwise a step would
// fail days later, stop the enrollment, and the person could not enroll
// again. It returns a *[ValidationError], one problem per person and step
// at the person's Pos (at most 50 per file, then a count), or nil; or the
// first error people yields.
func CheckPeople(seq sequence.Spec, providers Providers, provider string, people iter.Seq2[Person, error]) error {
	var probs problems
	caps, known := providers.Capabilities(provider)
	check := providers.ContentCheck(provider)
	for p, err := range people {
		if err != nil {
			return err
		}
		add := func(format string, args ...any) {
			probs.add(p.Pos.File, p.Pos.Line, p.Phone, format, args...)
		}
		if known && caps.RecipientName && strings.TrimSpace(p.Name) == "" {
			add("has no name, which %s requires with every message (customer_name); give --name or a name column", provider)
		}
		values := p.RenderVars()
		for i, st := range seq.Steps {
			var missing []string
			for _, v := range st.Message.Variables() {
				if _, ok := values[v]; !ok {
					missing = append(missing, "{{"+v+"}}")
				}
			}
			if len(missing) > 0 {
				how := "give --var NAME=value or a column of that name"
				if len(missing) == 1 && missing[0] == "{{name}}" {
					how = "give --name or a name column"
				}
				add("step %d needs %s, which has no value for them; %s", i+1, strings.Join(missing, ", "), how)
				continue
			}
			out, err := st.Message.Render(values)
			if err == nil {
				err = out.Validate()
			}
			if err == nil && check != nil {
				err = check(out)
			}
			for _, fe := range fieldErrors(err) {
				add("step %d: after rendering: %s", i+1, fe.Error())
			}
		}
	}
	return probs.err()
}
