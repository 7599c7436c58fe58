package sobotsim_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/provider"
	"github.com/wacamp/wacamp/provider/sim"
	"github.com/wacamp/wacamp/provider/sim/simtest"
	"github.com/wacamp/wacamp/provider/sobot"
	"github.com/wacamp/wacamp/provider/sobot/sobotsim"
	"github.com/wacamp/wacamp/templates"
)

const (
	apiKey    = "key-1"
	apiSecret = "secret-1"
	phone     = "919970012345"
)

type bundle struct {
	simtest.Bundle[*sobotsim.Server, *sobot.Client]
}

// setup starts a simulator with opts (plus the test credentials, a fake
// clock and a 1 ms webhook back-off) and a driver pointed at it.
func setup(t *testing.T, opts sobotsim.Options) *bundle {
	t.Helper()
	clk := simtest.UseClock(&opts.Knobs, simtest.NewClock())
	if opts.Credentials == nil {
		opts.Credentials = []sobotsim.Credential{{Key: apiKey, Secret: apiSecret}}
	}
	if opts.WebhookBackoff == 0 {
		opts.WebhookBackoff = time.Millisecond
	}
	sim := sobotsim.New(opts)
	return &bundle{simtest.Start(t, sim, clk, client, sim.Close)}
}

// client is the driver of the test account on srv.
func client(srv *httptest.Server) *sobot.Client {
	return sobot.New(sobot.Config{BaseURL: srv.URL, APIKey: apiKey, APISecret: apiSecret, HTTPClient: srv.Client()})
}

// post makes a raw request with the given headers and decodes the answer.
func (b *bundle) post(t *testing.T, path string, headers map[string]string, body string) (int, map[string]any) {
	t.Helper()
	return simtest.Call(t, b.Srv, http.MethodPost, path, headers, body)
}

var auth = map[string]string{"x-api-key": apiKey, "x-api-secret": apiSecret}

// limits runs the shared scenarios of the number's limits on b.
func (b *bundle) limits() simtest.Limits {
	return simtest.Limits{Client: b.Client, Clock: b.Clock, Counts: func() sim.Counts { return b.Sim.Stats().Counts }}
}

// events parses every push rcv acknowledged with the driver's ParseWebhook.
func events(t *testing.T, rcv *simtest.Receiver) []provider.Event {
	t.Helper()
	return simtest.Events(t, sobot.ParseWebhook, rcv.Acked())
}

var (
	text     = simtest.Text
	perr     = simtest.ProviderError
	statuses = simtest.Statuses
)

func TestAuth(t *testing.T) {
	b := setup(t, sobotsim.Options{})
	for _, h := range []map[string]string{
		{},
		{"x-api-key": apiKey},
		{"x-api-key": apiKey, "x-api-secret": "wrong"},
		{"x-api-key": "wrong", "x-api-secret": apiSecret},
	} {
		status, ans := b.post(t, "/message/", h, `{"type":"text","message":"Hi","customer_number":"919970012345","customer_name":"A"}`)
		require.Equal(t, http.StatusUnauthorized, status)
		require.Equal(t, map[string]any{"message": "Invalid API credentials", "code": float64(401)}, ans)
	}
	require.Equal(t, 4, b.Sim.Stats().Unauthorized)

	bad := sobot.New(sobot.Config{BaseURL: b.Srv.URL, APIKey: apiKey, APISecret: "nope", HTTPClient: b.Srv.Client()})
	_, err := bad.Send(context.Background(), phone, text("Hi"))
	require.Equal(t, provider.ClassHaltAccount, perr(t, err).Class)

	status, ans := b.post(t, "/message", auth, `{"type":"text","message":"Hi","customer_number":"919970012345","customer_name":"A"}`)
	require.Equal(t, http.StatusOK, status, "the path without its slash is accepted too")
	require.Equal(t, float64(200), ans["code"])
	require.Equal(t, "Message sent successfully.", ans["message"])
	data := ans["data"].(map[string]any)
	require.Equal(t, "submitted", data["status"])
	require.Regexp(t, `^wamid\.[A-Za-z0-9+/=]+$`, data["id"])
	require.Len(t, b.Sim.Sends(), 1)
}

func TestSendKindsThroughDriver(t *testing.T) {
	b := setup(t, sobotsim.Options{})
	ctx := context.Background()
	msgs := []templates.Message{
		text("Hello"),
		{Kind: templates.KindMedia, Media: &templates.Media{Type: "image", URL: "https://x.example/a.jpg", Caption: "pic"}},
		{Kind: templates.KindMedia, Media: &templates.Media{Type: "document", URL: "https://x.example/terms.pdf"}},
		{Kind: templates.KindLocation, Location: &templates.Location{Latitude: 1.5, Longitude: 2.25, Name: "Here"}},
		{Kind: templates.KindButtons, Buttons: &templates.Buttons{Text: "Pick", Buttons: []templates.Button{{Type: "reply", Title: "Yes"}, {Type: "reply", Title: "No"}}}},
		{Kind: templates.KindList, List: &templates.List{Text: "Menu", Button: "Open", Sections: []templates.ListSection{{Title: "S", Rows: []templates.ListRow{{ID: "1", Title: "One"}}}}}},
		{Kind: templates.KindTemplate, Template: &templates.Template{Name: "hello_world", Language: "en",
			Vars:    []templates.TemplateVar{{Index: 1, Value: "Ana"}},
			Buttons: []templates.TemplateButton{{Index: 0, SubType: "url", Value: "x1"}}}},
	}
	var wamids []string
	for _, m := range msgs {
		res, err := b.Client.Send(ctx, phone, m)
		require.NoError(t, err, m.Kind)
		require.NotEmpty(t, res.WAMID)
		wamids = append(wamids, res.WAMID)
		b.Clock.Add(time.Second)
	}
	sends := b.Sim.Sends()
	require.Len(t, sends, len(msgs))
	for i, s := range sends {
		require.Equal(t, wamids[i], s.WAMID)
		require.Equal(t, phone, s.Phone)
		require.Equal(t, phone, s.Name)
	}
	require.Equal(t, "text", sends[0].Kind)
	require.Equal(t, "Hello", sends[0].Text)
	require.Equal(t, "image/jpeg", sends[1].MimeType)
	require.Equal(t, "pic", sends[1].Text)
	require.Equal(t, "terms.pdf", sends[2].Filename)
	require.Equal(t, "location", sends[3].Kind)
	require.Equal(t, []string{"Yes", "No"}, sends[4].Buttons)
	require.Equal(t, "list", sends[5].Kind)
	require.Equal(t, "template", sends[6].Kind)
	require.Equal(t, "hello_world", sends[6].Template)
	require.Equal(t, "en", sends[6].Lang)
	require.JSONEq(t, `[{"type":"body","parameters":[{"type":"text","text":"Ana"}]},
		{"type":"button","sub_type":"url","index":0,"parameters":[{"type":"text","text":"x1"}]}]`, string(sends[6].Params))
	require.Equal(t, len(msgs), b.Sim.SendCount(phone))
	require.Equal(t, len(msgs), b.Sim.Stats().Accepted)
}

func TestValidation(t *testing.T) {
	b := setup(t, sobotsim.Options{})
	tests := []struct{ body, want string }{
		{`{"type":"text","message":"Hi","customer_number":"919970012345"}`, "customer_name is required"},
		{`{"type":"text","customer_number":"919970012345","customer_name":"A"}`, "message is required"},
		{`{"type":"text","message":"Hi","customer_number":"+91 9970","customer_name":"A"}`, "Invalid mobile number"},
		{`{"type":"image","url":"https://x.example/a.jpg","customer_number":"919970012345","customer_name":"A"}`, "mime_type is required"},
		{`{"type":"document","url":"u","mime_type":"application/pdf","customer_number":"919970012345","customer_name":"A"}`, "filename is required"},
		{`{"type":"location","latitude":"1","customer_number":"919970012345","customer_name":"A"}`, "longitude is required"},
		{`{"type":"quick_reply","message":"Hi","buttons":["a","b","c","d"],"customer_number":"919970012345","customer_name":"A"}`, "up to 3 buttons"},
		{`{"type":"quick_reply","message":"Hi","buttons":["a","a"],"customer_number":"919970012345","customer_name":"A"}`, "unique"},
		{`{"type":"list","message":"Hi","list_obj":{"sections":[]},"customer_number":"919970012345","customer_name":"A"}`, "list_obj.button is required"},
		{`{"template_name":"hello_world","customer_number":"919970012345","customer_name":"A"}`, "template_lang is required"},
		{`{"template_name":"t","template_lang":"en","params":[{"type":"footer","parameters":[{}]}],"customer_number":"919970012345","customer_name":"A"}`, "params type"},
		{`{"message":"Hi","customer_number":"919970012345","customer_name":"A"}`, "type is required"},
		{`{"type":"poll","customer_number":"919970012345","customer_name":"A"}`, "Invalid message type"},
		{`not json`, "Invalid JSON body"},
	}
	for _, tt := range tests {
		status, ans := b.post(t, "/message/", auth, tt.body)
		require.Equal(t, http.StatusBadRequest, status, tt.body)
		require.Equal(t, float64(400), ans["code"])
		require.Contains(t, ans["message"], tt.want)
	}
	require.Empty(t, b.Sim.Sends())
	require.Equal(t, len(tests), b.Sim.Stats().Invalid)

	// The doc's own list sample (quick_reply + list_obj, as its Python
	// sample sends it) is accepted.
	status, _ := b.post(t, "/message/", auth, `{"message":"Hello","customer_number":"919970012345","customer_name":"John Doe","type":"quick_reply",
		"list_obj":{"button":"Show List","sections":[{"title":"one","rows":[{"title":"First title","id":"id_1","description":"test description"}]}]}}`)
	require.Equal(t, http.StatusOK, status)

	b.Sim.SetOptions(func(o *sobotsim.Options) { o.ErrorsHTTP200 = true })
	status, ans := b.post(t, "/message/", auth, tests[0].body)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, float64(400), ans["code"])
	_, err := b.Client.Send(context.Background(), "9199", text("Hi"))
	pe := perr(t, err)
	require.Equal(t, provider.ClassPermanent, pe.Class, "Invalid mobile number under HTTP 200")
	require.Equal(t, 400, pe.HTTPStatus)
}

func TestFail5xx(t *testing.T) {
	b := setup(t, sobotsim.Options{Knobs: sim.Knobs{Fail5xxRate: 1}})
	_, err := b.Client.Send(context.Background(), phone, text("Hi"))
	simtest.RequireUnavailable(t, err)
	require.Zero(t, b.Sim.SendCount(phone))
	require.Equal(t, 1, b.Sim.Stats().Rejected5xx)
}

func TestDropAfterAccept(t *testing.T) {
	rcv := simtest.NewReceiver(t)
	b := setup(t, sobotsim.Options{Knobs: sim.Knobs{DropAfterAcceptRate: 1}, WebhookURL: rcv.URL})
	_, err := b.Client.Send(context.Background(), phone, text("Hi"))
	require.Equal(t, provider.ClassAmbiguous, perr(t, err).Class)
	require.Equal(t, 1, b.Sim.SendCount(phone), "the message went out")
	require.Equal(t, 1, b.Sim.Stats().Dropped)
	b.Sim.Flush()
	evs := events(t, rcv)
	require.Len(t, evs, 1)
	require.Equal(t, b.Sim.Sends()[0].WAMID, evs[0].WAMID, "its statuses still arrive")
}

func TestRateLimit(t *testing.T) {
	b := setup(t, sobotsim.Options{Knobs: sim.Knobs{RatePerSecond: 2}})
	pe := b.limits().RateLimit(t, [3]string{"919970000001", "919970000002", "919970000003"})
	require.Equal(t, http.StatusTooManyRequests, pe.HTTPStatus)
	require.Equal(t, time.Second, pe.RetryAfter)

	// Another account has its own bucket.
	b.Sim.SetOptions(func(o *sobotsim.Options) {
		o.Credentials = append(o.Credentials, sobotsim.Credential{Key: "k2", Secret: "s2"})
	})
	other := sobot.New(sobot.Config{BaseURL: b.Srv.URL, APIKey: "k2", APISecret: "s2", HTTPClient: b.Srv.Client()})
	_, err := other.Send(context.Background(), "919970000004", text("Hi"))
	require.NoError(t, err)
}

func TestPairInterval(t *testing.T) {
	b := setup(t, sobotsim.Options{Knobs: sim.Knobs{PairInterval: 6 * time.Second}})
	b.limits().PairInterval(t, phone, "919970000009", 5*time.Second)
}

func TestSubscriberLimit(t *testing.T) {
	b := setup(t, sobotsim.Options{Knobs: sim.Knobs{SubscriberLimit: 1}})
	b.limits().SubscriberLimit(t, phone, "919970000009")
}

func TestUnknownTemplate(t *testing.T) {
	b := setup(t, sobotsim.Options{Templates: []string{"hello_world"}})
	ctx := context.Background()
	tpl := func(name string) templates.Message {
		return templates.Message{Kind: templates.KindTemplate, Template: &templates.Template{Name: name, Language: "en"}}
	}
	_, err := b.Client.Send(ctx, phone, tpl("hello_world"))
	require.NoError(t, err)
	_, err = b.Client.Send(ctx, "919970000009", tpl("nope"))
	pe := perr(t, err)
	require.Equal(t, provider.ClassHaltCampaign, pe.Class)
	require.Equal(t, http.StatusNotFound, pe.HTTPStatus)
}

func TestLatency(t *testing.T) {
	b := setup(t, sobotsim.Options{Knobs: sim.Knobs{Latency: time.Minute}})
	// The deadline passes once the request has reached the simulator (a
	// signal, not a short timeout a loaded machine may spend before the
	// request is written).
	ctx, h := simtest.ExpireOnArrival(t, b.Sim)
	_, err := client(simtest.Serve(t, h)).Send(ctx, phone, text("Hi"))
	require.Equal(t, provider.ClassAmbiguous, perr(t, err).Class)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Empty(t, b.Sim.Sends(), "the answer is held before anything is accepted")
}

func TestWebhookProgression(t *testing.T) {
	for _, meta := range []bool{false, true} {
		rcv := simtest.NewReceiver(t)
		b := setup(t, sobotsim.Options{WebhookURL: rcv.URL, WebhookMetaStyle: meta,
			Knobs: sim.Knobs{DeliverAfter: 2 * time.Second, ReadAfter: 3 * time.Second, ReadShare: 1}})
		res, err := b.Client.Send(context.Background(), phone, text("Hi"))
		require.NoError(t, err)
		sentAt := b.Clock.Now()

		b.Sim.Flush()
		require.Equal(t, []provider.Status{provider.StatusSent}, statuses(events(t, rcv)))
		b.Clock.Add(time.Second)
		b.Sim.Flush()
		require.Len(t, events(t, rcv), 1, "not delivered yet")
		b.Clock.Add(time.Second)
		b.Sim.Flush()
		b.Clock.Add(3 * time.Second)
		b.Sim.Flush()
		evs := events(t, rcv)
		require.Equal(t, []provider.Status{provider.StatusSent, provider.StatusDelivered, provider.StatusRead}, statuses(evs))
		for _, ev := range evs {
			require.Equal(t, res.WAMID, ev.WAMID)
		}
		require.Equal(t, sentAt.Add(2*time.Second), evs[1].At)
		require.Equal(t, sentAt.Add(5*time.Second), evs[2].At)
		if meta {
			require.Equal(t, phone, evs[0].Phone)
		} else {
			require.JSONEq(t, `{"id":"`+res.WAMID+`","status":"sent","timestamp":"`+itoa(sentAt.Unix())+`"}`, string(rcv.Acked()[0]),
				"the doc's bare status shape")
		}
		require.Zero(t, b.Sim.Pending())
		require.Equal(t, 3, b.Sim.Stats().Webhooks.Pushed)
	}
}

func TestWebhookFailed(t *testing.T) {
	for _, meta := range []bool{false, true} {
		rcv := simtest.NewReceiver(t)
		b := setup(t, sobotsim.Options{WebhookURL: rcv.URL, WebhookMetaStyle: meta, Knobs: sim.Knobs{FailShare: 1, ReadShare: 1}})
		_, err := b.Client.Send(context.Background(), phone, text("Hi"))
		require.NoError(t, err)
		b.Clock.Add(time.Hour)
		b.Sim.Flush()
		evs := events(t, rcv)
		require.Equal(t, []provider.Status{provider.StatusSent, provider.StatusFailed}, statuses(evs))
		require.Equal(t, "131026", evs[1].Code)
		require.Contains(t, evs[1].Reason, "Message undeliverable.")
	}
}

func TestWebhookDuplicates(t *testing.T) {
	rcv := simtest.NewReceiver(t)
	b := setup(t, sobotsim.Options{WebhookURL: rcv.URL, WebhookDuplicateRate: 1})
	_, err := b.Client.Send(context.Background(), phone, text("Hi"))
	require.NoError(t, err)
	b.Clock.Add(time.Hour)
	b.Sim.Flush()
	require.Equal(t, []provider.Status{provider.StatusSent, provider.StatusSent, provider.StatusDelivered, provider.StatusDelivered},
		statuses(events(t, rcv)))
	require.Equal(t, 2, b.Sim.Stats().Webhooks.Duplicates)
}

func TestWebhookReorder(t *testing.T) {
	rcv := simtest.NewReceiver(t)
	b := setup(t, sobotsim.Options{WebhookURL: rcv.URL, WebhookReorder: true})
	_, err := b.Client.Send(context.Background(), phone, text("Hi"))
	require.NoError(t, err)
	b.Sim.Flush()
	require.Zero(t, rcv.Requests(), "sent is held back until delivered")
	b.Clock.Add(time.Second)
	b.Sim.Flush()
	require.Equal(t, []provider.Status{provider.StatusDelivered, provider.StatusSent}, statuses(events(t, rcv)))
}

func TestWebhookEarly(t *testing.T) {
	rcv := simtest.NewReceiver(t)
	b := setup(t, sobotsim.Options{WebhookURL: rcv.URL, WebhookEarly: true})
	res, err := b.Client.Send(context.Background(), phone, text("Hi"))
	require.NoError(t, err)
	// No Flush: the push was made before the answer.
	evs := events(t, rcv)
	require.Len(t, evs, 1)
	require.Equal(t, provider.StatusSent, evs[0].Status)
	require.Equal(t, res.WAMID, evs[0].WAMID)
}

func TestWebhookRetryThenDrop(t *testing.T) {
	rcv := simtest.NewReceiver(t)
	rcv.SetFail(func(int) int { return http.StatusInternalServerError })
	b := setup(t, sobotsim.Options{WebhookURL: rcv.URL, WebhookAttempts: 3, Knobs: sim.Knobs{DeliverAfter: -1}})
	_, err := b.Client.Send(context.Background(), phone, text("Hi"))
	require.NoError(t, err)
	b.Sim.Flush()
	require.Equal(t, 3, rcv.Requests())
	st := b.Sim.Stats()
	require.Equal(t, 2, st.Webhooks.Retries)
	require.Equal(t, 1, st.Webhooks.Failed)
	require.Zero(t, st.Webhooks.Pushed)

	// A receiver that recovers gets the retry.
	rcv2 := simtest.NewReceiver(t)
	rcv2.SetFail(func(n int) int {
		if n == 1 {
			return http.StatusBadGateway
		}
		return 0
	})
	b.Sim.SetOptions(func(o *sobotsim.Options) { o.WebhookURL = rcv2.URL })
	_, err = b.Client.Send(context.Background(), "919970000009", text("Hi"))
	require.NoError(t, err)
	b.Sim.Flush()
	require.Len(t, events(t, rcv2), 1)
	require.Equal(t, 1, b.Sim.Stats().Webhooks.Pushed)
}

func TestReply(t *testing.T) {
	rcv := simtest.NewReceiver(t)
	b := setup(t, sobotsim.Options{WebhookURL: rcv.URL})
	wamid := b.Sim.Reply(phone, "STOP")
	evs := events(t, rcv)
	require.Equal(t, []provider.Event{{WAMID: wamid, At: b.Clock.Now(), Phone: phone, Inbound: true, Text: "STOP"}}, evs)
	require.Equal(t, 1, b.Sim.Stats().Replies)
}

// TestRealTimeTimers runs the simulator on the real clock: pushes arrive
// by themselves.
func TestRealTimeTimers(t *testing.T) {
	rcv := simtest.NewReceiver(t)
	b := setup(t, sobotsim.Options{Knobs: sim.Knobs{Now: time.Now, DeliverAfter: 20 * time.Millisecond}, WebhookURL: rcv.URL})
	res, err := b.Client.Send(context.Background(), phone, text("Hi"))
	require.NoError(t, err)
	for range 2 {
		_, ok := rcv.Next(10 * time.Second)
		require.True(t, ok, "webhook push did not arrive")
	}
	evs := events(t, rcv)
	require.Equal(t, []provider.Status{provider.StatusSent, provider.StatusDelivered}, statuses(evs))
	require.Equal(t, res.WAMID, evs[1].WAMID)
}

func TestCloseStopsPushes(t *testing.T) {
	rcv := simtest.NewReceiver(t)
	b := setup(t, sobotsim.Options{WebhookURL: rcv.URL, Knobs: sim.Knobs{DeliverAfter: time.Hour}})
	_, err := b.Client.Send(context.Background(), phone, text("Hi"))
	require.NoError(t, err)
	b.Sim.Flush()
	require.Equal(t, 1, rcv.Requests(), "sent")
	require.Equal(t, 1, b.Sim.Pending(), "delivered is due in an hour")
	b.Sim.Close()
	b.Clock.Add(2 * time.Hour)
	b.Sim.Flush()
	require.Equal(t, 1, rcv.Requests(), "nothing after Close")
	require.Zero(t, b.Sim.Pending())
	b.Sim.Close() // idempotent
}

func TestDeterministic(t *testing.T) {
	type outcome struct {
		outcomes []string
		statuses []provider.Status
		stats    sobotsim.Stats
	}
	got := simtest.Twice(t, func() outcome {
		rcv := simtest.NewReceiver(t)
		b := setup(t, sobotsim.Options{Knobs: sim.Knobs{Seed: 42, Fail5xxRate: 0.2, DropAfterAcceptRate: 0.2, FailShare: 0.3, ReadShare: 0.5}, WebhookURL: rcv.URL, WebhookDuplicateRate: 0.3})
		var outcomes []string
		for i := range 30 {
			res, err := b.Client.Send(context.Background(), "9199700000"+itoa(int64(10+i)), text("Hi"))
			if err != nil {
				outcomes = append(outcomes, perr(t, err).Class.String())
				continue
			}
			outcomes = append(outcomes, res.WAMID)
		}
		b.Clock.Add(time.Hour)
		b.Sim.Flush()
		return outcome{outcomes, statuses(events(t, rcv)), b.Sim.Stats()}
	})
	require.NotZero(t, got.stats.Rejected5xx)
	require.NotZero(t, got.stats.Dropped)
	require.NotZero(t, got.stats.Webhooks.Duplicates)
	require.Contains(t, got.statuses, provider.StatusFailed)
	require.Contains(t, got.statuses, provider.StatusRead)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
