package salebot

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/provider"
	"github.com/wacamp/wacamp/provider/internal/wiretest"
	"github.com/wacamp/wacamp/templates"
)

// testKey is the doc's sample API key.
const testKey = "b551e18c8b8e86bea6f14f38de3f5cc3c31ba1edb4d8"

const testBotID = 34810

// The seed doc's sample answers, verbatim where the doc has them. The doc
// shows no answer of whatsapp_message or whatsapp_callback: the load_clients
// answer is the one success shape of a write call it gives.
const (
	sampleLoadClientsOK = `{"status":"success","items":[{"platform_id":"","group_id":"5kqchxwyvdvFZOsp80q2qw==","client_type":6,"status":"success","id":1469409}]}`
	// The doc's history entry (closing brackets added): its message_id is
	// a bot block id, no wamid.
	sampleHistory = `{
  "status": "success",
  "result": [{
      "id": 104500,
      "answered": true,
      "client_replica": false,
      "message_id": 390,
      "message_from_outside": 0,
      "created_at": 1587895014,
      "text": "CouCou",
      "attachments": {},
      "delivered": true,
      "error_message": "true"}]}`
	sampleOnlineChatClient = `{ "client_id": 36553 }`
)

// fake is a scripted provider: it records each request and answers with
// respond.
type fake = wiretest.Fake[wiretest.JSONRequest]

// setup starts a fake Salebot answering with respond and returns a client
// for it, with BaseURL ending in /api like the real one.
func setup(t *testing.T, respond http.HandlerFunc) (*Client, *fake) {
	t.Helper()
	f := wiretest.NewFake(t, wiretest.SeeJSON, respond)
	c := New(Config{
		BaseURL:       f.URL + "/api/",
		APIKey:        testKey,
		WhatsAppBotID: testBotID,
		HTTPClient:    f.Client,
	})
	return c, f
}

func requireProviderError(t *testing.T, err error) *provider.Error {
	t.Helper()
	return wiretest.RequireError(t, err, providerName, "send", testKey)
}

var textMessage = templates.Message{Kind: templates.KindText, Text: "some_text"}

func TestSendRequests(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	keyPath := "/api/" + testKey + "/"

	t.Run("Text", func(t *testing.T) {
		t.Parallel()
		c, f := setup(t, wiretest.Reply(200, `{"status":"success"}`))
		res, err := c.Send(ctx, "+7 (987) 514-67-88", textMessage)
		require.NoError(t, err)
		require.Equal(t, provider.SendResult{}, res)
		got := f.Last(t)
		require.Equal(t, http.MethodPost, got.Method)
		require.Equal(t, keyPath+"whatsapp_message", got.Path)
		require.Empty(t, got.RawQuery)
		require.Equal(t, "application/json", got.ContentType)
		require.JSONEq(t, `{"phone":"79875146788","message":"some_text","whatsapp_bot_id":34810}`, got.RawBody)
	})

	t.Run("Media", func(t *testing.T) {
		t.Parallel()
		for typ, want := range map[string]string{"image": "image", "video": "video", "audio": "audio", "document": "file"} {
			c, f := setup(t, wiretest.Reply(200, `{"status":"success"}`))
			_, err := c.Send(ctx, "79875146788", templates.Message{Kind: templates.KindMedia,
				Media: &templates.Media{URL: "https://example.com/f." + typ, Type: typ, Caption: "Our " + typ}})
			require.NoError(t, err, typ)
			got := f.Last(t)
			require.Equal(t, keyPath+"whatsapp_message", got.Path)
			require.JSONEq(t, fmt.Sprintf(`{"phone":"79875146788","message":"Our %s","whatsapp_bot_id":34810,
				"attachment_type":%q,"attachment_url":"https://example.com/f.%s"}`, typ, want, typ), got.RawBody)
		}
	})

	t.Run("MediaWithoutCaptionHasNoMessage", func(t *testing.T) {
		t.Parallel()
		c, f := setup(t, wiretest.Reply(200, `{"status":"success"}`))
		_, err := c.Send(ctx, "79875146788", templates.Message{Kind: templates.KindMedia,
			Media: &templates.Media{URL: "https://example.com/a.pdf", Type: "document"}})
		require.NoError(t, err)
		require.NotContains(t, f.Last(t).Body, "message")
		require.Equal(t, "file", f.Last(t).Body["attachment_type"])
	})

	t.Run("ReplyButtonsInDocFormat", func(t *testing.T) {
		t.Parallel()
		c, f := setup(t, wiretest.Reply(200, `{"status":"success"}`))
		_, err := c.Send(ctx, "79875146788", templates.Message{Kind: templates.KindButtons, Buttons: &templates.Buttons{
			Text: "How can we help?",
			Buttons: []templates.Button{
				{Type: "reply", Title: "What services we can provide"},
				{Type: "reply", Title: "Payment info"},
			},
		}})
		require.NoError(t, err)
		got := f.Last(t)
		require.Equal(t, keyPath+"whatsapp_message", got.Path)
		require.JSONEq(t, `{"phone":"79875146788","message":"How can we help?","whatsapp_bot_id":34810,
			"buttons":{"hint":"How can we help?\n1. What services we can provide\n2. Payment info",
			"buttons":[{"type":"reply","text":"What services we can provide","line":0,"index_in_line":0},
			           {"type":"reply","text":"Payment info","line":0,"index_in_line":1}]}}`, got.RawBody)
	})

	t.Run("ButtonsHeaderAndFooterJoinTheText", func(t *testing.T) {
		t.Parallel()
		c, f := setup(t, wiretest.Reply(200, `{"status":"success"}`))
		_, err := c.Send(ctx, "79875146788", templates.Message{Kind: templates.KindButtons, Buttons: &templates.Buttons{
			Header: "Menu", Text: "Pick one", Footer: "Reply any time",
			Buttons: []templates.Button{{Type: "reply", Title: "Yes"}},
		}})
		require.NoError(t, err)
		require.Equal(t, "Menu\n\nPick one\n\nReply any time", f.Last(t).Body["message"])
	})

	t.Run("BotFlowIsWhatsAppCallback", func(t *testing.T) {
		t.Parallel()
		c, f := setup(t, wiretest.Reply(200, `{"status":"success"}`))
		res, err := c.Send(ctx, "79875146788", templates.Message{Kind: templates.KindBotFlow, BotFlow: "start_promo"})
		require.NoError(t, err)
		require.Empty(t, res.WAMID)
		got := f.Last(t)
		require.Equal(t, http.MethodPost, got.Method)
		require.Equal(t, keyPath+"whatsapp_callback", got.Path)
		require.JSONEq(t, `{"phone":"79875146788","message":"start_promo","whatsapp_bot_id":34810}`, got.RawBody)
	})

	t.Run("DefaultBaseURL", func(t *testing.T) {
		t.Parallel()
		c := New(Config{APIKey: testKey, WhatsAppBotID: 1})
		require.Equal(t, "https://chatter.salebot.pro/api", c.k.BaseURL)
	})
}

func TestSendRefusedWithoutCall(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		to    string
		msg   templates.Message
		class provider.Class
	}{
		"Template": {"79875146788", templates.Message{Kind: templates.KindTemplate,
			Template: &templates.Template{Name: "hello", Language: "en"}}, provider.ClassPermanent},
		"Location": {"79875146788", templates.Message{Kind: templates.KindLocation,
			Location: &templates.Location{Latitude: 1, Longitude: 2}}, provider.ClassPermanent},
		"List": {"79875146788", templates.Message{Kind: templates.KindList,
			List: &templates.List{Text: "x", Button: "Menu"}}, provider.ClassPermanent},
		"UnknownKind": {"79875146788", templates.Message{Kind: "carousel"}, provider.ClassPermanent},
		"Sticker": {"79875146788", templates.Message{Kind: templates.KindMedia,
			Media: &templates.Media{URL: "https://example.com/s.webp", Type: "sticker"}}, provider.ClassPermanent},
		"URLButton": {"79875146788", templates.Message{Kind: templates.KindButtons, Buttons: &templates.Buttons{
			Text: "x", Buttons: []templates.Button{{Type: "url", Title: "Site", Payload: "https://example.com"}}}}, provider.ClassPermanent},
		"InvalidPhone": {"7987abc", textMessage, provider.ClassPermanent},
		"EmptyPhone":   {"", textMessage, provider.ClassPermanent},
		"EmptyText":    {"79875146788", templates.Message{Kind: templates.KindText}, provider.ClassHaltCampaign},
		"NoMedia":      {"79875146788", templates.Message{Kind: templates.KindMedia}, provider.ClassHaltCampaign},
		"NoBotFlow":    {"79875146788", templates.Message{Kind: templates.KindBotFlow}, provider.ClassHaltCampaign},
		"NoButtons": {"79875146788", templates.Message{Kind: templates.KindButtons,
			Buttons: &templates.Buttons{Text: "x"}}, provider.ClassHaltCampaign},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c, f := setup(t, wiretest.Reply(200, `{"status":"success"}`))
			_, err := c.Send(context.Background(), tc.to, tc.msg)
			pe := requireProviderError(t, err)
			require.Equal(t, tc.class, pe.Class, pe.Error())
			require.Zero(t, f.Count(), "no call may be made")
		})
	}
}

func TestSendAnswers(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		status     int
		body       string
		retryAfter string
		wantWAMID  string
		wantClass  provider.Class // checked when wantErr
		wantErr    bool
		wantCode   string
		wantRetry  time.Duration
	}{
		{name: "StatusSuccess", status: 200, body: `{"status":"success"}`},
		{name: "DocLoadClientsSuccessShape", status: 200, body: sampleLoadClientsOK},
		{name: "DocHistoryShapeMessageIDIsNoWAMID", status: 200, body: sampleHistory},
		{name: "DocOnlineChatShape", status: 200, body: sampleOnlineChatClient},
		{name: "EmptyObject", status: 200, body: `{}`},
		{name: "StatusTrue", status: 200, body: `{"status":true}`},
		{name: "StatusNumber200", status: 200, body: `{"status":200}`},
		{name: "ResultOK", status: 200, body: `{"result":"ok"}`},
		{name: "ResultObjectSaysNothing", status: 200, body: `{"result":{"sent":1}}`},
		{name: "MessageIDIsBlockID", status: 200, body: `{"status":"success","id":104500,"message_id":390}`},
		{name: "ExplicitWAMID", status: 200, body: `{"status":"success","wa_message_id":"wamid.HBgLNzk4NzUxNDY3ODgVAgARGBI="}`,
			wantWAMID: "wamid.HBgLNzk4NzUxNDY3ODgVAgARGBI="},
		{name: "IDThatIsAWAMID", status: 201, body: `{"status":"success","data":{"id":"wamid.ABC"}}`, wantWAMID: "wamid.ABC"},

		{name: "UnknownKey404", status: 404, body: `{"status":"error","error":"api key not found"}`,
			wantErr: true, wantClass: provider.ClassHaltAccount},
		{name: "Bare404", status: 404, body: `<html>Not Found</html>`, wantErr: true, wantClass: provider.ClassHaltAccount},
		{name: "ResultError", status: 200, body: `{"result":"error","description":"WhatsApp is not connected"}`,
			wantErr: true, wantClass: provider.ClassHaltAccount},
		{name: "ResultFalse", status: 200, body: `{"result":false}`, wantErr: true, wantClass: provider.ClassPermanent},
		{name: "InvalidKey200", status: 200, body: `{"status":"error","error":"Invalid api key"}`,
			wantErr: true, wantClass: provider.ClassHaltAccount},
		{name: "Unauthorized", status: 401, body: `Unauthorized`, wantErr: true, wantClass: provider.ClassHaltAccount},
		{name: "Forbidden", status: 403, body: `{"status":"error"}`, wantErr: true, wantClass: provider.ClassHaltAccount},
		{name: "WhatsAppNotConnected", status: 400, body: `{"status":"error","error":"WhatsApp is not connected"}`,
			wantErr: true, wantClass: provider.ClassHaltAccount},
		{name: "BotNotFound", status: 400, body: `{"status":"error","error":"whatsapp bot not found"}`,
			wantErr: true, wantClass: provider.ClassHaltAccount},
		{name: "InvalidPhone", status: 200, body: `{"status":"error","error":"Invalid phone number"}`,
			wantErr: true, wantClass: provider.ClassPermanent},
		{name: "NoWhatsAppOnNumber", status: 200, body: `{"status":false,"message":"The phone number has no WhatsApp"}`,
			wantErr: true, wantClass: provider.ClassPermanent},
		{name: "BadRequest", status: 400, body: `{"status":"error","error":"message is required"}`, // the request's shape: the campaign pauses
			wantErr: true, wantClass: provider.ClassHaltCampaign},
		{name: "BadPhone", status: 400, body: `{"status":"error","error":"phone is required"}`, // about the recipient: theirs alone
			wantErr: true, wantClass: provider.ClassPermanent},
		{name: "ErrorMessageField", status: 200, body: `{"error_message":"Message undeliverable. (#131026)"}`,
			wantErr: true, wantClass: provider.ClassPermanent, wantCode: "131026"},
		{name: "ErrorWithStatusSuccess", status: 200, body: `{"status":"success","error":"whatsapp bot not found"}`,
			wantErr: true, wantClass: provider.ClassHaltAccount},
		{name: "TemplatePaused", status: 200, body: `{"status":"error","error":"(#132015) Template is paused"}`,
			wantErr: true, wantClass: provider.ClassHaltCampaign, wantCode: "132015"},
		{name: "RateLimited", status: 429, body: `{"status":"error","error":"(#130429) Rate limit hit"}`, retryAfter: "2",
			wantErr: true, wantClass: provider.ClassTransient, wantCode: "130429", wantRetry: 2 * time.Second},
		{name: "PairRate", status: 429, body: `{"status":"error","error":"(#131056) pair rate limit hit"}`,
			wantErr: true, wantClass: provider.ClassTransient, wantCode: "131056"},
		{name: "SubscriberLimit", status: 400, body: `{"status":"error","error":"Subscriber limit has been exceeded. You cannot have more subscribers."}`,
			wantErr: true, wantClass: provider.ClassHaltAccount},
		{name: "ServiceUnavailable", status: 503, body: `503 Service Temporarily Unavailable`, retryAfter: "1",
			wantErr: true, wantClass: provider.ClassTransient, wantRetry: time.Second},
		{name: "Internal500JSON", status: 500, body: `{"status":"error","error":"internal error"}`,
			wantErr: true, wantClass: provider.ClassAmbiguous},
		{name: "UnknownRefusal", status: 200, body: `{"status":"error","error":"Something went wrong"}`,
			wantErr: true, wantClass: provider.ClassPermanent},
		{name: "FalseBody", status: 200, body: `false`, wantErr: true, wantClass: provider.ClassPermanent},
		// A failure's own code under HTTP 200: a 500 there may have gone
		// out, a 4xx did not.
		{name: "Code500Under200", status: 200, body: `{"message":"Something went wrong","code":500}`,
			wantErr: true, wantClass: provider.ClassAmbiguous, wantCode: "500"},
		{name: "Code400Under200", status: 200, body: `{"message":"Bad request","code":400}`,
			wantErr: true, wantClass: provider.ClassPermanent, wantCode: "400"},

		{name: "HTML200IsAmbiguous", status: 200, body: `<html><body>OK</body></html>`,
			wantErr: true, wantClass: provider.ClassAmbiguous},
		// The doc shows no send answer: an empty or plain-text 2xx is the
		// server accepting (review finding: it was failed as outcome unknown).
		{name: "Empty200IsAccepted", status: 200, body: ``},
		{name: "PlainOK200IsAccepted", status: 200, body: "OK\n"},
		{name: "HTML200IsAmbiguous", status: 200, body: `<html><body>proxy</body></html>`, wantErr: true, wantClass: provider.ClassAmbiguous},
		{name: "SuccessWithErrorFlagTrue", status: 200, body: `{"status":"success","delivered":true,"error_message":"true"}`},
		// A 404 with a reason is about the recipient, not the key.
		{name: "ClientNotFound404", status: 404, body: `{"status":"error","message":"client not found"}`, wantErr: true, wantClass: provider.ClassPermanent},
		{name: "Truncated200IsAmbiguous", status: 200, body: `{"status":"succ`, wantErr: true, wantClass: provider.ClassAmbiguous},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, _ := setup(t, func(w http.ResponseWriter, r *http.Request) {
				if tc.retryAfter != "" {
					w.Header().Set("Retry-After", tc.retryAfter)
				}
				wiretest.Reply(tc.status, tc.body)(w, r)
			})
			res, err := c.Send(context.Background(), "79875146788", textMessage)
			if !tc.wantErr {
				require.NoError(t, err)
				require.Equal(t, tc.wantWAMID, res.WAMID)
				return
			}
			pe := requireProviderError(t, err)
			require.Equal(t, tc.wantClass, pe.Class, pe.Error())
			require.Equal(t, tc.status, pe.HTTPStatus)
			require.Equal(t, tc.wantCode, pe.Code)
			require.Equal(t, tc.wantRetry, pe.RetryAfter)
		})
	}
}

func TestSendLostAnswers(t *testing.T) {
	t.Parallel()

	t.Run("HangUpAfterRequestIsAmbiguous", func(t *testing.T) {
		t.Parallel()
		c, f := setup(t, wiretest.HangUp(t))
		_, err := c.Send(context.Background(), "79875146788", textMessage)
		pe := requireProviderError(t, err)
		require.Equal(t, provider.ClassAmbiguous, pe.Class, pe.Error())
		require.Equal(t, 1, f.Count())
	})

	t.Run("CancelAfterWriteIsAmbiguous", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(context.Background())
		c, _ := setup(t, func(w http.ResponseWriter, r *http.Request) {
			cancel() // the request was read: the client gives up now
			<-r.Context().Done()
		})
		_, err := c.Send(ctx, "79875146788", textMessage)
		pe := requireProviderError(t, err)
		require.Equal(t, provider.ClassAmbiguous, pe.Class, pe.Error())
		require.ErrorIs(t, err, context.Canceled)
	})

	t.Run("CancelledBeforeWriteIsTransient", func(t *testing.T) {
		t.Parallel()
		c, f := setup(t, wiretest.Reply(200, `{"status":"success"}`))
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := c.Send(ctx, "79875146788", textMessage)
		pe := requireProviderError(t, err)
		require.Equal(t, provider.ClassTransient, pe.Class, pe.Error())
		require.ErrorIs(t, err, context.Canceled)
		require.Zero(t, f.Count())
	})

	t.Run("ConnectionRefusedIsTransientAndHidesTheKey", func(t *testing.T) {
		t.Parallel()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addr := ln.Addr().String()
		require.NoError(t, ln.Close())
		var logs bytes.Buffer
		c := New(Config{BaseURL: "http://" + addr + "/api", APIKey: testKey, WhatsAppBotID: testBotID,
			Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
		_, err = c.Send(context.Background(), "79875146788", textMessage)
		pe := requireProviderError(t, err)
		require.Equal(t, provider.ClassTransient, pe.Class, pe.Error())
		require.NotContains(t, fmt.Sprintf("%v %+v %#v", err, err, pe.Err), testKey)
		require.Contains(t, err.Error(), "whatsapp_message")
		require.NotContains(t, logs.String(), testKey)
		require.Contains(t, logs.String(), "salebot: call")
	})
}

func TestSecretsNeverPrinted(t *testing.T) {
	t.Parallel()
	cfg := Config{BaseURL: "https://user:pass@chatter.salebot.pro/api", APIKey: testKey, WhatsAppBotID: 7}
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	log.Info("config", "cfg", cfg, "client", New(cfg))
	for _, s := range []string{
		cfg.String(), cfg.GoString(), fmt.Sprintf("%v %+v %#v %s", cfg, cfg, cfg, cfg),
		New(cfg).String(), fmt.Sprintf("%v %#v", New(cfg), New(cfg)), logs.String(),
	} {
		require.NotContains(t, s, testKey)
		require.NotContains(t, s, "pass@")
		require.Contains(t, s, "REDACTED")
	}

	t.Run("AnswerEchoingTheKey", func(t *testing.T) {
		t.Parallel()
		var logs bytes.Buffer
		c, _ := setup(t, func(w http.ResponseWriter, r *http.Request) {
			wiretest.Reply(404, `{"status":"error","error":"api key `+testKey+` not found at `+r.URL.Path+`"}`)(w, r)
		})
		c.k.Log = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		_, err := c.Send(context.Background(), "79875146788", textMessage)
		pe := requireProviderError(t, err)
		require.Equal(t, provider.ClassHaltAccount, pe.Class)
		require.NotContains(t, pe.Message, testKey)
		require.Contains(t, pe.Message, "REDACTED")
		require.NotContains(t, logs.String(), testKey)
	})

	t.Run("NonJSONAnswerEchoingTheKey", func(t *testing.T) {
		t.Parallel()
		c, _ := setup(t, wiretest.Reply(502, "bad gateway for /api/"+testKey+"/whatsapp_message"))
		_, err := c.Send(context.Background(), "79875146788", textMessage)
		pe := requireProviderError(t, err)
		require.Equal(t, provider.ClassTransient, pe.Class)
	})
}

func TestValidate(t *testing.T) {
	t.Parallel()
	require.NoError(t, Config{APIKey: testKey, WhatsAppBotID: 1}.Validate())
	require.NoError(t, Config{BaseURL: "http://127.0.0.1:8080/api", APIKey: testKey, WhatsAppBotID: 1}.Validate())

	err := Config{}.Validate()
	require.ErrorContains(t, err, "APIKey must be set")
	require.ErrorContains(t, err, "WhatsAppBotID")

	err = Config{BaseURL: "chatter.salebot.pro", APIKey: " " + testKey, WhatsAppBotID: 1}.Validate()
	require.ErrorContains(t, err, "BaseURL")
	require.ErrorContains(t, err, "APIKey must not contain spaces")
	require.NotContains(t, err.Error(), testKey)
}

func TestUnsupportedCalls(t *testing.T) {
	t.Parallel()
	c, f := setup(t, wiretest.Reply(200, `{"status":"success"}`))
	_, err := c.Conversation(context.Background(), "79875146788", 10)
	require.ErrorIs(t, err, provider.ErrUnsupported)
	require.ErrorContains(t, err, "salebot conversation")
	_, err = c.MessageStatus(context.Background(), "123")
	require.ErrorIs(t, err, provider.ErrUnsupported)
	require.Zero(t, f.Count())
	require.Equal(t, Capabilities, c.Capabilities())
	require.True(t, errors.Is(err, provider.ErrUnsupported))
}

func TestCapabilitiesMatchSend(t *testing.T) {
	t.Parallel()
	// Every media type the capabilities promise is mapped, and the kinds
	// they refuse are refused by Send too.
	for _, typ := range Capabilities.Media {
		_, ok := attachmentTypes[typ]
		require.True(t, ok, typ)
	}
	require.False(t, Capabilities.Template)
	require.False(t, Capabilities.Location)
	require.False(t, Capabilities.List)
	require.Equal(t, []string{"reply"}, Capabilities.ButtonTypes)
	require.True(t, strings.EqualFold(Capabilities.Provider, providerName))
}

// TestHostile: an answer that echoes the key as error.code and
// JSON-escaped in its message leaves no form of it in the error; a
// base_url that redirects (to another host, from https to http) never gets
// the key (in the path, and so in the Referer) to the other origin, and
// the error names the Location's host only.
func TestHostile(t *testing.T) { hostileDriver.Run(t) }

// FuzzAnswer feeds the driver's sends one answer of any status,
// Retry-After, Location and body: see wiretest.Driver.
func FuzzAnswer(f *testing.F) { hostileDriver.Fuzz(f) }

// hostileDriver is the driver as its fuzz target and redirect test call
// it: its sends. The key travels in the request's path, so transport
// errors must not show it either.
var hostileDriver = wiretest.Driver{
	Name:    providerName,
	Secrets: []string{wiretest.HostileToken},
	Samples: []string{sampleLoadClientsOK, sampleHistory, sampleOnlineChatClient, `{"status":"success"}`, `ok`},
	Echoes: func(secret string) map[string]map[string]any {
		return map[string]map[string]any{
			"error.code": {"status": "error", "error": map[string]any{"message": wiretest.EchoMessage(secret), "code": secret}},
		}
	},
	Calls: func(baseURL string, hc *http.Client, log *slog.Logger) (sends, others []wiretest.Call) {
		c := New(Config{BaseURL: baseURL, APIKey: wiretest.HostileToken, WhatsAppBotID: testBotID, HTTPClient: hc, Logger: log})
		return wiretest.Sends(c, "79875146788", textMessage, templates.Message{Kind: templates.KindBotFlow, BotFlow: "start"}), nil
	},
}
