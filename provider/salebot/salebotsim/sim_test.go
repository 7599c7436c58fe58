package salebotsim_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/provider"
	"github.com/wacamp/wacamp/provider/salebot"
	"github.com/wacamp/wacamp/provider/salebot/salebotsim"
	"github.com/wacamp/wacamp/provider/sim"
	"github.com/wacamp/wacamp/provider/sim/simtest"
)

const key = "b551e18c8b8e86bea6f14f38de3f5cc3c31ba1edb4d8"

// events parses every push rc acknowledged with the driver's ParseWebhook.
func events(t *testing.T, rc *simtest.Receiver) []provider.Event {
	t.Helper()
	return simtest.Events(t, salebot.ParseWebhook, rc.Acked())
}

// start serves sim and closes both at the end of the test.
func start(t *testing.T, sim *salebotsim.Server) *httptest.Server {
	t.Helper()
	return simtest.Serve(t, sim, sim.Close)
}

// call makes one request with a JSON body (none when nil) and returns the
// status and the decoded answer.
func call(t *testing.T, srv *httptest.Server, method, path string, body any) (int, map[string]any) {
	t.Helper()
	return simtest.Call(t, srv, method, path, nil, body)
}

var newClock = simtest.NewClock

func msg(phone, text string) map[string]any {
	return map[string]any{"phone": phone, "message": text, "whatsapp_bot_id": 34810}
}

func TestAuth(t *testing.T) {
	t.Parallel()
	sim := salebotsim.New(salebotsim.Options{APIKeys: []string{key}})
	srv := start(t, sim)

	st, ans := call(t, srv, http.MethodPost, "/api/wrong-key/whatsapp_message", msg("79875146788", "hi"))
	require.Equal(t, http.StatusNotFound, st)
	require.Equal(t, map[string]any{"status": "error", "error": "api key not found"}, ans)

	st, ans = call(t, srv, http.MethodPost, "/api/"+key+"/whatsapp_message", msg("79875146788", "hi"))
	require.Equal(t, http.StatusOK, st)
	require.Equal(t, map[string]any{"status": "success"}, ans)

	// Without the /api prefix too.
	st, _ = call(t, srv, http.MethodPost, "/"+key+"/whatsapp_message", msg("79875146788", "hi"))
	require.Equal(t, http.StatusOK, st)

	st, _ = call(t, srv, http.MethodPost, "/api/"+key+"/no_such_method", msg("79875146788", "hi"))
	require.Equal(t, http.StatusNotFound, st)
	st, _ = call(t, srv, http.MethodDelete, "/api/"+key+"/whatsapp_message", nil)
	require.Equal(t, http.StatusMethodNotAllowed, st)

	require.Equal(t, 2, sim.Stats().Accepted)
	require.Equal(t, 1, sim.Stats().Unauthorized)

	// No key list: any key.
	open := start(t, salebotsim.New(salebotsim.Options{}))
	st, _ = call(t, open, http.MethodPost, "/api/anything/whatsapp_message", msg("79875146788", "hi"))
	require.Equal(t, http.StatusOK, st)
}

func TestRequests(t *testing.T) {
	t.Parallel()
	sim := salebotsim.New(salebotsim.Options{WhatsAppBotIDs: []int64{34810}})
	srv := start(t, sim)
	base := "/api/" + key + "/"

	bad := map[string]map[string]any{
		"phone is required":                {"message": "x", "whatsapp_bot_id": 34810},
		"message is required":              {"phone": "79875146788", "whatsapp_bot_id": 34810},
		"invalid phone number":             {"phone": "7987abc", "message": "x"},
		"whatsapp bot not found":           {"phone": "79875146788", "message": "x", "whatsapp_bot_id": 1},
		"invalid attachment_type":          {"phone": "79875146788", "attachment_url": "https://e.x/a", "attachment_type": "pdf"},
		"invalid buttons: no buttons":      {"phone": "79875146788", "message": "x", "buttons": map[string]any{"hint": "h"}},
		"whatsapp_bot_id must be a number": {"phone": "79875146788", "message": "x", "whatsapp_bot_id": "abc"},
	}
	for want, body := range bad {
		st, ans := call(t, srv, http.MethodPost, base+"whatsapp_message", body)
		require.Equal(t, http.StatusBadRequest, st, want)
		require.Equal(t, "error", ans["status"], want)
		require.Equal(t, want, ans["error"])
	}
	require.Equal(t, len(bad), sim.Stats().BadRequests)
	require.Empty(t, sim.Sends())

	// Media without message, buttons in the doc's format.
	st, _ := call(t, srv, http.MethodPost, base+"whatsapp_message", map[string]any{
		"phone": "+7 987 514-67-88", "whatsapp_bot_id": 34810,
		"attachment_type": "file", "attachment_url": "https://example.com/a.pdf",
	})
	require.Equal(t, http.StatusOK, st)
	st, _ = call(t, srv, http.MethodPost, base+"whatsapp_message", map[string]any{
		"phone": "79875146788", "message": "Pick", "whatsapp_bot_id": 34810,
		"buttons": map[string]any{"hint": "This text will be shown in Whatsapp", "buttons": []map[string]any{
			{"type": "reply", "text": "Payment info", "line": 0, "index_in_line": 1},
		}},
	})
	require.Equal(t, http.StatusOK, st)
	// Bot launch, by client_phone.
	st, _ = call(t, srv, http.MethodPost, base+"whatsapp_callback", map[string]any{"client_phone": "79875146788", "message": "start"})
	require.Equal(t, http.StatusOK, st)

	// GET with query parameters and a value_ redirection.
	q := url.Values{"value_phone": {"tel"}, "tel": {"79990001122"}, "message": {"via GET"}, "whatsapp_bot_id": {"34810"}}
	st, _ = call(t, srv, http.MethodGet, base+"whatsapp_message?"+q.Encode(), nil)
	require.Equal(t, http.StatusOK, st)

	// POST form.
	resp, err := srv.Client().PostForm(srv.URL+base+"whatsapp_message", url.Values{"phone": {"79990001122"}, "message": {"form"}})
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusOK, resp.StatusCode)

	sends := sim.Sends()
	require.Len(t, sends, 5)
	require.Equal(t, "79875146788", sends[0].Phone)
	require.Equal(t, "file", sends[0].AttachmentType)
	require.Equal(t, "https://example.com/a.pdf", sends[0].AttachmentURL)
	require.Empty(t, sends[0].Text)
	require.Equal(t, "This text will be shown in Whatsapp", sends[1].Hint)
	require.Equal(t, []salebotsim.Button{{Type: "reply", Text: "Payment info", IndexInLine: 1}}, sends[1].Buttons)
	require.Equal(t, "whatsapp_callback", sends[2].Kind)
	require.Equal(t, "start", sends[2].Text)
	require.Equal(t, "79990001122", sends[3].Phone)
	require.Equal(t, "via GET", sends[3].Text)
	require.Equal(t, int64(34810), sends[3].WhatsAppBotID)
	require.Equal(t, "form", sends[4].Text)
	require.Equal(t, 3, sim.SendCount("79875146788"))
	require.Equal(t, sends[0].ClientID, sends[2].ClientID, "one client per phone")
	require.NotEqual(t, sends[0].ClientID, sends[3].ClientID)
	for i := 1; i < len(sends); i++ {
		require.Equal(t, sends[i-1].ID+1, sends[i].ID)
		require.Equal(t, strconv.FormatInt(sends[i].ID, 10), sends[i].WAMID)
	}

	// message by client_id.
	st, _ = call(t, srv, http.MethodPost, base+"message", map[string]any{"client_id": sends[0].ClientID, "message": "by id"})
	require.Equal(t, http.StatusOK, st)
	st, ans := call(t, srv, http.MethodPost, base+"message", map[string]any{"client_id": 1, "message": "x"})
	require.Equal(t, http.StatusBadRequest, st)
	require.Equal(t, "client not found", ans["error"])
	require.Equal(t, 4, sim.SendCount("79875146788"))

	// Several channels: whatsapp_bot_id is required.
	sim.SetOptions(func(o *salebotsim.Options) { o.WhatsAppBotIDs = []int64{1, 2} })
	st, ans = call(t, srv, http.MethodPost, base+"whatsapp_message", map[string]any{"phone": "79875146788", "message": "x"})
	require.Equal(t, http.StatusBadRequest, st)
	require.Equal(t, "whatsapp_bot_id is required", ans["error"])
}

func TestFaults(t *testing.T) {
	t.Parallel()
	path := "/api/" + key + "/whatsapp_message"

	// faulty serves a simulator with knobs and posts it one message; it
	// returns the simulator and the raw answer (or the client's error).
	faulty := func(t *testing.T, knobs sim.Knobs) (*salebotsim.Server, *http.Response, error) {
		sim := salebotsim.New(salebotsim.Options{Knobs: knobs})
		srv := start(t, sim)
		resp, err := srv.Client().Post(srv.URL+path, "application/json", strings.NewReader(`{"phone":"79875146788","message":"x"}`))
		return sim, resp, err
	}

	t.Run("Fail5xx", func(t *testing.T) {
		t.Parallel()
		sim, resp, err := faulty(t, sim.Knobs{Fail5xxRate: 1})
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
		require.Equal(t, "1", resp.Header.Get("Retry-After"))
		require.Empty(t, sim.Sends())
		require.Equal(t, 1, sim.Stats().Rejected5xx)
	})

	t.Run("DropAfterAccept", func(t *testing.T) {
		t.Parallel()
		sim, _, err := faulty(t, sim.Knobs{DropAfterAcceptRate: 1})
		require.Error(t, err)
		require.Len(t, sim.Sends(), 1)
		require.Equal(t, 1, sim.Stats().Dropped)
	})

	t.Run("RatePerSecond", func(t *testing.T) {
		t.Parallel()
		clk := newClock()
		sim := salebotsim.New(salebotsim.Options{Knobs: sim.Knobs{RatePerSecond: 2, Now: clk.Now}})
		srv := start(t, sim)
		for i := range 2 {
			st, _ := call(t, srv, http.MethodPost, path, msg("7987514678"+strconv.Itoa(i), "x"))
			require.Equal(t, http.StatusOK, st)
		}
		st, ans := call(t, srv, http.MethodPost, path, msg("79875146780", "x"))
		require.Equal(t, http.StatusTooManyRequests, st)
		require.Equal(t, "error", ans["status"])
		require.Contains(t, ans["error"], "(#130429)")
		// Another key has its own bucket.
		st, _ = call(t, srv, http.MethodPost, "/api/other/whatsapp_message", msg("79875146780", "x"))
		require.Equal(t, http.StatusOK, st)
		clk.Add(500 * time.Millisecond)
		st, _ = call(t, srv, http.MethodPost, path, msg("79875146780", "x"))
		require.Equal(t, http.StatusOK, st)
		require.Equal(t, 1, sim.Stats().RateLimited)
	})

	t.Run("PairInterval", func(t *testing.T) {
		t.Parallel()
		clk := newClock()
		sim := salebotsim.New(salebotsim.Options{Knobs: sim.Knobs{PairInterval: 6 * time.Second, Now: clk.Now}})
		srv := start(t, sim)
		st, _ := call(t, srv, http.MethodPost, path, msg("79875146788", "1"))
		require.Equal(t, http.StatusOK, st)
		clk.Add(5 * time.Second)
		st, ans := call(t, srv, http.MethodPost, path, msg("79875146788", "2"))
		require.Equal(t, http.StatusTooManyRequests, st)
		require.Contains(t, ans["error"], "(#131056)")
		st, _ = call(t, srv, http.MethodPost, path, msg("79875146789", "other phone"))
		require.Equal(t, http.StatusOK, st)
		clk.Add(time.Second)
		st, _ = call(t, srv, http.MethodPost, path, msg("79875146788", "3"))
		require.Equal(t, http.StatusOK, st)
		require.Equal(t, 1, sim.Stats().PairLimited)
	})

	t.Run("SubscriberLimit", func(t *testing.T) {
		t.Parallel()
		sim := salebotsim.New(salebotsim.Options{Knobs: sim.Knobs{SubscriberLimit: 1}})
		srv := start(t, sim)
		st, _ := call(t, srv, http.MethodPost, path, msg("79875146788", "1"))
		require.Equal(t, http.StatusOK, st)
		st, ans := call(t, srv, http.MethodPost, path, msg("79875146789", "new"))
		require.Equal(t, http.StatusBadRequest, st)
		require.Contains(t, ans["error"], "Subscriber limit has been exceeded")
		st, _ = call(t, srv, http.MethodPost, path, msg("79875146788", "known"))
		require.Equal(t, http.StatusOK, st)
		require.Equal(t, 1, sim.Stats().SubscriberLimited)
	})

	t.Run("LatencyHonoursClientCancel", func(t *testing.T) {
		t.Parallel()
		sim := salebotsim.New(salebotsim.Options{Knobs: sim.Knobs{Latency: time.Hour}})
		srv := start(t, sim)
		ctx, cancel := context.WithCancel(context.Background())
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+path, strings.NewReader(`{"phone":"79875146788","message":"x"}`))
		require.NoError(t, err)
		done := make(chan error, 1)
		go func() {
			resp, err := srv.Client().Do(req)
			if err == nil {
				_ = resp.Body.Close()
			}
			done <- err
		}()
		cancel()
		require.ErrorIs(t, <-done, context.Canceled)
		require.Empty(t, sim.Sends())
	})
}

func TestWebhookPushes(t *testing.T) {
	t.Parallel()
	path := "/api/" + key + "/whatsapp_message"

	t.Run("DeliveredAfterDeliverAfter", func(t *testing.T) {
		t.Parallel()
		clk, rc := newClock(), simtest.NewReceiver(t)
		sim := salebotsim.New(salebotsim.Options{WebhookURL: rc.URL, Knobs: sim.Knobs{DeliverAfter: 2 * time.Second, Now: clk.Now}, ProjectID: 9, ManualPushes: true})
		srv := start(t, sim)
		st, _ := call(t, srv, http.MethodPost, path, map[string]any{"phone": "79875146788", "message": "Hello",
			"attachment_type": "image", "attachment_url": "https://example.com/a.jpg", "whatsapp_bot_id": 34810})
		require.Equal(t, http.StatusOK, st)
		require.Equal(t, 1, sim.Pending())
		require.Zero(t, sim.DeliverDue(clk.Add(time.Second)))
		require.Empty(t, rc.Acked())
		require.Equal(t, 1, sim.DeliverDue(clk.Add(time.Second)))
		require.Len(t, rc.Acked(), 1)

		var wh map[string]any
		require.NoError(t, json.Unmarshal(rc.Acked()[0], &wh))
		for _, f := range []string{"id", "client", "message", "attachments", "message_id", "project_id", "is_input", "delivered", "error_message"} {
			require.Contains(t, wh, f)
		}
		cl := wh["client"].(map[string]any)
		for _, f := range []string{"id", "recepient", "client_type", "name", "avatar", "created_at", "tag", "group"} {
			require.Contains(t, cl, f)
		}
		require.Equal(t, float64(6), cl["client_type"])
		require.Equal(t, "34810", cl["group"])
		require.Equal(t, float64(9), wh["project_id"])
		require.Equal(t, []any{"https://example.com/a.jpg"}, wh["attachments"])

		snd := sim.Sends()[0]
		require.Equal(t, []provider.Event{{WAMID: snd.WAMID, Status: provider.StatusDelivered, Phone: "79875146788",
			Text: "Hello", Media: "https://example.com/a.jpg", MatchByPhone: true}}, events(t, rc))
		require.Equal(t, 1, sim.Stats().Webhooks.Pushed)
	})

	t.Run("FailShare", func(t *testing.T) {
		t.Parallel()
		rc := simtest.NewReceiver(t)
		sim := salebotsim.New(salebotsim.Options{WebhookURL: rc.URL, Knobs: sim.Knobs{FailShare: 1}, RecepientSuffix: "@c.us"})
		srv := start(t, sim)
		call(t, srv, http.MethodPost, path, msg("79875146788", "x"))
		require.Equal(t, 1, sim.Flush())
		evs := events(t, rc)
		require.Len(t, evs, 1)
		require.Equal(t, provider.StatusFailed, evs[0].Status)
		require.Equal(t, "131026", evs[0].Code)
		require.Equal(t, salebotsim.MsgUndeliverable, evs[0].Reason)
		require.Equal(t, "79875146788", evs[0].Phone)
		require.True(t, sim.Sends()[0].Failed)
	})

	t.Run("Duplicates", func(t *testing.T) {
		t.Parallel()
		rc := simtest.NewReceiver(t)
		sim := salebotsim.New(salebotsim.Options{WebhookURL: rc.URL, WebhookDuplicateRate: 1})
		srv := start(t, sim)
		call(t, srv, http.MethodPost, path, msg("79875146788", "x"))
		sim.Flush()
		got := rc.Acked()
		require.Len(t, got, 2)
		require.Equal(t, got[0], got[1])
		require.Equal(t, 1, sim.Stats().Webhooks.Duplicates)
		require.Equal(t, 2, sim.Stats().Webhooks.Pushed)
	})

	t.Run("Reorder", func(t *testing.T) {
		t.Parallel()
		clk, rc := newClock(), simtest.NewReceiver(t)
		sim := salebotsim.New(salebotsim.Options{WebhookURL: rc.URL, WebhookReorder: true, Knobs: sim.Knobs{Now: clk.Now}, ManualPushes: true})
		srv := start(t, sim)
		call(t, srv, http.MethodPost, path, msg("79875146788", "first"))
		clk.Add(100 * time.Millisecond)
		call(t, srv, http.MethodPost, path, msg("79875146799", "other phone"))
		clk.Add(100 * time.Millisecond)
		call(t, srv, http.MethodPost, path, msg("79875146788", "second"))
		// At the first message's due time, the second's report goes out.
		require.Equal(t, 1, sim.DeliverDue(clk.Add(800*time.Millisecond)))
		require.Equal(t, "second", events(t, rc)[0].Text)
		sim.Flush()
		var texts []string
		for _, ev := range events(t, rc) {
			texts = append(texts, ev.Text)
		}
		require.Equal(t, []string{"second", "other phone", "first"}, texts)
	})

	t.Run("Early", func(t *testing.T) {
		t.Parallel()
		rc := simtest.NewReceiver(t)
		sim := salebotsim.New(salebotsim.Options{WebhookURL: rc.URL, WebhookEarly: true, Knobs: sim.Knobs{DeliverAfter: time.Hour}})
		srv := start(t, sim)
		st, _ := call(t, srv, http.MethodPost, path, msg("79875146788", "x"))
		require.Equal(t, http.StatusOK, st)
		// The push was made before the answer: it is there already.
		require.Len(t, rc.Acked(), 1)
		require.Zero(t, sim.Pending())
	})

	t.Run("RetriedThenDelivered", func(t *testing.T) {
		t.Parallel()
		rc := simtest.NewReceiver(t)
		rc.FailFirst(2)
		sim := salebotsim.New(salebotsim.Options{WebhookURL: rc.URL, WebhookBackoff: time.Millisecond})
		srv := start(t, sim)
		call(t, srv, http.MethodPost, path, msg("79875146788", "x"))
		sim.Flush()
		require.Len(t, rc.Acked(), 1)
		st := sim.Stats()
		require.Equal(t, 2, st.Webhooks.Retries)
		require.Equal(t, 1, st.Webhooks.Pushed)
		require.Zero(t, st.Webhooks.Failed)
	})

	t.Run("DroppedAfterRetries", func(t *testing.T) {
		t.Parallel()
		rc := simtest.NewReceiver(t)
		rc.FailFirst(100)
		sim := salebotsim.New(salebotsim.Options{WebhookURL: rc.URL, WebhookRetries: 1, WebhookBackoff: time.Millisecond})
		srv := start(t, sim)
		call(t, srv, http.MethodPost, path, msg("79875146788", "x"))
		sim.Flush()
		require.Empty(t, rc.Acked())
		st := sim.Stats()
		require.Equal(t, 1, st.Webhooks.Retries)
		require.Equal(t, 1, st.Webhooks.Failed)
	})

	t.Run("RealClockAndReply", func(t *testing.T) {
		t.Parallel()
		rc := simtest.NewReceiver(t)
		sim := salebotsim.New(salebotsim.Options{WebhookURL: rc.URL, Knobs: sim.Knobs{DeliverAfter: 10 * time.Millisecond}})
		srv := start(t, sim)
		call(t, srv, http.MethodPost, path, msg("79875146788", "x"))
		b, ok := rc.Next(10 * time.Second)
		require.True(t, ok, "no push arrived")
		evs, err := salebot.ParseWebhook(b)
		require.NoError(t, err)
		require.Equal(t, provider.StatusDelivered, evs[0].Status)
		id := sim.Reply("79875146788", "STOP")
		b, ok = rc.Next(10 * time.Second)
		require.True(t, ok, "no reply pushed")
		evs, err = salebot.ParseWebhook(b)
		require.NoError(t, err)
		require.Equal(t, []provider.Event{{WAMID: id, Phone: "79875146788", Inbound: true, Text: "STOP"}}, evs)
	})

	t.Run("NoWebhookURLNoPushes", func(t *testing.T) {
		t.Parallel()
		sim := salebotsim.New(salebotsim.Options{})
		srv := start(t, sim)
		call(t, srv, http.MethodPost, path, msg("79875146788", "x"))
		require.Zero(t, sim.Pending())
		require.Zero(t, sim.Flush())
	})

	t.Run("CloseDropsPending", func(t *testing.T) {
		t.Parallel()
		rc := simtest.NewReceiver(t)
		sim := salebotsim.New(salebotsim.Options{WebhookURL: rc.URL, Knobs: sim.Knobs{DeliverAfter: time.Hour}})
		srv := start(t, sim)
		call(t, srv, http.MethodPost, path, msg("79875146788", "x"))
		require.Equal(t, 1, sim.Pending())
		sim.Close()
		require.Zero(t, sim.Flush())
		require.Empty(t, rc.Acked())
	})
}

func TestDeterministicBySeed(t *testing.T) {
	t.Parallel()
	run := func(seed int64) []bool {
		sim := salebotsim.New(salebotsim.Options{Knobs: sim.Knobs{Seed: seed, FailShare: 0.5}})
		srv := start(t, sim)
		for i := range 32 {
			st, _ := call(t, srv, http.MethodPost, "/api/"+key+"/whatsapp_message", msg("7987514"+strconv.Itoa(1000+i), "x"))
			require.Equal(t, http.StatusOK, st)
		}
		var out []bool
		for _, s := range sim.Sends() {
			out = append(out, s.Failed)
		}
		return out
	}
	a := simtest.Twice(t, func() []bool { return run(7) })
	require.NotEqual(t, a, run(8))
	require.Contains(t, a, true)
	require.Contains(t, a, false)
}
