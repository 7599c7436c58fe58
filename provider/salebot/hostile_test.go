package salebot

import (
	"context"
	"encoding/json"
	"fmt"
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

// TestRedirectNotFollowed: a base_url that redirects (to another host, from
// https to http) never gets the key (in the path, and so in the Referer) to
// the other origin; the error names the Location's host only.
func TestRedirectNotFollowed(t *testing.T) {
	for _, status := range wiretest.RedirectStatuses {
		for _, https := range []bool{false, true} {
			t.Run(fmt.Sprint(status, https), func(t *testing.T) {
				base, hc, trap := wiretest.RedirectTrap(t, status, https)
				c := New(Config{BaseURL: base, APIKey: wiretest.HostileToken, WhatsAppBotID: testBotID, HTTPClient: hc})
				_, err := c.Send(context.Background(), "79875146788", textMessage)
				wiretest.RequireRefused(t, err, trap, status, true, wiretest.HostileToken)
			})
		}
	}
}
