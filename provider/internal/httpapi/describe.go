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
// secret only as whether it is set. A driver's Config builds one
// (Describe); its Client embeds one under the Client's type name (As, or
// Base). Its fields are unexported, so that embedded it adds only those
// three methods to a Client: neither the fields nor their secret values
// are reachable through it.
type Described struct {
	typ    string // "botsailor.Config", "botsailor.Client"
	fields []Field
}

// Describe returns the description of a value of type typ
// ("botsailor.Config") with fields, in order.
func Describe(typ string, fields ...Field) Described {
	return Described{typ: typ, fields: fields}
}

// As returns d under another type name (a Client described as its
// Config). It is a function, not a method, so that it is not promoted to
// the Clients that embed a Described.
func As(typ string, d Described) Described { return Described{typ: typ, fields: d.fields} }

// String is Type{Name: value, ...}: strings quoted, secrets redacted.
func (d Described) String() string {
	parts := make([]string, len(d.fields))
	for i, f := range d.fields {
		parts[i] = f.Name + ": " + f.show("%q")
	}
	return d.typ + "{" + strings.Join(parts, ", ") + "}"
}

// GoString is String, so %#v does not print a secret either.
func (d Described) GoString() string { return d.String() }

// LogValue is a group of the fields under their keys, secrets redacted.
func (d Described) LogValue() slog.Value {
	attrs := make([]slog.Attr, len(d.fields))
	for i, f := range d.fields {
		attrs[i] = slog.Any(f.Key, f.Value)
		if f.Secret {
			attrs[i] = slog.String(f.Key, f.show(""))
		}
	}
	return slog.GroupValue(attrs...)
}

// Base is what the Client of a driver whose API has neither a
// conversation history nor status polling embeds (under an unexported
// alias): the Client's description (String, GoString, LogValue) and its
// Unsupported Conversation and MessageStatus. Its fields are unexported:
// it adds those five methods to the driver's API and nothing else.
type Base struct {
	described
	unsupported
}

type (
	described   = Described
	unsupported = Unsupported
)

// NoHistory returns the Base of provider's Client of type typ
// ("sobot.Client"), described as its Config cfg is.
func NoHistory(provider, typ string, cfg Described) Base {
	return Base{described: As(typ, cfg), unsupported: Unsupported{provider: provider}}
}

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
