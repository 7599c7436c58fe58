package botsailor

import (
	"context"
	"log/slog"
	"net/http"
	"testing"

	"github.com/wacamp/wacamp/provider/internal/wiretest"
	"github.com/wacamp/wacamp/templates"
)

// FuzzAnswer feeds every call of the driver (a send of each kind, a status
// poll, the conversation, the account's limits) one answer of any status,
// Retry-After, Location and body: see wiretest.Driver.
func FuzzAnswer(f *testing.F) {
	wiretest.Driver{
		Name:    providerName,
		Secrets: []string{wiretest.HostileToken},
		Samples: []string{sampleSendOK, sampleSubscriberLimit, sampleTemplateOK, sampleTriggerBotOK,
			sampleWabotickTplOK, sampleStatus, sampleWabotickStatus, sampleConversation, sampleMyInfo,
			sampleAccountNotFound, sampleSomethingWrong},
		Calls: func(baseURL string, hc *http.Client, log *slog.Logger) []wiretest.Call {
			c := New(Config{BaseURL: baseURL + "/api/v1", Token: wiretest.HostileToken, PhoneNumberID: "119060000040020",
				WhatsAppBotID: 23, HTTPClient: hc, Logger: log})
			sends := wiretest.Sends(c, "8801723309003", textMessage,
				templates.Message{Kind: templates.KindTemplate, Template: &templates.Template{ID: "313823"}},
				templates.Message{Kind: templates.KindBotFlow, BotFlow: "FLOW-1"})
			return append(sends,
				func(ctx context.Context) (any, error) { return c.MessageStatus(ctx, sampleWAMID) },
				func(ctx context.Context) (any, error) { return c.Conversation(ctx, "8801723309003", 0) },
				func(ctx context.Context) (any, error) { return c.AccountInfo(ctx) })
		},
	}.Fuzz(f)
}
