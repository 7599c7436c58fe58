package wiretest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wacamp/wacamp/internal/hostile"
	"github.com/wacamp/wacamp/provider"
	"github.com/wacamp/wacamp/provider/internal/wire"
	"github.com/wacamp/wacamp/templates"
)

// HostileSecret is a second credential, for drivers that carry two, with
// the characters HostileToken lacks: a quote, a backslash, a percent sign
// and a space (Go-quoted, JSON- and URL-escaped differently).
const HostileSecret = `sc"r\3t %41 Vw9=Yt&Lq<>`

// SecretForms returns every form of secret that must never be printed: as
// is, JSON-escaped (Go's encoder, and with \/ as PHP writes it), URL-escaped
// (query and path) and Go-quoted (as %q and %#v print it).
func SecretForms(secret string) []string {
	forms := []string{secret}
	add := func(s string) {
		for _, f := range forms {
			if f == s {
				return
			}
		}
		forms = append(forms, s)
	}
	b, _ := json.Marshal(secret)
	add(string(b[1 : len(b)-1]))
	add(JSONEscaped(secret))
	var plain bytes.Buffer
	enc := json.NewEncoder(&plain)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(secret)
	add(strings.TrimSuffix(strings.TrimSuffix(plain.String(), "\n"), `"`)[1:])
	add(url.QueryEscape(secret))
	add(url.PathEscape(secret))
	q := strconv.Quote(secret)
	add(q[1 : len(q)-1])
	return forms
}

// RequireNoSecret checks that no form of any of secrets (see SecretForms)
// shows in anything v prints: fmt's %v, %+v and %#v, what slog's text and
// JSON handlers write for it, and, for an error, every error it wraps and
// every field of a *provider.Error in the chain.
func RequireNoSecret(t testing.TB, v any, secrets ...string) {
	t.Helper()
	var texts []string
	texts = append(texts, fmt.Sprintf("%v", v), fmt.Sprintf("%+v", v), fmt.Sprintf("%#v", v))
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("x", slog.Any("v", v))
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("x", slog.Any("v", v))
	texts = append(texts, logged.String())
	if err, ok := v.(error); ok {
		for _, e := range chain(err) {
			texts = append(texts, e.Error(), fmt.Sprintf("%#v", e))
			if pe, ok := e.(*provider.Error); ok {
				texts = append(texts, pe.Code, pe.Message, fmt.Sprintf("%#v", *pe))
			}
		}
	}
	all := strings.Join(texts, "\n")
	for _, s := range secrets {
		for _, form := range SecretForms(s) {
			if strings.Contains(all, form) {
				t.Fatalf("a secret (as %q) shows in %T:\n%s", form, v, all)
			}
		}
	}
}

// chain returns err and every error it wraps, depth first.
func chain(err error) []error {
	if err == nil {
		return nil
	}
	out := []error{err}
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		out = append(out, chain(u.Unwrap())...)
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			out = append(out, chain(e)...)
		}
	}
	return out
}

// RequireSafeCall checks one call of a driver that a fuzz target fed a
// hostile answer: an error is a *provider.Error of driver name, of a
// defined class, with a Retry-After from 0 to wire.MaxRetryAfter; the
// error's code and message and every string the call returned can be
// stored (valid UTF-8 without NUL bytes); and no form of any of secrets
// shows in the error or the result (see RequireNoSecret). A conversation
// entry's content and text, only ever compared with what was sent, are not
// looked at.
func RequireSafeCall(t testing.TB, name string, res any, err error, secrets ...string) {
	t.Helper()
	if err != nil {
		var pe *provider.Error
		if !errors.As(err, &pe) {
			t.Fatalf("want a *provider.Error, got %T: %v", err, err)
		}
		if pe.Provider != name {
			t.Fatalf("error of provider %q, want %q: %v", pe.Provider, name, err)
		}
		switch pe.Class {
		case provider.ClassTransient, provider.ClassPermanent, provider.ClassAmbiguous,
			provider.ClassHaltCampaign, provider.ClassHaltAccount:
		default:
			t.Fatalf("undefined class %d: %v", pe.Class, err)
		}
		if pe.RetryAfter < 0 || pe.RetryAfter > wire.MaxRetryAfter {
			t.Fatalf("Retry-After %s is outside 0 to %s: %v", pe.RetryAfter, wire.MaxRetryAfter, err)
		}
		hostile.RequireStorable(t, "error code", pe.Code)
		hostile.RequireStorable(t, "error message", pe.Message)
	}
	if msgs, ok := res.([]provider.ConversationMessage); ok {
		// A conversation entry's content is only compared with what was
		// sent, never stored or printed.
		msgs = slices.Clone(msgs)
		for i := range msgs {
			msgs[i].Content, msgs[i].Text = "", ""
		}
		res = msgs
	}
	hostile.EachString(reflect.ValueOf(res), "result", func(field, s string) { hostile.RequireStorable(t, field, s) })
	RequireNoSecret(t, err, secrets...)
	RequireNoSecret(t, res, secrets...)
}

// Answer is one HTTP answer an AnswerServer gives.
type Answer struct {
	Status     int
	RetryAfter string // the Retry-After header; "" = none
	Location   string // the Location header; "" = none
	Body       []byte
}

// FuzzAnswer makes an Answer of a fuzzer's values. A status outside
// 200–599 is mapped into it: a handler cannot give other codes as a final
// answer.
func FuzzAnswer(status uint16, retryAfter, location string, body []byte) Answer {
	st := int(status)
	if st < 200 || st > 599 {
		st = 200 + st%400
	}
	return Answer{Status: st, RetryAfter: retryAfter, Location: location, Body: body}
}

// Seed is one answer of a fuzz target's seed corpus, as FuzzAnswer takes
// it.
type Seed struct {
	Status     uint16
	RetryAfter string
	Location   string
	Body       []byte
}

// Seeds returns answers an attacker or a broken proxy could give, for the
// seed corpus of a driver's fuzz target: the secret echoed as an error code,
// in a message (as is, JSON-escaped, URL-escaped), as a message id, in an
// HTML page and in a form echo; impossible Retry-After values; redirects
// whose Location carries the secret; and bodies that are not answers at
// all.
func Seeds(secret string) []Seed {
	esc, query := JSONEscaped(secret), url.QueryEscape(secret)
	q := jsonString(secret)
	js := func(status uint16, body string) Seed { return Seed{Status: status, Body: []byte(body)} }
	seeds := []Seed{
		js(400, `{"status":"0","message":`+jsonString(EchoMessage(secret))+`,"error":{"code":`+q+`}}`),
		js(400, `{"code":400,"message":`+jsonString(EchoMessage(secret))+`,"errors":[{"code":`+q+`}],"error_code":`+q+`}`),
		js(400, `{"status":"error","error":{"message":`+jsonString(EchoMessage(secret))+`,"code":`+q+`}}`),
		js(200, `{"status":"0","message":{"error":`+q+`,"details":[`+q+`]}}`),
		js(200, `{"status":"1","wa_message_id":`+q+`}`),
		js(200, `{"status":"success","data":{"id":`+q+`,"message_id":`+q+`,"key":{"id":`+q+`}}}`),
		js(200, `{"status":"1","message":{"message_status":"failed","failed_reason":`+q+`,"failed_code":`+q+`}}`),
		js(200, `{"code":200,"data":{"id":"wamid.`+esc+`"}}`),
		js(401, `<html><body><h1>Unauthorized</h1><p>token `+secret+` is not valid</p></body></html>`),
		js(200, `<html><body>`+esc+`</body></html>`),
		js(400, `apiToken=`+query+`&phone_number=8801723309003&message=hi`),
		js(500, `{"message":"`+esc+`"}`),
		js(502, `upstream error for `+query),
		js(200, `{"status":"1","message":[{"id":`+q+`,"sender":"bot","wa_message_id":`+q+`,"message_status":"failed","failed_reason":`+q+`}]}`),
		js(400, `{"status":"0","message":"bad\u0000text\ud800","error":{"code":"1\u0000"}}`),
		js(200, `{"status":"1","wa_message_id":"wamid.\u0000x","data":{"id":"\u0000","key":{"id":"\u0000"}}}`),
		js(200, `{"status":"1","message":{"message_status":"failed","failed_reason":"r\u0000","failed_code":"\u0000"}}`),
		js(502, "\x00\xff\xfe not utf-8 \x00"),
		js(200, ``), js(200, `null`), js(200, `[]`), js(200, `true`), js(200, `"`+esc+`"`),
		js(200, strings.Repeat("[", 20000)), js(200, `{"status":1e999,"code":-1e999}`),
		{Status: 429, RetryAfter: "1e300", Body: []byte(`{}`)},
		{Status: 429, RetryAfter: "NaN", Body: []byte(`{}`)},
		{Status: 503, RetryAfter: "Inf", Body: []byte(`{}`)},
		{Status: 429, RetryAfter: "-1", Body: []byte(`{}`)},
		{Status: 503, RetryAfter: "9223372036854775807", Body: []byte(`{}`)},
		{Status: 429, RetryAfter: "Fri, 31 Dec 9999 23:59:59 GMT", Body: []byte(`{}`)},
		{Status: 307, Location: "http://evil.example/steal?token=" + query, Body: []byte(`{}`)},
		{Status: 302, Location: "//" + query + "@evil.example/", Body: []byte(`{}`)},
		{Status: 303, Location: "http://" + query + ".example/", Body: []byte(`{"status":"1"}`)},
		{Status: 308, Location: "/same/origin?" + query, Body: []byte(`{}`)},
	}
	return seeds
}

// jsonString is s as a JSON string literal.
func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// AnswerServer is a loopback provider that gives every request the answer
// last set, for fuzz targets that feed a driver hostile answers without
// starting a server per input.
type AnswerServer struct {
	URL    string
	Client *http.Client // the server's client, with a timeout
	answer atomic.Pointer[Answer]
}

// NewAnswerServer starts an AnswerServer that answers 200 {} until Set.
func NewAnswerServer(tb testing.TB) *AnswerServer {
	tb.Helper()
	s := &AnswerServer{}
	s.answer.Store(&Answer{Status: http.StatusOK, Body: []byte("{}")})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a := s.answer.Load()
		h := w.Header()
		h.Set("Content-Type", "application/json")
		if a.RetryAfter != "" {
			h.Set("Retry-After", a.RetryAfter)
		}
		if a.Location != "" {
			h.Set("Location", a.Location)
		}
		w.WriteHeader(a.Status)
		_, _ = w.Write(a.Body)
	}))
	tb.Cleanup(srv.Close)
	s.URL = srv.URL
	s.Client = srv.Client()
	s.Client.Timeout = 10 * time.Second
	return s
}

// Set makes a the answer to every request from now on.
func (s *AnswerServer) Set(a Answer) { s.answer.Store(&a) }

// Call is one call of a driver a fuzz input goes through; it returns what
// the call returned and its error.
type Call func(ctx context.Context) (any, error)

// Driver describes a driver for its hostile-answer fuzz target and its
// redirect test.
type Driver struct {
	Name    string   // the Provider of its errors
	Secrets []string // every credential its client holds
	// Samples are the API document's sample answers, seeded with HTTP 200.
	Samples []string
	// Calls builds a client of the driver for baseURL (with the HTTP client
	// hc and the logger log, nil meaning none) holding Secrets, and returns
	// the calls to make: its sends (see Sends) and its other calls.
	Calls func(baseURL string, hc *http.Client, log *slog.Logger) (sends, others []Call)
	// Echoes are refusals in the provider's shapes, by name, each echoing
	// secret in a code field and JSON-escaped (EchoMessage) in its message;
	// see RequireAnswersScrubbed.
	Echoes func(secret string) map[string]map[string]any
}

// Run runs the driver's hostile-answer and redirect tests as subtests:
// AnswersScrubbed (RequireAnswersScrubbed) and RedirectsRefused
// (RequireRedirectsRefused).
func (d Driver) Run(t *testing.T) {
	t.Run("AnswersScrubbed", d.RequireAnswersScrubbed)
	t.Run("RedirectsRefused", d.RequireRedirectsRefused)
}

// RequireAnswersScrubbed answers the driver's first send with each of
// Echoes (HTTP 400) of each of Secrets, and checks that the error carries
// no form of that secret (RequireScrubbed).
func (d Driver) RequireAnswersScrubbed(t *testing.T) {
	for i, secret := range d.Secrets {
		t.Run(fmt.Sprint("secret", i), func(t *testing.T) {
			RequireAnswersScrubbed(t, secret, d.Echoes(secret), func(baseURL string) error {
				sends, _ := d.Calls(baseURL, nil, nil)
				_, err := sends[0](context.Background())
				return err
			})
		})
	}
}

// Fuzz runs the target: it seeds Samples and the Seeds of every secret,
// serves each input's answer from one AnswerServer, makes every call and
// checks each with RequireSafeCall, and checks that no secret reached the
// driver's debug log.
func (d Driver) Fuzz(f *testing.F) {
	f.Helper()
	for _, body := range d.Samples {
		f.Add(uint16(http.StatusOK), "", "", []byte(body))
	}
	for _, secret := range d.Secrets {
		for _, s := range Seeds(secret) {
			f.Add(s.Status, s.RetryAfter, s.Location, s.Body)
		}
	}
	srv := NewAnswerServer(f)
	var logged bytes.Buffer
	sends, others := d.Calls(srv.URL, srv.Client, slog.New(slog.NewJSONHandler(&logged, &slog.HandlerOptions{Level: slog.LevelDebug})))
	calls := append(sends, others...)
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, status uint16, retryAfter, location string, body []byte) {
		srv.Set(FuzzAnswer(status, retryAfter, location, body))
		logged.Reset()
		for _, call := range calls {
			res, err := call(ctx)
			RequireSafeCall(t, d.Name, res, err, d.Secrets...)
		}
		RequireNoSecret(t, logged.String(), d.Secrets...)
	})
}

// RequireRedirectsRefused points every call of the driver at a base URL
// that redirects (each of RedirectStatuses, to another host, over http and
// https; see RedirectTrap) and checks each with RequireRefused: nothing
// reaches the other origin, no secret is in the error, the error names the
// Location's host only.
func (d Driver) RequireRedirectsRefused(t *testing.T) {
	for _, status := range RedirectStatuses {
		for _, https := range []bool{false, true} {
			t.Run(fmt.Sprint(status, https), func(t *testing.T) {
				base, hc, trap := RedirectTrap(t, status, https)
				sends, others := d.Calls(base, hc, nil)
				for i, calls := range [][]Call{sends, others} {
					for _, call := range calls {
						_, err := call(context.Background())
						RequireRefused(t, err, trap, status, i == 0, d.Secrets...)
					}
				}
			})
		}
	}
}

// Sender is what every driver's client is: it sends a rendered message.
type Sender interface {
	Send(ctx context.Context, to string, m templates.Message) (provider.SendResult, error)
}

// Sends returns one Call per message: c sending it to the phone number to.
func Sends(c Sender, to string, msgs ...templates.Message) []Call {
	calls := make([]Call, len(msgs))
	for i, m := range msgs {
		calls[i] = func(ctx context.Context) (any, error) { return c.Send(ctx, to, m) }
	}
	return calls
}
