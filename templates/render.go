package templates

import (
	"fmt"
	"iter"
	"slices"
)

// Variables returns the names of all placeholders in m, in order of first
// appearance and without duplicates. It looks in the text, the media URL and
// caption, the template variables' values and the bot flow id.
func (m Message) Variables() []string {
	var names []string
	for _, s := range m.TextFields() {
		for _, n := range Placeholders(s) {
			if !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
	}
	return names
}

// TextFields yields the path (as in [FieldError]) and value of every field
// of m that may hold placeholders: "text", "media.url", "media.caption",
// "template.vars[<i>].value" and "bot_flow", in that order. Fields of other
// kinds are included when set, and empty ones too.
func (m Message) TextFields() iter.Seq2[string, string] {
	return func(yield func(string, string) bool) {
		stop := false
		m.eachText(func(field string, s *string) {
			stop = stop || !yield(field, *s)
		})
	}
}

// Render returns a copy of m with every placeholder replaced by its value
// from vars; m itself is not changed. A key present in vars with an empty
// value counts as a value. Values are inserted as they are: placeholders in
// them are not expanded.
//
// The first placeholder without a value gives an error wrapping a
// *[MissingVarError] (use errors.As), a malformed placeholder an error; both
// name the field, e.g. "text: {{code}} has no value".
func (m Message) Render(vars map[string]string) (Message, error) {
	out := m
	if m.Media != nil {
		media := *m.Media
		out.Media = &media
	}
	if m.Template != nil {
		tmpl := *m.Template
		tmpl.Vars = slices.Clone(tmpl.Vars)
		out.Template = &tmpl
	}
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

// eachText calls fn with the path and address of every string of m that may
// hold placeholders (see TextFields).
func (m *Message) eachText(fn func(field string, s *string)) {
	fn("text", &m.Text)
	if m.Media != nil {
		fn("media.url", &m.Media.URL)
		fn("media.caption", &m.Media.Caption)
	}
	if m.Template != nil {
		for i := range m.Template.Vars {
			fn(fmt.Sprintf("template.vars[%d].value", i), &m.Template.Vars[i].Value)
		}
	}
	fn("bot_flow", &m.BotFlow)
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
