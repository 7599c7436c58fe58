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
