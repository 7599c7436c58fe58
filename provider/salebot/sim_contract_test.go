package salebot

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/internal/testclock"
	"github.com/wacamp/wacamp/provider"
	"github.com/wacamp/wacamp/provider/salebot/salebotsim"
	"github.com/wacamp/wacamp/provider/sim"
	"github.com/wacamp/wacamp/templates"
)

// simClient starts sim and returns a driver for it (BaseURL with /api like
// the real one).
func simClient(t *testing.T, opts salebotsim.Options) (*Client, *salebotsim.Server) {
	t.Helper()
	if opts.APIKeys == nil {
		opts.APIKeys = []string{testKey}
	}
	if opts.WhatsAppBotIDs == nil {
		opts.WhatsAppBotIDs = []int64{testBotID}
	}
	sim := salebotsim.New(opts)
	srv := httptest.NewServer(sim)
	t.Cleanup(func() {
		srv.Close()
		sim.Close()
	})
	return New(Config{BaseURL: srv.URL + "/api", APIKey: testKey, WhatsAppBotID: testBotID, HTTPClient: srv.Client()}), sim
}

func TestSendAgainstSimulator(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("HappyPath", func(t *testing.T) {
		t.Parallel()
		c, sim := simClient(t, salebotsim.Options{})
		msgs := []templates.Message{
			textMessage,
			{Kind: templates.KindMedia, Media: &templates.Media{URL: "https://example.com/a.pdf", Type: "document", Caption: "Invoice"}},
			{Kind: templates.KindButtons, Buttons: &templates.Buttons{Text: "Pick", Buttons: []templates.Button{
				{Type: "reply", Title: "Yes"}, {Type: "reply", Title: "No"}}}},
			{Kind: templates.KindBotFlow, BotFlow: "start_promo"},
		}
		for _, m := range msgs {
			res, err := c.Send(ctx, "+79875146788", m)
			require.NoError(t, err, m.Kind)
			require.Empty(t, res.WAMID)
		}
		sends := sim.Sends()
		require.Len(t, sends, 4)
		require.Equal(t, "some_text", sends[0].Text)
		require.Equal(t, "whatsapp_message", sends[0].Kind)
		require.Equal(t, int64(testBotID), sends[0].WhatsAppBotID)
		require.Equal(t, "file", sends[1].AttachmentType)
		require.Equal(t, "Invoice", sends[1].Text)
		require.Equal(t, []salebotsim.Button{{Type: "reply", Text: "Yes"}, {Type: "reply", Text: "No", IndexInLine: 1}}, sends[2].Buttons)
		require.Equal(t, "Pick\n1. Yes\n2. No", sends[2].Hint)
		require.Equal(t, "whatsapp_callback", sends[3].Kind)
		require.Equal(t, "start_promo", sends[3].Text)
		require.Equal(t, 4, sim.SendCount("79875146788"))
	})

	faults := []struct {
		name  string
		opts  salebotsim.Options
		prime int // accepted sends before the one that fails
		class provider.Class
		code  string
		http  int
	}{
		{name: "Fail5xx", opts: salebotsim.Options{Knobs: sim.Knobs{Fail5xxRate: 1}}, class: provider.ClassTransient, http: 503},
		{name: "DropAfterAccept", opts: salebotsim.Options{Knobs: sim.Knobs{DropAfterAcceptRate: 1}}, class: provider.ClassAmbiguous},
		{name: "RateLimit", opts: salebotsim.Options{Knobs: sim.Knobs{RatePerSecond: 1}}, prime: 1, class: provider.ClassTransient, code: "130429", http: 429},
		{name: "PairRate", opts: salebotsim.Options{Knobs: sim.Knobs{PairInterval: time.Hour}}, prime: 1, class: provider.ClassTransient, code: "131056", http: 429},
		{name: "UnknownKey", opts: salebotsim.Options{APIKeys: []string{"another"}}, class: provider.ClassHaltAccount, http: 404},
		{name: "UnknownBot", opts: salebotsim.Options{WhatsAppBotIDs: []int64{1}}, class: provider.ClassHaltAccount, http: 400},
	}
	for _, tc := range faults {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clk := newTestClock()
			tc.opts.Now = clk.Now
			c, sim := simClient(t, tc.opts)
			for range tc.prime {
				_, err := c.Send(ctx, "79875146788", textMessage)
				require.NoError(t, err)
			}
			_, err := c.Send(ctx, "79875146788", textMessage)
			pe := requireProviderError(t, err)
			require.Equal(t, tc.class, pe.Class, pe.Error())
			require.Equal(t, tc.code, pe.Code)
			require.Equal(t, tc.http, pe.HTTPStatus)
			if tc.name == "DropAfterAccept" {
				require.Len(t, sim.Sends(), 1, "the dropped send was accepted")
			}
		})
	}

	t.Run("SubscriberLimit", func(t *testing.T) {
		t.Parallel()
		c, _ := simClient(t, salebotsim.Options{Knobs: sim.Knobs{SubscriberLimit: 1}})
		_, err := c.Send(ctx, "79875146788", textMessage)
		require.NoError(t, err)
		_, err = c.Send(ctx, "79875146789", textMessage)
		pe := requireProviderError(t, err)
		require.Equal(t, provider.ClassHaltAccount, pe.Class)
		require.True(t, provider.IsSubscriberLimit(err))
	})

	t.Run("LatencyOverDeadlineIsAmbiguous", func(t *testing.T) {
		t.Parallel()
		sim := salebotsim.New(salebotsim.Options{APIKeys: []string{testKey}, WhatsAppBotIDs: []int64{testBotID}, Knobs: sim.Knobs{Latency: time.Hour}})
		// The deadline passes once the request has reached the provider
		// (a signal, not a short timeout a loaded machine may miss).
		ctx, cancel := context.WithCancelCause(ctx)
		defer cancel(nil)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			cancel(context.DeadlineExceeded)
			sim.ServeHTTP(w, r)
		}))
		t.Cleanup(func() { srv.Close(); sim.Close() })
		c := New(Config{BaseURL: srv.URL + "/api", APIKey: testKey, WhatsAppBotID: testBotID, HTTPClient: srv.Client()})
		_, err := c.Send(ctx, "79875146788", textMessage)
		pe := requireProviderError(t, err)
		require.Equal(t, provider.ClassAmbiguous, pe.Class)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.Empty(t, sim.Sends())
	})
}

// TestWebhookRoundTrip sends through the simulator and reads its pushes
// with ParseWebhook, as the engine will.
func TestWebhookRoundTrip(t *testing.T) {
	t.Parallel()
	var (
		mu     sync.Mutex
		events []provider.Event
	)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		evs, err := ParseWebhook(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		events = append(events, evs...)
		mu.Unlock()
	}))
	t.Cleanup(hook.Close)

	clk := newTestClock()
	c, sim := simClient(t, salebotsim.Options{WebhookURL: hook.URL, Knobs: sim.Knobs{Now: clk.Now, FailShare: 0.5, Seed: 3}, RecepientSuffix: "@c.us", ManualPushes: true})
	for range 8 {
		_, err := c.Send(context.Background(), "79875146788", textMessage)
		require.NoError(t, err)
		clk.Add(time.Second)
	}
	replyID := sim.Reply("79875146788", "thanks")
	sim.DeliverDue(clk.Add(time.Minute))

	mu.Lock()
	defer mu.Unlock()
	sends := sim.Sends()
	require.Len(t, events, len(sends)+1)
	for i, snd := range sends {
		ev := events[i]
		require.Equal(t, snd.WAMID, ev.WAMID)
		require.Equal(t, "79875146788", ev.Phone)
		require.True(t, ev.MatchByPhone)
		if snd.Failed {
			require.Equal(t, provider.StatusFailed, ev.Status)
			require.Equal(t, "131026", ev.Code)
		} else {
			require.Equal(t, provider.StatusDelivered, ev.Status)
		}
	}
	last := events[len(events)-1]
	require.Equal(t, provider.Event{WAMID: replyID, Phone: "79875146788", Inbound: true, Text: "thanks"}, last)
}

// newTestClock returns a settable clock for the simulator.
func newTestClock() *testclock.Clock {
	return testclock.New(time.Now().UTC().Truncate(time.Second))
}
