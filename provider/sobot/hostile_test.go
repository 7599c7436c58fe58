package sobot

import (
	"log/slog"
	"net/http"
	"testing"

	"github.com/wacamp/wacamp/provider/internal/wiretest"
	"github.com/wacamp/wacamp/templates"
)

// TestHostileAnswerScrubbed: an answer that echoes the key or the secret as
// errors[0].code or error_code and JSON-escaped in its message leaves no
// form of it in the error.
func TestHostileAnswerScrubbed(t *testing.T) { hostileDriver.RequireAnswersScrubbed(t) }

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
	Echoes: func(secret string) map[string]map[string]any {
		msg := wiretest.EchoMessage(secret)
		return map[string]map[string]any{
			"errors[0].code": {"code": 400, "message": msg, "errors": []any{map[string]any{"code": secret}}},
			"error_code":     {"code": 400, "message": msg, "error_code": secret},
		}
	},
	Calls: func(baseURL string, hc *http.Client, log *slog.Logger) (sends, others []wiretest.Call) {
		c := New(Config{BaseURL: baseURL, APIKey: wiretest.HostileToken, APISecret: wiretest.HostileSecret,
			HTTPClient: hc, Logger: log})
		return wiretest.Sends(c, "919970012345", textMsg("Hi"),
			templates.Message{Kind: templates.KindTemplate, Template: &templates.Template{Name: "promo", Language: "en"}}), nil
	},
}
