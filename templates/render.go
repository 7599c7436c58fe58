package templates

import (
	"fmt"
	"iter"
	"slices"
)

// Variables returns the names of all placeholders in m, in order of first
// appearance and without duplicates. It looks in every field [Message.TextFields]
// yields.
func (m Message) Variables() []string {
	var names []string
	seen := map[string]bool{}
	for _, s := range m.TextFields() {
		for _, n := range Placeholders(s) {
			if !seen[n] {
				seen[n] = true
				names = append(names, n)
			}
		}
	}
	return names
}

// TextFields yields the path (as in [FieldError]) and value of every field
// of m that may hold placeholders, in this order:
//
//   - "text";
//   - "media.url", "media.caption", "media.filename";
//   - "template.vars[<i>].value", "template.header.url",
//     "template.header.filename", "template.buttons[<i>].value";
//   - "bot_flow";
//   - "location.name", "location.address";
//   - "buttons.text", "buttons.header", "buttons.footer", and
//     "buttons.buttons[<i>].title" and ".payload" per button;
//   - "list.text", "list.header", "list.footer", "list.button",
//     "list.sections[<i>].title", and "list.sections[<i>].rows[<j>].title"
//     and ".description" per row;
//   - the fallback template's, as for a template, under
//     "outside_window.template".
//
// Fields of other kinds are included when set, and empty ones too. Ids
// (template id and name, row ids), types and MIME types are not templated.
func (m Message) TextFields() iter.Seq2[string, string] {
	return func(yield func(string, string) bool) {
		stop := false
		m.eachText(func(field string, s *string) {
			stop = stop || !yield(field, *s)
		})
	}
}

// Render returns a copy of m with every placeholder replaced by its value
// from vars; m itself, including everything its pointers and slices refer
// to, is not changed. A key present in vars with an empty value counts as a
// value. Values are inserted as they are: placeholders in them are not
// expanded.
//
// The first placeholder without a value gives an error wrapping a
// *[MissingVarError] (use errors.As), a malformed placeholder an error; both
// name the field, e.g. "text: {{code}} has no value".
func (m Message) Render(vars map[string]string) (Message, error) {
	out := m.clone()
	var err error
	out.eachText(func(field string, s *string) {
		if err != nil {
			return
		}
		var r string
		if r, err = render(*s, vars); err != nil {
			err = fmt.Errorf("%s: %w", field, err)
			return
		}
		*s = r
	})
	if err != nil {
		return Message{}, err
	}
	return out, nil
}

// clone returns a deep copy of m: nothing reachable from the copy is shared
// with m.
func (m Message) clone() Message {
	out := m
	if m.Media != nil {
		media := *m.Media
		out.Media = &media
	}
	if m.Template != nil {
		out.Template = cloneTemplate(*m.Template)
	}
	if ow := m.OutsideWindow; ow != nil {
		c := *ow
		if c.Template != nil {
			c.Template = cloneTemplate(*c.Template)
		}
		out.OutsideWindow = &c
	}
	if m.Location != nil {
		loc := *m.Location
		out.Location = &loc
	}
	if m.Buttons != nil {
		b := *m.Buttons
		b.Buttons = slices.Clone(b.Buttons)
		out.Buttons = &b
	}
	if m.List != nil {
		l := *m.List
		l.Sections = slices.Clone(l.Sections)
		for i := range l.Sections {
			l.Sections[i].Rows = slices.Clone(l.Sections[i].Rows)
		}
		out.List = &l
	}
	return out
}

// cloneTemplate returns a deep copy of t.
func cloneTemplate(t Template) *Template {
	t.Vars = slices.Clone(t.Vars)
	t.Buttons = slices.Clone(t.Buttons)
	if t.Header != nil {
		h := *t.Header
		t.Header = &h
	}
	return &t
}

// eachText calls fn with the path and address of every string of m that may
// hold placeholders (see TextFields).
func (m *Message) eachText(fn func(field string, s *string)) {
	fn("text", &m.Text)
	if md := m.Media; md != nil {
		fn("media.url", &md.URL)
		fn("media.caption", &md.Caption)
		fn("media.filename", &md.Filename)
	}
	if t := m.Template; t != nil {
		eachTemplateText("template", t, fn)
	}
	fn("bot_flow", &m.BotFlow)
	if l := m.Location; l != nil {
		fn("location.name", &l.Name)
		fn("location.address", &l.Address)
	}
	if b := m.Buttons; b != nil {
		fn("buttons.text", &b.Text)
		fn("buttons.header", &b.Header)
		fn("buttons.footer", &b.Footer)
		for i := range b.Buttons {
			field := fmt.Sprintf("buttons.buttons[%d]", i)
			fn(field+".title", &b.Buttons[i].Title)
			fn(field+".payload", &b.Buttons[i].Payload)
		}
	}
	if l := m.List; l != nil {
		fn("list.text", &l.Text)
		fn("list.header", &l.Header)
		fn("list.footer", &l.Footer)
		fn("list.button", &l.Button)
		for i := range l.Sections {
			s := &l.Sections[i]
			field := fmt.Sprintf("list.sections[%d]", i)
			fn(field+".title", &s.Title)
			for j := range s.Rows {
				rf := fmt.Sprintf("%s.rows[%d]", field, j)
				fn(rf+".title", &s.Rows[j].Title)
				fn(rf+".description", &s.Rows[j].Description)
			}
		}
	}
	if ow := m.OutsideWindow; ow != nil && ow.Template != nil {
		eachTemplateText("outside_window.template", ow.Template, fn)
	}
}

// eachTemplateText calls fn for the templated strings of t, whose path is
// field.
func eachTemplateText(field string, t *Template, fn func(field string, s *string)) {
	for i := range t.Vars {
		fn(fmt.Sprintf("%s.vars[%d].value", field, i), &t.Vars[i].Value)
	}
	if t.Header != nil {
		fn(field+".header.url", &t.Header.URL)
		fn(field+".header.filename", &t.Header.Filename)
	}
	for i := range t.Buttons {
		fn(fmt.Sprintf("%s.buttons[%d].value", field, i), &t.Buttons[i].Value)
	}
}

// RecipientVars returns the values placeholders can use for one recipient:
// "phone", "name" (when given) and every key of vars. Loading (to check
// that every placeholder has a value) and sending (to render) both use it,
// so they always agree.
func RecipientVars(phone, name string, vars map[string]string) map[string]string {
	v := make(map[string]string, len(vars)+2)
	for k, x := range vars {
		v[k] = x
	}
	v["phone"] = phone
	if name != "" {
		v["name"] = name
	}
	return v
}
