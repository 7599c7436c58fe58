package botsailor

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/provider/internal/wiretest"
	"github.com/wacamp/wacamp/templates"
)

// TestHostileAnswerScrubbed: an answer that echoes the token as error.code
// and JSON-escaped in its message leaves no form of it in the error, from
// a send or a status poll.
func TestHostileAnswerScrubbed(t *testing.T) {
	hostileDriver.RequireAnswersScrubbed(t)

	tok := wiretest.HostileToken
	status, _ := json.Marshal(map[string]any{"status": "1", "data": map[string]any{
		"status": "failed", "failed_reason": wiretest.EchoMessage(tok), "failed_code": tok}})
	srv := httptest.NewServer(wiretest.Reply(http.StatusOK, string(status)))
	t.Cleanup(srv.Close)
	c := New(Config{BaseURL: srv.URL, Token: tok, PhoneNumberID: "119060000040020", WhatsAppBotID: 23})
	rep, err := c.MessageStatus(context.Background(), sampleWAMID)
	require.NoError(t, err)
	require.Empty(t, rep.Code)
	require.Contains(t, rep.Reason, "[REDACTED]")
	require.NotContains(t, fmt.Sprint(rep), "9fQ2")
}

// TestRedirectNotFollowed: a base_url that redirects (to another host, from
// https to http) gets neither the token nor anything else; the error names
// the Location's host only.
func TestRedirectNotFollowed(t *testing.T) { hostileDriver.RequireRedirectsRefused(t) }

// TestValidateRefusesCredentialsInBaseURL without printing them.
func TestValidateRefusesCredentialsInBaseURL(t *testing.T) {
	err := Config{BaseURL: "https://user:" + testToken + "@botsailor.com/api/v1", Token: "t", PhoneNumberID: "1"}.Validate()
	require.ErrorContains(t, err, "credentials")
	require.NotContains(t, err.Error(), testToken)
}

// FuzzAnswer feeds every call of the driver (a send of each kind, a status
// poll, the conversation, the account's limits) one answer of any status,
// Retry-After, Location and body: see wiretest.Driver.
func FuzzAnswer(f *testing.F) { hostileDriver.Fuzz(f) }

// hostileDriver is the driver as its fuzz target and redirect test call
// it: a send of each kind, a status poll, the conversation and the
// account's limits.
var hostileDriver = wiretest.Driver{
	Name:    providerName,
	Secrets: []string{wiretest.HostileToken},
	Samples: []string{sampleSendOK, sampleSubscriberLimit, sampleTemplateOK, sampleTriggerBotOK,
		sampleWabotickTplOK, sampleStatus, sampleWabotickStatus, sampleConversation, sampleMyInfo,
		sampleAccountNotFound, sampleSomethingWrong},
	Echoes: func(secret string) map[string]map[string]any {
		return map[string]map[string]any{
			"error.code": {"status": "0", "message": wiretest.EchoMessage(secret), "error": map[string]any{"code": secret}},
		}
	},
	Calls: func(baseURL string, hc *http.Client, log *slog.Logger) (sends, others []wiretest.Call) {
		c := New(Config{BaseURL: baseURL + "/api/v1", Token: wiretest.HostileToken, PhoneNumberID: "119060000040020",
			WhatsAppBotID: 23, HTTPClient: hc, Logger: log})
		return wiretest.Sends(c, "8801723309003", textMessage,
				templates.Message{Kind: templates.KindTemplate, Template: &templates.Template{ID: "313823"}},
				templates.Message{Kind: templates.KindBotFlow, BotFlow: "FLOW-1"}),
			[]wiretest.Call{
				func(ctx context.Context) (any, error) { return c.MessageStatus(ctx, sampleWAMID) },
				func(ctx context.Context) (any, error) { return c.Conversation(ctx, "8801723309003", 0) },
				func(ctx context.Context) (any, error) { return c.AccountInfo(ctx) },
			}
	},
}
