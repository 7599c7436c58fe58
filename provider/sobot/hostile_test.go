package sobot

import (
	"context"
	"encoding/json"
	"fmt"
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

// TestRedirectNotFollowed: a base_url that redirects (to another host, from
// https to http) gets neither X-Api-Key nor X-Api-Secret nor anything else;
// the error names the Location's host only.
func TestRedirectNotFollowed(t *testing.T) {
	for _, status := range wiretest.RedirectStatuses {
		for _, https := range []bool{false, true} {
			t.Run(fmt.Sprint(status, https), func(t *testing.T) {
				base, hc, trap := wiretest.RedirectTrap(t, status, https)
				c := New(Config{BaseURL: base, APIKey: testKey, APISecret: wiretest.HostileToken, HTTPClient: hc})
				_, err := c.Send(context.Background(), "919970012345", textMsg("Hi"))
				wiretest.RequireRefused(t, err, trap, status, true, testKey, wiretest.HostileToken)
			})
		}
	}
}
