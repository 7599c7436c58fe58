package salebot

import (
	"log/slog"
	"net/http"
	"testing"

	"github.com/wacamp/wacamp/provider/internal/wiretest"
	"github.com/wacamp/wacamp/templates"
)

// TestHostileAnswerScrubbed: an answer that echoes the key as error.code and
// JSON-escaped in its message leaves no form of it in the error.
func TestHostileAnswerScrubbed(t *testing.T) { hostileDriver.RequireAnswersScrubbed(t) }

// TestRedirectNotFollowed: a base_url that redirects (to another host, from
// https to http) never gets the key (in the path, and so in the Referer) to
// the other origin; the error names the Location's host only.
func TestRedirectNotFollowed(t *testing.T) { hostileDriver.RequireRedirectsRefused(t) }

// FuzzAnswer feeds the driver's sends one answer of any status,
// Retry-After, Location and body: see wiretest.Driver.
func FuzzAnswer(f *testing.F) { hostileDriver.Fuzz(f) }

// hostileDriver is the driver as its fuzz target and redirect test call
// it: its sends. The key travels in the request's path, so transport
// errors must not show it either.
var hostileDriver = wiretest.Driver{
	Name:    providerName,
	Secrets: []string{wiretest.HostileToken},
	Samples: []string{sampleLoadClientsOK, sampleHistory, sampleOnlineChatClient, `{"status":"success"}`, `ok`},
	Echoes: func(secret string) map[string]map[string]any {
		return map[string]map[string]any{
			"error.code": {"status": "error", "error": map[string]any{"message": wiretest.EchoMessage(secret), "code": secret}},
		}
	},
	Calls: func(baseURL string, hc *http.Client, log *slog.Logger) (sends, others []wiretest.Call) {
		c := New(Config{BaseURL: baseURL, APIKey: wiretest.HostileToken, WhatsAppBotID: testBotID, HTTPClient: hc, Logger: log})
		return wiretest.Sends(c, "79875146788", textMessage, templates.Message{Kind: templates.KindBotFlow, BotFlow: "start"}), nil
	},
}
