package sobot

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/wacamp/wacamp/provider"
	"github.com/wacamp/wacamp/provider/internal/wire"
)

// ParseWebhook turns one webhook request body into events. It accepts:
//
//   - the doc's inbound message payloads: a JSON array of
//     {"value":{"messaging_product","metadata","contacts","messages":[…]},
//     "field":"messages"} wrappers, or one such wrapper alone;
//   - the doc's status payloads: bare {"id","status","timestamp"} objects,
//     alone or in an array, whose recipient is read from the wamid when it
//     is in Meta's format (phoneOfWAMID);
//   - Meta Cloud API statuses (value.statuses[] with recipient_id and
//     errors[]) inside the same wrappers, and Meta's full envelope
//     {"object":"whatsapp_business_account","entry":[{"changes":[…]}]}.
//
// Statuses sent, delivered, read (and "played", a read voice note) and
// failed become status events; other statuses are dropped. A failed status
// carries Meta's code (errors[0].code) and a reason (title, message and
// error_data.details). Inbound messages become Inbound events with the
// sender's number and the text body, button or list reply title, or media
// caption. Phones are reduced to their digits.
//
// Malformed JSON is an error; a well-formed body with nothing of interest
// gives (nil, nil).
func ParseWebhook(body []byte) ([]provider.Event, error) {
	var v any
	if err := wire.DecodeJSON(body, &v); err != nil {
		return nil, fmt.Errorf("sobot webhook: malformed JSON: %w", err)
	}
	var events []provider.Event
	walkWebhook(v, 0, &events)
	if len(events) == 0 {
		return nil, nil
	}
	return wire.Events(events), nil
}

// maxWebhookDepth bounds the recursion over nested arrays and wrappers.
const maxWebhookDepth = 8

// walkWebhook collects the events of one JSON value of a webhook body.
func walkWebhook(v any, depth int, out *[]provider.Event) {
	if depth > maxWebhookDepth {
		return
	}
	switch v := v.(type) {
	case []any:
		for _, el := range v {
			walkWebhook(el, depth+1, out)
		}
	case map[string]any:
		switch {
		case v["entry"] != nil: // Meta's envelope
			for _, e := range asList(v["entry"]) {
				entry, _ := e.(map[string]any)
				for _, ch := range asList(wire.Field(entry, "changes")) {
					walkWebhook(ch, depth+1, out)
				}
			}
		case v["value"] != nil: // {"value":{…},"field":"messages"}
			if f := wire.Scalar(v["field"]); f != "" && f != "messages" && f != "statuses" {
				return
			}
			walkWebhook(v["value"], depth+1, out)
		case v["statuses"] != nil || v["messages"] != nil: // a bare value
			for _, st := range asList(v["statuses"]) {
				if m, ok := st.(map[string]any); ok {
					statusEvent(m, out)
				}
			}
			for _, msg := range asList(v["messages"]) {
				if m, ok := msg.(map[string]any); ok {
					inboundEvent(m, out)
				}
			}
		case v["status"] != nil && v["id"] != nil: // a bare status
			statusEvent(v, out)
		}
	}
}

// statusEvent appends the event of one status object, unless its status is
// unknown or it names no message.
func statusEvent(m map[string]any, out *[]provider.Event) {
	st := statusWords.Map(wire.Scalar(m["status"]))
	id := wire.Scalar(m["id"])
	if st == provider.StatusUnknown || id == "" {
		return
	}
	ev := provider.Event{
		WAMID:  id,
		Status: st,
		At:     parseTimestamp(m["timestamp"]),
		Phone:  digits(wire.FirstScalar(m, "recipient_id", "customer_number", "to", "phone")),
	}
	if ev.Phone == "" {
		// The doc's statuses name no recipient, but a wamid in Meta's
		// format carries it (as the doc's samples do).
		ev.Phone = phoneOfWAMID(id)
	}
	if st == provider.StatusFailed {
		ev.Code, ev.Reason = failure(m)
		ev.Code = wire.Scrubber{}.Code(ev.Code) // a code is a short token; anything else is not kept
	}
	*out = append(*out, ev)
}

// phoneOfWAMID returns the recipient's number that a wamid in Meta's
// format carries, or "" for any other id. Such a wamid is "wamid." and the
// base64 of a Thrift compact struct whose first field is the number as a
// string: 0x1c 0x18, its length, its digits (the doc's
// "wamid.HBgMOTE5NTYxODc4MDgwFQIAERgS…" is 919561878080's).
func phoneOfWAMID(id string) string {
	rest, ok := strings.CutPrefix(id, "wamid.")
	if !ok || len(rest) > 256 {
		return ""
	}
	rest = strings.TrimRight(rest, "=")
	raw, err := base64.RawStdEncoding.DecodeString(rest)
	if err != nil {
		if raw, err = base64.RawURLEncoding.DecodeString(rest); err != nil {
			return ""
		}
	}
	if len(raw) < 3 || raw[0] != 0x1c || raw[1] != 0x18 {
		return ""
	}
	n := int(raw[2])
	if n < 7 || n > 15 || len(raw) < 3+n {
		return ""
	}
	phone := string(raw[3 : 3+n])
	if strings.Trim(phone, "0123456789") != "" || phone[0] == '0' {
		return ""
	}
	return phone
}

// failure returns Meta's code and the reason of a failed status: from
// errors[0] (code; title, message, error_data.details), else from flat
// code and reason fields.
func failure(m map[string]any) (code, reason string) {
	var parts []string
	add := func(s string) {
		s = strings.TrimSpace(s)
		if s == "" {
			return
		}
		for _, p := range parts {
			if strings.EqualFold(p, s) {
				return
			}
		}
		parts = append(parts, s)
	}
	e := wire.Object(m["errors"])
	if e == nil {
		e = wire.Object(m["error"])
	}
	if e != nil {
		code = wire.Scalar(e["code"])
		add(wire.Scalar(e["title"]))
		add(wire.Scalar(e["message"]))
		add(wire.Scalar(wire.Field(wire.Object(e["error_data"]), "details")))
	}
	if s, ok := m["error"].(string); ok {
		add(s)
	}
	add(wire.FirstScalar(m, "reason", "failed_reason", "message"))
	reason = strings.Join(parts, ": ")
	if code == "" {
		code = wire.FirstScalar(m, "error_code", "code")
	}
	if code == "" {
		code = provider.ExtractCode(reason)
	}
	return code, reason
}

// inboundEvent appends the event of one inbound message.
func inboundEvent(m map[string]any, out *[]provider.Event) {
	*out = append(*out, provider.Event{
		WAMID:   wire.Scalar(m["id"]),
		At:      parseTimestamp(m["timestamp"]),
		Phone:   digits(wire.Scalar(m["from"])),
		Inbound: true,
		Text:    inboundText(m),
	})
}

// inboundText returns the text of an inbound message: text.body, a template
// button's text, an interactive reply's title, or a media caption.
func inboundText(m map[string]any) string {
	if s := wire.Scalar(wire.Field(wire.Object(m["text"]), "body")); s != "" {
		return s
	}
	if s, ok := m["text"].(string); ok && strings.TrimSpace(s) != "" {
		return strings.TrimSpace(s)
	}
	if b := wire.Object(m["button"]); b != nil {
		if s := wire.FirstScalar(b, "text", "payload"); s != "" {
			return s
		}
	}
	if in := wire.Object(m["interactive"]); in != nil {
		for _, key := range []string{"button_reply", "list_reply"} {
			if s := wire.FirstScalar(wire.Object(in[key]), "title", "id"); s != "" {
				return s
			}
		}
	}
	for _, kind := range []string{"image", "video", "document", "audio", "sticker"} {
		if s := wire.Scalar(wire.Field(wire.Object(m[kind]), "caption")); s != "" {
			return s
		}
	}
	return ""
}

// statusWords are Sobot's status words (Meta's); other words give
// StatusUnknown.
var statusWords = wire.StatusWords{
	"sent":      provider.StatusSent,
	"delivered": provider.StatusDelivered,
	"read":      provider.StatusRead, "played": provider.StatusRead,
	"failed": provider.StatusFailed,
}

// parseTimestamp reads Unix seconds (or milliseconds) as a number or string,
// or an RFC 3339 time; zero if absent, unreadable or impossible (see
// wire.EventTime).
func parseTimestamp(v any) time.Time {
	s := wire.Scalar(v)
	if s == "" {
		return time.Time{}
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		t, _ := wire.UnixTime(f)
		return t
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		t, _ = wire.EventTime(t)
		return t
	}
	return time.Time{}
}

// digits keeps only the digits of a phone number.
func digits(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func asList(v any) []any {
	switch v := v.(type) {
	case []any:
		return v
	case map[string]any:
		return []any{v}
	}
	return nil
}
