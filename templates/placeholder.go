package templates

import (
	"fmt"
	"iter"
	"strings"
	"unicode/utf8"
)

// MissingVarError is returned by [Message.Render] for a placeholder that has
// no value.
type MissingVarError struct {
	Name string // the placeholder's name, without braces
}

// Error implements error.
func (e *MissingVarError) Error() string {
	return fmt.Sprintf("{{%s}} has no value", e.Name)
}

// Placeholders returns the names of the well-formed placeholders in s, in
// order of first appearance and without duplicates.
//
// A placeholder is a variable name between double braces, with optional
// spaces: "{{name}}" and "{{ name }}" are the same placeholder. A name starts
// with a letter or underscore and continues with letters, digits, '_', '.'
// or '-' (so "order.id" and "first-name" are names). A "{{" that is not
// closed by "}}", or braces around something that is not a name ("{{}}",
// "{{1}}", "{{a b}}"), is malformed: Placeholders skips it,
// [Message.Validate] reports it and [Message.Render] refuses it. A lone "}}"
// is ordinary text. There is no escape for a literal "{{".
func Placeholders(s string) []string {
	var names []string
	var seen map[string]bool // linear in the placeholders, however many
	for t := range tokens(s) {
		if t.kind != tokenVar || seen[t.text] {
			continue
		}
		if seen == nil {
			seen = make(map[string]bool)
		}
		seen[t.text] = true
		names = append(names, t.text)
	}
	return names
}

// checkPlaceholders returns the first malformed placeholder in s as an error,
// or nil.
func checkPlaceholders(s string) error {
	for t := range tokens(s) {
		if t.kind == tokenBad {
			return t.err
		}
	}
	return nil
}

// render replaces the placeholders in s with their values from vars.
// Replaced values are not scanned again.
func render(s string, vars map[string]string) (string, error) {
	if !strings.Contains(s, "{{") {
		return s, nil
	}
	var b strings.Builder
	b.Grow(len(s))
	for t := range tokens(s) {
		switch t.kind {
		case tokenText:
			b.WriteString(t.text)
		case tokenVar:
			v, ok := vars[t.text]
			if !ok {
				return "", &MissingVarError{Name: t.text}
			}
			b.WriteString(v)
		case tokenBad:
			return "", t.err
		}
	}
	return b.String(), nil
}

type tokenKind int

const (
	tokenText tokenKind = iota // literal text
	tokenVar                   // a well-formed placeholder; text is its name
	tokenBad                   // a malformed placeholder; err says why
)

type token struct {
	kind tokenKind
	text string
	err  error
}

// tokens splits s into literal text and placeholders. After an unclosed
// "{{" the rest of s is one malformed token.
func tokens(s string) iter.Seq[token] {
	return func(yield func(token) bool) {
		rest := s
		for rest != "" {
			open := strings.Index(rest, "{{")
			if open < 0 {
				yield(token{kind: tokenText, text: rest})
				return
			}
			if open > 0 && !yield(token{kind: tokenText, text: rest[:open]}) {
				return
			}
			rest = rest[open:]
			end := strings.Index(rest[2:], "}}")
			if end < 0 {
				at := utf8.RuneCountInString(s[:len(s)-len(rest)]) + 1
				yield(token{kind: tokenBad, text: rest,
					err: fmt.Errorf(`"{{" at character %d is not closed with "}}"`, at)})
				return
			}
			raw := rest[:2+end+2]
			rest = rest[len(raw):]
			name := strings.TrimSpace(raw[2 : len(raw)-2])
			t := token{kind: tokenVar, text: name}
			if !validName(name) {
				t = token{kind: tokenBad, text: raw, err: fmt.Errorf(
					"malformed placeholder %q: a name starts with a letter or _ and has only letters, digits, _ . -", raw)}
			}
			if !yield(t) {
				return
			}
		}
	}
}

// validName reports whether s is a placeholder name:
// [A-Za-z_][A-Za-z0-9_.-]*.
func validName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_', 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '.' || c == '-'):
		default:
			return false
		}
	}
	return true
}
