package salebot

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/wacamp/wacamp/provider/internal/wiretest"
)

// TestHostileAnswerScrubbed: an answer that echoes the key as error.code and
// JSON-escaped in its message leaves no form of it in the error.
func TestHostileAnswerScrubbed(t *testing.T) {
	tok := wiretest.HostileToken
	body, _ := json.Marshal(map[string]any{"status": "error", "error": map[string]any{
		"message": wiretest.EchoMessage(tok), "code": tok}})
	srv := httptest.NewServer(reply(http.StatusBadRequest, string(body)))
	t.Cleanup(srv.Close)
	c := New(Config{BaseURL: srv.URL, APIKey: tok, WhatsAppBotID: testBotID})
	_, err := c.Send(context.Background(), "79875146788", textMessage)
	wiretest.RequireScrubbed(t, err, tok)
}
