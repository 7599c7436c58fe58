package botsailor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/provider"
	"github.com/wacamp/wacamp/provider/internal/wire"
	"github.com/wacamp/wacamp/provider/internal/wiretest"
	"github.com/wacamp/wacamp/templates"
)

// testToken looks like a Wabotick token: its "|" is URL-encoded in bodies.
const testToken = "18492|kT5mzQvL8NPDxYwRe3sH9cVbUaJf7LmXo2iG6nZp"

// The seed docs' sample answers (000 BotSailor, 001 Wabotick), verbatim.
const (
	sampleSendOK          = `{"status":"1", "wa_message_id":"wamid.HBgNODgwMTcyMzMwOTAwMxUCABEYEjlGQkY3MEFEMEVGODhCNDkxNQA=", "message":"Message sent successfully."}`
	sampleWAMID           = "wamid.HBgNODgwMTcyMzMwOTAwMxUCABEYEjlGQkY3MEFEMEVGODhCNDkxNQA="
	sampleSubscriberLimit = `{"status":"0","message":"Subscriber limit has been exceeded. You cannot have more subscribers."}`
	sampleTemplateOK      = `{"status":"1","message":"Template message sent successfully."}`
	sampleTriggerBotOK    = `{"status":"1","message":"Bot has been trigger successfully."}`
	sampleWabotickTplOK   = `{
"status": "success",
"message": "Template message sent successfully.",
"data": {
"message_id": "wamid.HBgLOTE5MDAwMDAwMDAwFQIAERgSRjQ1QzBCM0EyN0M4OTUzNkFFAA=="
}
}`
	sampleStatus         = `{"status":"1","message":{"message_status":"delivered","delivery_status_updated_at":"2024-07-28 13:21:03","read_time":null,"failed_time":null,"failed_reason":""}}`
	sampleWabotickStatus = `{
"status": "1",
"message": {
"message_status": "delivered",
"delivery_status_updated_at": "2024-07-28 13:21:03",
"read_time": null,
"failed_time": null,
"failed_reason": ""
}
}`
	sampleConversation     = `{"status":"1","message":[{"id":8XX3,"whatsapp_bot_subscriber_subscriber_id":"0123456789-23","whatsapp_bot_id":23,"sender":"bot","agent_name":null,"message_content":"{\"delay_in_reply\":0,\"messaging_product\":\"whatsapp\",\"recipient_type\":\"individual\",\"to\":\"0123456789\",\"type\":\"interactive\",\"interactive\":{\"header\":{\"type\":\"text\",\"text\":\"Order gateway\"},\"body\":{\"text\":\"How would you like to purchase it?\"},\"type\":\"button\",\"action\":{\"buttons\":[{\"type\":\"reply\",\"reply\":{\"id\":\"5lvomLOuENXIe6D::gPeAiDDmVQR_jTR\",\"title\":\"Paypal pay\"}},{\"type\":\"reply\",\"reply\":{\"id\":\"YES_START_CHAT_WITH_HUMAN::CBaLoC4yTMyIljZ\",\"title\":\"COD\"}}]}}}","conversation_time":"2024-07-28 13:21:03","wa_message_id":"wamid.HBgNODgwMTcyMzMwOTAwMxUCABEYEjlGQkY3MEFEMEVGODhCNDkxNQA=","reaction_data":null,"message_status":null,"delivery_status_updated_at":"2024-07-28 13:21:03","failed_reason":""}]}`
	sampleMyInfo           = `{"status": "1", "message": { "user_id": 114, "user_type": "Member", "name": "Member", "email": "member@gmail.com", "mobile": "3555757", "package_name": "Premium1", "expired_date": "2025-07-02 00:00:00", "created_at": "2022-03-26 10:55:29", "status": "1", "last_login_at": "2024-07-24 11:59:58", "last_login_ip": "127.0.0.1", "agent_has_ppu": "0", "agent_ppu_remaining": -1, "bot_subscriber_data": { "limit": "5000", "count": "1" }, "message_credit_data": { "limit": "unlimited", "used": 0 }, "whatsapp_bots_details": [ { "display_phone_number": "+91 97031 XXXX", "phone_number_id": "11906XXXXX40020", "whatsapp_business_account_id": "10039XXXX785XX", "whatsapp_business_name": "BotSailor" }] }}`
	sampleAccountNotFound  = `{"status":"0","message":"WhatsApp account not found."}`
	sampleSomethingWrong   = `{"status":"0","message":"Something went wrong or subscriber already exist."}`
	sampleWabotickCreateOK = `{"status":"1","mesasge":"WhatsApp subscriber has been created."}`
)

// request is what the fake server saw of one call.
type request struct {
	Method      string
	Path        string
	RawQuery    string
	ContentType string
	Form        url.Values
}

// fake is a scripted provider: it records each request and answers with
// respond.
type fake = wiretest.Fake[request]

// setup starts a fake provider answering with respond and returns a client
// for it.
func setup(t *testing.T, respond http.HandlerFunc) (*Client, *fake) {
	t.Helper()
	f := wiretest.NewFake(t, func(r *http.Request, body []byte) request {
		form, _ := url.ParseQuery(string(body))
		return request{
			Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery,
			ContentType: r.Header.Get("Content-Type"), Form: form,
		}
	}, respond)
	c := New(Config{
		BaseURL:       f.URL + "/api/v1/",
		Token:         testToken,
		PhoneNumberID: "119060000040020",
		WhatsAppBotID: 23,
		HTTPClient:    f.Client,
	})
	return c, f
}

func requireProviderError(t *testing.T, err error) *provider.Error {
	t.Helper()
	return wiretest.RequireError(t, err, providerName, "")
}

var textMessage = templates.Message{Kind: templates.KindText, Text: "Hello Ana"}

// sendCase is a send answered with a doc's sample body: the request must go
// to path carrying the account's fields and form (the call's own fields),
// and the result must name wamid.
type sendCase struct {
	name  string
	msg   templates.Message
	body  string
	path  string
	wamid string
	form  url.Values
}

// requireSends runs one subtest a case, each sending to the number to,
// which the request must carry as phone.
func requireSends(t *testing.T, to, phone string, tests []sendCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, f := setup(t, wiretest.Reply(http.StatusOK, tt.body))
			res, err := c.Send(context.Background(), to, tt.msg)
			require.NoError(t, err)
			require.Equal(t, provider.SendResult{WAMID: tt.wamid}, res)

			req := f.Last(t)
			require.Equal(t, http.MethodPost, req.Method)
			require.Equal(t, tt.path, req.Path)
			require.Empty(t, req.RawQuery, "the token must not travel in the URL")
			require.Equal(t, "application/x-www-form-urlencoded", req.ContentType)
			want := url.Values{
				"apiToken":        {testToken},
				"phone_number_id": {"119060000040020"},
				"phone_number":    {phone},
			}
			for k, v := range tt.form {
				want[k] = v
			}
			require.Equal(t, want, req.Form)
		})
	}
}

func TestSend(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	// 000's send answers (001's are replayed in TestWabotickContractSend).
	requireSends(t, "+880 1723-309003", "8801723309003", []sendCase{
		{"TextDocSample", textMessage, sampleSendOK, "/api/v1/whatsapp/send", sampleWAMID,
			url.Values{"message": {"Hello Ana"}}},
		{"MediaDocSample", templates.Message{Kind: templates.KindMedia,
			Media: &templates.Media{URL: "https://example.com/file.jpg", Type: "image", Caption: "Our menu"}},
			sampleSendOK, "/api/v1/whatsapp/send/file", sampleWAMID,
			url.Values{"media_url": {"https://example.com/file.jpg"}, "media_type": {"image"}, "media_caption_text": {"Our menu"}}},
		{"TemplateBotSailorSampleHasNoWAMID", templates.Message{Kind: templates.KindTemplate,
			Template: &templates.Template{ID: "437509121867805", Vars: []templates.TemplateVar{
				{Name: "name", Index: 1, Value: "Ana"},
				{Name: "order", Index: 2, Value: "A-17"},
			}}},
			sampleTemplateOK, "/api/v1/whatsapp/send/template", "",
			url.Values{"template_id": {"437509121867805"}, "templateVariable-name-1": {"Ana"}, "templateVariable-order-2": {"A-17"}}},
		{"TemplateWabotickSample", templates.Message{Kind: templates.KindTemplate,
			Template: &templates.Template{ID: "437509121867805"}},
			sampleWabotickTplOK, "/api/v1/whatsapp/send/template", "wamid.HBgLOTE5MDAwMDAwMDAwFQIAERgSRjQ1QzBCM0EyN0M4OTUzNkFFAA==",
			url.Values{"template_id": {"437509121867805"}}},
		{"TriggerBotDocSample", templates.Message{Kind: templates.KindBotFlow, BotFlow: "flow-123"},
			sampleTriggerBotOK, "/api/v1/whatsapp/trigger-bot", "",
			url.Values{"bot_flow_unique_id": {"flow-123"}}},
	})

	t.Run("WAMIDShapes", func(t *testing.T) {
		t.Parallel()
		for _, body := range []string{
			`{"status":1,"wa_message_id":"wamid.A"}`,
			`{"status":true,"message_id":"wamid.A"}`,
			`{"success":true,"message_id":"wamid.A"}`,
			`{"status":"success","data":{"wa_message_id":"wamid.A"}}`,
			`{"status":"ok","data":{"message_id":"wamid.A"}}`,
			`{"messaging_product":"whatsapp","contacts":[{"input":"8801723309003","wa_id":"8801723309003"}],"messages":[{"id":"wamid.A"}]}`,
			`{"status":"1","message":{"wa_message_id":"wamid.A"}}`,
			`{"status":"1","id":"wamid.A"}`,
			"<br />\n<b>Notice</b>: Undefined index: x in /var/www/api.php on line 12<br />\n" + `{"status":"1","wa_message_id":"wamid.A"}`,
		} {
			c, _ := setup(t, wiretest.Reply(200, body))
			res, err := c.Send(ctx, "8801723309003", textMessage)
			require.NoError(t, err, body)
			require.Equal(t, "wamid.A", res.WAMID, body)
		}
	})

	t.Run("RowIDIsNoWAMID", func(t *testing.T) {
		t.Parallel()
		c, _ := setup(t, wiretest.Reply(200, `{"status":"1","id":1234,"message":"Message sent successfully."}`))
		res, err := c.Send(ctx, "8801723309003", textMessage)
		require.NoError(t, err)
		require.Empty(t, res.WAMID)
	})

	t.Run("RefusedBeforeCalling", func(t *testing.T) {
		t.Parallel()
		c, f := setup(t, wiretest.Reply(200, sampleSendOK))
		tests := []struct {
			to    string
			msg   templates.Message
			class provider.Class
		}{
			{"not-a-number", textMessage, provider.ClassPermanent},
			{"", textMessage, provider.ClassPermanent},
			{"8801723309003", templates.Message{Kind: templates.KindText}, provider.ClassHaltCampaign},
			{"8801723309003", templates.Message{Kind: templates.KindMedia}, provider.ClassHaltCampaign},
			{"8801723309003", templates.Message{Kind: templates.KindTemplate}, provider.ClassHaltCampaign},
			{"8801723309003", templates.Message{Kind: templates.KindBotFlow}, provider.ClassHaltCampaign},
			{"8801723309003", templates.Message{Kind: "fax"}, provider.ClassHaltCampaign},
		}
		for _, tt := range tests {
			_, err := c.Send(ctx, tt.to, tt.msg)
			pe := requireProviderError(t, err)
			require.Equal(t, tt.class, pe.Class, "%q %+v", tt.to, tt.msg)
		}
		require.Zero(t, f.Count())
	})
}

func TestSendErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	tests := []struct {
		name    string
		status  int
		body    string
		class   provider.Class
		code    string
		message string
	}{
		{"SubscriberLimitDocSample", 200, sampleSubscriberLimit, provider.ClassHaltAccount, "",
			"Subscriber limit has been exceeded. You cannot have more subscribers."},
		{"AccountNotFoundDocSample", 200, sampleAccountNotFound, provider.ClassHaltAccount, "", "WhatsApp account not found."},
		{"SomethingWrongDocSample", 200, sampleSomethingWrong, provider.ClassPermanent, "",
			"Something went wrong or subscriber already exist."},
		{"InvalidToken", 200, `{"status":"0","message":"Invalid API token."}`, provider.ClassHaltAccount, "", "Invalid API token."},
		{"RateLimitCodeInText", 200, `{"status":"0","message":"(#130429) Rate limit hit"}`, provider.ClassTransient, "130429", "(#130429) Rate limit hit"},
		{"PairRateCodeInText", 200, `{"status":"0","message":"(#131056) (Business Account, Consumer Account) pair rate limit hit"}`,
			provider.ClassTransient, "131056", "(#131056) (Business Account, Consumer Account) pair rate limit hit"},
		{"NumericStatusAndCodeField", 200, `{"status":0,"code":131047,"message":"Re-engagement message"}`,
			provider.ClassPermanent, "131047", "Re-engagement message"},
		{"ErrorCodeField", 200, `{"status":"error","error_code":"132015","message":"Template is paused"}`,
			provider.ClassHaltCampaign, "132015", "Template is paused"},
		{"StatusFalseMessageObject", 200, `{"status":false,"message":{"phone_number":["The phone number is not a valid number."]}}`,
			provider.ClassPermanent, "", `{"phone_number":["The phone number is not a valid number."]}`},
		{"StatusFailedTypo", 200, `{"status":"failed","mesasge":"Template not found."}`, provider.ClassHaltCampaign, "", "Template not found."},
		{"MetaErrorShape", 400, `{"error":{"message":"Message failed to send because more than 24 hours have passed","type":"OAuthException","code":131047,"fbtrace_id":"A"}}`,
			provider.ClassPermanent, "131047", "Message failed to send because more than 24 hours have passed"},
		{"MetaErrorShapeAuth", 401, `{"error":{"message":"Error validating access token","type":"OAuthException","code":190}}`,
			provider.ClassHaltAccount, "190", "Error validating access token"},
		{"HTTPStatusEchoCodeIgnored", 200, `{"status":"0","code":200,"message":"Something went wrong"}`, provider.ClassPermanent, "", "Something went wrong"},
		{"JSON500", 500, `{"status":"0","message":"Internal error"}`, provider.ClassAmbiguous, "", "Internal error"},
		{"JSON503", 503, `{"status":"0","message":"Service unavailable"}`, provider.ClassTransient, "", "Service unavailable"},
		{"JSON429", 429, `{"status":"0","message":"Too Many Attempts."}`, provider.ClassTransient, "", "Too Many Attempts."},
		{"SuccessFlagButHTTP500", 500, `{"status":"1","message":"Message sent successfully."}`, provider.ClassAmbiguous, "", "Message sent successfully."},
		// No route for the address (a wrong base_url, a path the doc does
		// not give): every message would fail alike, so the campaign halts.
		{"NonJSON404", 404, "<html><body>Not Found</body></html>", provider.ClassHaltCampaign, "", "<html><body>Not Found</body></html>"},
		{"GoNotFound404", 404, "404 page not found\n", provider.ClassHaltCampaign, "", "404 page not found"},
		{"NonJSON405", 405, "Method Not Allowed", provider.ClassHaltCampaign, "", "Method Not Allowed"},
		{"FrameworkJSON404", 404, `{"detail":"Not Found"}`, provider.ClassHaltCampaign, "", "Not Found"},
		{"RefusalUnder404", 404, `{"status":"0","message":"Subscriber not found."}`, provider.ClassPermanent, "", "Subscriber not found."},
		{"FlagOnlyUnder404", 404, `{"status":"0"}`, provider.ClassPermanent, "", ""}, // the provider's own answer, saying nothing more
		{"NonJSON401", 401, "Unauthorized", provider.ClassHaltAccount, "", "Unauthorized"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, _ := setup(t, wiretest.Reply(tt.status, tt.body))
			_, err := c.Send(ctx, "8801723309003", textMessage)
			pe := requireProviderError(t, err)
			require.Equal(t, tt.class, pe.Class, pe.Error())
			require.Equal(t, tt.code, pe.Code)
			require.Equal(t, tt.message, pe.Message)
			require.Equal(t, tt.status, pe.HTTPStatus)
			require.Equal(t, "send", pe.Op)
		})
	}

	t.Run("SubscriberLimitIsRecognised", func(t *testing.T) {
		t.Parallel()
		c, _ := setup(t, wiretest.Reply(200, sampleSubscriberLimit))
		_, err := c.Send(ctx, "8801723309003", templates.Message{Kind: templates.KindMedia,
			Media: &templates.Media{URL: "https://example.com/a.jpg"}})
		require.True(t, provider.IsSubscriberLimit(err))
		require.Equal(t, provider.ClassHaltAccount, provider.ClassOf(err))
		require.Equal(t, "send-file", requireProviderError(t, err).Op)
	})

	t.Run("Non2xxNonJSONWithRetryAfterSeconds", func(t *testing.T) {
		t.Parallel()
		c, _ := setup(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "7")
			http.Error(w, "upstream unavailable", http.StatusServiceUnavailable)
		})
		_, err := c.Send(ctx, "8801723309003", textMessage)
		pe := requireProviderError(t, err)
		require.Equal(t, provider.ClassTransient, pe.Class)
		require.Equal(t, 503, pe.HTTPStatus)
		require.Equal(t, 7*time.Second, pe.RetryAfter)
		require.Equal(t, "upstream unavailable", pe.Message)
	})

	t.Run("RetryAfterHTTPDate", func(t *testing.T) {
		t.Parallel()
		now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		c, _ := setup(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", now.Add(90*time.Second).Format(http.TimeFormat))
			w.WriteHeader(http.StatusTooManyRequests)
		})
		c.k.Now = func() time.Time { return now }
		_, err := c.Send(ctx, "8801723309003", textMessage)
		pe := requireProviderError(t, err)
		require.Equal(t, provider.ClassTransient, pe.Class)
		require.Equal(t, 429, pe.HTTPStatus)
		require.Equal(t, 90*time.Second, pe.RetryAfter)
	})

	t.Run("RetryAfterOnStatus0Answer", func(t *testing.T) {
		t.Parallel()
		c, _ := setup(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "2")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = io.WriteString(w, `{"status":"0","message":"(#130429) Rate limit hit"}`)
		})
		_, err := c.Send(ctx, "8801723309003", textMessage)
		pe := requireProviderError(t, err)
		require.Equal(t, 2*time.Second, pe.RetryAfter)
		require.Equal(t, "130429", pe.Code)
	})

	// A 2xx that says neither yes nor no, or is cut short: whether the
	// message went out cannot be told.
	for name, respond := range map[string]http.HandlerFunc{
		"2xxNonJSONIsAmbiguous":            wiretest.Reply(200, "<html>Fatal error: Maximum execution time exceeded</html>"),
		"2xxJSONWithoutVerdictIsAmbiguous": wiretest.Reply(200, `{}`),
		"TruncatedBodyIsAmbiguous": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "500")
			w.WriteHeader(200)
			_, _ = io.WriteString(w, `{"status":"1","wa_message_id":"wam`)
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				_ = conn.Close()
			}
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c, _ := setup(t, respond)
			_, err := c.Send(ctx, "8801723309003", textMessage)
			pe := requireProviderError(t, err)
			require.Equal(t, provider.ClassAmbiguous, pe.Class)
			require.Equal(t, 200, pe.HTTPStatus)
		})
	}

	t.Run("DroppedConnectionIsAmbiguous", func(t *testing.T) {
		t.Parallel()
		c, f := setup(t, wiretest.HangUp(t))
		_, err := c.Send(ctx, "8801723309003", textMessage)
		pe := requireProviderError(t, err)
		require.Equal(t, provider.ClassAmbiguous, pe.Class)
		require.Zero(t, pe.HTTPStatus)
		require.NotNil(t, pe.Err)
		require.Equal(t, 1, f.Count())
	})

	t.Run("ConnectionRefusedIsTransient", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewServer(http.NotFoundHandler())
		base := srv.URL
		srv.Close()
		c := New(Config{BaseURL: base + "/api/v1", Token: testToken, PhoneNumberID: "1"})
		_, err := c.Send(ctx, "8801723309003", textMessage)
		pe := requireProviderError(t, err)
		require.Equal(t, provider.ClassTransient, pe.Class, "nothing was written, so nothing was sent")
	})

	t.Run("CancelledWhileWaitingIsAmbiguous", func(t *testing.T) {
		t.Parallel()
		arrived := make(chan struct{})
		c, _ := setup(t, func(w http.ResponseWriter, r *http.Request) {
			close(arrived)
			<-r.Context().Done()
		})
		ctx, cancel := context.WithCancel(ctx)
		go func() {
			<-arrived
			cancel()
		}()
		_, err := c.Send(ctx, "8801723309003", textMessage)
		require.ErrorIs(t, err, context.Canceled)
		require.Equal(t, provider.ClassAmbiguous, requireProviderError(t, err).Class)
	})

	t.Run("CancelledBeforeIsTransient", func(t *testing.T) {
		t.Parallel()
		c, f := setup(t, wiretest.Reply(200, sampleSendOK))
		ctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := c.Send(ctx, "8801723309003", textMessage)
		require.ErrorIs(t, err, context.Canceled)
		require.Equal(t, provider.ClassTransient, requireProviderError(t, err).Class)
		require.Zero(t, f.Count())
	})

	t.Run("DeadlineExceeded", func(t *testing.T) {
		t.Parallel()
		c, _ := setup(t, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
		ctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		_, err := c.Send(ctx, "8801723309003", textMessage)
		require.ErrorIs(t, err, context.DeadlineExceeded)
	})
}

func TestReadOnlyCallsLostAnswerIsTransient(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	calls := map[string]func(c *Client) error{
		"message-status": func(c *Client) error { _, err := c.MessageStatus(ctx, sampleWAMID); return err },
		"conversation":   func(c *Client) error { _, err := c.Conversation(ctx, "8801723309003", 5); return err },
		"my-info":        func(c *Client) error { _, err := c.AccountInfo(ctx); return err },
	}
	for op, fn := range calls {
		t.Run(op, func(t *testing.T) {
			t.Parallel()
			c, _ := setup(t, wiretest.HangUp(t))
			pe := requireProviderError(t, fn(c))
			require.Equal(t, provider.ClassTransient, pe.Class)
			require.Equal(t, op, pe.Op)

			c, _ = setup(t, wiretest.Reply(200, "<html>oops</html>"))
			pe = requireProviderError(t, fn(c))
			require.Equal(t, provider.ClassTransient, pe.Class)
		})
	}
}

func TestMessageStatus(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	at := time.Date(2024, 7, 28, 13, 21, 3, 0, time.UTC)

	tests := []struct {
		name string
		body string
		want provider.StatusReport
	}{
		{"DocSample", sampleStatus, provider.StatusReport{Status: provider.StatusDelivered, At: at}},
		{"WabotickSample", sampleWabotickStatus, provider.StatusReport{Status: provider.StatusDelivered, At: at}},
		{"Read", `{"status":"1","message":{"message_status":"READ","delivery_status_updated_at":"2024-07-28 13:21:03","read_time":"2024-07-28 13:25:00","failed_time":null,"failed_reason":""}}`,
			provider.StatusReport{Status: provider.StatusRead, At: time.Date(2024, 7, 28, 13, 25, 0, 0, time.UTC)}},
		{"Seen", `{"status":"1","message":{"message_status":"seen","delivery_status_updated_at":"2024-07-28 13:21:03"}}`,
			provider.StatusReport{Status: provider.StatusRead, At: at}},
		{"Played", `{"status":1,"message":{"message_status":"played"}}`, provider.StatusReport{Status: provider.StatusRead}},
		{"Sent", `{"status":"1","message":{"message_status":"sent","delivery_status_updated_at":"2024-07-28 13:21:03"}}`,
			provider.StatusReport{Status: provider.StatusSent, At: at}},
		{"FailedWithCodeInReason", `{"status":"1","message":{"message_status":"failed","delivery_status_updated_at":"2024-07-28 13:21:03","read_time":null,"failed_time":"2024-07-28 13:22:00","failed_reason":"(#131026) Message undeliverable."}}`,
			provider.StatusReport{Status: provider.StatusFailed, At: time.Date(2024, 7, 28, 13, 22, 0, 0, time.UTC), Code: "131026", Reason: "(#131026) Message undeliverable."}},
		{"FailedWithCodeField", `{"status":"1","message":{"message_status":"undelivered","failed_time":"2024-07-28 13:22:00","failed_reason":"Message undeliverable.","error_code":131026}}`,
			provider.StatusReport{Status: provider.StatusFailed, At: time.Date(2024, 7, 28, 13, 22, 0, 0, time.UTC), Code: "131026", Reason: "Message undeliverable."}},
		{"FailedReasonObject", `{"status":"1","message":{"message_status":"failed","failed_reason":{"code":131049,"title":"This message was not delivered to maintain healthy ecosystem engagement."}}}`,
			provider.StatusReport{Status: provider.StatusFailed, Code: "131049", Reason: `{"code":131049,"title":"This message was not delivered to maintain healthy ecosystem engagement."}`}},
		{"Null", `{"status":"1","message":{"message_status":null,"delivery_status_updated_at":"2024-07-28 13:21:03"}}`,
			provider.StatusReport{Status: provider.StatusUnknown, At: at}},
		{"Accepted", `{"status":"1","message":{"message_status":"accepted"}}`, provider.StatusReport{Status: provider.StatusUnknown}},
		{"UnknownWord", `{"status":"1","message":{"message_status":"warning"}}`, provider.StatusReport{Status: provider.StatusUnknown}},
		{"DataShape", `{"status":"success","data":{"status":"delivered","updated_at":"2024-07-28T13:21:03Z"}}`,
			provider.StatusReport{Status: provider.StatusDelivered, At: at}},
		{"FlatShape", `{"status":"1","message_status":"delivered","delivery_status_updated_at":"1722172863"}`,
			provider.StatusReport{Status: provider.StatusDelivered, At: at}},
		{"ArrayShape", `{"status":"1","message":[{"message_status":"delivered"}]}`, provider.StatusReport{Status: provider.StatusDelivered}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, f := setup(t, wiretest.Reply(200, tt.body))
			got, err := c.MessageStatus(ctx, sampleWAMID)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)

			req := f.Last(t)
			require.Equal(t, "/api/v1/whatsapp/get/message-status", req.Path)
			require.Equal(t, url.Values{
				"apiToken":        {testToken},
				"wa_message_id":   {sampleWAMID},
				"whatsapp_bot_id": {"23"},
			}, req.Form)
		})
	}

	t.Run("NotFound", func(t *testing.T) {
		t.Parallel()
		c, _ := setup(t, wiretest.Reply(200, `{"status":"0","message":"Message not found."}`))
		_, err := c.MessageStatus(ctx, "wamid.nope")
		pe := requireProviderError(t, err)
		require.Equal(t, provider.ClassPermanent, pe.Class)
		require.Equal(t, "message-status", pe.Op)
	})

	t.Run("NoBotIDConfigured", func(t *testing.T) {
		t.Parallel()
		c, f := setup(t, wiretest.Reply(200, sampleStatus))
		c.cfg.WhatsAppBotID = 0
		_, err := c.MessageStatus(ctx, sampleWAMID)
		require.Equal(t, provider.ClassPermanent, requireProviderError(t, err).Class)
		require.Zero(t, f.Count())
	})
}

func TestConversation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("DocSampleWithInvalidJSON", func(t *testing.T) {
		t.Parallel()
		c, f := setup(t, wiretest.Reply(200, sampleConversation))
		got, err := c.Conversation(ctx, "0123456789", 10)
		require.NoError(t, err)
		require.Len(t, got, 1)
		m := got[0]
		require.Equal(t, sampleWAMID, m.WAMID)
		require.Equal(t, "8XX3", m.ID, "the entry's own id, a bare word in the sample")
		require.True(t, m.FromBot)
		require.Equal(t, time.Date(2024, 7, 28, 13, 21, 3, 0, time.UTC), m.Time)
		require.Equal(t, time.Date(2024, 7, 28, 13, 21, 3, 0, time.UTC), m.StatusAt)
		require.Equal(t, "How would you like to purchase it?", m.Text)
		require.Equal(t, provider.StatusUnknown, m.Status)
		require.True(t, strings.HasPrefix(m.Content, `{"delay_in_reply":0,"messaging_product":"whatsapp"`), m.Content)

		req := f.Last(t)
		require.Equal(t, "/api/v1/whatsapp/get/conversation", req.Path)
		require.Equal(t, url.Values{
			"apiToken":        {testToken},
			"phone_number_id": {"119060000040020"},
			"phone_number":    {"0123456789"},
			"limit":           {"10"},
		}, req.Form, "offset is deliberately not sent")
	})

	t.Run("Kinds", func(t *testing.T) {
		t.Parallel()
		body := `{"status":"1","message":[
{"id":3,"sender":"bot","message_content":"{\"messaging_product\":\"whatsapp\",\"to\":\"8801723309003\",\"type\":\"text\",\"text\":{\"body\":\"Hello Ana\"}}","conversation_time":"2024-07-28 13:21:05","wa_message_id":"wamid.3","message_status":"delivered"},
{"id":2,"sender":"user","message_content":"Hi there","conversation_time":"2024-07-28 13:21:04","wa_message_id":"wamid.2","message_status":null},
{"id":1,"sender":"agent","message_content":"{\"type\":\"image\",\"image\":{\"link\":\"https://example.com/a.jpg\",\"caption\":\"Our menu\"}}","conversation_time":"2024-07-28 13:21:03","wa_message_id":"wamid.1","message_status":"read"},
{"id":0,"sender":"api","message_content":{"type":"template","template":{"name":"order_update","language":{"code":"en_US"}}},"conversation_time":"2024-07-28 13:21:02","wa_message_id":"wamid.0","message_status":"failed"},
{"id":-1,"sender":"subscriber","message_content":"{\"type\":\"document\",\"document\":{\"caption\":\"invoice\"}}","wa_message_id":"wamid.-1"}
]}`
		c, _ := setup(t, wiretest.Reply(200, body))
		got, err := c.Conversation(ctx, "8801723309003", 0)
		require.NoError(t, err)
		require.Len(t, got, 5)
		require.Equal(t, []string{"wamid.3", "wamid.2", "wamid.1", "wamid.0", "wamid.-1"},
			[]string{got[0].WAMID, got[1].WAMID, got[2].WAMID, got[3].WAMID, got[4].WAMID})
		require.Equal(t, []bool{true, false, true, true, false},
			[]bool{got[0].FromBot, got[1].FromBot, got[2].FromBot, got[3].FromBot, got[4].FromBot})
		require.Equal(t, []string{"Hello Ana", "Hi there", "Our menu", "order_update", "invoice"},
			[]string{got[0].Text, got[1].Text, got[2].Text, got[3].Text, got[4].Text})
		require.Equal(t, []provider.Status{provider.StatusDelivered, provider.StatusUnknown, provider.StatusRead, provider.StatusFailed, provider.StatusUnknown},
			[]provider.Status{got[0].Status, got[1].Status, got[2].Status, got[3].Status, got[4].Status})
		require.True(t, got[4].Time.IsZero())
		require.Equal(t, []string{"3", "2", "1", "0", "-1"}, []string{got[0].ID, got[1].ID, got[2].ID, got[3].ID, got[4].ID})
	})

	t.Run("EntryWithoutWAMID", func(t *testing.T) {
		t.Parallel()
		// A template the provider lists before it learned Meta's wamid:
		// the entry's id and status are all there is to go by.
		body := `{"status":"1","message":[{"id":8812,"sender":"bot","message_content":"{\"type\":\"template\",\"template\":{\"name\":\"313823\"}}","conversation_time":"2024-07-28 13:21:05","wa_message_id":null,"message_status":"failed","delivery_status_updated_at":"2024-07-28 13:21:09","failed_reason":"Message undeliverable."}]}`
		c, _ := setup(t, wiretest.Reply(200, body))
		got, err := c.Conversation(ctx, "8801723309003", 5)
		require.NoError(t, err)
		require.Len(t, got, 1)
		require.Equal(t, provider.ConversationMessage{ID: "8812", FromBot: true, Time: time.Date(2024, 7, 28, 13, 21, 5, 0, time.UTC),
			Content: `{"type":"template","template":{"name":"313823"}}`, Text: "313823", Status: provider.StatusFailed,
			StatusAt: time.Date(2024, 7, 28, 13, 21, 9, 0, time.UTC), Reason: "Message undeliverable."}, got[0])
	})

	t.Run("BrokenJSONFallsBackToPatterns", func(t *testing.T) {
		t.Parallel()
		// Unescaped quotes inside message_content: no repair makes this JSON.
		body := `{"status":"1","message":[{"id":2,"sender":"bot","message_content":"{\"type\":\"text\",\"text\":{\"body\":\"Hi\"}}","conversation_time":"2024-07-28 13:21:05","wa_message_id":"wamid.B","message_status":"sent"},` +
			`{"id":1,"sender":"user","message_content":"he said "hi"","conversation_time":"2024-07-28 13:21:03","wa_message_id":"wamid.A","message_status":null}]}`
		c, _ := setup(t, wiretest.Reply(200, body))
		got, err := c.Conversation(ctx, "8801723309003", 2)
		require.NoError(t, err)
		require.Len(t, got, 2)
		require.Equal(t, "wamid.B", got[0].WAMID)
		require.Equal(t, "2", got[0].ID)
		require.Equal(t, "1", got[1].ID)
		require.True(t, got[0].FromBot)
		require.Equal(t, "Hi", got[0].Text)
		require.Equal(t, provider.StatusSent, got[0].Status)
		require.Equal(t, time.Date(2024, 7, 28, 13, 21, 5, 0, time.UTC), got[0].Time)
		require.Equal(t, "wamid.A", got[1].WAMID)
		require.False(t, got[1].FromBot)
	})

	t.Run("Empty", func(t *testing.T) {
		t.Parallel()
		for _, body := range []string{`{"status":"1","message":[]}`, `{"status":"1","message":"No conversation found."}`} {
			c, _ := setup(t, wiretest.Reply(200, body))
			got, err := c.Conversation(ctx, "8801723309003", 5)
			require.NoError(t, err)
			require.Empty(t, got)
		}
	})

	t.Run("Refused", func(t *testing.T) {
		t.Parallel()
		c, _ := setup(t, wiretest.Reply(200, sampleAccountNotFound))
		_, err := c.Conversation(ctx, "8801723309003", 5)
		pe := requireProviderError(t, err)
		require.Equal(t, provider.ClassHaltAccount, pe.Class)
		require.Equal(t, "conversation", pe.Op)
	})

	t.Run("NoSubscriberYetIsEmpty", func(t *testing.T) {
		t.Parallel()
		// The doc does not say how a number never messaged is answered; a
		// refusal that says so is an empty history (a first template must
		// be sendable), whatever the HTTP status.
		for _, tt := range []struct {
			status int
			body   string
		}{
			{200, `{"status":"0","message":"Subscriber not found."}`},
			{200, `{"status":"0","message":"No conversation found"}`},
			{200, `{"status":"0","mesasge":"Subscriber does not exist."}`},
			{404, `{"status":"0","message":"No messages for this subscriber"}`},
			{200, `{"status":"error","message":"Chat is empty"}`},
		} {
			c, _ := setup(t, wiretest.Reply(tt.status, tt.body))
			got, err := c.Conversation(ctx, "8801723309003", 5)
			require.NoError(t, err, tt.body)
			require.Empty(t, got, tt.body)
		}
		// Other refusals still fail the read: about the call rather than
		// the subscriber, too vague, or under a server error (it may not
		// have looked at all; the read backs a reconciliation).
		for _, tt := range []struct {
			status int
			body   string
			class  provider.Class
		}{
			{200, sampleAccountNotFound, provider.ClassHaltAccount},
			{200, `{"status":"0","message":"Invalid API token, not found."}`, provider.ClassHaltAccount},
			{200, `{"status":"0","message":"Something went wrong."}`, provider.ClassPermanent},
			{200, `{"status":"0","message":"No data found for this phone_number_id"}`, provider.ClassPermanent},
			{200, `{"status":"0","message":"Invalid phone_number_id: no record"}`, provider.ClassPermanent},
			{503, `{"status":"0","message":"Subscriber not found"}`, provider.ClassTransient},
			{500, `{"status":"0","message":"No conversation found"}`, provider.ClassAmbiguous},
		} {
			c, _ := setup(t, wiretest.Reply(tt.status, tt.body))
			_, err := c.Conversation(ctx, "8801723309003", 5)
			require.Equal(t, tt.class, requireProviderError(t, err).Class, tt.body)
		}
		// And a bare 404 (a wrong base URL) is no empty history.
		c, _ := setup(t, wiretest.Reply(404, "<html><body>Not Found</body></html>"))
		_, err := c.Conversation(ctx, "8801723309003", 5)
		require.Error(t, err)
	})

	t.Run("OldestFirstIsTurnedRound", func(t *testing.T) {
		t.Parallel()
		// The doc gives no order: a list that runs oldest first comes back
		// newest first, by time and, within a second, as listed.
		byTime := `{"status":"1","message":[
{"id":"a","sender":"bot","message_content":"one","conversation_time":"2024-07-28 13:21:01","wa_message_id":"wamid.1"},
{"id":"b","sender":"user","message_content":"STOP","conversation_time":"2024-07-28 13:21:05","wa_message_id":"wamid.2"},
{"id":"c","sender":"user","message_content":"START","conversation_time":"2024-07-28 13:21:05","wa_message_id":"wamid.3"},
{"id":"d","sender":"bot","message_content":"two","conversation_time":"2024-07-28 13:21:09","wa_message_id":"wamid.4"}]}`
		byID := `{"status":"1","message":[
{"id":7,"sender":"bot","message_content":"one","wa_message_id":"wamid.1"},
{"id":8,"sender":"user","message_content":"STOP","wa_message_id":"wamid.2"},
{"id":9,"sender":"user","message_content":"START","wa_message_id":"wamid.3"},
{"id":10,"sender":"bot","message_content":"two","wa_message_id":"wamid.4"}]}`
		for _, body := range []string{byTime, byID} {
			c, _ := setup(t, wiretest.Reply(200, body))
			got, err := c.Conversation(ctx, "8801723309003", 5)
			require.NoError(t, err)
			var ids []string
			for _, m := range got {
				ids = append(ids, m.WAMID)
			}
			require.Equal(t, []string{"wamid.4", "wamid.3", "wamid.2", "wamid.1"}, ids, body)
		}
		// A newest-first list is left as it is, by times or by ids.
		for _, body := range []string{byTime, byID} {
			var in struct{ Message []json.RawMessage }
			require.NoError(t, json.Unmarshal([]byte(body), &in))
			slices.Reverse(in.Message)
			rev, err := json.Marshal(map[string]any{"status": "1", "message": in.Message})
			require.NoError(t, err)
			c, _ := setup(t, wiretest.Reply(200, string(rev)))
			got, err := c.Conversation(ctx, "8801723309003", 5)
			require.NoError(t, err)
			var ids []string
			for _, m := range got {
				ids = append(ids, m.WAMID)
			}
			require.Equal(t, []string{"wamid.4", "wamid.3", "wamid.2", "wamid.1"}, ids, string(rev))
		}
	})

	t.Run("OldestFirstAndFullIsReadWhole", func(t *testing.T) {
		t.Parallel()
		// Listed oldest first, a full page holds the oldest entries, not
		// the newest: the read asks again for more until the list is not
		// full, so the newest are in it (a reconciliation must see them).
		const total = 30
		var limits []string
		c, _ := setup(t, func(w http.ResponseWriter, r *http.Request) {
			_ = r.ParseForm()
			limits = append(limits, r.PostForm.Get("limit"))
			n, _ := strconv.Atoi(r.PostForm.Get("limit"))
			var entries []string
			for i := 1; i <= min(n, total); i++ {
				entries = append(entries, fmt.Sprintf(`{"id":%d,"sender":"bot","message_content":"m%d","wa_message_id":"wamid.%d"}`, i, i, i))
			}
			_, _ = fmt.Fprintf(w, `{"status":"1","message":[%s]}`, strings.Join(entries, ","))
		})
		got, err := c.Conversation(ctx, "8801723309003", 20)
		require.NoError(t, err)
		require.Len(t, got, total)
		require.Equal(t, "wamid.30", got[0].WAMID, "the newest first")
		require.Equal(t, []string{"20", "80"}, limits)
	})
}

func TestAccountInfo(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	tests := []struct {
		name string
		body string
		want provider.AccountInfo
	}{
		{"DocSample", sampleMyInfo, provider.AccountInfo{SubscriberLimit: 5000, SubscriberCount: 1, CreditLimit: -1, CreditUsed: 0}},
		{"Numbers", `{"status":1,"message":{"bot_subscriber_data":{"limit":250,"count":249},"message_credit_data":{"limit":1458,"used":"12"}}}`,
			provider.AccountInfo{SubscriberLimit: 250, SubscriberCount: 249, CreditLimit: 1458, CreditUsed: 12}},
		{"UnlimitedSubscribers", `{"status":"1","message":{"bot_subscriber_data":{"limit":"Unlimited","count":"10,000"},"message_credit_data":{"limit":"-1","used":"0"}}}`,
			provider.AccountInfo{SubscriberLimit: -1, SubscriberCount: 10000, CreditLimit: -1, CreditUsed: 0}},
		{"Absent", `{"status":"1","message":{"user_id":1}}`, provider.AccountInfo{SubscriberLimit: -1, CreditLimit: -1}},
		{"Numbers listed", `{"status":"1","message":{"whatsapp_bots_details":[{"phone_number_id":"119060000040020"},{"phone_number_id":119060000040021}]}}`,
			provider.AccountInfo{SubscriberLimit: -1, CreditLimit: -1, PhoneNumberIDs: []string{"119060000040020", "119060000040021"}}},
		{"A masked number hides the list", `{"status":"1","message":{"whatsapp_bots_details":[{"phone_number_id":"119060000040020"},{"phone_number_id":"11906XXXXX40020"}]}}`,
			provider.AccountInfo{SubscriberLimit: -1, CreditLimit: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, f := setup(t, wiretest.Reply(200, tt.body))
			got, err := c.AccountInfo(ctx)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
			req := f.Last(t)
			require.Equal(t, "/api/v1/user/myInfo", req.Path)
			require.Equal(t, url.Values{"apiToken": {testToken}}, req.Form)
		})
	}
}

func TestWabotickTypoSuccess(t *testing.T) {
	t.Parallel()
	// The "mesasge" typo appears on a success answer; it must not be read
	// as a failure.
	ans, err := parseAnswer([]byte(sampleWabotickCreateOK))
	require.NoError(t, err)
	require.Equal(t, wire.FlagOK, ans.verdict())
	require.Equal(t, "WhatsApp subscriber has been created.", ans.messageText())
}

func TestTokenNeverLeaks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	encoded := url.QueryEscape(testToken)
	requireClean := func(t *testing.T, s string) {
		t.Helper()
		require.NotContains(t, s, testToken)
		require.NotContains(t, s, encoded)
		require.NotContains(t, s, "kT5mzQvL8NPDxYwRe3sH9cVbUaJf7LmXo2iG6nZp")
	}

	echoes := map[string]http.HandlerFunc{
		"JSONEchoOfBody": func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			_ = r.ParseForm()
			_, _ = fmt.Fprintf(w, `{"status":"0","message":"bad request %s (token %s)"}`, body, r.PostForm.Get("apiToken"))
		},
		"JSONEchoAsObject": func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			form, _ := url.ParseQuery(string(body))
			_, _ = fmt.Fprintf(w, `{"status":"0","message":{"apiToken":%q,"raw":%q}}`, form.Get("apiToken"), body)
		},
		"TextEchoAt500": func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			w.WriteHeader(500)
			_, _ = fmt.Fprintf(w, "error in request %s", body)
		},
		"TextEchoAt200": func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			_, _ = fmt.Fprintf(w, "%s", strings.Repeat("x", 190)+string(body))
		},
	}
	for name, h := range echoes {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var logs bytes.Buffer
			c, _ := setup(t, h)
			c.k.Log = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			_, err := c.Send(ctx, "8801723309003", textMessage)
			pe := requireProviderError(t, err)
			requireClean(t, err.Error())
			requireClean(t, pe.Message)
			requireClean(t, fmt.Sprintf("%+v %#v", err, pe))
			requireClean(t, logs.String())
			require.NotEmpty(t, logs.String())
		})
	}

	t.Run("Printing", func(t *testing.T) {
		t.Parallel()
		cfg := Config{BaseURL: "https://botsailor.com/api/v1", Token: testToken, PhoneNumberID: "1"}
		c := New(cfg)
		var logs bytes.Buffer
		l := slog.New(slog.NewJSONHandler(&logs, nil))
		l.Info("config", "cfg", cfg, "client", c)
		for _, s := range []string{
			cfg.String(), c.String(), logs.String(),
			fmt.Sprintf("%v %+v %#v %s", cfg, cfg, cfg, cfg),
			fmt.Sprintf("%v %+v %#v %s", c, c, c, c),
		} {
			requireClean(t, s)
			require.Contains(t, s, "REDACTED")
		}
	})
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	require.NoError(t, Config{BaseURL: "https://botsailor.com/api/v1", Token: "t", PhoneNumberID: "1"}.Validate())
	err := Config{BaseURL: "botsailor.com", WhatsAppBotID: -1}.Validate()
	require.Error(t, err)
	for _, want := range []string{"BaseURL", "Token", "PhoneNumberID", "WhatsAppBotID"} {
		require.Contains(t, err.Error(), want)
	}
	require.Error(t, Config{}.Validate())
}

func TestSanitizeJSON(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		`{"id":8XX3,"a":"x y"}`:            `{"id":"8XX3","a":"x y"}`,
		`{"a":[1,-2.5e3,true,null,false]}`: `{"a":[1,-2.5e3,true,null,false]}`,
		`{"a":"q\"uo,ted","b":NaN}`:        `{"a":"q\"uo,ted","b":"NaN"}`,
		`{"a": 12ab }`:                     `{"a": "12ab" }`,
	}
	for in, want := range tests {
		require.Equal(t, want, string(sanitizeJSON([]byte(in))), in)
	}
	_, err := parseAnswer([]byte("not json at all"))
	require.Error(t, err)
	require.False(t, errors.Is(err, nil))
}

// TestHostile: an answer that echoes the token as error.code and
// JSON-escaped in its message leaves no form of it in the error; a
// base_url that redirects (to another host, from https to http) gets
// neither the token nor anything else, and the error names the Location's
// host only.
func TestHostile(t *testing.T) { hostileDriver.Run(t) }

// TestHostileStatusScrubbed: a status poll whose answer echoes the token
// as failed_code and JSON-escaped in failed_reason reports neither.
func TestHostileStatusScrubbed(t *testing.T) {
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
