package botsailorsim_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/provider"
	"github.com/wacamp/wacamp/provider/botsailor/botsailorsim"
	"github.com/wacamp/wacamp/provider/sim"
	"github.com/wacamp/wacamp/provider/sim/simtest"
	"github.com/wacamp/wacamp/templates"
)

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
			require.Equal(t, provider.AccountInfo{SubscriberLimit: 2, SubscriberCount: 1, CreditLimit: -1, CreditUsed: 4}, info)

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
