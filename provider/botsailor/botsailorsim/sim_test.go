package botsailorsim_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/internal/testclock"
	"github.com/wacamp/wacamp/provider"
	"github.com/wacamp/wacamp/provider/botsailor"
	"github.com/wacamp/wacamp/provider/botsailor/botsailorsim"
	"github.com/wacamp/wacamp/provider/sim"
	"github.com/wacamp/wacamp/provider/sim/simtest"
	"github.com/wacamp/wacamp/templates"
)

const (
	token    = "sim-token-1"
	numberID = "119060000040020"
)

type testBundle struct {
	simtest.Bundle[*botsailorsim.Server, *botsailor.Client]
}

// setup starts a simulator with opts (plus the test token and a fake clock
// at a fixed instant: the tests compare timestamps formatted as the seed
// doc shows them) and a driver pointed at it.
func setup(t *testing.T, opts botsailorsim.Options) *testBundle {
	t.Helper()
	clk := simtest.UseClock(&opts.Knobs, testclock.New(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)))
	if opts.Tokens == nil {
		opts.Tokens = []string{token}
	}
	return &testBundle{simtest.Start(t, botsailorsim.New(opts), clk, func(srv *httptest.Server) *botsailor.Client {
		return botsailor.New(botsailor.Config{
			BaseURL: srv.URL + "/api/v1", Token: token, PhoneNumberID: numberID,
			WhatsAppBotID: 1, HTTPClient: srv.Client(),
		})
	})}
}

// call makes a raw POST and decodes the JSON answer.
func (b *testBundle) call(t *testing.T, path string, form url.Values) (int, map[string]any) {
	t.Helper()
	return simtest.Call(t, b.Srv, http.MethodPost, "/api/v1"+path, nil, form)
}

// limits runs the shared scenarios of the number's limits on b.
func (b *testBundle) limits() simtest.Limits {
	return simtest.Limits{Client: b.Client, Clock: b.Clock, Counts: func() sim.Counts { return b.Sim.Stats().Counts }}
}

var (
	text    = simtest.Text
	classOf = simtest.ProviderError
)

// requireFourListed checks phone's conversation after the four sends of
// TestSendKinds (text "Hello Ana", media captioned "Menu", template
// "order_update", bot flow "welcome"), all made at sentAt: newest first,
// with every wamid, the texts, from the bot and still sent. It returns the
// conversation.
func requireFourListed(t *testing.T, b *testBundle, phone string, sends []botsailorsim.Send, sentAt time.Time) []provider.ConversationMessage {
	t.Helper()
	conv, err := b.Client.Conversation(context.Background(), phone, 10)
	require.NoError(t, err)
	require.Len(t, conv, 4)
	require.Equal(t, []string{sends[3].WAMID, sends[2].WAMID, sends[1].WAMID, sends[0].WAMID},
		[]string{conv[0].WAMID, conv[1].WAMID, conv[2].WAMID, conv[3].WAMID})
	require.Equal(t, []string{"Bot flow welcome started.", "order_update", "Menu", "Hello Ana"},
		[]string{conv[0].Text, conv[1].Text, conv[2].Text, conv[3].Text})
	for _, m := range conv {
		require.True(t, m.FromBot)
		require.Equal(t, provider.StatusSent, m.Status)
		require.Equal(t, sentAt, m.Time)
	}
	return conv
}

func TestSendKinds(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, botsailorsim.Options{})

	res, err := b.Client.Send(ctx, "8801723309003", text("Hello Ana"))
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(res.WAMID, "wamid."), res.WAMID)

	res2, err := b.Client.Send(ctx, "8801723309003", templates.Message{Kind: templates.KindMedia,
		Media: &templates.Media{URL: "https://example.com/menu.jpg", Caption: "Menu"}})
	require.NoError(t, err)
	require.NotEqual(t, res.WAMID, res2.WAMID)

	res3, err := b.Client.Send(ctx, "8801723309003", templates.Message{Kind: templates.KindTemplate,
		Template: &templates.Template{ID: "order_update", Vars: []templates.TemplateVar{
			{Name: "order", Index: 2, Value: "A-17"}, {Name: "name", Index: 1, Value: "Ana"}}}})
	require.NoError(t, err)
	require.Empty(t, res3.WAMID, "template sends answer without a wamid, like BotSailor")

	res4, err := b.Client.Send(ctx, "8801723309003", templates.Message{Kind: templates.KindBotFlow, BotFlow: "welcome"})
	require.NoError(t, err)
	require.Empty(t, res4.WAMID)

	sends := b.Sim.Sends()
	require.Len(t, sends, 4)
	require.Equal(t, []string{"text", "file", "template", "bot"}, []string{sends[0].Kind, sends[1].Kind, sends[2].Kind, sends[3].Kind})
	require.Equal(t, []string{"Hello Ana", "Menu", "order_update", "welcome"}, []string{sends[0].Text, sends[1].Text, sends[2].Text, sends[3].Text})
	require.Equal(t, map[string]string{"name-1": "Ana", "order-2": "A-17"}, sends[2].TemplateVars)
	for _, s := range sends {
		require.Equal(t, "8801723309003", s.Phone)
		require.Equal(t, numberID, s.PhoneNumberID)
		require.Equal(t, b.Clock.Now(), s.At)
		require.NotEmpty(t, s.WAMID)
	}
	require.Equal(t, res.WAMID, sends[0].WAMID)
	require.Equal(t, 4, b.Sim.SendCount("8801723309003"))
	require.Zero(t, b.Sim.SendCount("8801700000000"))

	// The conversation lists them newest first, with the template and bot
	// sends' wamids the send answers left out.
	conv := requireFourListed(t, b, "8801723309003", sends, b.Clock.Now())
	require.Contains(t, conv[1].Content, `"parameters":[{"text":"Ana","type":"text"},{"text":"A-17","type":"text"}]`)
	require.Contains(t, conv[2].Content, `"image":{"caption":"Menu","link":"https://example.com/menu.jpg"}`)
	require.Equal(t, 1, b.Sim.Stats().ConversationCalls)
	require.Equal(t, 4, b.Sim.Stats().Accepted)
}

func TestConversationLimitOffset(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, botsailorsim.Options{})
	for _, s := range []string{"one", "two", "three", "four"} {
		_, err := b.Client.Send(ctx, "8801723309003", text(s))
		require.NoError(t, err)
		b.Clock.Add(time.Second)
	}
	_, err := b.Client.Send(ctx, "8801799999999", text("other recipient"))
	require.NoError(t, err)

	_, out := b.call(t, "/whatsapp/get/conversation", url.Values{"apiToken": {token}, "phone_number_id": {numberID},
		"phone_number": {"8801723309003"}, "limit": {"2"}, "offset": {"1"}})
	require.Equal(t, "1", out["status"])
	list := out["message"].([]any)
	require.Len(t, list, 2)
	var bodies []string
	for _, el := range list {
		e := el.(map[string]any)
		require.Equal(t, "bot", e["sender"])
		var content struct {
			Text struct{ Body string } `json:"text"`
		}
		require.NoError(t, json.Unmarshal([]byte(e["message_content"].(string)), &content))
		bodies = append(bodies, content.Text.Body)
	}
	require.Equal(t, []string{"three", "two"}, bodies)
	require.Equal(t, "2026-03-01 09:00:02", list[0].(map[string]any)["conversation_time"])

	// Another sender number has its own conversations.
	conv, err := botsailor.New(botsailor.Config{BaseURL: b.Srv.URL + "/api/v1", Token: token, PhoneNumberID: "999"}).
		Conversation(ctx, "8801723309003", 10)
	require.NoError(t, err)
	require.Empty(t, conv)
}

func TestDropAfterAccept(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, botsailorsim.Options{Knobs: sim.Knobs{DropAfterAcceptRate: 1}})

	_, err := b.Client.Send(ctx, "8801723309003", text("lost answer"))
	pe := classOf(t, err)
	require.Equal(t, provider.ClassAmbiguous, pe.Class, pe.Error())

	// The message went out all the same.
	sends := b.Sim.Sends()
	require.Len(t, sends, 1)
	require.Equal(t, "lost answer", sends[0].Text)
	st := b.Sim.Stats()
	require.Equal(t, 1, st.Accepted)
	require.Equal(t, 1, st.Dropped)

	// A raw client sees the connection closed without an answer.
	_, err = b.Srv.Client().PostForm(b.Srv.URL+"/api/v1/whatsapp/send",
		url.Values{"apiToken": {token}, "phone_number_id": {numberID}, "phone_number": {"8801723309003"}, "message": {"again"}})
	require.Error(t, err)
	require.ErrorIs(t, err, io.EOF)
	require.Equal(t, 2, b.Sim.Stats().Dropped)

	// Reconciliation finds it.
	b.Sim.SetOptions(func(o *botsailorsim.Options) { o.DropAfterAcceptRate = 0 })
	conv, err := b.Client.Conversation(ctx, "8801723309003", 5)
	require.NoError(t, err)
	require.Len(t, conv, 2)
	require.Equal(t, sends[0].WAMID, conv[1].WAMID)
	require.Equal(t, "lost answer", conv[1].Text)
}

// TestConversationWithoutWAMID: with ConvNoWAMIDRate the conversation lists
// a template without its wamid (null), by its own id and with a status that
// moves on; after ConvWAMIDAfter the wamid shows. Text sends are untouched.
func TestConversationWithoutWAMID(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, shape := range []string{botsailorsim.ShapeBotSailor, botsailorsim.ShapeWabotick} {
		t.Run(shape, func(t *testing.T) {
			t.Parallel()
			b := setup(t, botsailorsim.Options{Shape: shape, ConvNoWAMIDRate: 1, ConvWAMIDAfter: time.Minute, Knobs: sim.Knobs{DeliverAfter: 5 * time.Second}})
			tpl := templates.Message{Kind: templates.KindTemplate, Template: &templates.Template{ID: "promo"}}
			res, err := b.Client.Send(ctx, "8801723309003", tpl)
			require.NoError(t, err)
			require.Empty(t, res.WAMID, "the answer names no wamid the conversation does not show")
			txt, err := b.Client.Send(ctx, "8801723309003", text("hi"))
			require.NoError(t, err)
			require.NotEmpty(t, txt.WAMID)

			conv, err := b.Client.Conversation(ctx, "8801723309003", 5)
			require.NoError(t, err)
			require.Len(t, conv, 2)
			require.Equal(t, txt.WAMID, conv[0].WAMID)
			entry := conv[1]
			require.Empty(t, entry.WAMID)
			require.NotEmpty(t, entry.ID)
			require.NotEqual(t, conv[0].ID, entry.ID)
			require.Equal(t, provider.StatusSent, entry.Status)

			b.Clock.Add(10 * time.Second)
			conv, err = b.Client.Conversation(ctx, "8801723309003", 5)
			require.NoError(t, err)
			require.Empty(t, conv[1].WAMID)
			require.Equal(t, entry.ID, conv[1].ID)
			require.Equal(t, provider.StatusDelivered, conv[1].Status)
			require.Equal(t, entry.Time.Add(5*time.Second), conv[1].StatusAt)

			wamid := b.Sim.Sends()[0].WAMID
			st, err := b.Client.MessageStatus(ctx, wamid)
			require.NoError(t, err)
			require.Equal(t, provider.StatusDelivered, st.Status, "known by wamid all the same")

			b.Clock.Add(time.Minute)
			conv, err = b.Client.Conversation(ctx, "8801723309003", 5)
			require.NoError(t, err)
			require.Equal(t, wamid, conv[1].WAMID, "listed once ConvWAMIDAfter has passed")
		})
	}
}

// TestListAfter: with ListAfter an accepted message shows in the
// conversation only once that long has passed.
func TestListAfter(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, botsailorsim.Options{ListAfter: 2 * time.Second})
	res, err := b.Client.Send(ctx, "8801723309003", text("hi"))
	require.NoError(t, err)
	conv, err := b.Client.Conversation(ctx, "8801723309003", 5)
	require.NoError(t, err)
	require.Empty(t, conv)
	b.Clock.Add(2 * time.Second)
	conv, err = b.Client.Conversation(ctx, "8801723309003", 5)
	require.NoError(t, err)
	require.Len(t, conv, 1)
	require.Equal(t, res.WAMID, conv[0].WAMID)
}

func TestFail5xx(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, botsailorsim.Options{Knobs: sim.Knobs{Fail5xxRate: 1}})

	_, err := b.Client.Send(ctx, "8801723309003", text("hi"))
	simtest.RequireUnavailable(t, err)
	require.Empty(t, b.Sim.Sends(), "nothing is accepted before a 503")
	require.Equal(t, 1, b.Sim.Stats().Rejected5xx)

	// Reads are not failed.
	_, err = b.Client.AccountInfo(ctx)
	require.NoError(t, err)
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, botsailorsim.Options{Knobs: sim.Knobs{RatePerSecond: 2}})
	pe := b.limits().RateLimit(t, [3]string{"8801723309003", "8801723309003", "8801723309003"})
	require.Equal(t, http.StatusOK, pe.HTTPStatus)

	// Another phone number has its own bucket.
	other := botsailor.New(botsailor.Config{BaseURL: b.Srv.URL + "/api/v1", Token: token, PhoneNumberID: "222"})
	_, err := other.Send(ctx, "8801723309003", text("other number"))
	require.NoError(t, err)

	_, err = b.Client.Send(ctx, "8801723309003", text("over again"))
	require.Error(t, err)
	require.Equal(t, 2, b.Sim.Stats().RateLimited)
	require.Equal(t, 4, b.Sim.Stats().Accepted)
	require.Equal(t, 4, b.Sim.SendCount("8801723309003"))
}

func TestPairRate(t *testing.T) {
	t.Parallel()
	b := setup(t, botsailorsim.Options{Knobs: sim.Knobs{PairInterval: 6 * time.Second}})
	b.limits().PairInterval(t, "8801723309003", "8801723309004", 6*time.Second-time.Millisecond)
	require.Equal(t, 2, b.Sim.SendCount("8801723309003"))
}

func TestSubscriberLimit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, botsailorsim.Options{Knobs: sim.Knobs{SubscriberLimit: 2}})

	for _, p := range []string{"8801700000001", "8801700000002"} {
		_, err := b.Client.Send(ctx, p, text("hi"))
		require.NoError(t, err)
	}
	_, err := b.Client.Send(ctx, "8801700000003", text("new recipient"))
	simtest.RequireLimited(t, err, sim.SubscriberLimited)
	require.Equal(t, 1, b.Sim.Stats().SubscriberLimited)

	// Existing subscribers can still be messaged.
	_, err = b.Client.Send(ctx, "8801700000001", text("again"))
	require.NoError(t, err)

	info, err := b.Client.AccountInfo(ctx)
	require.NoError(t, err)
	require.Equal(t, provider.AccountInfo{SubscriberLimit: 2, SubscriberCount: 2, CreditLimit: -1, CreditUsed: 3,
		PhoneNumberIDs: []string{"119060000040020"}}, info, "the numbers it sent from")

	b.Sim.SetOptions(func(o *botsailorsim.Options) { o.SubscriberLimit = 0 })
	_, err = b.Client.Send(ctx, "8801700000003", text("now allowed"))
	require.NoError(t, err)
	info, err = b.Client.AccountInfo(ctx)
	require.NoError(t, err)
	require.Equal(t, int64(-1), info.SubscriberLimit)
	require.Equal(t, int64(3), info.SubscriberCount)
}

func TestStatusProgression(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("SentDeliveredRead", func(t *testing.T) {
		t.Parallel()
		b := setup(t, botsailorsim.Options{Knobs: sim.Knobs{DeliverAfter: 10 * time.Second, ReadAfter: 5 * time.Second, ReadShare: 1}})
		t0 := b.Clock.Now()
		res, err := b.Client.Send(ctx, "8801723309003", text("hi"))
		require.NoError(t, err)

		st, err := b.Client.MessageStatus(ctx, res.WAMID)
		require.NoError(t, err)
		require.Equal(t, provider.StatusReport{Status: provider.StatusSent, At: t0}, st)

		b.Clock.Add(10 * time.Second)
		st, err = b.Client.MessageStatus(ctx, res.WAMID)
		require.NoError(t, err)
		require.Equal(t, provider.StatusReport{Status: provider.StatusDelivered, At: t0.Add(10 * time.Second)}, st)

		b.Clock.Add(5 * time.Second)
		st, err = b.Client.MessageStatus(ctx, res.WAMID)
		require.NoError(t, err)
		require.Equal(t, provider.StatusReport{Status: provider.StatusRead, At: t0.Add(15 * time.Second)}, st)

		conv, err := b.Client.Conversation(ctx, "8801723309003", 1)
		require.NoError(t, err)
		require.Equal(t, provider.StatusRead, conv[0].Status)
		require.Equal(t, 3, b.Sim.Stats().StatusPolls)
	})

	t.Run("DefaultDeliverAfterAndNeverRead", func(t *testing.T) {
		t.Parallel()
		b := setup(t, botsailorsim.Options{Knobs: sim.Knobs{ReadShare: 1, ReadAfter: -1}})
		res, err := b.Client.Send(ctx, "8801723309003", text("hi"))
		require.NoError(t, err)
		b.Clock.Add(botsailorsim.DefaultDeliverAfter - time.Millisecond)
		st, err := b.Client.MessageStatus(ctx, res.WAMID)
		require.NoError(t, err)
		require.Equal(t, provider.StatusSent, st.Status)
		b.Clock.Add(time.Hour)
		st, err = b.Client.MessageStatus(ctx, res.WAMID)
		require.NoError(t, err)
		require.Equal(t, provider.StatusDelivered, st.Status)
	})

	t.Run("Failed", func(t *testing.T) {
		t.Parallel()
		b := setup(t, botsailorsim.Options{Knobs: sim.Knobs{FailShare: 1, ReadShare: 1, DeliverAfter: 3 * time.Second}})
		t0 := b.Clock.Now()
		res, err := b.Client.Send(ctx, "8801723309003", text("hi"))
		require.NoError(t, err)
		b.Clock.Add(time.Minute)
		st, err := b.Client.MessageStatus(ctx, res.WAMID)
		require.NoError(t, err)
		require.Equal(t, provider.StatusReport{Status: provider.StatusFailed, At: t0.Add(3 * time.Second),
			Code: "131026", Reason: "Message undeliverable."}, st)
	})

	t.Run("TemplateWAMIDFromConversation", func(t *testing.T) {
		t.Parallel()
		b := setup(t, botsailorsim.Options{})
		_, err := b.Client.Send(ctx, "8801723309003", templates.Message{Kind: templates.KindTemplate,
			Template: &templates.Template{ID: "promo"}})
		require.NoError(t, err)
		conv, err := b.Client.Conversation(ctx, "8801723309003", 1)
		require.NoError(t, err)
		b.Clock.Add(time.Minute)
		st, err := b.Client.MessageStatus(ctx, conv[0].WAMID)
		require.NoError(t, err)
		require.Equal(t, provider.StatusDelivered, st.Status)
	})

	t.Run("UnknownWAMID", func(t *testing.T) {
		t.Parallel()
		b := setup(t, botsailorsim.Options{})
		_, err := b.Client.MessageStatus(ctx, "wamid.unknown")
		pe := classOf(t, err)
		require.Equal(t, "Message not found.", pe.Message)
		require.Equal(t, provider.ClassPermanent, pe.Class)
	})

	t.Run("MixedShares", func(t *testing.T) {
		t.Parallel()
		b := setup(t, botsailorsim.Options{Knobs: sim.Knobs{ReadShare: 0.5, FailShare: 0.2, Seed: 7}})
		counts := map[provider.Status]int{}
		var wamids []string
		for range 200 {
			res, err := b.Client.Send(ctx, "8801723309003", text("hi"))
			require.NoError(t, err)
			wamids = append(wamids, res.WAMID)
		}
		b.Clock.Add(time.Hour)
		for _, w := range wamids {
			st, err := b.Client.MessageStatus(ctx, w)
			require.NoError(t, err)
			counts[st.Status]++
		}
		require.Equal(t, 200, counts[provider.StatusFailed]+counts[provider.StatusRead]+counts[provider.StatusDelivered])
		require.InDelta(t, 40, counts[provider.StatusFailed], 20)
		require.InDelta(t, 80, counts[provider.StatusRead], 30)
	})
}

func TestDeterministic(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	type outcome struct {
		wamids   []string
		statuses []provider.Status
		stats    botsailorsim.Stats
	}
	got := simtest.Twice(t, func() outcome {
		b := setup(t, botsailorsim.Options{Knobs: sim.Knobs{Seed: 42, ReadShare: 0.5, FailShare: 0.3, Fail5xxRate: 0.2}})
		var wamids []string
		for range 30 {
			if res, err := b.Client.Send(ctx, "8801723309003", text("hi")); err == nil {
				wamids = append(wamids, res.WAMID)
			}
		}
		b.Clock.Add(time.Hour)
		var statuses []provider.Status
		for _, w := range wamids {
			st, err := b.Client.MessageStatus(ctx, w)
			require.NoError(t, err)
			statuses = append(statuses, st.Status)
		}
		return outcome{wamids, statuses, b.Sim.Stats()}
	})
	require.NotZero(t, got.stats.Rejected5xx)
}

func TestRequestValidation(t *testing.T) {
	t.Parallel()
	b := setup(t, botsailorsim.Options{})
	base := func() url.Values {
		return url.Values{"apiToken": {token}, "phone_number_id": {numberID}, "phone_number": {"8801723309003"}, "message": {"hi"}}
	}

	tests := []struct {
		name   string
		path   string
		modify func(url.Values)
		want   string
	}{
		{"NoToken", "/whatsapp/send", func(v url.Values) { v.Del("apiToken") }, "Invalid API token."},
		{"WrongToken", "/whatsapp/send", func(v url.Values) { v.Set("apiToken", "guess") }, "Invalid API token."},
		{"NoMessage", "/whatsapp/send", func(v url.Values) { v.Del("message") }, "message is required."},
		{"NoPhoneNumberID", "/whatsapp/send", func(v url.Values) { v.Del("phone_number_id") }, "phone_number_id is required."},
		{"PlusInPhone", "/whatsapp/send", func(v url.Values) { v.Set("phone_number", "+8801723309003") }, "Invalid phone number."},
		{"ShortPhone", "/whatsapp/send", func(v url.Values) { v.Set("phone_number", "1234567") }, "Invalid phone number."},
		{"LongPhone", "/whatsapp/send", func(v url.Values) { v.Set("phone_number", "1234567890123456") }, "Invalid phone number."},
		{"NoMediaURL", "/whatsapp/send/file", func(url.Values) {}, "media_url is required."},
		{"NoTemplateID", "/whatsapp/send/template", func(url.Values) {}, "template_id is required."},
		{"NoBotFlow", "/whatsapp/trigger-bot", func(url.Values) {}, "bot_flow_unique_id is required."},
		{"NoLimit", "/whatsapp/get/conversation", func(url.Values) {}, "limit is required."},
		{"NoBotID", "/whatsapp/get/message-status", func(v url.Values) { v.Set("wa_message_id", "wamid.x") }, "whatsapp_bot_id is required."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := base()
			tt.modify(v)
			status, out := b.call(t, tt.path, v)
			require.Equal(t, http.StatusOK, status)
			require.Equal(t, map[string]any{"status": "0", "message": tt.want}, out)
		})
	}

	t.Run("WrongTokenIsNotEchoed", func(t *testing.T) {
		t.Parallel()
		_, body := simtest.Do(t, b.Srv, http.MethodGet, "/api/v1/user/myInfo?apiToken=secret-guess-123", nil, nil)
		require.NotContains(t, string(body), "secret-guess-123")
	})

	t.Run("GETQueryLikeTheDocs", func(t *testing.T) {
		t.Parallel()
		q := url.Values{"apiToken": {token}, "phone_number_id": {numberID}, "phone_number": {"8801700000077"}, "message": {"via GET"}}
		_, out := simtest.Call(t, b.Srv, http.MethodGet, "/api/v1/whatsapp/send?"+q.Encode(), nil, nil)
		require.Equal(t, "1", out["status"])
		require.Equal(t, "Message sent successfully.", out["message"])
		require.True(t, strings.HasPrefix(out["wa_message_id"].(string), "wamid."))
		require.Equal(t, 1, b.Sim.SendCount("8801700000077"))
	})

	t.Run("AnyTokenWhenNoneConfigured", func(t *testing.T) {
		t.Parallel()
		open := setup(t, botsailorsim.Options{Tokens: []string{}})
		v := base()
		v.Set("apiToken", "whatever")
		_, out := open.call(t, "/whatsapp/send", v)
		require.Equal(t, "1", out["status"])
		v.Set("apiToken", "")
		_, out = open.call(t, "/whatsapp/send", v)
		require.Equal(t, "Invalid API token.", out["message"])
	})

	t.Run("UnknownPath", func(t *testing.T) {
		t.Parallel()
		status, out := b.call(t, "/whatsapp/nope", base())
		require.Equal(t, http.StatusNotFound, status)
		require.Equal(t, "0", out["status"])
	})
}

func TestLatency(t *testing.T) {
	t.Parallel()
	b := setup(t, botsailorsim.Options{Knobs: sim.Knobs{Latency: time.Hour}})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := b.Client.AccountInfo(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Equal(t, provider.ClassTransient, provider.ClassOf(err))
}

// TestSlowAccept: a send drawn by SlowAcceptRate is held for SlowAccept and
// then recorded in the conversation although the client gave up first.
// The send's deadline passes once the simulator holds it, and the hold
// ends when the test says so (signals, not a 50 ms timeout racing the
// request to the simulator and a 300 ms hold racing the checks).
func TestSlowAccept(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	held, release := make(chan time.Duration, 1), make(chan struct{})
	var once sync.Once
	releaseOnce := func() { once.Do(func() { close(release) }) }
	b := setup(t, botsailorsim.Options{SlowAcceptRate: 1, SlowAccept: 300 * time.Millisecond,
		SlowHold: func(d time.Duration) {
			held <- d
			cancel(context.DeadlineExceeded)
			<-release
		}})
	t.Cleanup(releaseOnce) // runs before the server closes: never leave the hold blocked
	_, err := b.Client.Send(ctx, "8801723309003", text("slow"))
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Equal(t, 300*time.Millisecond, <-held, "held for SlowAccept")

	require.Equal(t, 1, b.Sim.Stats().SlowHeld, "held after the client gave up")
	conv, err := b.Client.Conversation(context.Background(), "8801723309003", 5)
	require.NoError(t, err)
	require.Empty(t, conv, "not accepted yet")

	// The held request's handler goes on by itself; poll the counter.
	releaseOnce()
	require.Eventually(t, func() bool { return b.Sim.Stats().SlowHeld == 0 }, 10*time.Second, 10*time.Millisecond)
	st := b.Sim.Stats()
	require.Equal(t, 1, st.Slowed)
	require.Equal(t, 1, st.Accepted)
	conv, err = b.Client.Conversation(context.Background(), "8801723309003", 5)
	require.NoError(t, err)
	require.Len(t, conv, 1, "recorded once the provider got to it")
	require.Equal(t, "slow", conv[0].Text)
	require.Equal(t, b.Sim.Sends()[0].WAMID, conv[0].WAMID)
}

// rawPost makes a POST with the test token and returns the status and the
// body as sent.
func (b *testBundle) rawPost(t *testing.T, path string, form url.Values) (int, string) {
	t.Helper()
	form.Set("apiToken", token)
	status, body := simtest.Do(t, b.Srv, http.MethodPost, "/api/v1"+path, nil, form)
	return status, string(body)
}

func decode(t *testing.T, body string) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(body), &m), body)
	return m
}

// TestShapesDriveTheDriver runs the driver against the simulator in each
// answer shape: every send kind, the conversation, the status of each
// message as it moves on, and the account's limits must come out the same,
// except the template send's wamid, which only Wabotick's answer carries.
func TestShapesDriveTheDriver(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const phone = "8801723309003"

	for _, shape := range []string{"", botsailorsim.ShapeBotSailor, botsailorsim.ShapeWabotick} {
		t.Run("Shape="+shape, func(t *testing.T) {
			t.Parallel()
			b := setup(t, botsailorsim.Options{Shape: shape, Knobs: sim.Knobs{SubscriberLimit: 2, DeliverAfter: 10 * time.Second, ReadAfter: 5 * time.Second, ReadShare: 1}})
			t0 := b.Clock.Now()
			wabotick := shape == botsailorsim.ShapeWabotick

			msgs := []templates.Message{
				text("Hello Ana"),
				{Kind: templates.KindMedia, Media: &templates.Media{URL: "https://example.com/menu.pdf", Type: "document", Caption: "Menu"}},
				{Kind: templates.KindTemplate, Template: &templates.Template{ID: "order_update",
					Vars: []templates.TemplateVar{{Name: "name", Index: 1, Value: "Ana"}}}},
				{Kind: templates.KindBotFlow, BotFlow: "welcome"},
			}
			var got []string
			for _, m := range msgs {
				res, err := b.Client.Send(ctx, phone, m)
				require.NoError(t, err, m.Kind)
				got = append(got, res.WAMID)
			}
			sends := b.Sim.Sends()
			require.Len(t, sends, 4)
			templateWAMID := ""
			if wabotick {
				templateWAMID = sends[2].WAMID
			}
			require.Equal(t, []string{sends[0].WAMID, sends[1].WAMID, templateWAMID, ""}, got)
			for _, s := range sends {
				require.True(t, strings.HasPrefix(s.WAMID, "wamid."), s.WAMID)
			}

			requireFourListed(t, b, phone, sends, t0)

			steps := []struct {
				advance time.Duration
				want    provider.StatusReport
			}{
				{0, provider.StatusReport{Status: provider.StatusSent, At: t0}},
				{10 * time.Second, provider.StatusReport{Status: provider.StatusDelivered, At: t0.Add(10 * time.Second)}},
				{5 * time.Second, provider.StatusReport{Status: provider.StatusRead, At: t0.Add(15 * time.Second)}},
			}
			for _, step := range steps {
				b.Clock.Add(step.advance)
				for _, s := range sends {
					st, err := b.Client.MessageStatus(ctx, s.WAMID)
					require.NoError(t, err)
					require.Equal(t, step.want, st, s.Kind)
				}
			}

			info, err := b.Client.AccountInfo(ctx)
			require.NoError(t, err)
			require.Equal(t, provider.AccountInfo{SubscriberLimit: 2, SubscriberCount: 1, CreditLimit: -1, CreditUsed: 4,
				PhoneNumberIDs: []string{"119060000040020"}}, info)

			// Refusals look alike in both shapes.
			_, err = b.Client.Send(ctx, "8801700000001", text("hi"))
			require.NoError(t, err)
			_, err = b.Client.Send(ctx, "8801700000002", text("hi"))
			simtest.RequireLimited(t, err, sim.SubscriberLimited)
		})
	}
}

// TestShapesOnTheWire checks the answers themselves: Wabotick's template
// send names the wamid under data.message_id, its status and myInfo
// answers are printed over several lines, myInfo sits under "data"; the
// BotSailor shape keeps seed 000's one-line answers.
func TestShapesOnTheWire(t *testing.T) {
	t.Parallel()
	form := func(kv ...string) url.Values {
		v := url.Values{"phone_number_id": {numberID}, "phone_number": {"8801723309003"}}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}

	t.Run("Wabotick", func(t *testing.T) {
		t.Parallel()
		b := setup(t, botsailorsim.Options{Shape: botsailorsim.ShapeWabotick})
		status, body := b.rawPost(t, "/whatsapp/send/template", form("template_id", "promo"))
		require.Equal(t, http.StatusOK, status)
		wamid := b.Sim.Sends()[0].WAMID
		require.Equal(t, "{\n\"status\": \"success\",\n\"message\": \"Template message sent successfully.\",\n\"data\": {\n\"message_id\": \""+wamid+"\"\n}\n}", body)

		_, body = b.rawPost(t, "/whatsapp/get/message-status", url.Values{"wa_message_id": {wamid}, "whatsapp_bot_id": {"1"}})
		require.Equal(t, "{\n\"status\": \"1\",\n\"message\": {\n\"message_status\": \"sent\",\n\"delivery_status_updated_at\": \"2026-03-01 09:00:00\",\n\"read_time\": null,\n\"failed_time\": null,\n\"failed_reason\": \"\"\n}\n}", body)

		_, body = b.rawPost(t, "/user/myInfo", url.Values{})
		require.Contains(t, body, "\n")
		m := decode(t, body)
		require.Equal(t, "success", m["status"])
		require.NotContains(t, m, "message")
		data, ok := m["data"].(map[string]any)
		require.True(t, ok, body)
		require.Equal(t, map[string]any{"limit": "unlimited", "count": "1"}, data["bot_subscriber_data"])

		// Text sends and refusals keep 001's one-line answers, which are 000's.
		_, body = b.rawPost(t, "/whatsapp/send", form("message", "hi"))
		require.Equal(t, `{"status":"1","wa_message_id":"`+b.Sim.Sends()[1].WAMID+`","message":"Message sent successfully."}`, body)
		_, body = b.rawPost(t, "/whatsapp/send", form())
		require.Equal(t, `{"status":"0","message":"message is required."}`, body)
	})

	t.Run("BotSailor", func(t *testing.T) {
		t.Parallel()
		b := setup(t, botsailorsim.Options{Shape: botsailorsim.ShapeBotSailor})
		_, body := b.rawPost(t, "/whatsapp/send/template", form("template_id", "promo"))
		require.Equal(t, `{"status":"1","message":"Template message sent successfully."}`, body)
		_, body = b.rawPost(t, "/whatsapp/get/message-status", url.Values{"wa_message_id": {b.Sim.Sends()[0].WAMID}, "whatsapp_bot_id": {"1"}})
		require.Equal(t, `{"status":"1","message":{"message_status":"sent","delivery_status_updated_at":"2026-03-01 09:00:00","read_time":null,"failed_time":null,"failed_reason":""}}`, body)
		_, body = b.rawPost(t, "/user/myInfo", url.Values{})
		require.NotContains(t, body, "\n")
		m := decode(t, body)
		require.Equal(t, "1", m["status"])
		require.NotContains(t, m, "data")
		require.IsType(t, map[string]any{}, m["message"])
	})
}

// TestShapeUnknownAndSwitched: a misspelt shape answers every call HTTP 500
// and records nothing; SetOptions switches the shape of later answers.
func TestShapeUnknownAndSwitched(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tpl := templates.Message{Kind: templates.KindTemplate, Template: &templates.Template{ID: "promo"}}

	b := setup(t, botsailorsim.Options{Shape: "wabotik"})
	_, err := b.Client.Send(ctx, "8801723309003", tpl)
	pe := classOf(t, err)
	require.Equal(t, http.StatusInternalServerError, pe.HTTPStatus)
	require.Contains(t, pe.Message, `unknown Options.Shape "wabotik"`)
	require.Empty(t, b.Sim.Sends())

	b.Sim.SetOptions(func(o *botsailorsim.Options) { o.Shape = botsailorsim.ShapeWabotick })
	res, err := b.Client.Send(ctx, "8801723309003", tpl)
	require.NoError(t, err)
	require.Equal(t, b.Sim.Sends()[0].WAMID, res.WAMID)

	b.Sim.SetOptions(func(o *botsailorsim.Options) { o.Shape = "" })
	b.Clock.Add(time.Minute)
	res, err = b.Client.Send(ctx, "8801723309003", tpl)
	require.NoError(t, err)
	require.Empty(t, res.WAMID)
	require.Len(t, b.Sim.Sends(), 2)
}
