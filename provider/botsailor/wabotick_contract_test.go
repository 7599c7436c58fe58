package botsailor

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/provider"
	"github.com/wacamp/wacamp/provider/internal/wire"
	"github.com/wacamp/wacamp/provider/internal/wiretest"
	"github.com/wacamp/wacamp/templates"
)

// The Wabotick seed doc's (001) sample answers, copied verbatim (line
// breaks included) for every call this driver makes. 001 names no paths:
// it is the BotSailor API (000) on app.wabotick.com, so the paths are 000's.
const (
	// Send Template Message: Wabotick's own shape, wamid under data.
	w001TemplateSent = `{
"status": "success",
"message": "Template message sent successfully.",
"data": {
"message_id": "wamid.HBgLOTE5MDAwMDAwMDAwFQIAERgSRjQ1QzBCM0EyN0M4OTUzNkFFAA=="
}
}`
	w001TemplateWAMID = "wamid.HBgLOTE5MDAwMDAwMDAwFQIAERgSRjQ1QzBCM0EyN0M4OTUzNkFFAA=="
	// "Example Response #2" of Send Broadcast Template and Get Template
	// List: 000's template-send answer, which carries no wamid.
	w001TemplateSentNoWAMID = `{"status":"1","message":"Template message sent successfully."}`
	// Send Message Inside 24 Hours Window and Send Media Message.
	w001MessageSent  = `{"status":"1", "wa_message_id":"wamid.HBgNODgwMTcyMzMwOTAwMxUCABEYEjlGQkY3MEFEMEVGODhCNDkxNQA=", "message":"Message sent successfully."}`
	w001MessageWAMID = "wamid.HBgNODgwMTcyMzMwOTAwMxUCABEYEjlGQkY3MEFEMEVGODhCNDkxNQA="
	// The refusal under send, send media, broadcast, template list and
	// create subscriber.
	w001SubscriberLimit = `{"status":"0","message":"Subscriber limit has been exceeded. You cannot have more subscribers."}`
	// Create Subscriber's other refusals.
	w001AccountNotFound = `{"status":"0","message":"WhatsApp account not found."}`
	w001SomethingWrong  = `{"status":"0","message":"Something went wrong or subscriber already exist."}`
	// Trigger Bot Flow.
	w001BotTriggered = `{"status":"1","message":"Bot has been trigger successfully."}`
	// Get Conversation History: not JSON as printed (the bare 8XX3).
	w001Conversation = `{"status":"1","message":[{"id":8XX3,"whatsapp_bot_subscriber_subscriber_id":"0123456789-23","whatsapp_bot_id":23,"sender":"bot","agent_name":null,"message_content":"{\"delay_in_reply\":0,\"messaging_product\":\"whatsapp\",\"recipient_type\":\"individual\",\"to\":\"0123456789\",\"type\":\"interactive\",\"interactive\":{\"header\":{\"type\":\"text\",\"text\":\"Order gateway\"},\"body\":{\"text\":\"How would you like to purchase it?\"},\"type\":\"button\",\"action\":{\"buttons\":[{\"type\":\"reply\",\"reply\":{\"id\":\"5lvomLOuENXIe6D::gPeAiDDmVQR_jTR\",\"title\":\"Paypal pay\"}},{\"type\":\"reply\",\"reply\":{\"id\":\"YES_START_CHAT_WITH_HUMAN::CBaLoC4yTMyIljZ\",\"title\":\"COD\"}}]}}}","conversation_time":"2024-07-28 13:21:03","wa_message_id":"wamid.HBgNODgwMTcyMzMwOTAwMxUCABEYEjlGQkY3MEFEMEVGODhCNDkxNQA=","reaction_data":null,"message_status":null,"delivery_status_updated_at":"2024-07-28 13:21:03","failed_reason":""}]}`
	// Get Message Status, pretty-printed.
	w001MessageStatus = `{
"status": "1",
"message": {
"message_status": "delivered",
"delivery_status_updated_at": "2024-07-28 13:21:03",
"read_time": null,
"failed_time": null,
"failed_reason": ""
}
}`
)

// The samples of 001's other calls (which this driver does not make), for
// the envelope checks: every success must read as success, every refusal
// as a refusal, whatever the call.
const (
	w001ConnectOK = `{
"status": "1",
"message": "Whatsapp account has been connect successfully."
}`
	w001UploadOK = `{
"status": "success",
"media_id": "982348123049102"
}`
	w001SubscriberGet = `{
"status": "success",
"data": {
"subscriber_id": 9822,
"first_name": "Dishang",
"last_name": "M",
"phone_number": "919000000000",
"gender": "male",
"labels": ["Lead", "Active"],
"custom_fields": {
"company": "SaaS Platform"
}
}
}`
	w001SubscriberCreated = `{"status":"1","mesasge":"WhatsApp subscriber has been created."}`
	w001Broadcast         = `{
"status": "1",
"visual_flow_campaign_id": 1727,
"message": "Data has been saved successfully.",
"redirect_on_success_url": ""
}`
	w001CustomFields = `{"status":"1","message":"Custom fields retrieved successfully","data":[{"id":1,"name":"customer_name","reply_type":"text"},{"id":2,"name":"customer_email","reply_type":"email"}]}`
	w001CartStatus   = `{
"status": true,
"message": "Cart status has been updated successfully"
}`
)

// TestWabotickContractSend replays 001's send answers through Send.
func TestWabotickContractSend(t *testing.T) {
	t.Parallel()

	media := templates.Message{Kind: templates.KindMedia,
		Media: &templates.Media{URL: "https://example.com/file.jpg", Type: "image", Caption: "Our menu"}}
	tpl := templates.Message{Kind: templates.KindTemplate,
		Template: &templates.Template{ID: "437509121867805", Vars: []templates.TemplateVar{{Name: "name", Index: 1, Value: "Ana"}}}}
	bot := templates.Message{Kind: templates.KindBotFlow, BotFlow: "flow-123"}

	requireSends(t, "+91 90000 00000", "919000000000", []sendCase{
		{"TextSendMessageInside24h", textMessage, w001MessageSent, "/api/v1/whatsapp/send", w001MessageWAMID,
			url.Values{"message": {"Hello Ana"}}},
		{"MediaSendMediaMessage", media, w001MessageSent, "/api/v1/whatsapp/send/file", w001MessageWAMID,
			url.Values{"media_url": {"https://example.com/file.jpg"}, "media_type": {"image"}, "media_caption_text": {"Our menu"}}},
		{"TemplateWabotickShape", tpl, w001TemplateSent, "/api/v1/whatsapp/send/template", w001TemplateWAMID,
			url.Values{"template_id": {"437509121867805"}, "templateVariable-name-1": {"Ana"}}},
		{"TemplateBotSailorShape", tpl, w001TemplateSentNoWAMID, "/api/v1/whatsapp/send/template", "",
			url.Values{"template_id": {"437509121867805"}, "templateVariable-name-1": {"Ana"}}},
		{"TriggerBotFlow", bot, w001BotTriggered, "/api/v1/whatsapp/trigger-bot", "",
			url.Values{"bot_flow_unique_id": {"flow-123"}}},
	})
}

// TestWabotickContractRefusals replays 001's refusals through every call:
// the family answers every call's refusal in the same {"status":"0"} shape.
func TestWabotickContractRefusals(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	calls := []struct {
		op string
		do func(c *Client) error
	}{
		{"send", func(c *Client) error { _, err := c.Send(ctx, "919000000000", textMessage); return err }},
		{"send-file", func(c *Client) error {
			_, err := c.Send(ctx, "919000000000", templates.Message{Kind: templates.KindMedia,
				Media: &templates.Media{URL: "https://example.com/a.pdf"}})
			return err
		}},
		{"send-template", func(c *Client) error {
			_, err := c.Send(ctx, "919000000000", templates.Message{Kind: templates.KindTemplate,
				Template: &templates.Template{ID: "437509121867805"}})
			return err
		}},
		{"trigger-bot", func(c *Client) error {
			_, err := c.Send(ctx, "919000000000", templates.Message{Kind: templates.KindBotFlow, BotFlow: "f"})
			return err
		}},
		{"conversation", func(c *Client) error { _, err := c.Conversation(ctx, "919000000000", 5); return err }},
		{"message-status", func(c *Client) error { _, err := c.MessageStatus(ctx, w001TemplateWAMID); return err }},
		{"my-info", func(c *Client) error { _, err := c.AccountInfo(ctx); return err }},
	}
	refusals := []struct {
		name     string
		body     string
		class    provider.Class
		message  string
		subLimit bool
	}{
		{"SubscriberLimit", w001SubscriberLimit, provider.ClassHaltAccount,
			"Subscriber limit has been exceeded. You cannot have more subscribers.", true},
		{"AccountNotFound", w001AccountNotFound, provider.ClassHaltAccount, "WhatsApp account not found.", false},
		{"SomethingWentWrong", w001SomethingWrong, provider.ClassPermanent,
			"Something went wrong or subscriber already exist.", false},
	}
	for _, rf := range refusals {
		for _, cl := range calls {
			t.Run(rf.name+"/"+cl.op, func(t *testing.T) {
				t.Parallel()
				c, f := setup(t, wiretest.Reply(http.StatusOK, rf.body))
				pe := requireProviderError(t, cl.do(c))
				require.Equal(t, 1, f.Count())
				require.Equal(t, cl.op, pe.Op)
				require.Equal(t, rf.class, pe.Class, pe.Error())
				require.Equal(t, http.StatusOK, pe.HTTPStatus)
				require.Empty(t, pe.Code, "001's refusals carry no Meta code")
				require.Equal(t, rf.message, pe.Message)
				require.Equal(t, rf.subLimit, provider.IsSubscriberLimit(pe))
				require.NoError(t, pe.Err)
			})
		}
	}
}

// TestWabotickContractConversation replays 001's Get Conversation History
// sample, which is not JSON as printed.
func TestWabotickContractConversation(t *testing.T) {
	t.Parallel()
	c, f := setup(t, wiretest.Reply(http.StatusOK, w001Conversation))
	got, err := c.Conversation(context.Background(), "0123456789", 10)
	require.NoError(t, err)
	require.Equal(t, []provider.ConversationMessage{{
		ID:       "8XX3", // a bare word in the sample
		WAMID:    w001MessageWAMID,
		FromBot:  true,
		Time:     time.Date(2024, 7, 28, 13, 21, 3, 0, time.UTC),
		StatusAt: time.Date(2024, 7, 28, 13, 21, 3, 0, time.UTC),
		Content:  `{"delay_in_reply":0,"messaging_product":"whatsapp","recipient_type":"individual","to":"0123456789","type":"interactive","interactive":{"header":{"type":"text","text":"Order gateway"},"body":{"text":"How would you like to purchase it?"},"type":"button","action":{"buttons":[{"type":"reply","reply":{"id":"5lvomLOuENXIe6D::gPeAiDDmVQR_jTR","title":"Paypal pay"}},{"type":"reply","reply":{"id":"YES_START_CHAT_WITH_HUMAN::CBaLoC4yTMyIljZ","title":"COD"}}]}}}`,
		Text:     "How would you like to purchase it?",
		Status:   provider.StatusUnknown, // "message_status":null
	}}, got)

	req := f.Last(t)
	require.Equal(t, "/api/v1/whatsapp/get/conversation", req.Path)
	require.Equal(t, url.Values{
		"apiToken":        {testToken},
		"phone_number_id": {"119060000040020"},
		"phone_number":    {"0123456789"},
		"limit":           {"10"},
	}, req.Form)
}

// TestWabotickContractMessageStatus replays 001's Get Message Status sample
// (and 000's one-line print of the same answer).
func TestWabotickContractMessageStatus(t *testing.T) {
	t.Parallel()
	want := provider.StatusReport{Status: provider.StatusDelivered, At: time.Date(2024, 7, 28, 13, 21, 3, 0, time.UTC)}
	for name, body := range map[string]string{"Wabotick": w001MessageStatus, "BotSailor": sampleStatus} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c, f := setup(t, wiretest.Reply(http.StatusOK, body))
			// 001's template wamid ends in "==": it must reach the
			// provider unchanged through the form encoding.
			got, err := c.MessageStatus(context.Background(), w001TemplateWAMID)
			require.NoError(t, err)
			require.Equal(t, want, got)

			req := f.Last(t)
			require.Equal(t, "/api/v1/whatsapp/get/message-status", req.Path)
			require.Equal(t, url.Values{
				"apiToken":        {testToken},
				"wa_message_id":   {w001TemplateWAMID},
				"whatsapp_bot_id": {"23"},
			}, req.Form)
		})
	}
}

// TestWabotickContractAccountInfo: 001 documents no user/myInfo. The
// driver reads 000's answer, and the same figures in the success/data
// envelope 001 uses for its own answers (Send Template, Get Subscriber),
// which is what botsailorsim answers in its Wabotick shape.
func TestWabotickContractAccountInfo(t *testing.T) {
	t.Parallel()
	bodies := map[string]string{
		"BotSailorSample": sampleMyInfo,
		"WabotickEnvelope": `{
"status": "success",
"data": {
"user_id": 114,
"bot_subscriber_data": {"limit": 5000, "count": 1},
"message_credit_data": {"limit": "unlimited", "used": "0"}
}
}`,
		"WabotickEnvelopeWithText": `{
"status": "success",
"message": "User information retrieved successfully.",
"data": {
"user_id": 114,
"package_name": "Premium1",
"bot_subscriber_data": {"limit": "5000", "count": "1"},
"message_credit_data": {"limit": "unlimited", "used": 0}
}
}`,
	}
	for name, body := range bodies {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c, f := setup(t, wiretest.Reply(http.StatusOK, body))
			got, err := c.AccountInfo(context.Background())
			require.NoError(t, err)
			require.Equal(t, provider.AccountInfo{SubscriberLimit: 5000, SubscriberCount: 1, CreditLimit: -1, CreditUsed: 0}, got)
			require.Equal(t, "/api/v1/user/myInfo", f.Last(t).Path)
		})
	}
}

// TestWabotickEnvelopes reads the verdict and text of every other 001
// sample: "1", "success" and true are successes whatever else the answer
// holds, "0" is a refusal, and the "mesasge" typo still carries the text.
func TestWabotickEnvelopes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		body    string
		verdict wire.Flag
		text    string
	}{
		{"ConnectAccount", w001ConnectOK, wire.FlagOK, "Whatsapp account has been connect successfully."},
		{"UploadMedia", w001UploadOK, wire.FlagOK, ""},
		{"SubscriberGet", w001SubscriberGet, wire.FlagOK, ""},
		{"SubscriberCreatedTypo", w001SubscriberCreated, wire.FlagOK, "WhatsApp subscriber has been created."},
		{"Broadcast", w001Broadcast, wire.FlagOK, "Data has been saved successfully."},
		{"CustomFields", w001CustomFields, wire.FlagOK, "Custom fields retrieved successfully"},
		{"CartStatusBoolean", w001CartStatus, wire.FlagOK, "Cart status has been updated successfully"},
		{"TemplateSent", w001TemplateSent, wire.FlagOK, "Template message sent successfully."},
		{"SubscriberLimit", w001SubscriberLimit, wire.FlagFail, "Subscriber limit has been exceeded. You cannot have more subscribers."},
	}
	for _, tt := range tests {
		ans, err := parseAnswer([]byte(tt.body))
		require.NoError(t, err, tt.name)
		require.Equal(t, tt.verdict, ans.verdict(), tt.name)
		require.Equal(t, tt.text, ans.messageText(), tt.name)
		// None of these answers names a message: no wamid may be read from
		// a row id, subscriber id or media id.
		if tt.name != "TemplateSent" {
			require.Empty(t, ans.wamid(), tt.name)
		}
	}
}

// TestWabotickEnvelopeOnOtherCalls: 001 shows its success/data envelope on
// the template send only, but a reseller that answers other calls the same
// way must not break the driver: a wamid under data.message_id is read on
// any send, a conversation or status under data is read, and a number
// where a wamid belongs is a row id, not a wamid.
func TestWabotickEnvelopeOnOtherCalls(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("TextSendWAMIDUnderData", func(t *testing.T) {
		t.Parallel()
		c, _ := setup(t, wiretest.Reply(http.StatusOK, `{"status":"success","message":"Message sent successfully.","data":{"message_id":"`+w001TemplateWAMID+`"}}`))
		res, err := c.Send(ctx, "919000000000", textMessage)
		require.NoError(t, err)
		require.Equal(t, w001TemplateWAMID, res.WAMID)
	})

	t.Run("NumericMessageIDIsNoWAMID", func(t *testing.T) {
		t.Parallel()
		for _, body := range []string{
			`{"status":"success","message":"Template message sent successfully.","data":{"message_id":98231}}`,
			`{"status":"1","message_id":98231,"message":"Message sent successfully."}`,
			`{"status":"1","wa_message_id":98231}`,
		} {
			c, _ := setup(t, wiretest.Reply(http.StatusOK, body))
			res, err := c.Send(ctx, "919000000000", textMessage)
			require.NoError(t, err, body)
			require.Empty(t, res.WAMID, body)
		}
	})

	t.Run("ConversationUnderData", func(t *testing.T) {
		t.Parallel()
		c, _ := setup(t, wiretest.Reply(http.StatusOK, `{"status":"success","message":"Conversation retrieved.","data":[{"id":"7","sender":"bot","message_content":"{\"type\":\"text\",\"text\":{\"body\":\"Hi\"}}","conversation_time":"2024-07-28 13:21:03","wa_message_id":"wamid.A","message_status":"read"}]}`))
		got, err := c.Conversation(ctx, "919000000000", 5)
		require.NoError(t, err)
		require.Equal(t, []provider.ConversationMessage{{
			ID: "7", WAMID: "wamid.A", FromBot: true, Time: time.Date(2024, 7, 28, 13, 21, 3, 0, time.UTC),
			Content: `{"type":"text","text":{"body":"Hi"}}`, Text: "Hi", Status: provider.StatusRead,
		}}, got)
	})

	t.Run("StatusUnderData", func(t *testing.T) {
		t.Parallel()
		c, _ := setup(t, wiretest.Reply(http.StatusOK, `{
"status": "success",
"data": {
"message_status": "failed",
"delivery_status_updated_at": "2024-07-28 13:21:03",
"read_time": null,
"failed_time": "2024-07-28 13:22:00",
"failed_reason": "(#131026) Message undeliverable."
}
}`))
		got, err := c.MessageStatus(ctx, w001TemplateWAMID)
		require.NoError(t, err)
		require.Equal(t, provider.StatusReport{Status: provider.StatusFailed, At: time.Date(2024, 7, 28, 13, 22, 0, 0, time.UTC),
			Code: "131026", Reason: "(#131026) Message undeliverable."}, got)
	})

	t.Run("ErrorWord", func(t *testing.T) {
		t.Parallel()
		c, _ := setup(t, wiretest.Reply(http.StatusOK, `{"status":"error","message":"Subscriber limit has been exceeded. You cannot have more subscribers.","data":null}`))
		_, err := c.Send(ctx, "919000000000", textMessage)
		pe := requireProviderError(t, err)
		require.Equal(t, provider.ClassHaltAccount, pe.Class)
		require.True(t, provider.IsSubscriberLimit(err))
	})
}
