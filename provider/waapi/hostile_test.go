package waapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/wacamp/wacamp/provider/internal/wiretest"
	"github.com/wacamp/wacamp/templates"
)

// TestHostileAnswerScrubbed: an answer that echoes the access token as
// error.code or error_code and JSON-escaped in its message leaves no form of
// it in the error.
func TestHostileAnswerScrubbed(t *testing.T) {
	tok := wiretest.HostileToken
	msg := wiretest.EchoMessage(tok)
	for name, answer := range map[string]map[string]any{
		"error.code": {"status": "error", "error": map[string]any{"message": msg, "code": tok}},
		"error_code": {"status": "error", "message": msg, "error_code": tok},
	} {
		t.Run(name, func(t *testing.T) {
			body, _ := json.Marshal(answer)
			c, _ := setupWith(t, Config{SessionID: testSession, AccessToken: tok}, reply(http.StatusBadRequest, string(body)))
			_, err := c.Send(context.Background(), testPhone, templates.Message{Kind: templates.KindText, Text: "x"})
			wiretest.RequireScrubbed(t, err, tok)
		})
	}
}

// TestRedirectNotFollowed: a base_url that redirects (to another host, from
// https to http) never gets access_token or the Bearer token to the other
// origin; the error names the Location's host only.
func TestRedirectNotFollowed(t *testing.T) {
	for _, status := range wiretest.RedirectStatuses {
		for _, https := range []bool{false, true} {
			t.Run(fmt.Sprint(status, https), func(t *testing.T) {
				base, hc, trap := wiretest.RedirectTrap(t, status, https)
				c := New(Config{BaseURL: base, SessionID: testSession, AccessToken: wiretest.HostileToken,
					BearerToken: testBearer, HTTPClient: hc})
				_, err := c.Send(context.Background(), testPhone, templates.Message{Kind: templates.KindText, Text: "x"})
				wiretest.RequireRefused(t, err, trap, status, true, wiretest.HostileToken, testBearer)
			})
		}
	}
}
