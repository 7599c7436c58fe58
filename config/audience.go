package config

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/wacamp/wacamp/internal/phone"
	"github.com/wacamp/wacamp/templates"
)

// audience is a broadcast's recipients while loading.
type audience struct {
	recipients     []Recipient
	locs           []string // where recipients[i] is defined, "file:line"
	lines          []int    // and its line alone
	seen           map[string]struct{}
	duplicates     int
	firstDuplicate string // where the first dropped duplicate is
}

// add appends r, defined in file at line, unless its phone number is
// already in the audience.
func (a *audience) add(r Recipient, file string, line int) {
	loc := Pos{File: file, Line: line}.String()
	if _, dup := a.seen[r.Phone]; dup {
		if a.duplicates == 0 {
			a.firstDuplicate = loc
		}
		a.duplicates++
		return
	}
	a.seen[r.Phone] = struct{}{}
	a.recipients = append(a.recipients, r)
	a.locs = append(a.locs, loc)
	a.lines = append(a.lines, line)
}

// audience decodes a broadcast's audience: inline recipients, then the CSV
// file's rows. field is the broadcast's field path, name its name.
func (f *fileCtx) audience(p pair, field, name string, broadcastLine int) audience {
	aud := audience{seen: make(map[string]struct{})}
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
			aud.add(r, f.path, resolve(n).Line)
		}
	}
	csvFld := subfield(fld, "csv")
	if rel, _ := f.str(obj["csv"].val, csvFld); rel != "" {
		rowsField := fmt.Sprintf("%s (%s).audience.csv", field, name)
		if name == "" {
			rowsField = csvFld
		}
		rows += f.readCSV(rel, resolve(obj["csv"].val).Line, csvFld, rowsField, &aud)
	}
	if rows == 0 && f.l.probs.total() == before {
		f.problem(resolve(p.val).Line, fld, "has no recipients; list recipients and/or give a csv file")
	}
	return aud
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

// checkVariables reports placeholders of m that have no value for some
// recipient, and messages that are invalid once rendered (a text grown too
// long, a URL broken by a value). field is the message's field path.
func (f *fileCtx) checkVariables(m templates.Message, aud audience, fl fieldLines, field string) {
	vars := m.Variables()
	if len(vars) == 0 {
		return
	}
	fieldOf := make(map[string]string, len(vars)) // variable → first field using it
	for path, s := range m.TextFields() {
		for _, v := range templates.Placeholders(s) {
			if _, ok := fieldOf[v]; !ok {
				fieldOf[v] = path
			}
		}
	}
	type group struct {
		n        int
		examples []string
		msg      string
	}
	missing := make(map[string]*group) // by variable
	failed := make(map[string]*group)  // by message field, after rendering
	var failedOrder []string
	for i, r := range aud.recipients {
		who := func() string { return r.Phone + " (" + aud.locs[i] + ")" }
		values := r.RenderVars()
		complete := true
		for _, v := range vars {
			if _, ok := values[v]; ok {
				continue
			}
			complete = false
			g := missing[v]
			if g == nil {
				g = &group{}
				missing[v] = g
			}
			if g.n++; len(g.examples) < 5 {
				g.examples = append(g.examples, who())
			}
		}
		if !complete {
			continue
		}
		out, err := m.Render(values)
		if err == nil {
			err = out.Validate()
		}
		if err == nil {
			continue
		}
		for _, fe := range fieldErrors(err) {
			g := failed[fe.Field]
			if g == nil {
				g = &group{examples: []string{who()}, msg: fe.Msg}
				failed[fe.Field] = g
				failedOrder = append(failedOrder, fe.Field)
			}
			g.n++
		}
	}
	for _, v := range vars {
		g := missing[v]
		if g == nil {
			continue
		}
		list := strings.Join(g.examples, ", ")
		if more := g.n - len(g.examples); more > 0 {
			list += fmt.Sprintf(" and %d more", more)
		}
		who := "recipient " + list
		if g.n > 1 {
			who = fmt.Sprintf("%d recipients: %s", g.n, list)
		}
		f.problem(fl.line(fieldOf[v]), subfield(field, fieldOf[v]), "{{%s}} has no value for %s", v, who)
	}
	for _, fld := range failedOrder {
		g := failed[fld]
		who := "recipient " + g.examples[0]
		if g.n > 1 {
			who = fmt.Sprintf("%d recipients, e.g. %s", g.n, g.examples[0])
		}
		f.problem(fl.line(fld), subfield(field, fld), "after rendering for %s: %s", who, g.msg)
	}
}
