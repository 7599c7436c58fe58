package webhook_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/campaign"
	"github.com/wacamp/wacamp/config"
	"github.com/wacamp/wacamp/internal/testenv"
	"github.com/wacamp/wacamp/provider/drivers"
	"github.com/wacamp/wacamp/store"
	"github.com/wacamp/wacamp/templates"
	"github.com/wacamp/wacamp/webhook"
)

const secret = "hook-SECRET-1"

var env = map[string]string{"K": "key", "S": "sec", "HOOK": secret}

// setup applies a Sobot account taking webhooks and a running broadcast of
// two recipients, and returns the receiver, the queue inspector and the
// broadcast's deliveries.
func setup(t *testing.T) (*store.DB, *httptest.Server, *asynq.Inspector, []campaign.Ref) {
	t.Helper()
	db, recv, ins, refs := setupReceiver(t, func(k string) string { return env[k] }, nil)
	srv := httptest.NewServer(recv)
	t.Cleanup(srv.Close)
	return db, srv, ins, refs
}

func setupReceiver(t *testing.T, getenv func(string) string, now func() time.Time) (*store.DB, *webhook.Receiver, *asynq.Inspector, []campaign.Ref) {
	t.Helper()
	ctx := context.Background()
	db := testenv.NewStore(t)
	rd := testenv.NewRedis(t)
	start := time.Now()
	b := &config.Bundle{
		Accounts: []config.Account{{Name: "shop", Provider: "sobot", BaseURL: "http://127.0.0.1:1", TokenRef: "env:K",
			SecretRef: "env:S", WebhookSecretRef: "env:HOOK", RatePerSecond: 80}},
		Broadcasts: []config.Broadcast{{Name: "b", Account: "shop", StartAt: &start,
			Message:    templates.Message{Kind: templates.KindText, Text: "hi"},
			Recipients: []config.Recipient{{Phone: "4915100000001"}, {Phone: "4915100000002"}}}},
	}
	_, err := db.Apply(ctx, b, start)
	require.NoError(t, err)
	bc, err := db.BroadcastByName(ctx, "b")
	require.NoError(t, err)
	_, _, err = db.PlanBatch(ctx, bc.ID, 0, 10, start)
	require.NoError(t, err)
	refs, err := db.NextPlanned(ctx, bc.ID, 10)
	require.NoError(t, err)
	_, err = db.SetStatus(ctx, bc.ID, []campaign.Status{campaign.StatusDraft, campaign.StatusScheduled}, campaign.StatusRunning, "", start)
	require.NoError(t, err)

	client := asynq.NewClient(rd.Opt)
	t.Cleanup(func() { _ = client.Close() })
	ins := asynq.NewInspector(rd.Opt)
	t.Cleanup(func() { _ = ins.Close() })
	recv := &webhook.Receiver{
		Accounts: db, Queue: client, Getenv: getenv, Resolve: config.ResolveToken, Now: now,
		Parser: func(p string) (webhook.Parser, bool) {
			d, ok := drivers.Lookup(p)
			return d.ParseWebhook, ok && d.ParseWebhook != nil
		},
	}
	return db, recv, ins, refs
}

func post(t *testing.T, url, body string, header map[string]string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	require.NoError(t, err)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	return resp.StatusCode
}

// applyQueued runs every queued apply task through the handler, as a
// worker would, and returns how many ran.
func applyQueued(t *testing.T, db *store.DB, ins *asynq.Inspector) int {
	t.Helper()
	tasks, err := ins.ListPendingTasks(webhook.Queue)
	require.NoError(t, err)
	h := &webhook.ApplyHandler{Store: db}
	for _, ti := range tasks {
		require.Equal(t, webhook.TypeApply, ti.Type)
		require.NoError(t, h.ProcessTask(context.Background(), asynq.NewTask(ti.Type, ti.Payload)))
		require.NoError(t, ins.DeleteTask(webhook.Queue, ti.ID))
	}
	return len(tasks)
}

func statusBody(wamid, status string, ts int64) string {
	return fmt.Sprintf(`{"id": %q, "status": %q, "timestamp": "%d"}`, wamid, status, ts)
}

func TestReceiverRefusesWhatItShould(t *testing.T) {
	t.Parallel()
	_, srv, ins, _ := setup(t)
	good := srv.URL + "/webhooks/shop/" + secret
	body := statusBody("wamid.X", "delivered", time.Now().Unix())
	for _, tc := range []struct {
		name   string
		url    string
		body   string
		header map[string]string
		want   int
	}{
		{"wrong secret", srv.URL + "/webhooks/shop/guess", body, nil, http.StatusUnauthorized},
		{"no secret", srv.URL + "/webhooks/shop", body, nil, http.StatusUnauthorized},
		{"wrong secret header", srv.URL + "/webhooks/shop", body, map[string]string{webhook.SecretHeader: "guess"}, http.StatusUnauthorized},
		{"unknown account", srv.URL + "/webhooks/nope/" + secret, body, nil, http.StatusNotFound},
		{"other path", srv.URL + "/hooks/shop/" + secret, body, nil, http.StatusNotFound},
		{"malformed JSON", good, `{"id": "wamid.X", "status":`, nil, http.StatusBadRequest},
		{"over 3 MB", good, `{"pad":"` + strings.Repeat("x", webhook.MaxBody) + `"}`, nil, http.StatusRequestEntityTooLarge},
	} {
		require.Equal(t, tc.want, post(t, tc.url, tc.body, tc.header), tc.name)
	}
	_, err := ins.ListPendingTasks(webhook.Queue)
	require.ErrorIs(t, err, asynq.ErrQueueNotFound, "a refused webhook queues nothing")

	// Just under the limit is accepted (a well-formed body with nothing to apply).
	big := `{"pad":"` + strings.Repeat("x", webhook.MaxBody-20) + `"}`
	require.Equal(t, http.StatusOK, post(t, good, big, nil))
	require.Equal(t, http.StatusOK, post(t, srv.URL+"/webhooks/shop", body, map[string]string{webhook.SecretHeader: secret}), "secret in a header")
}

// Statuses are answered at once and applied by the queued task; duplicates
// and reversed orders never move a message backwards, and a status that
// comes before the send is recorded is applied when it is.
func TestReceiverAppliesStatusesAsync(t *testing.T) {
	t.Parallel()
	db, srv, ins, refs := setup(t)
	ctx := context.Background()
	url := srv.URL + "/webhooks/shop/" + secret
	now := time.Now()
	send := func(ref campaign.Ref, wamid string) {
		ok, err := db.Claim(ctx, ref, now, now.Add(time.Minute), nil)
		require.NoError(t, err)
		require.True(t, ok)
		ok, err = db.MarkSent(ctx, ref, wamid, now, time.Time{}, now.Add(time.Hour))
		require.NoError(t, err)
		require.True(t, ok)
	}
	send(refs[0], "wamid.A")
	for _, b := range []string{
		statusBody("wamid.A", "read", now.Unix()+3), statusBody("wamid.A", "delivered", now.Unix()+2),
		statusBody("wamid.A", "read", now.Unix()+3), statusBody("wamid.A", "sent", now.Unix()+1),
		statusBody("wamid.B", "delivered", now.Unix()+2), // before its send
	} {
		require.Equal(t, http.StatusOK, post(t, url, b, nil))
	}
	job, err := db.Job(ctx, refs[0].ID)
	require.NoError(t, err)
	require.Equal(t, campaign.DeliverySent, job.Status, "nothing applied before the task runs")
	require.Equal(t, 5, applyQueued(t, db, ins))

	job, err = db.Job(ctx, refs[0].ID)
	require.NoError(t, err)
	require.Equal(t, campaign.DeliveryRead, job.Status)

	send(refs[1], "wamid.B")
	n, err := db.MatchWebhookEvents(ctx, refs[1].ID, time.Now())
	require.NoError(t, err)
	require.Equal(t, 1, n)
	job, err = db.Job(ctx, refs[1].ID)
	require.NoError(t, err)
	require.Equal(t, campaign.DeliveryDelivered, job.Status)
}

// A rotated webhook secret takes effect without a restart: the new one is
// accepted once the accounts are read again (at most every few seconds),
// and the old one refused.
func TestReceiverFollowsARotatedSecret(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	vars := map[string]string{"HOOK": "old-secret"}
	clock := time.Now()
	getenv := func(k string) string { mu.Lock(); defer mu.Unlock(); return vars[k] }
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	_, recv, _, _ := setupReceiver(t, getenv, now)
	srv := httptest.NewServer(recv)
	t.Cleanup(srv.Close)
	body := statusBody("wamid.X", "delivered", time.Now().Unix())
	require.Equal(t, http.StatusOK, post(t, srv.URL+"/webhooks/shop/old-secret", body, nil))

	mu.Lock()
	vars["HOOK"] = "new-secret"
	clock = clock.Add(6 * time.Second)
	mu.Unlock()
	require.Equal(t, http.StatusOK, post(t, srv.URL+"/webhooks/shop/new-secret", body, nil), "the new secret, after a re-read")
	require.Equal(t, http.StatusUnauthorized, post(t, srv.URL+"/webhooks/shop/old-secret", body, nil), "the old one no more")
}
