package waapi

import (
	"log/slog"
	"net/http"
	"os"
	"testing"

	"github.com/wacamp/wacamp/provider/internal/wiretest"
	"github.com/wacamp/wacamp/templates"
)

// FuzzAnswer feeds the driver's sends one answer of any status,
// Retry-After, Location and body: see wiretest.Driver. The access token
// travels in the request's query, so transport errors must not show it
// either.
func FuzzAnswer(f *testing.F) {
	var samples []string
	for _, name := range []string{"send_text_answer.json", "send_text_deprecated_answer.json", "send_image_answer.json"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		samples = append(samples, string(b))
	}
	wiretest.Driver{
		Name:    providerName,
		Secrets: []string{wiretest.HostileToken, wiretest.HostileSecret},
		Samples: samples,
		Calls: func(baseURL string, hc *http.Client, log *slog.Logger) []wiretest.Call {
			c := New(Config{BaseURL: baseURL, SessionID: testSession, AccessToken: wiretest.HostileToken,
				BearerToken: wiretest.HostileSecret, HTTPClient: hc, Logger: log})
			return wiretest.Sends(c, testPhone, templates.Message{Kind: templates.KindText, Text: "Hi"},
				templates.Message{Kind: templates.KindMedia, Media: &templates.Media{URL: "https://example.com/a.png", Type: "image"}})
		},
	}.Fuzz(f)
}
