package salebot

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/wacamp/wacamp/provider"
	"github.com/wacamp/wacamp/provider/internal/wire"
)

// ClientTypeWhatsApp is Salebot's client_type of WhatsApp clients (the doc's
// examples: {"platform_id":"79875555555","group_id":34810,"client_type":6}).
const ClientTypeWhatsApp = 6

// ParseWebhook reads one body of Salebot's message webhook (the URL set in
// the project's settings): one JSON object per message, or an array of
// them, with the fields id, client {id, recepient, client_type, name,
// avatar, created_at, tag, group}, message, attachments, message_id,
// project_id, is_input, delivered and error_message.
//
//   - is_input 1 (from the subscriber) gives an inbound Event: Phone is the
//     digits of client.recepient, Text the message, WAMID the id.
//   - is_input 0 (from the bot, i.e. ours) gives a status Event: delivered 1
//     is StatusDelivered, delivered 0 StatusFailed with Reason
//     error_message and Code the Meta code written in it ("(#131026)").
//     WAMID is Salebot's message id (not a wamid: send answers carry none),
//     so MatchByPhone is set: the status belongs to the open send to Phone
//     whose content is Text (the message) or Media (the first of
//     attachments), else the oldest. Salebot has no sent or read statuses.
//
// Numbers may be JSON numbers or strings ("1", 1, true). A recepient like
// "79875146788@c.us" yields its digits before the "@". Only WhatsApp clients
// count: an object whose client.client_type is present and is not 6 is
// skipped (Telegram, VK, online chat ... clients of the same project share
// the webhook). Objects without is_input, or an outbound one without
// delivered, say nothing we use and are skipped.
//
// Malformed JSON is an error; a well-formed body with nothing we use gives
// (nil, nil).
func ParseWebhook(body []byte) ([]provider.Event, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, errors.New("salebot webhook: empty body")
	}
	var v any
	if err := wire.DecodeJSON(body, &v); err != nil {
		return nil, fmt.Errorf("salebot webhook: %w", err)
	}
	var items []any
	switch x := v.(type) {
	case map[string]any:
		items = []any{x}
	case []any:
		items = x
	default:
		return nil, nil
	}
	var out []provider.Event
	for _, it := range items {
		m, ok := it.(map[string]any)
		if !ok {
			continue
		}
		if ev, ok := webhookEvent(m); ok {
			out = append(out, ev)
		}
	}
	return wire.Events(out), nil
}

// webhookEvent reads one message object.
func webhookEvent(m map[string]any) (provider.Event, bool) {
	client, _ := m["client"].(map[string]any)
	if ct, present := client["client_type"]; present && ct != nil {
		// The doc gives no values; its examples use 6 for WhatsApp. Only
		// another number is surely another messenger.
		if n, ok := intValue(ct); ok && n != ClientTypeWhatsApp {
			return provider.Event{}, false
		}
	}
	input, ok := boolValue(m["is_input"])
	if !ok {
		return provider.Event{}, false
	}
	ev := provider.Event{
		WAMID: wire.Scalar(m["id"]),
		Phone: phoneDigits(wire.Scalar(client["recepient"])),
		Text:  textValue(m["message"]),
	}
	if att, ok := m["attachments"].([]any); ok && len(att) > 0 {
		ev.Media = textValue(att[0])
	}
	if ev.Phone == "" {
		// Tolerate the correct spelling too.
		ev.Phone = phoneDigits(wire.Scalar(client["recipient"]))
	}
	if input {
		ev.Inbound = true
		return ev, true
	}
	delivered, ok := boolValue(m["delivered"])
	if !ok {
		return provider.Event{}, false
	}
	ev.MatchByPhone = true
	if delivered {
		ev.Status = provider.StatusDelivered
		return ev, true
	}
	ev.Status = provider.StatusFailed
	ev.Reason = textValue(m["error_message"])
	ev.Code = provider.ExtractCode(ev.Reason)
	return ev, true
}

// boolValue reads 1/0, "1"/"0", true/false, "true"/"false".
func boolValue(v any) (bool, bool) {
	switch x := v.(type) {
	case bool:
		return x, true
	case json.Number, string:
		s := strings.ToLower(strings.TrimSpace(wire.Scalar(x)))
		switch s {
		case "true", "yes":
			return true, true
		case "false", "no":
			return false, true
		}
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return f != 0, true
		}
	}
	return false, false
}

// intValue reads a number or a numeric string.
func intValue(v any) (int64, bool) {
	s := wire.Scalar(v)
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, true
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && f == float64(int64(f)) {
		return int64(f), true
	}
	return 0, false
}

// textValue returns a string as is (trimmed) and a number as text; other
// values are "".
func textValue(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return wire.Scalar(v)
}

// phoneDigits returns the digits of a messenger id such as "+7 987
// 514-67-88" or "79875146788@c.us" (only the part before "@").
func phoneDigits(s string) string {
	if i := strings.IndexByte(s, '@'); i >= 0 {
		s = s[:i]
	}
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}
