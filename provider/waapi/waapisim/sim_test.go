package waapisim_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/provider"
	"github.com/wacamp/wacamp/provider/sim"
	"github.com/wacamp/wacamp/provider/sim/simtest"
	"github.com/wacamp/wacamp/provider/waapi"
	"github.com/wacamp/wacamp/provider/waapi/waapisim"
	"github.com/wacamp/wacamp/templates"
)

const (
	sessionID = "2ad8-07c9-447b-994d-eb8b"
	access    = "0184-28a5-439a-a1cd-fc6f"
	bearer    = "bearer-token-1"
	phone     = "2349048988056"
)

type bundle struct {
	simtest.Bundle[*waapisim.Server, *waapi.Client]
	hook *simtest.Receiver
}

// setup starts a simulator with opts (plus credentials, a fake clock, a
// webhook receiver and a 1 ms push back-off) and a driver pointed at it.
func setup(t *testing.T, opts waapisim.Options) *bundle {
	t.Helper()
	clk := simtest.UseClock(&opts.Knobs, simtest.NewClock())
	hook := simtest.NewReceiver(t)
	if opts.BearerTokens == nil {
		opts.BearerTokens = []string{bearer}
	}
	if opts.Sessions == nil {
		opts.Sessions = []waapisim.Session{{ID: sessionID, AccessToken: access}}
	}
	if opts.WebhookURL == "" {
		opts.WebhookURL = hook.URL
	}
	if opts.WebhookRetryDelay == 0 {
		opts.WebhookRetryDelay = time.Millisecond
	}
	sim := waapisim.New(opts)
	return &bundle{hook: hook, Bundle: simtest.Start(t, sim, clk, client, sim.Close)}
}

// client is the driver of the test session on srv.
func client(srv *httptest.Server) *waapi.Client {
	return waapi.New(waapi.Config{BaseURL: srv.URL + "/api", SessionID: sessionID, AccessToken: access,
		BearerToken: bearer, HTTPClient: srv.Client()})
}

// raw makes a raw call with a Bearer token (none when auth is "") and
// decodes the JSON answer.
func (b *bundle) raw(t *testing.T, method, path, auth string, body any) (int, map[string]any) {
	t.Helper()
	header := map[string]string{}
	if auth != "" {
		header["Authorization"] = "Bearer " + auth
	}
	return simtest.Call(t, b.Srv, method, path, header, body)
}

// events parses the pushes rcv acknowledged since the last call with the
// driver's ParseWebhook.
func events(t *testing.T, rcv *simtest.Receiver) []provider.Event {
	t.Helper()
	return simtest.Events(t, waapi.ParseWebhook, rcv.Take())
}

// limits runs the shared scenarios of the number's limits on b.
func (b *bundle) limits() simtest.Limits {
	return simtest.Limits{Client: b.Client, Clock: b.Clock, Counts: func() sim.Counts { return b.Sim.Stats().Counts }}
}

// flush pushes everything due and returns the events the receiver got.
func (b *bundle) flush(t *testing.T) []provider.Event {
	t.Helper()
	b.Sim.Flush()
	return events(t, b.hook)
}

var (
	text = simtest.Text
	perr = simtest.ProviderError
)

func TestAuth(t *testing.T) {
	t.Parallel()
	b := setup(t, waapisim.Options{})
	ok := "/whatsapp/message?session_id=" + sessionID + "&access_token=" + access
	msg := map[string]any{"chatId": phone, "message": "hi"}
	for _, tt := range []struct {
		name, path, auth string
		body             any
		want             int
	}{
		{"OK", ok, bearer, msg, 200},
		{"CredentialsInBodyOnly", "/whatsapp/message", bearer, map[string]any{"session_id": sessionID, "access_token": access, "chatId": phone, "message": "hi"}, 200},
		{"NoBearer", ok, "", msg, 401},
		{"WrongBearer", ok, "nope", msg, 401},
		{"WrongToken", "/whatsapp/message?session_id=" + sessionID + "&access_token=nope", bearer, msg, 401},
		{"WrongSession", "/whatsapp/message?session_id=nope&access_token=" + access, bearer, msg, 401},
		{"NoSession", "/whatsapp/message?access_token=" + access, bearer, msg, 401},
		{"BodyDisagreesWithQuery", ok, bearer, map[string]any{"access_token": "other", "chatId": phone, "message": "hi"}, 401},
	} {
		status, ans := b.raw(t, http.MethodPost, tt.path, tt.auth, tt.body)
		require.Equal(t, tt.want, status, tt.name)
		require.Equal(t, tt.want == 200, ans["status"], tt.name)
	}
	require.Equal(t, 6, b.Sim.Stats().Unauthorized)
	require.Equal(t, 2, b.Sim.Stats().Accepted)

	bad := waapi.New(waapi.Config{BaseURL: b.Srv.URL, SessionID: sessionID, AccessToken: "wrong", HTTPClient: b.Srv.Client()})
	_, err := bad.Send(context.Background(), phone, text("x"))
	require.Equal(t, provider.ClassHaltAccount, perr(t, err).Class)
	require.Equal(t, 401, perr(t, err).HTTPStatus)
}

func TestSendKinds(t *testing.T) {
	t.Parallel()
	b := setup(t, waapisim.Options{})
	ctx := context.Background()
	msgs := []templates.Message{
		text("Hello dear"),
		{Kind: templates.KindLocation, Location: &templates.Location{Latitude: 6.556452, Longitude: 3.2774487, Name: "Office"}},
		{Kind: templates.KindMedia, Media: &templates.Media{URL: "https://x.example/a.jpg", Type: "image", Caption: "Yo"}},
		{Kind: templates.KindButtons, Buttons: &templates.Buttons{Text: "Pick", Buttons: []templates.Button{{Type: "reply", Title: "A"}, {Type: "url", Title: "B", Payload: "https://b"}}}},
		{Kind: templates.KindList, List: &templates.List{Text: "Menu", Button: "Open", Sections: []templates.ListSection{{Title: "S", Rows: []templates.ListRow{{ID: "r1", Title: "R1"}}}}}},
	}
	var ids []string
	for _, m := range msgs {
		res, err := b.Client.Send(ctx, "+"+phone, m)
		require.NoError(t, err, m.Kind)
		require.NotEmpty(t, res.WAMID)
		ids = append(ids, res.WAMID)
	}
	sends := b.Sim.Sends()
	require.Len(t, sends, len(msgs))
	kinds := []string{"text", "location", "file", "button", "list"}
	for i, s := range sends {
		require.Equal(t, ids[i], s.ID)
		require.Equal(t, kinds[i], s.Kind)
		require.Equal(t, phone, s.Phone)
		require.Equal(t, sessionID, s.SessionID)
		require.Equal(t, b.Clock.Now(), s.At)
		require.NotContains(t, s.Fields, "access_token")
	}
	require.Equal(t, "Hello dear", sends[0].Text)
	require.Equal(t, "image", sends[2].MediaType)
	require.Equal(t, "https://x.example/a.jpg", sends[2].MediaURL)
	require.Equal(t, "image/jpeg", sends[2].MimeType)
	require.Equal(t, "Yo", sends[2].Text)
	require.Equal(t, 5, b.Sim.SendCount(phone))
	require.Zero(t, b.Sim.SendCount("111"))

	// The deprecated sendText answers as the doc shows.
	status, ans := b.raw(t, http.MethodPost, "/whatsapp/message/sendText", bearer,
		map[string]any{"session_id": sessionID, "access_token": access, "to": "2348179803743", "message": "Hello sir 3."})
	require.Equal(t, 200, status)
	last := b.Sim.Sends()[5]
	require.Equal(t, "true_2348179803743@c.us_"+last.ID, ans["data"])
	require.Equal(t, "sendText", last.Kind)

	// Refusals: invalid number and missing fields are 400s the driver fails.
	_, err := b.Client.Send(ctx, "12345", text("x"))
	require.Equal(t, provider.ClassPermanent, perr(t, err).Class)
	status, ans = b.raw(t, http.MethodPost, "/whatsapp/message?session_id="+sessionID+"&access_token="+access, bearer, map[string]any{"chatId": phone})
	require.Equal(t, 400, status)
	require.Equal(t, "message is required", ans["message"])
	require.Len(t, b.Sim.Sends(), 6)
}

func TestFail5xx(t *testing.T) {
	t.Parallel()
	b := setup(t, waapisim.Options{Knobs: sim.Knobs{Fail5xxRate: 1}})
	_, err := b.Client.Send(context.Background(), phone, text("x"))
	simtest.RequireUnavailable(t, err)
	require.Equal(t, 1, b.Sim.Stats().Rejected5xx)
	require.Empty(t, b.Sim.Sends())
}

func TestDropAfterAccept(t *testing.T) {
	t.Parallel()
	b := setup(t, waapisim.Options{Knobs: sim.Knobs{DropAfterAcceptRate: 1}})
	_, err := b.Client.Send(context.Background(), phone, text("x"))
	require.Equal(t, provider.ClassAmbiguous, perr(t, err).Class)
	require.Equal(t, 1, b.Sim.SendCount(phone))
	require.Equal(t, 1, b.Sim.Stats().Dropped)
	// The message went out: its sent status is still pushed.
	b.Sim.Flush()
	evs := events(t, b.hook)
	require.Len(t, evs, 1)
	require.Equal(t, b.Sim.Sends()[0].ID, evs[0].WAMID)
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	b := setup(t, waapisim.Options{Knobs: sim.Knobs{RatePerSecond: 2}})
	pe := b.limits().RateLimit(t, [3]string{"2340000000001", "2340000000002", "2340000000003"})
	require.Equal(t, 429, pe.HTTPStatus)
}

func TestPairInterval(t *testing.T) {
	t.Parallel()
	b := setup(t, waapisim.Options{Knobs: sim.Knobs{PairInterval: 6 * time.Second}})
	b.limits().PairInterval(t, phone, "2340000000009", 0)
}

func TestSubscriberLimit(t *testing.T) {
	t.Parallel()
	b := setup(t, waapisim.Options{Knobs: sim.Knobs{SubscriberLimit: 1}})
	b.limits().SubscriberLimit(t, phone, "2340000000009")
}

func TestStatusPushes(t *testing.T) {
	t.Parallel()
	b := setup(t, waapisim.Options{Knobs: sim.Knobs{DeliverAfter: 2 * time.Second, ReadAfter: 3 * time.Second, ReadShare: 1}})
	res, err := b.Client.Send(context.Background(), phone, text("x"))
	require.NoError(t, err)

	b.Sim.Flush()
	evs := events(t, b.hook)
	at := b.Clock.Now()
	require.Equal(t, []provider.Event{{WAMID: res.WAMID, Status: provider.StatusSent, Phone: phone, At: at, MatchByPhone: true}}, evs)

	b.Clock.Add(time.Second)
	require.Empty(t, b.flush(t), "nothing is due before DeliverAfter")
	b.Clock.Add(time.Second)
	require.Equal(t, []provider.Event{{WAMID: res.WAMID, Status: provider.StatusDelivered, Phone: phone, At: at.Add(2 * time.Second), MatchByPhone: true}}, b.flush(t))
	b.Clock.Add(3 * time.Second)
	require.Equal(t, []provider.Event{{WAMID: res.WAMID, Status: provider.StatusRead, Phone: phone, At: at.Add(5 * time.Second), MatchByPhone: true}}, b.flush(t))
	require.Zero(t, b.Sim.Pending())
	require.Equal(t, 3, b.Sim.Stats().Webhooks.Pushed)
	statuses := []string{}
	for _, p := range b.Sim.Pushes() {
		statuses = append(statuses, p.Status)
	}
	require.Equal(t, []string{"SERVER_ACK", "DELIVERY_ACK", "READ"}, statuses)
}

func TestFailShare(t *testing.T) {
	t.Parallel()
	b := setup(t, waapisim.Options{Knobs: sim.Knobs{FailShare: 1, ReadShare: 1}})
	res, err := b.Client.Send(context.Background(), phone, text("x"))
	require.NoError(t, err)
	b.Clock.Add(waapisim.DefaultDeliverAfter)
	evs := b.flush(t)
	require.Len(t, evs, 2)
	require.Equal(t, provider.StatusFailed, evs[1].Status)
	require.Equal(t, res.WAMID, evs[1].WAMID)
	require.Equal(t, "131026", evs[1].Code)
	require.Equal(t, "Message undeliverable.", evs[1].Reason)
	b.Clock.Add(time.Hour)
	require.Empty(t, b.flush(t), "a failed message is never read")
	require.Zero(t, b.Sim.Pending())
}

func TestWebhookDuplicates(t *testing.T) {
	t.Parallel()
	b := setup(t, waapisim.Options{WebhookDuplicateRate: 1})
	res, err := b.Client.Send(context.Background(), phone, text("x"))
	require.NoError(t, err)
	b.Clock.Add(waapisim.DefaultDeliverAfter)
	b.Sim.Flush()
	evs := events(t, b.hook)
	require.Len(t, evs, 4)
	for i, st := range []provider.Status{provider.StatusSent, provider.StatusSent, provider.StatusDelivered, provider.StatusDelivered} {
		require.Equal(t, st, evs[i].Status)
		require.Equal(t, res.WAMID, evs[i].WAMID)
	}
}

func TestWebhookReorder(t *testing.T) {
	t.Parallel()
	b := setup(t, waapisim.Options{WebhookReorder: true, Knobs: sim.Knobs{ReadShare: 1}})
	_, err := b.Client.Send(context.Background(), phone, text("x"))
	require.NoError(t, err)
	require.Empty(t, b.flush(t), "sent is held back until delivered is pushed")
	b.Clock.Add(waapisim.DefaultDeliverAfter)
	var got []provider.Status
	for _, ev := range b.flush(t) {
		got = append(got, ev.Status)
	}
	require.Equal(t, []provider.Status{provider.StatusDelivered, provider.StatusSent, provider.StatusRead}, got)
}

func TestWebhookEarly(t *testing.T) {
	t.Parallel()
	b := setup(t, waapisim.Options{WebhookEarly: true})
	var answered atomic.Bool
	var beforeAnswer atomic.Int32
	b.hook.SetFail(func(int) int {
		if !answered.Load() {
			beforeAnswer.Add(1)
		}
		return 0
	})
	res, err := b.Client.Send(context.Background(), phone, text("x"))
	answered.Store(true)
	require.NoError(t, err)
	require.Equal(t, int32(1), beforeAnswer.Load(), "the sent push arrives before the answer")
	evs := events(t, b.hook)
	require.Len(t, evs, 1)
	require.Equal(t, res.WAMID, evs[0].WAMID)
	require.Equal(t, provider.StatusSent, evs[0].Status)
	require.Empty(t, b.flush(t), "the early push is not pushed again")
	require.Equal(t, 1, b.Sim.Stats().Webhooks.Pushed)
}

func TestWebhookRetries(t *testing.T) {
	t.Parallel()
	b := setup(t, waapisim.Options{WebhookRetries: 2})
	b.hook.SetFail(func(n int) int {
		if n <= 2 {
			return http.StatusInternalServerError
		}
		return 0
	})
	_, err := b.Client.Send(context.Background(), phone, text("x"))
	require.NoError(t, err)
	b.Sim.Flush()
	st := b.Sim.Stats()
	require.Equal(t, 1, st.Webhooks.Pushed)
	require.Equal(t, 2, st.Webhooks.Retries)
	require.Zero(t, st.Webhooks.Failed)
	require.Len(t, events(t, b.hook), 1)

	// A receiver that always fails: the push is dropped after the retries.
	b.hook.SetFail(func(int) int { return http.StatusBadGateway })
	b.Clock.Add(waapisim.DefaultDeliverAfter)
	b.Sim.Flush()
	st = b.Sim.Stats()
	require.Equal(t, 1, st.Webhooks.Failed)
	require.Equal(t, 4, st.Webhooks.Retries)
	require.Equal(t, 1, st.Webhooks.Pushed)
}

func TestSetWebhook(t *testing.T) {
	t.Parallel()
	b := setup(t, waapisim.Options{})
	other := simtest.NewReceiver(t)
	status, ans := b.raw(t, http.MethodPut, "/whatsapp/setWebhook", bearer, map[string]any{
		"session_id": sessionID, "access_token": access, "webhook_url": other.URL,
		"events": []string{"onMessage", "onAnyMessage"}, "requestConfig": map[string]any{},
	})
	require.Equal(t, 200, status)
	require.Equal(t, true, ans["status"])
	cfg, ok := b.Sim.Webhook(sessionID)
	require.True(t, ok)
	require.Equal(t, waapisim.WebhookConfig{URL: other.URL, Events: []string{"onMessage", "onAnyMessage"}}, cfg)

	status, _ = b.raw(t, http.MethodPut, "/whatsapp/setWebhook", "wrong", map[string]any{"session_id": sessionID, "access_token": access, "webhook_url": "http://x"})
	require.Equal(t, 401, status)

	res, err := b.Client.Send(context.Background(), phone, text("x"))
	require.NoError(t, err)
	b.Sim.Flush()
	require.Empty(t, events(t, b.hook), "pushes go to the URL set by setWebhook")
	evs := events(t, other)
	require.Len(t, evs, 1)
	require.Equal(t, res.WAMID, evs[0].WAMID)
}

func TestReply(t *testing.T) {
	t.Parallel()
	b := setup(t, waapisim.Options{})
	id := b.Sim.Reply(phone, "STOP")
	evs := b.flush(t)
	require.Equal(t, []provider.Event{{WAMID: id, Inbound: true, Phone: phone, Text: "STOP", At: b.Clock.Now()}}, evs)
	require.Equal(t, 1, b.Sim.Stats().Replies)
}

func TestDeterministic(t *testing.T) {
	t.Parallel()
	type outcome struct{ outcomes, pushes []string }
	got := simtest.Twice(t, func() outcome {
		b := setup(t, waapisim.Options{Knobs: sim.Knobs{Seed: 42, FailShare: 0.3, ReadShare: 0.5, Fail5xxRate: 0.2}, WebhookDuplicateRate: 0.3})
		var outcomes []string
		for i := range 20 {
			res, err := b.Client.Send(context.Background(), fmt.Sprintf("23400000000%02d", i%10), text("x"))
			if err != nil {
				outcomes = append(outcomes, "err:"+perr(t, err).Class.String())
				continue
			}
			outcomes = append(outcomes, res.WAMID)
		}
		b.Clock.Add(time.Minute)
		b.Sim.Flush()
		var pushes []string
		for _, p := range b.Sim.Pushes() {
			pushes = append(pushes, p.ID+"/"+p.Status)
		}
		return outcome{outcomes, pushes}
	})
	o1, p1 := got.outcomes, got.pushes
	require.Contains(t, o1, "err:transient", "some sends hit the 503 knob")
	statuses := map[string]int{}
	for _, p := range p1 {
		_, st, _ := strings.Cut(p, "/")
		statuses[st]++
	}
	require.Positive(t, statuses["READ"], "%v", p1)
	require.Positive(t, statuses["ERROR"], "%v", p1)
	require.Positive(t, statuses["DELIVERY_ACK"], "%v", p1)
	require.Greater(t, len(p1), statuses["READ"]+statuses["ERROR"]+statuses["DELIVERY_ACK"]+14, "duplicates and sent pushes: %v", p1)
}

func TestLatency(t *testing.T) {
	t.Parallel()
	b := setup(t, waapisim.Options{Knobs: sim.Knobs{Latency: time.Minute}})
	// The deadline passes once the request has reached the simulator (a
	// signal, not a short timeout a loaded machine may spend before the
	// request is written).
	ctx, h := simtest.ExpireOnArrival(t, b.Sim)
	_, err := client(simtest.Serve(t, h)).Send(ctx, phone, text("x"))
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Equal(t, provider.ClassAmbiguous, perr(t, err).Class)
	require.Empty(t, b.Sim.Sends(), "the client gave up during the latency: nothing is accepted")

	b.Sim.SetOptions(func(o *waapisim.Options) { o.Latency = 30 * time.Millisecond })
	start := time.Now()
	_, err = b.Client.Send(context.Background(), phone, text("x"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, time.Since(start), 30*time.Millisecond)
}

// serveRealTime serves a simulator with opts on the real clock and
// returns it with a driver of session "s" that uses token.
func serveRealTime(t *testing.T, opts waapisim.Options, token string) (*waapisim.Server, *waapi.Client) {
	t.Helper()
	sim := waapisim.New(opts)
	srv := simtest.Serve(t, sim, sim.Close)
	return sim, waapi.New(waapi.Config{BaseURL: srv.URL, SessionID: "s", AccessToken: token, HTTPClient: srv.Client()})
}

func TestRealTimePushes(t *testing.T) {
	t.Parallel()
	hook := simtest.NewReceiver(t)
	_, c := serveRealTime(t, waapisim.Options{WebhookURL: hook.URL, Knobs: sim.Knobs{DeliverAfter: 20 * time.Millisecond, ReadShare: 1}}, "a")
	res, err := c.Send(context.Background(), phone, text("x"))
	require.NoError(t, err)
	var got []provider.Status
	deadline := time.Now().Add(10 * time.Second)
	for len(got) < 3 {
		body, ok := hook.Next(time.Until(deadline))
		require.True(t, ok, "pushes did not arrive in real time: %v", got)
		for _, ev := range simtest.Events(t, waapi.ParseWebhook, [][]byte{body}) {
			require.Equal(t, res.WAMID, ev.WAMID)
			got = append(got, ev.Status)
		}
	}
	require.Equal(t, []provider.Status{provider.StatusSent, provider.StatusDelivered, provider.StatusRead}, got)
}

func TestClose(t *testing.T) {
	t.Parallel()
	b := setup(t, waapisim.Options{Knobs: sim.Knobs{DeliverAfter: time.Hour}})
	_, err := b.Client.Send(context.Background(), phone, text("x"))
	require.NoError(t, err)
	b.Sim.Flush()
	require.Equal(t, 1, b.Sim.Pending())
	b.Sim.Close()
	b.Sim.Close() // idempotent
	b.Clock.Add(2 * time.Hour)
	require.Zero(t, b.Sim.Flush(), "nothing is pushed after Close")
}

// TestConcurrentLoadRealTime sends 300 messages from 20 goroutines with
// every webhook fault on and the real clock: every accepted message gets a
// terminal status pushed, promptly.
func TestConcurrentLoadRealTime(t *testing.T) {
	t.Parallel()
	hook := simtest.NewReceiver(t)
	sim, c := serveRealTime(t, waapisim.Options{BearerTokens: []string{"tok"}, Sessions: []waapisim.Session{{ID: "s", AccessToken: "tok"}},
		Knobs: sim.Knobs{Latency: 2 * time.Millisecond, DeliverAfter: 100 * time.Millisecond, ReadAfter: 100 * time.Millisecond, ReadShare: 0.5, FailShare: 0.05, Seed: 7}, WebhookURL: hook.URL, WebhookDuplicateRate: 0.2, WebhookReorder: true, WebhookEarly: true}, "tok")
	const n = 300
	ids := make(chan string, n)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 20 {
				res, err := c.Send(context.Background(), fmt.Sprintf("4915100%06d", i), text("x"))
				if err == nil {
					ids <- res.WAMID
				}
			}
		}()
	}
	wg.Wait()
	close(ids)
	want := map[string]bool{}
	for id := range ids {
		want[id] = true
	}
	require.Len(t, want, n)
	terminal := map[string]bool{}
	deadline := start.Add(20 * time.Second)
	for len(terminal) < n {
		b, ok := hook.Next(time.Until(deadline))
		if !ok {
			t.Fatalf("only %d of %d messages terminal after %v; stats %+v", len(terminal), n, time.Since(start), sim.Stats())
		}
		for _, ev := range simtest.Events(t, waapi.ParseWebhook, [][]byte{b}) {
			require.True(t, want[ev.WAMID], ev.WAMID)
			if ev.Status == provider.StatusDelivered || ev.Status == provider.StatusFailed || ev.Status == provider.StatusRead {
				terminal[ev.WAMID] = true
			}
		}
	}
	t.Logf("all terminal after %v; stats %+v", time.Since(start), sim.Stats())
}
