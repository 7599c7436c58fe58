package botsailor

import (
	"bytes"
	"encoding/json"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wacamp/wacamp/provider"
	"github.com/wacamp/wacamp/provider/internal/wire"
)

// answer is a provider answer decoded leniently into generic JSON values
// (numbers as json.Number).
type answer struct {
	top map[string]any
	// scraped holds the conversation recovered by scrapeConversation from
	// an answer that would not parse as JSON.
	scraped []provider.ConversationMessage
}

// parseAnswer decodes a JSON object answer. It tolerates what the family's
// PHP backends and docs are known to produce: bare words where values belong
// ("id":8XX3 in the conversation sample) and text (PHP notices) around the
// JSON object.
func parseAnswer(raw []byte) (*answer, error) {
	raw = bytes.TrimSpace(bytes.TrimPrefix(raw, []byte("\xef\xbb\xbf")))
	top, err := wire.DecodeObject(raw)
	if err == nil {
		return &answer{top: top}, nil
	}
	if top, err2 := wire.DecodeObject(sanitizeJSON(raw)); err2 == nil {
		return &answer{top: top}, nil
	}
	if i, j := bytes.IndexByte(raw, '{'), bytes.LastIndexByte(raw, '}'); i >= 0 && j > i && (i > 0 || j < len(raw)-1) {
		if top, err2 := wire.DecodeObject(sanitizeJSON(raw[i : j+1])); err2 == nil {
			return &answer{top: top}, nil
		}
	}
	return nil, err
}

// sanitizeJSON quotes every bare word outside strings that is not a JSON
// literal or number, so `{"id":8XX3}` becomes `{"id":"8XX3"}`. Everything
// else is copied as is.
func sanitizeJSON(raw []byte) []byte {
	var out bytes.Buffer
	out.Grow(len(raw) + 16)
	for i := 0; i < len(raw); {
		c := raw[i]
		switch {
		case c == '"':
			j := i + 1
			for j < len(raw) && raw[j] != '"' {
				if raw[j] == '\\' {
					j++
				}
				j++
			}
			end := min(j+1, len(raw))
			out.Write(raw[i:end])
			i = end
		case isJSONDelim(c):
			out.WriteByte(c)
			i++
		default:
			j := i
			for j < len(raw) && !isJSONDelim(raw[j]) && raw[j] != '"' {
				j++
			}
			word := raw[i:j]
			if isJSONScalar(word) {
				out.Write(word)
			} else {
				quoted, _ := json.Marshal(string(word))
				out.Write(quoted)
			}
			i = j
		}
	}
	return out.Bytes()
}

func isJSONDelim(c byte) bool {
	switch c {
	case '{', '}', '[', ']', ',', ':', ' ', '\t', '\r', '\n':
		return true
	}
	return false
}

func isJSONScalar(word []byte) bool {
	switch string(word) {
	case "true", "false", "null":
		return true
	}
	if len(word) == 0 || !(word[0] == '-' || (word[0] >= '0' && word[0] <= '9')) {
		return false
	}
	return json.Valid(word)
}

// flagWords is how the family writes its status flag: "1"/"0", 1/0,
// true/false, "success"/"error"/"failed", and numbers in strings.
var flagWords = wire.FlagWords{OK: []string{"1", "true", "success", "succeeded", "ok", "sent", "accepted"}, Numeric: true}

// verdict reads the answer's "status" (or "success") flag (flagWords).
// Without a flag, an error member (wire.HasError) means failure.
func (a *answer) verdict() wire.Flag {
	if v := flagWords.First(a.top, "status", "success"); v != wire.FlagUnknown {
		return v
	}
	if wire.HasError(a.top) {
		return wire.FlagFail
	}
	return wire.FlagUnknown
}

// messageText returns the answer's human text: "message" (or the docs'
// "mesasge" typo, "msg", or a framework's "detail"), else the error's message. Objects and arrays
// are returned as compact JSON.
func (a *answer) messageText() string {
	return wire.MessageText(a.top, false, []string{"message", "mesasge", "msg", "detail"},
		[]string{"message", "error_user_msg", "error_user_title", "title"}, []string{"message"})
}

// errorCode returns a Meta error code from the answer's fields: error.code
// (Meta's own shape), else a top-level error_code or code. A top-level code
// that looks like an HTTP status echo (0, 200–299, or the answer's own HTTP
// status) is ignored.
func (a *answer) errorCode(httpStatus int) string {
	if s := wire.Scalar(wire.Field(a.top["error"], "code")); s != "" {
		return s
	}
	return wire.ErrorCode(httpStatus, false, a.top["error_code"], a.top["code"])
}

// wamid returns the WhatsApp message id of a send answer, wherever the
// provider put it, or "": BotSailor's top-level "wa_message_id", Wabotick's
// "data"."message_id" (seed 001), Meta's "messages"[0]."id", and the like.
// A wamid is always a JSON string: a number under any of these keys is the
// provider's database row id, which no later call accepts, so it is not
// taken.
func (a *answer) wamid() string {
	data, _ := a.top["data"].(map[string]any)
	msg, _ := a.top["message"].(map[string]any)
	candidates := []any{
		a.top["wa_message_id"], a.top["message_id"], a.top["wamid"],
		wire.Field(data, "message_id"), wire.Field(data, "wa_message_id"), wire.Field(data, "wamid"),
		wire.Field(wire.Object(a.top["messages"]), "id"), wire.Field(wire.Object(wire.Field(data, "messages")), "id"),
		wire.Field(msg, "wa_message_id"), wire.Field(msg, "message_id"), wire.Field(msg, "wamid"),
	}
	for _, c := range candidates {
		if s, ok := c.(string); ok && strings.TrimSpace(s) != "" {
			return strings.TrimSpace(s)
		}
	}
	// An "id" counts only when it is plainly a wamid, not a database row id.
	for _, c := range []any{a.top["id"], wire.Field(data, "id")} {
		if s := wire.Scalar(c); strings.HasPrefix(s, "wamid.") {
			return s
		}
	}
	return ""
}

// payload returns the data of a successful read: "message" when it is an
// object or array, else "data".
func (a *answer) payload() any {
	for _, key := range []string{"message", "mesasge", "data", "result"} {
		switch v := a.top[key].(type) {
		case map[string]any, []any:
			return v
		}
	}
	return nil
}

// statusReport reads a get/message-status answer.
func (a *answer) statusReport() provider.StatusReport {
	obj, fromTop := wire.Object(a.payload()), false
	if obj == nil || (obj["message_status"] == nil && a.top["message_status"] != nil) {
		obj, fromTop = a.top, true
	}
	word := wire.Scalar(obj["message_status"])
	if word == "" && !fromTop {
		// {"status":"success","data":{"status":"delivered"}}; the top-level
		// status is the call's, not the message's.
		word = wire.Scalar(obj["status"])
	}
	st := statusWords.Map(word)
	r := provider.StatusReport{Status: st}
	timeKeys := []string{"delivery_status_updated_at", "updated_at", "timestamp"}
	switch st {
	case provider.StatusRead:
		timeKeys = append([]string{"read_time"}, timeKeys...)
	case provider.StatusFailed:
		timeKeys = append([]string{"failed_time"}, timeKeys...)
		r.Reason = textOrJSON(obj["failed_reason"])
		r.Code = provider.ExtractCode(r.Reason)
		for _, key := range []string{"failed_code", "error_code", "code"} {
			if r.Code != "" {
				break
			}
			r.Code = wire.Scalar(obj[key])
		}
	}
	for _, key := range timeKeys {
		if t, ok := parseTime(obj[key]); ok {
			r.At = t
			break
		}
	}
	return r
}

// statusWords are the family's status words. Only explicit words count:
// "accepted", "pending" or null say nothing about the handset.
var statusWords = wire.StatusWords{
	"sent":      provider.StatusSent,
	"delivered": provider.StatusDelivered,
	"read":      provider.StatusRead, "seen": provider.StatusRead, "played": provider.StatusRead,
	"failed": provider.StatusFailed, "undelivered": provider.StatusFailed, "error": provider.StatusFailed,
	"rejected": provider.StatusFailed,
}

// conversation reads a get/conversation answer.
func (a *answer) conversation() []provider.ConversationMessage {
	if a.scraped != nil {
		return a.scraped
	}
	var list []any
	switch p := a.payload().(type) {
	case []any:
		list = p
	case map[string]any:
		for _, key := range []string{"messages", "conversation", "data"} {
			if l, ok := p[key].([]any); ok {
				list = l
				break
			}
		}
	}
	out := make([]provider.ConversationMessage, 0, len(list))
	for _, el := range list {
		m, ok := el.(map[string]any)
		if !ok {
			continue
		}
		cm := provider.ConversationMessage{
			ID:      wire.Scalar(m["id"]),
			WAMID:   wire.FirstScalar(m, "wa_message_id", "message_id", "wamid"),
			FromBot: isBusinessSender(wire.Scalar(m["sender"])),
			Content: textOrJSON(m["message_content"]),
			Status:  statusWords.Map(wire.Scalar(m["message_status"])),
			Reason:  wire.Scalar(m["failed_reason"]),
		}
		for _, key := range []string{"conversation_time", "created_at", "timestamp"} {
			if t, ok := parseTime(m[key]); ok {
				cm.Time = t
				break
			}
		}
		if t, ok := parseTime(m["delivery_status_updated_at"]); ok {
			cm.StatusAt = t
		}
		cm.Text = contentText(cm.Content)
		out = append(out, cm)
	}
	return out
}

// isBusinessSender reports whether a conversation entry's sender is the
// business (bot, agent, api, ...) rather than the subscriber. An empty
// sender says nothing and is not counted as the business.
func isBusinessSender(sender string) bool {
	switch strings.ToLower(strings.TrimSpace(sender)) {
	case "", "user", "subscriber", "customer", "contact", "client":
		return false
	}
	return true
}

// contentText returns the text of a Meta message JSON: text.body, the
// caption of an image, video, document or audio, the name of a template, or
// the body of an interactive message. Content that is not JSON is returned
// as is.
func contentText(content string) string {
	content = strings.TrimSpace(content)
	if content == "" {
		return ""
	}
	var v any
	if err := json.Unmarshal([]byte(content), &v); err != nil {
		return content
	}
	for range 2 { // unwrap a double-encoded string or an array of messages
		switch x := v.(type) {
		case string:
			if err := json.Unmarshal([]byte(x), &v); err != nil {
				return x
			}
		case []any:
			if len(x) == 0 {
				return ""
			}
			v = x[0]
		}
	}
	m, ok := v.(map[string]any)
	if !ok {
		return wire.Scalar(v)
	}
	if s := wire.Scalar(wire.Field(wire.Object(m["text"]), "body")); s != "" {
		return s
	}
	if s, ok := m["text"].(string); ok && s != "" {
		return s
	}
	for _, kind := range []string{"image", "video", "document", "audio", "sticker"} {
		if s := wire.Scalar(wire.Field(wire.Object(m[kind]), "caption")); s != "" {
			return s
		}
	}
	if s := wire.Scalar(wire.Field(wire.Object(m["template"]), "name")); s != "" {
		return s
	}
	if s := wire.Scalar(wire.Field(wire.Object(wire.Field(wire.Object(m["interactive"]), "body")), "text")); s != "" {
		return s
	}
	return wire.FirstScalar(m, "body", "caption", "message")
}

// accountInfo reads a user/myInfo answer.
func (a *answer) accountInfo() provider.AccountInfo {
	obj := wire.Object(a.payload())
	subs := wire.Object(obj["bot_subscriber_data"])
	credit := wire.Object(obj["message_credit_data"])
	return provider.AccountInfo{
		SubscriberLimit: limitValue(subs["limit"], true),
		SubscriberCount: limitValue(subs["count"], false),
		CreditLimit:     limitValue(credit["limit"], true),
		CreditUsed:      limitValue(credit["used"], false),
		PhoneNumberIDs:  phoneNumberIDs(obj["whatsapp_bots_details"]),
	}
}

// phoneNumberIDs reads the phone_number_id of each whatsapp_bots_details
// entry; nil when there are none, or when any is not all digits (the doc's
// sample masks them: "11906XXXXX40020"), since a list that cannot be read
// whole cannot show that a number is missing from it.
func phoneNumberIDs(v any) []string {
	list, _ := v.([]any)
	var out []string
	for _, el := range list {
		id := strings.TrimSpace(wire.Scalar(wire.Object(el)["phone_number_id"]))
		if id == "" || strings.Trim(id, "0123456789") != "" {
			return nil
		}
		out = append(out, id)
	}
	return out
}

// limitValue reads a plan figure that may be a number, a numeric string
// ("5000", "5,000") or "unlimited" (-1). A limit the answer leaves out or
// cannot be read is -1: the provider states none. A count is then 0.
func limitValue(v any, isLimit bool) int64 {
	absent := int64(0)
	if isLimit {
		absent = -1
	}
	s := strings.ToLower(strings.TrimSpace(wire.Scalar(v)))
	s = strings.NewReplacer(",", "", "_", "", " ", "").Replace(s)
	switch s {
	case "":
		return absent
	case "unlimited", "infinite", "infinity", "∞", "no limit", "nolimit":
		return -1
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) {
		return absent
	}
	if f < 0 {
		return -1
	}
	if f > math.MaxInt64/2 {
		return math.MaxInt64 / 2
	}
	return int64(f)
}

// The time layouts providers use; zone-less ones are read as UTC.
var timeLayouts = []string{
	time.DateTime,
	time.RFC3339Nano,
	"2006-01-02T15:04:05",
	"2006-01-02 15:04:05.999999",
}

// parseTime reads "YYYY-MM-DD HH:MM:SS" (as UTC), RFC 3339, or Unix seconds
// or milliseconds.
func parseTime(v any) (time.Time, bool) {
	s := strings.TrimSpace(wire.Scalar(v))
	if s == "" || strings.HasPrefix(s, "0000-00-00") {
		return time.Time{}, false
	}
	for _, layout := range timeLayouts {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t.UTC(), true
		}
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n > 0 {
		if n > 1e12 {
			return time.UnixMilli(n).UTC(), true
		}
		return time.Unix(n, 0).UTC(), true
	}
	return time.Time{}, false
}

// textOrJSON returns a string as is and any other non-null value as
// compact JSON.
func textOrJSON(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case json.Number:
		return v.String()
	}
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(b)
}

// The fields scrapeConversation recovers from an answer that is not JSON.
var (
	scrapeSenderKey = regexp.MustCompile(`"sender"\s*:`)
	scrapeWAMIDKey  = regexp.MustCompile(`"wa_message_id"\s*:`)
	scrapeSender    = regexp.MustCompile(`"sender"\s*:\s*"([^"]*)"`)
	scrapeID        = regexp.MustCompile(`"id"\s*:\s*"?([^",}\s]+)`)
	scrapeStatusAt  = regexp.MustCompile(`"delivery_status_updated_at"\s*:\s*"([^"]*)"`)
	scrapeReason    = regexp.MustCompile(`"failed_reason"\s*:\s*"([^"]*)"`)
	scrapeWAMID     = regexp.MustCompile(`"wa_message_id"\s*:\s*"([^"]+)"`)
	scrapeTime      = regexp.MustCompile(`"conversation_time"\s*:\s*"([^"]*)"`)
	scrapeStatus    = regexp.MustCompile(`"message_status"\s*:\s*"([^"]*)"`)
	scrapeContent   = regexp.MustCompile(`"message_content"\s*:\s*"((?:[^"\\]|\\.)*)"`)
)

// scrapeConversation is the last resort for a get/conversation answer that
// no repair makes JSON: it cuts the text at each "sender" key (each entry
// has one, and the doc's entries list sender, message_content,
// conversation_time, wa_message_id and message_status after it) and pulls
// the fields out with regular expressions. It reports false when it finds
// no wamid at all.
func scrapeConversation(raw []byte) ([]provider.ConversationMessage, bool) {
	anchors := scrapeSenderKey.FindAllIndex(raw, -1)
	if len(anchors) == 0 {
		anchors = scrapeWAMIDKey.FindAllIndex(raw, -1)
	}
	var out []provider.ConversationMessage
	found := false
	for i, a := range anchors {
		end := len(raw)
		if i+1 < len(anchors) {
			end = anchors[i+1][0]
		}
		seg := raw[a[0]:end]
		cm := provider.ConversationMessage{
			ID:      entryIDBefore(raw[:a[0]]),
			WAMID:   submatch(scrapeWAMID, seg),
			FromBot: isBusinessSender(submatch(scrapeSender, seg)),
			Status:  statusWords.Map(submatch(scrapeStatus, seg)),
			Reason:  submatch(scrapeReason, seg),
		}
		if t, ok := parseTime(submatch(scrapeTime, seg)); ok {
			cm.Time = t
		}
		if t, ok := parseTime(submatch(scrapeStatusAt, seg)); ok {
			cm.StatusAt = t
		}
		if m := scrapeContent.FindSubmatch(seg); m != nil {
			var s string
			if err := json.Unmarshal([]byte(`"`+string(m[1])+`"`), &s); err != nil {
				s = string(m[1])
			}
			cm.Content = s
			cm.Text = contentText(s)
		}
		found = found || cm.WAMID != ""
		out = append(out, cm)
	}
	return out, found
}

func submatch(re *regexp.Regexp, b []byte) string {
	if m := re.FindSubmatch(b); m != nil {
		return string(m[1])
	}
	return ""
}

// entryIDBefore returns the "id" of the conversation entry whose "sender"
// key follows prefix: the doc's entries open with "id", before "sender", so
// it is the last "id" of the text since the entry's opening brace.
func entryIDBefore(prefix []byte) string {
	if i := bytes.LastIndexByte(prefix, '{'); i >= 0 {
		prefix = prefix[i:]
	}
	ms := scrapeID.FindAllSubmatch(prefix, -1)
	if len(ms) == 0 {
		return ""
	}
	return string(ms[len(ms)-1][1])
}

// noHistory reports whether a refusal of get/conversation says only that
// there is nothing to read: no such subscriber, or no conversation or
// messages with them. A text that names the account, the token, the API,
// the bot or one of the call's ids is about the call, not the subscriber,
// and is not this; nor is a vague "no data" or "no record".
func noHistory(msg string) bool {
	m := strings.ToLower(msg)
	if wire.ContainsAny(m, "account", "token", "api", "bot", "phone_number_id", "whatsapp_bot_id", "invalid", "permission", "limit") {
		return false
	}
	for _, what := range []string{"subscriber", "conversation", "message", "contact", "chat"} {
		if strings.Contains(m, what) && (strings.Contains(m, "no "+what) ||
			wire.ContainsAny(m, "not found", "not exist", "doesn't exist", "is empty")) {
			return true
		}
	}
	return false
}

// olderFirst reports whether a conversation is listed oldest first: its
// first entry older than its last, by their times, else by numeric entry
// ids. The doc does not say which way get/conversation lists it
// (BotSailor's is newest first).
func olderFirst(msgs []provider.ConversationMessage) bool {
	if len(msgs) < 2 {
		return false
	}
	first, last := msgs[0], msgs[len(msgs)-1]
	if !first.Time.IsZero() && !last.Time.IsZero() && !first.Time.Equal(last.Time) {
		return first.Time.Before(last.Time)
	}
	a, errA := strconv.ParseInt(first.ID, 10, 64)
	b, errB := strconv.ParseInt(last.ID, 10, 64)
	return errA == nil && errB == nil && a < b
}

// byTimeNewestFirst sorts a newest-first conversation by time, newest
// first, keeping the order within a second (the times are to the second),
// when every entry has a time; else it leaves it as it is.
func byTimeNewestFirst(msgs []provider.ConversationMessage) []provider.ConversationMessage {
	for _, m := range msgs {
		if m.Time.IsZero() {
			return msgs
		}
	}
	slices.SortStableFunc(msgs, func(a, b provider.ConversationMessage) int { return b.Time.Compare(a.Time) })
	return msgs
}
