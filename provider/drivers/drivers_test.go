package drivers_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/wacamp/wacamp/provider"
	"github.com/wacamp/wacamp/provider/drivers"
	"github.com/wacamp/wacamp/templates"
)

// sender is what the engine calls on a driver's client.
type sender interface {
	Send(ctx context.Context, to string, m templates.Message) (provider.SendResult, error)
	Conversation(ctx context.Context, phone string, limit int) ([]provider.ConversationMessage, error)
	MessageStatus(ctx context.Context, wamid string) (provider.StatusReport, error)
	Capabilities() provider.Capabilities
}

// samples is one message of every kind and variant the table has a column for.
var samples = []struct {
	column string
	msg    templates.Message
}{
	{"text", templates.Message{Kind: templates.KindText, Text: "hi"}},
	{"image", media("image")}, {"video", media("video")}, {"audio", media("audio")},
	{"document", media("document")}, {"sticker", media("sticker")},
	{"location", templates.Message{Kind: templates.KindLocation, Location: &templates.Location{Latitude: 52.5, Longitude: 13.4, Name: "Shop"}}},
	{"reply buttons", buttons("reply")}, {"url buttons", buttons("url")},
	{"list", templates.Message{Kind: templates.KindList, List: &templates.List{Text: "Pick", Button: "Menu",
		Sections: []templates.ListSection{{Title: "Choices", Rows: []templates.ListRow{{ID: "a", Title: "A"}}}}}}},
	{"template by id", templates.Message{Kind: templates.KindTemplate, Template: &templates.Template{ID: "313823"}}},
	{"template by name", templates.Message{Kind: templates.KindTemplate, Template: &templates.Template{Name: "order_update", Language: "en",
		Vars: []templates.TemplateVar{{Name: "1", Index: 1, Value: "A1"}}}}},
	{"template header", templates.Message{Kind: templates.KindTemplate, Template: &templates.Template{Name: "order_update", Language: "en",
		Header: &templates.Media{Type: "image", URL: "https://cdn.example.com/h.jpg"}}}},
	{"template button", templates.Message{Kind: templates.KindTemplate, Template: &templates.Template{Name: "order_update", Language: "en",
		Buttons: []templates.TemplateButton{{Index: 0, SubType: "url", Value: "A1"}}}}},
	{"bot flow", templates.Message{Kind: templates.KindBotFlow, BotFlow: "FLOW-1"}},
}

func media(typ string) templates.Message {
	ext := map[string]string{"image": "jpg", "video": "mp4", "audio": "ogg", "document": "pdf", "sticker": "webp"}[typ]
	return templates.Message{Kind: templates.KindMedia, Media: &templates.Media{URL: "https://cdn.example.com/f." + ext, Type: typ}}
}

func buttons(typ string) templates.Message {
	b := templates.Button{Type: typ, Title: "Go"}
	if typ == "url" {
		b.Payload = "https://shop.example.com"
	}
	return templates.Message{Kind: templates.KindButtons, Buttons: &templates.Buttons{Text: "Coming?", Buttons: []templates.Button{b}}}
}

func names() []string { return drivers.Names() }

// Every driver sends what its capabilities say it can (the request reaches
// the API) and refuses the rest without a call, with a permanent error; the
// same capabilities refuse the rest at validation. So each cell of the
// README's table is checked three ways.
func TestDriversDoWhatTheyDeclare(t *testing.T) {
	t.Parallel()
	for _, name := range names() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d, _ := drivers.Lookup(name)
			var calls atomic.Int32
			api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				http.Error(w, "down for the test", http.StatusServiceUnavailable)
			}))
			t.Cleanup(api.Close)
			c, err := d.New(drivers.Settings{BaseURL: api.URL, Token: "tok-SECRET", Secret: "sec-SECRET", PhoneNumberID: "1",
				WhatsAppBotID: 7, SessionID: "s-1", HTTPClient: api.Client()})
			if err != nil {
				t.Fatal(err)
			}
			s, ok := c.(sender)
			if !ok {
				t.Fatalf("%T is not a sender", c)
			}
			if s.Capabilities().Provider != d.Capabilities.Provider || !slices.Equal(s.Capabilities().Media, d.Capabilities.Media) {
				t.Fatalf("client capabilities %+v differ from the registry's %+v", s.Capabilities(), d.Capabilities)
			}
			for _, sm := range samples {
				if err := sm.msg.Validate(); err != nil {
					t.Fatalf("sample %s is invalid: %v", sm.column, err)
				}
				can := d.Capabilities.Check(sm.msg) == nil
				before := calls.Load()
				_, err := s.Send(context.Background(), "4915112345678", sm.msg)
				called := calls.Load() > before
				if can != called {
					t.Errorf("%s: capabilities say %v, but the API was called: %v (err %v)", sm.column, can, called, err)
				}
				if cl := provider.ClassOf(err); !can && cl != provider.ClassPermanent && cl != provider.ClassHaltCampaign {
					t.Errorf("%s: refused with %v, want a permanent or campaign-halting error", sm.column, err)
				}
				if err != nil && strings.Contains(err.Error(), "SECRET") {
					t.Errorf("%s: a secret reached the error: %v", sm.column, err)
				}
			}
			_, cerr := s.Conversation(context.Background(), "4915112345678", 5)
			_, serr := s.MessageStatus(context.Background(), "wamid.X")
			if !d.Capabilities.History && !errors.Is(cerr, provider.ErrUnsupported) {
				t.Errorf("no history declared, Conversation says %v", cerr)
			}
			if !d.Capabilities.StatusPoll && !errors.Is(serr, provider.ErrUnsupported) {
				t.Errorf("no status polls declared, MessageStatus says %v", serr)
			}
			if d.Capabilities.StatusWebhook != (d.ParseWebhook != nil) {
				t.Errorf("StatusWebhook %v but webhook parser set: %v", d.Capabilities.StatusWebhook, d.ParseWebhook != nil)
			}
		})
	}
}

// table renders the README's provider × capability table from the drivers'
// declarations.
func table() string {
	var b strings.Builder
	cols := []string{"provider"}
	for _, sm := range samples {
		cols = append(cols, sm.column)
	}
	cols = append(cols, "statuses", "lost answers", "24 h window")
	b.WriteString("| " + strings.Join(cols, " | ") + " |\n|")
	for range cols {
		b.WriteString(" --- |")
	}
	b.WriteString("\n")
	for _, name := range names() {
		d, _ := drivers.Lookup(name)
		c := d.Capabilities
		label := "`" + name + "`"
		if name == "botsailor" {
			label = "`botsailor`, `wabotick`"
		}
		row := []string{label}
		for _, sm := range samples {
			row = append(row, map[bool]string{true: "yes", false: "—"}[c.Check(sm.msg) == nil])
		}
		var st []string
		if c.StatusPoll {
			st = append(st, "polled")
		}
		if c.StatusWebhook {
			st = append(st, "webhook")
		}
		row = append(row, strings.Join(st, ", "))
		row = append(row, map[bool]string{true: "reconciled from history", false: "settled from webhooks"}[c.History])
		row = append(row, map[bool]string{true: "enforced", false: "not enforced"}[c.ServiceWindow])
		b.WriteString("| " + strings.Join(row, " | ") + " |\n")
	}
	return b.String()
}

// The README's table is the drivers' declarations.
func TestCapabilityTableMatchesREADME(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	const start, end = "<!-- capabilities:start -->\n", "<!-- capabilities:end -->"
	s := string(data)
	i, j := strings.Index(s, start), strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatalf("README.md lacks the %q … %q markers", start, end)
	}
	if got, want := s[i+len(start):j], table(); got != want {
		t.Errorf("README's capability table is stale; replace it with:\n%s", want)
		fmt.Println(want)
	}
}

// Every accepted provider value names a registered driver.
func TestValuesNameDrivers(t *testing.T) {
	t.Parallel()
	for _, name := range drivers.Values() {
		v, ok := drivers.Resolve(name)
		if _, registered := drivers.Lookup(v.Driver); !ok || !registered {
			t.Errorf("provider value %q names driver %q, which is not registered", name, v.Driver)
		}
	}
}

// Every driver tells a send that surely did not go out (retry it) from one
// whose outcome is unknown (settle it): a gateway's 502/503 and a 429, with
// or without the provider's own error answer, were not served; a 500 (bare
// or with the provider's own answer: the server may have failed after it
// acted), a gateway's 504 (it gave up waiting for a server that had the
// request), a dropped connection after the request was written and an
// unreadable 2xx answer may have been; a refused connection never reached
// the provider.
func TestDriversTellNotSentFromUnknown(t *testing.T) {
	t.Parallel()
	own := map[string]string{ // each provider's own JSON error answer
		"botsailor": `{"status":"0","message":"Internal error, please try again"}`,
		"sobot":     `{"code":500,"message":"Internal server error"}`,
		"salebot":   `{"status":"error","error":"internal error"}`,
		"waapi":     `{"status":false,"message":"Internal server error"}`,
	}
	cases := []struct {
		name   string
		answer func(w http.ResponseWriter, driver string)
		want   provider.Class
	}{
		{"bare 500", func(w http.ResponseWriter, _ string) {
			http.Error(w, "<html><body>500 Internal Server Error</body></html>", http.StatusInternalServerError)
		}, provider.ClassAmbiguous},
		{"bare 502", func(w http.ResponseWriter, _ string) { http.Error(w, "Bad Gateway", http.StatusBadGateway) }, provider.ClassTransient},
		{"bare 503", func(w http.ResponseWriter, _ string) { http.Error(w, "", http.StatusServiceUnavailable) }, provider.ClassTransient},
		{"bare 504", func(w http.ResponseWriter, _ string) { http.Error(w, "Gateway Timeout", http.StatusGatewayTimeout) }, provider.ClassAmbiguous},
		{"bare 429", func(w http.ResponseWriter, _ string) { http.Error(w, "slow down", http.StatusTooManyRequests) }, provider.ClassTransient},
		{"own 500 answer", func(w http.ResponseWriter, d string) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte(own[d]))
		}, provider.ClassAmbiguous},
		{"own 503 answer", func(w http.ResponseWriter, d string) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			// Sobot's body code outranks the HTTP status: it says 503 too.
			_, _ = w.Write([]byte(strings.Replace(own[d], `"code":500`, `"code":503`, 1)))
		}, provider.ClassTransient},
		{"dropped after the request", func(w http.ResponseWriter, _ string) {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				_ = conn.Close()
			}
		}, provider.ClassAmbiguous},
		{"unreadable 2xx", func(w http.ResponseWriter, _ string) {
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write([]byte(`<html>{"status":`))
		}, provider.ClassAmbiguous},
	}
	msg := templates.Message{Kind: templates.KindText, Text: "hi"}
	for _, name := range names() {
		d, _ := drivers.Lookup(name)
		newSender := func(t *testing.T, url string, hc *http.Client) sender {
			c, err := d.New(drivers.Settings{BaseURL: url, Token: "tok", Secret: "sec", PhoneNumberID: "1",
				WhatsAppBotID: 7, SessionID: "s-1", HTTPClient: hc})
			if err != nil {
				t.Fatal(err)
			}
			return c.(sender)
		}
		for _, tc := range cases {
			t.Run(name+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					_, _ = io.Copy(io.Discard, r.Body)
					tc.answer(w, name)
				}))
				t.Cleanup(api.Close)
				_, err := newSender(t, api.URL, api.Client()).Send(context.Background(), "4915112345678", msg)
				if got := provider.ClassOf(err); err == nil || got != tc.want {
					t.Fatalf("got %v (class %v), want class %v", err, got, tc.want)
				}
			})
		}
		t.Run(name+"/connection refused", func(t *testing.T) {
			t.Parallel()
			api := httptest.NewServer(http.NotFoundHandler())
			url := api.URL
			api.Close() // nothing listens there any more
			_, err := newSender(t, url, &http.Client{}).Send(context.Background(), "4915112345678", msg)
			if got := provider.ClassOf(err); err == nil || got != provider.ClassTransient {
				t.Fatalf("got %v (class %v), want transient", err, got)
			}
		})
	}
}
