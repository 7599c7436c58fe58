package templates

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// fuzzMessage builds a message of kind (any byte picks one of Kinds) whose
// text fields are a, b and c.
func fuzzMessage(kind uint8, a, b, c string) Message {
	m := Message{Kind: Kinds[int(kind)%len(Kinds)]}
	switch m.Kind {
	case KindText:
		m.Text = a + b + c
	case KindMedia:
		m.Media = &Media{URL: "https://example.com/" + a, Type: "document", Caption: b, Filename: c}
	case KindTemplate:
		m.Template = &Template{ID: "313823", Vars: []TemplateVar{{Name: "body", Index: 1, Value: a}, {Name: "body", Index: 2, Value: b}},
			Header: &Media{Type: "image", URL: "https://example.com/" + c}, Buttons: []TemplateButton{{Index: 0, SubType: "url", Value: c}}}
	case KindBotFlow:
		m.BotFlow = a
	case KindLocation:
		m.Location = &Location{Latitude: 52.5, Longitude: 13.4, Name: a, Address: b}
	case KindButtons:
		m.Buttons = &Buttons{Text: a, Header: b, Footer: c, Buttons: []Button{{Type: "reply", Title: b}, {Type: "url", Title: c, Payload: "https://x/" + a}}}
	case KindList:
		m.List = &List{Text: a, Header: b, Footer: c, Button: b, Sections: []ListSection{
			{Title: c, Rows: []ListRow{{ID: "r1", Title: a, Description: b}, {ID: "r2", Title: c}}}}}
	}
	return m
}

// FuzzRender: whatever the message, Validate, Variables and Render do not
// panic and do not change it. With a value for every variable, Render
// fails only on a malformed placeholder (which Validate reports too) and
// otherwise leaves no placeholder behind: no "{{" at all, as the values
// have no braces. Without one variable's value, it names a variable of the
// message.
func FuzzRender(f *testing.F) {
	var many strings.Builder
	for i := range 300 {
		fmt.Fprintf(&many, "{{v%d}}", i)
	}
	for _, s := range [][3]string{
		{"Hi {{name}}, your code is {{code}}", "{{ phone }}", "plain"},
		{"{{", "}}", "{{}}"}, {"{{1}}", "{{a b}}", "{{{{a}}}}"}, {"{{a}}}", "{{{a}}", "}}{{a"},
		{"{{order.id}} {{first-name}} {{_x}}", "{{x-}}", "{{é}}"},
		{many.String(), "{{v0}}", "{{v299}}"},
		{"nul\x00{{a\x00}}", "\xff{{b}}\xfe", "{{c}}\u202e"},
		{strings.Repeat("{{a}}", 1000), strings.Repeat("{", 1000), strings.Repeat("}", 1000)},
	} {
		for kind := range Kinds {
			f.Add(uint8(kind), s[0], s[1], s[2])
		}
	}
	f.Fuzz(func(t *testing.T, kind uint8, a, b, c string) {
		m := fuzzMessage(kind, a, b, c)
		verr := m.Validate()
		names := m.Variables()
		vars := make(map[string]string, len(names))
		for i, n := range names {
			vars[n] = fmt.Sprintf("V%d", i)
		}
		out, err := m.Render(vars)
		if !reflect.DeepEqual(m, fuzzMessage(kind, a, b, c)) {
			t.Fatalf("Render changed its message: %#v", m)
		}
		var missing *MissingVarError
		switch {
		case errors.As(err, &missing):
			t.Fatalf("every variable has a value, yet %v", err)
		case err != nil:
			if verr == nil {
				t.Fatalf("Render refuses %v but Validate passes the message", err)
			}
		default:
			for field, s := range out.TextFields() {
				if strings.Contains(s, "{{") {
					t.Fatalf("rendered %s %q still holds a placeholder", field, s)
				}
			}
		}
		if len(names) == 0 {
			return
		}
		delete(vars, names[len(names)-1])
		if _, err := m.Render(vars); errors.As(err, &missing) && !slices.Contains(names, missing.Name) {
			t.Fatalf("Render names %q, not a variable of the message (%v)", missing.Name, names)
		}
	})
}
