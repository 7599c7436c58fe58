package sobot

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/wacamp/wacamp/provider/internal/wiretest"
)

// TestHostileAnswerScrubbed: an answer that echoes the secret as
// errors[0].code or error_code and JSON-escaped in its message leaves no
// form of it in the error.
func TestHostileAnswerScrubbed(t *testing.T) {
	tok := wiretest.HostileToken
	msg := wiretest.EchoMessage(tok)
	for name, answer := range map[string]map[string]any{
		"errors[0].code": {"code": 400, "message": msg, "errors": []any{map[string]any{"code": tok}}},
		"error_code":     {"code": 400, "message": msg, "error_code": tok},
	} {
		t.Run(name, func(t *testing.T) {
			body, _ := json.Marshal(answer)
			srv := httptest.NewServer(reply(http.StatusBadRequest, string(body)))
			t.Cleanup(srv.Close)
			c := New(Config{BaseURL: srv.URL, APIKey: testKey, APISecret: tok})
			_, err := c.Send(context.Background(), "919970012345", textMsg("Hi"))
			wiretest.RequireScrubbed(t, err, tok)
		})
	}
}
