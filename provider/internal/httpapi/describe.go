package httpapi

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/wacamp/wacamp/provider/internal/wire"
)

// Field is one configuration field as a driver prints and logs it.
type Field struct {
	Name   string // the Go field name, for String
	Key    string // the slog key
	Value  any    // a string or an integer
	Secret bool   // shown only as wire.RedactedOrEmpty
}

// Described prints a configuration without its secrets: String (and so
// %v and %+v), GoString (%#v) and LogValue (slog) show every field, each
// secret only as whether it is set. A driver's Client embeds it; its Config
// builds one.
type Described struct {
	Type   string // "botsailor.Config", "botsailor.Client"
	Fields []Field
}

// String is Type{Name: value, ...}: strings quoted, secrets redacted.
func (d Described) String() string {
	parts := make([]string, len(d.Fields))
	for i, f := range d.Fields {
		parts[i] = f.Name + ": " + f.show("%q")
	}
	return d.Type + "{" + strings.Join(parts, ", ") + "}"
}

// GoString is String, so %#v does not print a secret either.
func (d Described) GoString() string { return d.String() }

// LogValue is a group of the fields under their keys, secrets redacted.
func (d Described) LogValue() slog.Value {
	attrs := make([]slog.Attr, len(d.Fields))
	for i, f := range d.Fields {
		attrs[i] = slog.Any(f.Key, f.Value)
		if f.Secret {
			attrs[i] = slog.String(f.Key, f.show(""))
		}
	}
	return slog.GroupValue(attrs...)
}

// As returns d under another type name (a Client described as its Config).
func (d Described) As(typ string) Described { return Described{Type: typ, Fields: d.Fields} }

// show formats the value with verb (a string's), or redacted if secret.
func (f Field) show(verb string) string {
	if f.Secret {
		s, _ := f.Value.(string)
		return wire.RedactedOrEmpty(s)
	}
	if s, ok := f.Value.(string); ok {
		return fmt.Sprintf(verb, s)
	}
	return fmt.Sprint(f.Value)
}
