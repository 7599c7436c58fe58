package waapi

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/wacamp/wacamp/provider"
	"github.com/wacamp/wacamp/provider/internal/wire"
)

// ParseWebhook turns one webhook request body into events. The seed doc sets
// webhooks (PUT /whatsapp/setWebhook, events "onMessage", "onAnyMessage")
// but shows no payload, so the parser accepts the Baileys WAMessage shapes
// this API is built on, tolerantly:
//
//   - the body is an envelope object or an array of them;
//   - an envelope's items are its "data" (an object or an array of objects)
//     or, without "data", the envelope itself; an item holding a "messages"
//     array (Baileys' messages.upsert) stands for those messages. The event
//     name ("event" or "type") is not needed for these: items are
//     recognised by shape;
//   - an item without a "key" object {remoteJid, fromMe, id} is read in the
//     whatsapp-web.js / wppconnect shape the doc's event names
//     ("onMessage", "onAnyMessage") and serialized ids come from
//     (webJSEventOf), else in a flat shape in the doc's own words (chatId,
//     message, fromMe; flatEventOf), where without fromMe the event name
//     ("event", or a "type" beginning with "on") tells a message received;
//     it is ignored when it is none of these;
//   - an item with key.fromMe false (or "false") and a "message" object is
//     an inbound message: Event{Inbound: true, WAMID: key.id, Phone,
//     Text} with Text from message.conversation,
//     extendedTextMessage.text, the caption of an image, video or document,
//     or the title of a button or list reply (also inside an
//     ephemeralMessage/viewOnceMessage wrapper). Group chats (…@g.us) and
//     broadcasts (…@broadcast) are skipped;
//   - an item with key.fromMe true and a "message" object is our own
//     message (the "onAnyMessage" event): a status (its status, else sent)
//     carrying the message's Text and Media URL, so a send whose answer
//     named no id is matched to it by content;
//   - any other item carrying a status in update.status or status is a
//     status of our message key.id: a string PENDING or SERVER_ACK → sent,
//     DELIVERY_ACK → delivered, READ or PLAYED → read, ERROR or FAILED →
//     failed (the lower-case Cloud API words sent/delivered/read/failed are
//     accepted too), or Baileys' number 0 ERROR → failed, 1 PENDING →
//     dropped, 2 SERVER_ACK → sent, 3 DELIVERY_ACK → delivered, 4 READ and
//     5 PLAYED → read. Unknown statuses are dropped. A failed status takes
//     Code and Reason from update.error / error (object with code and
//     message, or a string) and a Meta code written in the reason;
//   - an item with a "receipt" object (Baileys' message-receipt.update) is a
//     status: readTimestamp → read, else receiptTimestamp → delivered;
//   - Phone is the digits of key.remoteJid before '@' and any ':device'
//     suffix; for a …@lid jid, key.senderPn or key.remoteJidAlt is used;
//   - At is messageTimestamp (of the item or its update; Unix seconds or
//     milliseconds, as a number, a string or a {low, high} Long), else
//     "timestamp"; zero if absent.
//
// Malformed JSON is an error. A well-formed body with nothing we care about
// yields (nil, nil).
func ParseWebhook(body []byte) ([]provider.Event, error) {
	body = bytes.TrimSpace(bytes.TrimPrefix(body, []byte("\xef\xbb\xbf")))
	var v any
	if err := wire.DecodeJSON(body, &v); err != nil {
		return nil, fmt.Errorf("waapi webhook: %w", err)
	}
	var envelopes []any
	switch x := v.(type) {
	case []any:
		envelopes = x
	case map[string]any:
		envelopes = []any{x}
	}
	var out []provider.Event
	for _, e := range envelopes {
		env, ok := e.(map[string]any)
		if !ok {
			continue
		}
		name := eventName(env)
		for _, item := range itemsOf(env) {
			if ev, ok := eventOf(item, cmp.Or(eventName(item), name)); ok {
				// The doc's text answer carries no id: a status whose id
				// we never learned belongs to the oldest recent id-less
				// send to that phone.
				ev.MatchByPhone = !ev.Inbound && ev.Phone != ""
				out = append(out, ev)
			}
		}
	}
	return wire.Events(out), nil
}

// itemsOf returns the message items of an envelope.
func itemsOf(env map[string]any) []map[string]any {
	var raw []any
	switch d := env["data"].(type) {
	case map[string]any:
		raw = []any{d}
	case []any:
		raw = d
	case nil:
		raw = []any{env}
	}
	var out []map[string]any
	for _, r := range raw {
		m, ok := r.(map[string]any)
		if !ok {
			continue
		}
		if msgs, ok := m["messages"].([]any); ok && m["key"] == nil {
			for _, x := range msgs {
				if mm, ok := x.(map[string]any); ok {
					out = append(out, mm)
				}
			}
			continue
		}
		out = append(out, m)
	}
	return out
}

// eventName returns the event name an envelope or item carries ("event",
// else a "type" that is no message type), lower-cased; "" for none.
func eventName(m map[string]any) string {
	if s := wire.Scalar(m["event"]); s != "" {
		return strings.ToLower(s)
	}
	if s := wire.Scalar(m["type"]); strings.HasPrefix(strings.ToLower(s), "on") {
		return strings.ToLower(s)
	}
	return ""
}

// eventOf turns one item, of the webhook event named event (lower case,
// "" when none is named), into an event, if it is one we care about.
func eventOf(item map[string]any, event string) (provider.Event, bool) {
	key, ok := item["key"].(map[string]any)
	if !ok {
		if webJSShaped(item) {
			// Its verdict stands: what it skips (a reaction, a revoke, a
			// notification, a pending ack) is no message of ours either.
			return webJSEventOf(item)
		}
		return flatEventOf(item, event)
	}
	jid := wire.Scalar(key["remoteJid"])
	if strings.HasSuffix(jid, "@g.us") || strings.HasSuffix(jid, "@broadcast") {
		return provider.Event{}, false
	}
	ev := provider.Event{WAMID: wire.Scalar(key["id"]), Phone: phoneOfKey(key)}
	update, _ := item["update"].(map[string]any)
	ev.At = timeOf(item, update)

	fromMe, known := boolOf(key["fromMe"])
	if msg, ok := item["message"].(map[string]any); ok && known && !fromMe {
		ev.Inbound = true
		ev.Text = textOf(msg)
		return ev, true
	}
	if known && !fromMe {
		// A receipt or update about the subscriber's own message.
		return provider.Event{}, false
	}

	if rc, ok := item["receipt"].(map[string]any); ok {
		if t, ok := parseTimestamp(rc["readTimestamp"]); ok {
			ev.Status, ev.At = provider.StatusRead, t
		} else if t, ok := parseTimestamp(rc["receiptTimestamp"]); ok {
			ev.Status, ev.At = provider.StatusDelivered, t
		}
		return ev, ev.Status != provider.StatusUnknown
	}

	raw := wire.Field(update, "status")
	if raw == nil {
		raw = item["status"]
	}
	ev.Status = mapStatus(raw)
	if msg, ok := item["message"].(map[string]any); ok && known && fromMe {
		// Our own message ("onAnyMessage"): it went out, and its text
		// ties its id to the send whose answer named none.
		ev.Text = textOf(msg)
		ev.Media = mediaURLOf(msg)
		if ev.Status == provider.StatusUnknown {
			ev.Status = provider.StatusSent
		}
	}
	if ev.Status == provider.StatusUnknown {
		return provider.Event{}, false
	}
	if ev.Status == provider.StatusFailed {
		errv := wire.Field(update, "error")
		if errv == nil {
			errv = item["error"]
		}
		ev.Code, ev.Reason = failureOf(errv, wire.Scalar(wire.Field(update, "reason")))
	}
	return ev, true
}

// mapStatus maps a Baileys status (name or number) to the ladder.
func mapStatus(v any) provider.Status {
	s := strings.ToUpper(wire.Scalar(v))
	switch s {
	case "PENDING", "SERVER_ACK", "SENT", "2":
		return provider.StatusSent
	case "DELIVERY_ACK", "DELIVERED", "3":
		return provider.StatusDelivered
	case "READ", "PLAYED", "4", "5":
		return provider.StatusRead
	case "ERROR", "FAILED", "0":
		return provider.StatusFailed
	}
	return provider.StatusUnknown
}

// failureOf is a failed status's code and reason, from its error (see
// errorOf; else reason): a code is kept only as a short token, else the
// Meta code written in the reason.
func failureOf(errv any, reason string) (code, why string) {
	code, why = errorOf(errv)
	code = wire.Scrubber{}.Code(code) // a code is a short token; anything else is not kept
	why = cmp.Or(why, reason)
	if code == "" {
		code = provider.ExtractCode(why)
	}
	return code, why
}

// errorOf reads a failure's code and text from an object {code, message}
// or a string.
func errorOf(v any) (code, reason string) {
	switch e := v.(type) {
	case map[string]any:
		code = wire.Scalar(e["code"])
		for _, k := range []string{"message", "reason", "title"} {
			if reason = wire.Scalar(e[k]); reason != "" {
				break
			}
		}
	default:
		reason = wire.Scalar(e)
	}
	return code, reason
}

// phoneOfKey returns the digits of the key's jid.
func phoneOfKey(key map[string]any) string {
	jid := wire.Scalar(key["remoteJid"])
	if strings.HasSuffix(jid, "@lid") {
		jid = ""
		for _, k := range []string{"senderPn", "remoteJidAlt", "participantPn"} {
			if s := wire.Scalar(key[k]); s != "" && !strings.HasSuffix(s, "@lid") {
				jid = s
				break
			}
		}
	}
	return digitsOfJID(jid)
}

// digitsOfJID returns the digits of "2349040613521:8@s.whatsapp.net".
func digitsOfJID(jid string) string {
	user, _, _ := strings.Cut(jid, "@")
	user, _, _ = strings.Cut(user, ":")
	var b strings.Builder
	for _, r := range user {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// textOf returns the text of a Baileys message object.
func textOf(msg map[string]any) string {
	for range 3 {
		inner := false
		for _, w := range []string{"ephemeralMessage", "viewOnceMessage", "viewOnceMessageV2", "documentWithCaptionMessage"} {
			if m, ok := wire.Field(msg[w], "message").(map[string]any); ok {
				msg, inner = m, true
				break
			}
		}
		if !inner {
			break
		}
	}
	if s, ok := msg["conversation"].(string); ok && s != "" {
		return s
	}
	paths := [][2]string{
		{"extendedTextMessage", "text"},
		{"imageMessage", "caption"},
		{"videoMessage", "caption"},
		{"documentMessage", "caption"},
		{"buttonsResponseMessage", "selectedDisplayText"},
		{"templateButtonReplyMessage", "selectedDisplayText"},
		{"listResponseMessage", "title"},
	}
	for _, p := range paths {
		if s, ok := wire.Field(msg[p[0]], p[1]).(string); ok && s != "" {
			return s
		}
	}
	return ""
}

// mediaURLOf returns the URL of a Baileys media message, or "".
func mediaURLOf(msg map[string]any) string {
	for _, k := range []string{"imageMessage", "videoMessage", "documentMessage", "audioMessage", "stickerMessage"} {
		if s, ok := wire.Field(msg[k], "url").(string); ok && s != "" {
			return s
		}
	}
	return ""
}

// timeOf returns an item's messageTimestamp (or its update's), else its
// timestamp.
func timeOf(item, update map[string]any) time.Time {
	for _, v := range []any{item["messageTimestamp"], wire.Field(update, "messageTimestamp"), item["timestamp"], wire.Field(update, "timestamp")} {
		if t, ok := parseTimestamp(v); ok {
			return t
		}
	}
	return time.Time{}
}

// parseTimestamp reads Unix seconds or milliseconds from a number, a numeric
// string or a protobuf Long {low, high}; ok is false for none or an
// impossible one (see wire.UnixTime).
func parseTimestamp(v any) (time.Time, bool) {
	if m, ok := v.(map[string]any); ok {
		low, err1 := strconv.ParseInt(wire.Scalar(m["low"]), 10, 64)
		high, err2 := strconv.ParseInt(wire.Scalar(m["high"]), 10, 64)
		if err1 != nil || err2 != nil {
			return time.Time{}, false
		}
		v = json.Number(strconv.FormatInt(high<<32|int64(uint32(low)), 10)) // #nosec G115 -- the low 32 bits, as Long.toString does
	}
	s := wire.Scalar(v)
	if s == "" {
		return time.Time{}, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return time.Time{}, false
	}
	return wire.UnixTime(f)
}

// boolOf reads a JSON boolean, tolerating "true"/"false" strings; known is
// false when v is neither.
func boolOf(v any) (b, known bool) {
	switch x := v.(type) {
	case bool:
		return x, true
	case string:
		switch strings.ToLower(strings.TrimSpace(x)) {
		case "true", "1":
			return true, true
		case "false", "0":
			return false, true
		}
	}
	return false, false
}

// webJSEventOf reads an item in the whatsapp-web.js / wppconnect shape: a
// message object whose "id" is a serialized id
// "true_2348179803743@c.us_3EB0…" or an object {fromMe, remote, id,
// _serialized}, with "from", "to", "fromMe", "body" (or "caption"), "ack"
// and "timestamp" (or "t"):
//
//   - a message not from us is inbound: Event{Inbound, WAMID, Phone (its
//     "from"), Text};
//   - our own message is a status of it: "ack" -1 → failed, 1 → sent,
//     2 → delivered, 3 and 4 (played) → read, 0 (pending) dropped; with no
//     ack, a status word in "status", else (the "onAnyMessage" event) sent;
//     Phone is its "to", and its body (or caption) its Text.
//
// Group chats, broadcasts, linked ids (…@lid: no phone number) and items
// of a type that is no message (a reaction, a revoke, a call, a
// notification) are skipped; a button or list reply's text is its body.
// WAMID is the id's own part (3EB0…), what a send's answer names.
func webJSEventOf(item map[string]any) (provider.Event, bool) {
	fromMe, remote, id, ok := false, "", "", false
	switch v := item["id"].(type) {
	case string:
		fromMe, remote, id, ok = parseSerialized(v)
	case map[string]any:
		if fromMe, remote, id, ok = parseSerialized(wire.Scalar(v["_serialized"])); !ok {
			remote, id = jidOf(v["remote"]), wire.Scalar(v["id"])
			fromMe, ok = boolOf(v["fromMe"])
			ok = ok && remote != "" && id != ""
		}
	}
	if !ok {
		return provider.Event{}, false
	}
	if b, known := boolOf(item["fromMe"]); known {
		fromMe = b
	}
	other := "from" // the chat's other side: who wrote, or whom we wrote to
	if fromMe {
		other = "to"
	}
	peer := cmp.Or(jidOf(item[other]), remote)
	typ := wire.Scalar(item["type"])
	if typ != "" && !webJSMessageTypes[typ] {
		return provider.Event{}, false // a reaction, a revoke, a call, a notification: no message
	}
	for _, jid := range []string{peer, remote} {
		if strings.HasSuffix(jid, "@g.us") || strings.HasSuffix(jid, "@broadcast") || strings.HasSuffix(jid, "@lid") {
			// A group, a broadcast list or status, or a linked id that
			// is no phone number (an opt-out must name the number).
			return provider.Event{}, false
		}
	}
	ev := provider.Event{WAMID: id, Phone: digitsOfJID(peer)}
	for _, k := range []string{"timestamp", "t"} {
		if t, ok := parseTimestamp(item[k]); ok {
			ev.At = t
			break
		}
	}
	text := wire.Scalar(item["body"])
	if webJSMediaTypes[typ] {
		text = wire.Scalar(item["caption"]) // a media message's body is its file
	}
	if !fromMe {
		ev.Inbound, ev.Text = true, text
		return ev, true
	}
	ev.Text = text
	if st, ok := ackStatus(item); ok {
		ev.Status = st
		return ev, st != provider.StatusUnknown
	}
	if ev.Status = mapStatus(item["status"]); ev.Status == provider.StatusUnknown {
		ev.Status = provider.StatusSent
	}
	return ev, true
}

// ackStatus reads an item's whatsapp-web.js "ack": -1 → failed, 1 → sent,
// 2 → delivered, 3 and 4 (played) → read, anything else (0: pending)
// unknown; has is false when the item has no ack.
func ackStatus(item map[string]any) (st provider.Status, has bool) {
	ack, ok := item["ack"]
	if !ok || ack == nil {
		return provider.StatusUnknown, false
	}
	switch wire.Scalar(ack) {
	case "-1":
		return provider.StatusFailed, true
	case "1":
		return provider.StatusSent, true
	case "2":
		return provider.StatusDelivered, true
	case "3", "4":
		return provider.StatusRead, true
	}
	return provider.StatusUnknown, true
}

// webJSMessageTypes are the whatsapp-web.js / wppconnect message types
// that are messages (the others — reactions, revokes, calls, notifications
// — are not read); webJSMediaTypes those whose body is the file, not text.
var (
	webJSMessageTypes = map[string]bool{"chat": true, "image": true, "video": true, "audio": true, "ptt": true, "document": true,
		"sticker": true, "location": true, "vcard": true, "buttons_response": true, "list_response": true, "template_button_reply": true,
		"interactive": true}
	webJSMediaTypes = map[string]bool{"image": true, "video": true, "audio": true, "ptt": true, "document": true, "sticker": true}
)

// jidOf returns a jid given as a string or as an object {_serialized} or
// {user, server}.
func jidOf(v any) string {
	if m, ok := v.(map[string]any); ok {
		if s := wire.Scalar(m["_serialized"]); s != "" {
			return s
		}
		if u := wire.Scalar(m["user"]); u != "" {
			return u + "@" + wire.Scalar(m["server"])
		}
		return ""
	}
	return wire.Scalar(v)
}

// webJSShaped reports whether an item is in the whatsapp-web.js /
// wppconnect shape: its "id" a serialized id or an id object.
func webJSShaped(item map[string]any) bool {
	switch v := item["id"].(type) {
	case string:
		_, _, _, ok := parseSerialized(v)
		return ok
	case map[string]any:
		return true
	}
	return false
}

// inboundEvents are the event names of a message received (the doc's
// "onMessage", and common spellings of the same).
var inboundEvents = map[string]bool{"onmessage": true, "message": true, "message.received": true, "message_received": true,
	"messages.received": true, "incoming": true, "incoming_message": true}

// flatMessageTypes are the message types a flat item may name besides the
// whatsapp-web.js ones (any other "type" is no message).
var flatMessageTypes = map[string]bool{"text": true, "message": true, "conversation": true, "extendedtextmessage": true,
	"imagemessage": true, "videomessage": true, "documentmessage": true, "audiomessage": true}

// flatEventOf reads an item in the flat shape the doc's own words suggest,
// for a payload the doc never shows: a message with its id in "id" (a
// plain one; a serialized one is the whatsapp-web.js shape),
// "messageId" or "message_id", the chat in "chatId" (the doc's send
// parameter), "from", "to", "phone" or "remoteJid", its text in "message"
// (a string, or a Baileys message object), "body", "text" (or text.body)
// or "caption", and whose it is in "fromMe":
//
//   - not from us: an inbound message (Phone: "from", else the chat);
//   - ours: a status of it ("ack" as in webJSEventOf, else a status word in
//     "status", else sent), Phone: "to", else the chat.
//
// Without "fromMe" the event name decides: a message received
// ("onMessage"; see inboundEvents) is inbound; otherwise an item with a
// status word (or an ack) and no text of its own is a status of our
// message, and anything else is skipped, since whose it is cannot be
// told. An item of a "type" that is no message (a reaction, a revoke, a
// notification) and one with no phone number (groups, broadcasts and
// linked ids included) are skipped.
func flatEventOf(item map[string]any, event string) (provider.Event, bool) {
	if typ := wire.Scalar(item["type"]); typ != "" && !webJSMessageTypes[typ] && !flatMessageTypes[strings.ToLower(typ)] {
		return provider.Event{}, false // a reaction, a revoke, a call, a notification: no message
	}
	id := wire.FirstScalar(item, "id", "messageId", "message_id")
	chat := wire.FirstScalar(item, "chatId", "chat_id", "remoteJid")
	text := ""
	switch m := item["message"].(type) {
	case string:
		text = m
	case map[string]any:
		text = textOf(m)
	}
	if text == "" {
		text = cmp.Or(wire.Scalar(item["body"]), wire.Scalar(item["text"]), wire.Scalar(wire.Field(item["text"], "body")), wire.Scalar(item["caption"]))
	}
	ack, hasAck := ackStatus(item)
	// Without fromMe a status says whose the item is only as a word
	// (DELIVERY_ACK, read): a bare number could be anything's.
	word := wire.Scalar(item["status"])
	_, numeric := strconv.Atoi(word)
	hasStatus := hasAck || (numeric != nil && mapStatus(word) != provider.StatusUnknown)
	fromMe, known := boolOf(item["fromMe"])
	switch {
	case known:
	case inboundEvents[event]:
		fromMe = false
	case hasStatus && text == "":
		fromMe = true
	default:
		return provider.Event{}, false
	}
	peer := cmp.Or(jidOf(item["from"]), chat, wire.Scalar(item["phone"]))
	if fromMe {
		peer = cmp.Or(jidOf(item["to"]), chat, wire.Scalar(item["phone"]))
	}
	for _, jid := range []string{peer, chat} {
		if strings.HasSuffix(jid, "@g.us") || strings.HasSuffix(jid, "@broadcast") || strings.HasSuffix(jid, "@lid") {
			return provider.Event{}, false // a group's message names its sender in "from"
		}
	}
	ev := provider.Event{WAMID: id, Phone: digitsOfJID(peer), Text: text}
	if ev.Phone == "" || (id == "" && text == "") {
		return provider.Event{}, false
	}
	ev.At = timeOf(item, nil)
	if !fromMe {
		ev.Inbound = true
		return ev, true
	}
	if hasAck {
		ev.Status = ack
		return ev, ack != provider.StatusUnknown
	}
	if ev.Status = mapStatus(word); ev.Status == provider.StatusUnknown {
		ev.Status = provider.StatusSent
	}
	if ev.Status == provider.StatusFailed {
		ev.Code, ev.Reason = failureOf(item["error"], "")
	}
	return ev, true
}
