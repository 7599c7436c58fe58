package waapi

import (
	"log/slog"
	"net/http"
	"os"
	"testing"

	"github.com/wacamp/wacamp/provider/internal/wiretest"
	"github.com/wacamp/wacamp/templates"
)

// TestHostileAnswerScrubbed: an answer that echoes the access token or the
// Bearer token as error.code or error_code and JSON-escaped in its message
// leaves no form of it in the error.
func TestHostileAnswerScrubbed(t *testing.T) { hostileDriver.RequireAnswersScrubbed(t) }

// TestRedirectNotFollowed: a base_url that redirects (to another host, from
// https to http) never gets access_token or the Bearer token to the other
// origin; the error names the Location's host only.
func TestRedirectNotFollowed(t *testing.T) { hostileDriver.RequireRedirectsRefused(t) }

// FuzzAnswer feeds the driver's sends one answer of any status,
// Retry-After, Location and body (seeded with the doc's send answers in
// testdata): see wiretest.Driver.
func FuzzAnswer(f *testing.F) {
	d := hostileDriver
	for _, name := range []string{"send_text_answer.json", "send_text_deprecated_answer.json", "send_image_answer.json"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		d.Samples = append(d.Samples, string(b))
	}
	d.Fuzz(f)
}

// hostileDriver is the driver as its fuzz target and redirect test call
// it: its sends, with a hostile access token and Bearer token. The access
// token travels in the request's query, so transport errors must not show
// it either.
var hostileDriver = wiretest.Driver{
	Name:    providerName,
	Secrets: []string{wiretest.HostileToken, wiretest.HostileSecret},
	Echoes: func(secret string) map[string]map[string]any {
		msg := wiretest.EchoMessage(secret)
		return map[string]map[string]any{
			"error.code": {"status": "error", "error": map[string]any{"message": msg, "code": secret}},
			"error_code": {"status": "error", "message": msg, "error_code": secret},
		}
	},
	Calls: func(baseURL string, hc *http.Client, log *slog.Logger) (sends, others []wiretest.Call) {
		c := New(Config{BaseURL: baseURL, SessionID: testSession, AccessToken: wiretest.HostileToken,
			BearerToken: wiretest.HostileSecret, HTTPClient: hc, Logger: log})
		return wiretest.Sends(c, testPhone, templates.Message{Kind: templates.KindText, Text: "Hi"},
			templates.Message{Kind: templates.KindMedia, Media: &templates.Media{URL: "https://example.com/a.png", Type: "image"}}), nil
	},
}
