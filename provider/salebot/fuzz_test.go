package salebot

import (
	"log/slog"
	"net/http"
	"testing"

	"github.com/wacamp/wacamp/provider/internal/wiretest"
	"github.com/wacamp/wacamp/templates"
)

// FuzzAnswer feeds the driver's sends one answer of any status,
// Retry-After, Location and body: see wiretest.Driver. The key travels in
// the request's path, so transport errors must not show it either.
func FuzzAnswer(f *testing.F) {
	wiretest.Driver{
		Name:    providerName,
		Secrets: []string{wiretest.HostileToken},
		Samples: []string{sampleLoadClientsOK, sampleHistory, sampleOnlineChatClient, `{"status":"success"}`, `ok`},
		Calls: func(baseURL string, hc *http.Client, log *slog.Logger) []wiretest.Call {
			c := New(Config{BaseURL: baseURL, APIKey: wiretest.HostileToken, WhatsAppBotID: testBotID, HTTPClient: hc, Logger: log})
			return wiretest.Sends(c, "79875146788", textMessage, templates.Message{Kind: templates.KindBotFlow, BotFlow: "start"})
		},
	}.Fuzz(f)
}
