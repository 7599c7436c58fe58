package hostile

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/wacamp/wacamp/provider"
)

// RequireQueueable checks what a webhook parser accepted: every event
// survives the JSON round trip of a queued task unchanged, its time is
// zero or within what an event may carry (after 1970, before year 10000),
// its status one of the ladder's, its phone digits only, and its text
// storable (valid UTF-8 without NUL bytes, which Postgres refuses).
func RequireQueueable(t testing.TB, events []provider.Event) {
	t.Helper()
	data, err := json.Marshal(events)
	if err != nil {
		t.Fatalf("events cannot be queued: %v", err)
	}
	var back []provider.Event
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatalf("queued events cannot be read back: %v", err)
	}
	if len(back) != len(events) {
		t.Fatalf("%d events queued, %d read back", len(events), len(back))
	}
	for i, ev := range events {
		if !ev.At.IsZero() && (ev.At.Unix() <= 0 || ev.At.Year() > 9999) {
			t.Fatalf("event %d: impossible time %s", i, ev.At)
		}
		switch ev.Status {
		case provider.StatusUnknown, provider.StatusSent, provider.StatusDelivered, provider.StatusRead, provider.StatusFailed:
		default:
			t.Fatalf("event %d: status %q is not on the ladder", i, ev.Status)
		}
		EachString(reflect.ValueOf(ev), fmt.Sprintf("event %d", i), func(field, s string) { RequireStorable(t, field, s) })
		if strings.Trim(ev.Phone, "0123456789") != "" {
			t.Fatalf("event %d: phone %q is not digits only", i, ev.Phone)
		}
		got := back[i]
		if !got.At.Equal(ev.At) {
			t.Fatalf("event %d: time %s read back as %s", i, ev.At, got.At)
		}
		got.At = ev.At
		if !reflect.DeepEqual(got, ev) {
			t.Fatalf("event %d changed in the queue:\n%#v\n%#v", i, ev, got)
		}
	}
}

// WebhookSeeds returns webhook bodies in each provider's shape (Meta-style
// statuses and messages, Salebot's message objects, waapi's Baileys
// updates) that carry what broke the receiver or the database before:
// impossible times (microseconds, nanoseconds, 1e300, year 10000), NUL
// bytes and lone surrogates in ids, phones and texts, and invalid UTF-8;
// for the fuzz targets of every webhook parser and of the receiver.
func WebhookSeeds() []string {
	return []string{
		`[{"value":{"statuses":[{"id":"wamid.A","status":"delivered","timestamp":"1692947519000000","recipient_id":"4915112345678"},` +
			`{"id":"wamid.B","status":"read","timestamp":1e300,"recipient_id":"4915112345678"},` +
			`{"id":"wamid.C","status":"failed","timestamp":"10000-01-01T00:00:00Z","recipient_id":"49\u0000151",` +
			`"errors":[{"code":"131026\u0000","title":"t\u0000\ud800","message":"m","error_data":{"details":"d\u0000"}}]}]},"field":"messages"}]`,
		`{"object":"whatsapp_business_account","entry":[{"changes":[{"value":{"messages":[{"from":"4915112345678","id":"wamid.\u0000",` +
			`"timestamp":"-1","type":"text","text":{"body":"hi\u0000there"}}]},"field":"messages"}]}]}`,
		`{"id":"wamid.\u0000","status":"sent","timestamp":"1692947519999999999"}`,
		`[{"id":"1\u0000","client":{"recepient":"7987\u00005146788","client_type":6},"message":"m\u0000","attachments":["a\u0000"],` +
			`"is_input":0,"delivered":0,"error_message":"(#131026) x\u0000"},{"id":2,"client":{"recepient":"79875146788"},"message":"\ud800","is_input":1}]`,
		`{"event":"onMessageUpdate","data":[{"key":{"remoteJid":"111\u0000@s.whatsapp.net","fromMe":true,"id":"B\u0000"},` +
			`"update":{"status":"ERROR","error":{"code":"1\u0000","message":"e\u0000"}},"messageTimestamp":{"low":-1,"high":2147483647}},` +
			`{"key":{"remoteJid":"222@s.whatsapp.net","fromMe":false,"id":"C"},"message":{"conversation":"x\u0000"},"messageTimestamp":1e300},` +
			`{"key":{"remoteJid":"333@s.whatsapp.net","fromMe":true,"id":"D"},"receipt":{"readTimestamp":1688996225000000}}]}`,
		"{\"id\":\"w\xff\",\"status\":\"read\",\"timestamp\":\"1692947519\",\"recipient_id\":\"49\xfe\"}",
		strings.Repeat(`{"value":`, 50) + `{}` + strings.Repeat(`}`, 50),
		strings.Repeat(`[`, 20000) + strings.Repeat(`]`, 20000),
		``, `null`, `[]`, `"x"`, `{"id":1e999,"status":"sent"}`,
	}
}

// RequireStorable fails unless s can be stored as Postgres text: valid
// UTF-8 without NUL bytes. field names s in the failure.
func RequireStorable(t testing.TB, field, s string) {
	t.Helper()
	if strings.ContainsRune(s, 0) || !utf8.ValidString(s) {
		t.Fatalf("%s %q cannot be stored (NUL byte or invalid UTF-8)", field, s)
	}
}

// EachString calls fn with every string reachable from v through
// structs, pointers and slices, and its path.
func EachString(v reflect.Value, path string, fn func(field, s string)) {
	switch v.Kind() {
	case reflect.String:
		fn(path, v.String())
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			EachString(v.Elem(), path, fn)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if f := v.Type().Field(i); f.IsExported() {
				EachString(v.Field(i), path+"."+f.Name, fn)
			}
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			EachString(v.Index(i), fmt.Sprintf("%s[%d]", path, i), fn)
		}
	}
}

// FuzzParser runs the fuzz target of a webhook parser: seeded with the
// provider's samples and WebhookSeeds, it checks that whatever body parse
// accepts gives events RequireQueueable passes.
func FuzzParser(f *testing.F, parse func([]byte) ([]provider.Event, error), samples ...string) {
	f.Helper()
	for _, body := range append(samples, WebhookSeeds()...) {
		f.Add([]byte(body))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if events, err := parse(body); err == nil {
			RequireQueueable(t, events)
		}
	})
}
