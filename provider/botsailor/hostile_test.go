package botsailor

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/provider/internal/wiretest"
)

// TestHostileAnswerScrubbed: an answer that echoes the token as error.code
// and JSON-escaped in its message leaves no form of it in the error, from
// a send or a status poll.
func TestHostileAnswerScrubbed(t *testing.T) {
	tok := wiretest.HostileToken
	refusal, _ := json.Marshal(map[string]any{"status": "0", "message": wiretest.EchoMessage(tok), "error": map[string]any{"code": tok}})
	status, _ := json.Marshal(map[string]any{"status": "1", "data": map[string]any{
		"status": "failed", "failed_reason": wiretest.EchoMessage(tok), "failed_code": tok}})
	client := func(status int, body []byte) *Client {
		srv := httptest.NewServer(reply(status, string(body)))
		t.Cleanup(srv.Close)
		return New(Config{BaseURL: srv.URL, Token: tok, PhoneNumberID: "119060000040020", WhatsAppBotID: 23})
	}
	_, err := client(http.StatusBadRequest, refusal).Send(context.Background(), "8801723309003", textMessage)
	wiretest.RequireScrubbed(t, err, tok)

	rep, err := client(http.StatusOK, status).MessageStatus(context.Background(), sampleWAMID)
	require.NoError(t, err)
	require.Empty(t, rep.Code)
	require.Contains(t, rep.Reason, "[REDACTED]")
	require.NotContains(t, fmt.Sprint(rep), "9fQ2")
}

// TestRedirectNotFollowed: a base_url that redirects (to another host, from
// https to http) gets neither the token nor anything else; the error names
// the Location's host only.
func TestRedirectNotFollowed(t *testing.T) {
	for _, status := range wiretest.RedirectStatuses {
		for _, https := range []bool{false, true} {
			t.Run(fmt.Sprint(status, https), func(t *testing.T) {
				base, hc, trap := wiretest.RedirectTrap(t, status, https)
				c := New(Config{BaseURL: base, Token: wiretest.HostileToken, PhoneNumberID: "119060000040020",
					WhatsAppBotID: 23, HTTPClient: hc})
				_, err := c.Send(context.Background(), "8801723309003", textMessage)
				wiretest.RequireRefused(t, err, trap, status, true, wiretest.HostileToken)
				_, err = c.AccountInfo(context.Background())
				wiretest.RequireRefused(t, err, trap, status, false, wiretest.HostileToken)
			})
		}
	}
}

// TestValidateRefusesCredentialsInBaseURL without printing them.
func TestValidateRefusesCredentialsInBaseURL(t *testing.T) {
	err := Config{BaseURL: "https://user:" + testToken + "@botsailor.com/api/v1", Token: "t", PhoneNumberID: "1"}.Validate()
	require.ErrorContains(t, err, "credentials")
	require.NotContains(t, err.Error(), testToken)
}
