package config

import (
	"fmt"
	"strings"

	"github.com/wacamp/wacamp/provider/drivers"
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
// every account: where its message and each recipient are written.
type audienceAt struct {
	msg  msgAt
	locs []string // "file:line" of Recipients[i]
}

// checkContent checks broadcasts and sequence steps against what their
// account's provider needs beyond its capabilities (see
// drivers.Driver.CheckContent and provider.Capabilities.RecipientName):
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
		d, ok := drivers.Lookup(providers[b.Account])
		if !ok || i >= len(l.audiences) {
			continue
		}
		at := l.audiences[i]
		if at.msg.ok && d.CheckContent != nil {
			reported := l.checkWritten(b.Pos.File, at.msg, b.Message, d.CheckContent)
			if len(b.Message.Variables()) > 0 {
				l.checkRendered(b, at, d.CheckContent, reported)
			}
		}
		if d.Capabilities.RecipientName {
			l.checkNames(b, at, d.Capabilities.Provider)
		}
	}
	for i, s := range l.bundle.Sequences {
		d, ok := drivers.Lookup(providers[s.Account])
		if !ok || d.CheckContent == nil || i >= len(l.stepMsgs) {
			continue
		}
		for j, st := range s.Steps {
			if j < len(l.stepMsgs[i]) && l.stepMsgs[i][j].ok {
				l.checkWritten(st.Pos.File, l.stepMsgs[i][j], st.Message, d.CheckContent)
			}
		}
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

// checkRendered runs check on b's message rendered for each recipient and
// reports each failing field once, with the first recipient and how many
// fail, leaving out fields already reported as written.
func (l *loader) checkRendered(b Broadcast, at audienceAt, check func(templates.Message) error, reported map[string]bool) {
	type group struct {
		n       int
		example string
		msg     string
	}
	failed := map[string]*group{}
	var order []string
	for i, r := range b.Recipients {
		out, err := b.Message.Render(r.RenderVars())
		if err != nil {
			continue // a missing value, reported by checkVariables
		}
		for _, fe := range fieldErrors(check(out)) {
			if reported[fe.Field] {
				continue
			}
			g := failed[fe.Field]
			if g == nil {
				g = &group{example: r.Phone + " (" + at.locs[i] + ")", msg: fe.Msg}
				failed[fe.Field] = g
				order = append(order, fe.Field)
			}
			g.n++
		}
	}
	for _, fld := range order {
		g := failed[fld]
		who := "recipient " + g.example
		if g.n > 1 {
			who = fmt.Sprintf("%d recipients, e.g. %s", g.n, g.example)
		}
		l.probs.add(b.Pos.File, at.msg.lines.line(fld), subfield(at.msg.field, fld), "after rendering for %s: %s", who, g.msg)
	}
}

// checkNames reports the recipients of b without a name when the
// account's provider requires one with every message.
func (l *loader) checkNames(b Broadcast, at audienceAt, provider string) {
	var missing []string
	n := 0
	for i, r := range b.Recipients {
		if strings.TrimSpace(r.Name) != "" {
			continue
		}
		if n++; len(missing) < 5 {
			missing = append(missing, r.Phone+" ("+at.locs[i]+")")
		}
	}
	if n == 0 {
		return
	}
	list := strings.Join(missing, ", ")
	if more := n - len(missing); more > 0 {
		list += fmt.Sprintf(" and %d more", more)
	}
	have := fmt.Sprintf("%d recipients have", n)
	if n == 1 {
		have = "1 recipient has"
	}
	l.probs.add(b.Pos.File, b.Pos.Line, subfield(b.Field, "audience"),
		"account %s's provider %s needs each recipient's name (its required customer_name); %s none: %s; give each a name (name: inline, a name column in the CSV)",
		b.Account, provider, have, list)
}

// Person is someone to enroll in a sequence: a recipient and where they
// were read (a CSV line; the zero Pos for the command line).
type Person struct {
	Recipient
	Pos Pos
}

// CheckPeople checks, before anyone is enrolled, that every step of spec
// can be sent to each person through the driver named provider: every
// placeholder has a value, each step rendered for them is valid
// (templates.Message.Validate) and passes the driver's content check, and
// they have a name when the provider requires one. Otherwise a step would
// fail days later, stop the enrollment, and the person could not enroll
// again. It returns a *[ValidationError], one problem per person and step
// at the person's Pos, or nil.
func CheckPeople(spec sequence.Spec, provider string, people []Person) error {
	var probs problems
	d, known := drivers.Lookup(provider)
	for _, p := range people {
		add := func(format string, args ...any) {
			probs.add(p.Pos.File, p.Pos.Line, p.Phone, format, args...)
		}
		if known && d.Capabilities.RecipientName && strings.TrimSpace(p.Name) == "" {
			add("has no name, which %s requires with every message (customer_name); give --name or a name column", provider)
		}
		values := p.RenderVars()
		for i, st := range spec.Steps {
			var missing []string
			for _, v := range st.Message.Variables() {
				if _, ok := values[v]; !ok {
					missing = append(missing, "{{"+v+"}}")
				}
			}
			if len(missing) > 0 {
				add("step %d needs %s, which has no value for them; give --var NAME=value or a column of that name", i+1, strings.Join(missing, ", "))
				continue
			}
			out, err := st.Message.Render(values)
			if err == nil {
				err = out.Validate()
			}
			if err == nil && known && d.CheckContent != nil {
				err = d.CheckContent(out)
			}
			for _, fe := range fieldErrors(err) {
				add("step %d: after rendering: %s", i+1, fe.Error())
			}
		}
	}
	return probs.err()
}
