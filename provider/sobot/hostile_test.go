package sobot

import (
	"context"
	"log/slog"
	"net/http"
	"testing"

	"github.com/wacamp/wacamp/provider/internal/wiretest"
	"github.com/wacamp/wacamp/templates"
)

// TestHostileAnswerScrubbed: an answer that echoes the secret as
// errors[0].code or error_code and JSON-escaped in its message leaves no
// form of it in the error.
func TestHostileAnswerScrubbed(t *testing.T) {
	tok := wiretest.HostileToken
	msg := wiretest.EchoMessage(tok)
	wiretest.RequireAnswersScrubbed(t, tok, map[string]map[string]any{
		"errors[0].code": {"code": 400, "message": msg, "errors": []any{map[string]any{"code": tok}}},
		"error_code":     {"code": 400, "message": msg, "error_code": tok},
	}, func(baseURL string) error {
		_, err := New(Config{BaseURL: baseURL, APIKey: testKey, APISecret: tok}).Send(context.Background(), "919970012345", textMsg("Hi"))
		return err
	})
}

// TestRedirectNotFollowed: a base_url that redirects (to another host, from
// https to http) gets neither X-Api-Key nor X-Api-Secret nor anything else;
// the error names the Location's host only.
func TestRedirectNotFollowed(t *testing.T) { hostileDriver.RequireRedirectsRefused(t) }

// FuzzAnswer feeds the driver's sends one answer of any status,
// Retry-After, Location and body: see wiretest.Driver.
func FuzzAnswer(f *testing.F) { hostileDriver.Fuzz(f) }

// hostileDriver is the driver as its fuzz target and redirect test call
// it: its sends, with a hostile X-Api-Key and X-Api-Secret.
var hostileDriver = wiretest.Driver{
	Name:    providerName,
	Secrets: []string{wiretest.HostileToken, wiretest.HostileSecret},
	Samples: []string{sampleSendOK, sampleInvalidMobile, sampleCustomerExists},
	Calls: func(baseURL string, hc *http.Client, log *slog.Logger) (sends, others []wiretest.Call) {
		c := New(Config{BaseURL: baseURL, APIKey: wiretest.HostileToken, APISecret: wiretest.HostileSecret,
			HTTPClient: hc, Logger: log})
		return wiretest.Sends(c, "919970012345", textMsg("Hi"),
			templates.Message{Kind: templates.KindTemplate, Template: &templates.Template{Name: "promo", Language: "en"}}), nil
	},
}
