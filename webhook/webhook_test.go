package webhook_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/campaign"
	"github.com/wacamp/wacamp/consent"
	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/internal/app"
	"github.com/wacamp/wacamp/internal/testenv"
	"github.com/wacamp/wacamp/provider/drivers"
	"github.com/wacamp/wacamp/spec"
	"github.com/wacamp/wacamp/store"
	"github.com/wacamp/wacamp/templates"
	"github.com/wacamp/wacamp/webhook"
)

const secret = "hook-SECRET-1-0123456789"

var env = map[string]string{"K": "key", "S": "sec", "HOOK": secret}

// setup applies a Sobot account taking webhooks and a running broadcast of
// two recipients, and returns the receiver, the queue inspector and the
// broadcast's deliveries.
func setup(t *testing.T) (*store.DB, *httptest.Server, *asynq.Inspector, []delivery.Ref) {
	t.Helper()
	db, recv, ins, refs := setupReceiver(t, func(k string) string { return env[k] }, nil)
	srv := httptest.NewServer(recv)
	t.Cleanup(srv.Close)
	return db, srv, ins, refs
}

func setupReceiver(t *testing.T, getenv func(string) string, now func() time.Time) (*store.DB, *webhook.Receiver, *asynq.Inspector, []delivery.Ref) {
	t.Helper()
	ctx := context.Background()
	db := testenv.NewStore(t)
	rd := testenv.NewRedis(t)
	start := time.Now()
	b := &spec.Bundle{
		Accounts: []spec.Account{{Name: "shop", Provider: "sobot", BaseURL: "http://127.0.0.1:1", TokenRef: "env:K",
			SecretRef: "env:S", WebhookSecretRef: "env:HOOK", RatePerSecond: 80}},
		Broadcasts: []spec.Broadcast{{Name: "b", Account: "shop", StartAt: &start,
			Message:    templates.Message{Kind: templates.KindText, Text: "hi"},
			Recipients: []spec.Recipient{{Phone: "4915100000001"}, {Phone: "4915100000002"}}}},
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
		Accounts: app.WebhookStore{DB: db}, Queue: client, Getenv: getenv, Resolve: spec.ResolveToken, Now: now,
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
	h := &webhook.ApplyHandler{Store: app.WebhookStore{DB: db}}
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
		{"unknown account", srv.URL + "/webhooks/nope/" + secret, body, nil, http.StatusUnauthorized},
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
	send := func(ref delivery.Ref, wamid string) {
		ok, err := db.Claim(ctx, ref, now, now.Add(time.Minute), nil, consent.Check{})
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
	require.Equal(t, delivery.Sent, job.Status, "nothing applied before the task runs")
	require.Equal(t, 5, applyQueued(t, db, ins))

	job, err = db.Job(ctx, refs[0].ID)
	require.NoError(t, err)
	require.Equal(t, delivery.Read, job.Status)

	send(refs[1], "wamid.B")
	n, err := db.MatchWebhookEvents(ctx, refs[1].ID, time.Now())
	require.NoError(t, err)
	require.Equal(t, 1, n)
	job, err = db.Job(ctx, refs[1].ID)
	require.NoError(t, err)
	require.Equal(t, delivery.Delivered, job.Status)
}

// A rotated webhook secret takes effect without a restart: the new one is
// accepted once the accounts are read again (at most every few seconds),
// and the old one refused.
func TestReceiverFollowsARotatedSecret(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	vars := map[string]string{"HOOK": "old-secret-0123456789"}
	clock := time.Now()
	getenv := func(k string) string { mu.Lock(); defer mu.Unlock(); return vars[k] }
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	_, recv, _, _ := setupReceiver(t, getenv, now)
	srv := httptest.NewServer(recv)
	t.Cleanup(srv.Close)
	body := statusBody("wamid.X", "delivered", time.Now().Unix())
	require.Equal(t, http.StatusOK, post(t, srv.URL+"/webhooks/shop/old-secret-0123456789", body, nil))

	mu.Lock()
	vars["HOOK"] = "new-secret-0123456789"
	clock = clock.Add(6 * time.Second)
	mu.Unlock()
	require.Equal(t, http.StatusOK, post(t, srv.URL+"/webhooks/shop/new-secret-0123456789", body, nil), "the new secret, after a re-read")
	require.Equal(t, http.StatusUnauthorized, post(t, srv.URL+"/webhooks/shop/old-secret-0123456789", body, nil), "the old one no more")
}

// answer posts body to url and returns the status and body of the answer.
func answer(t *testing.T, url string, header map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(statusBody("wamid.X", "delivered", time.Now().Unix())))
	require.NoError(t, err)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// An unknown account and a wrong (or missing) secret are answered alike,
// so the answers do not tell which account names exist.
func TestReceiverDoesNotRevealAccounts(t *testing.T) {
	t.Parallel()
	_, srv, _, _ := setup(t)
	wantCode, wantBody := answer(t, srv.URL+"/webhooks/nope/"+secret, nil)
	require.Equal(t, http.StatusUnauthorized, wantCode)
	for _, tc := range []struct {
		url    string
		header map[string]string
	}{
		{srv.URL + "/webhooks/shop/guess", nil},
		{srv.URL + "/webhooks/shop/" + secret[:len(secret)-1], nil},
		{srv.URL + "/webhooks/shop/" + secret + "x", nil},
		{srv.URL + "/webhooks/shop", nil},
		{srv.URL + "/webhooks/shop", map[string]string{webhook.SecretHeader: "guess"}},
		{srv.URL + "/webhooks/nope", map[string]string{webhook.SecretHeader: secret}},
	} {
		code, body := answer(t, tc.url, tc.header)
		require.Equal(t, wantCode, code, tc.url)
		require.Equal(t, wantBody, body, tc.url)
	}
}

// lines is a goroutine-safe log sink that counts lines by message.
type lines struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lines) Write(p []byte) (int, error) { l.mu.Lock(); defer l.mu.Unlock(); return l.b.Write(p) }

// with returns the lines that contain all of parts.
func (l *lines) with(parts ...string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
next:
	for _, ln := range strings.Split(l.b.String(), "\n") {
		for _, p := range parts {
			if !strings.Contains(ln, p) {
				continue next
			}
		}
		out = append(out, ln)
	}
	return out
}

// A flood of refused requests makes one log line per account and reason
// every RefusalLogEvery, the next one counting those left out; unknown
// account names all share one line.
func TestReceiverRateLimitsRefusalLogs(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	clock := time.Now()
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	_, recv, _, _ := setupReceiver(t, func(k string) string { return env[k] }, now)
	var logs lines
	recv.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	srv := httptest.NewServer(recv)
	t.Cleanup(srv.Close)
	body := statusBody("wamid.X", "delivered", time.Now().Unix())
	for i := range 5 {
		require.Equal(t, http.StatusUnauthorized, post(t, srv.URL+"/webhooks/shop/guess", body, nil))
		require.Equal(t, http.StatusUnauthorized, post(t, srv.URL+fmt.Sprintf("/webhooks/nope%d/%s", i, secret), body, nil))
		require.Equal(t, http.StatusBadRequest, post(t, srv.URL+"/webhooks/shop/"+secret, "{", nil))
		// Well-formed, authenticated, and nothing wacamp uses: taken (the
		// provider must not retry it), and said once.
		require.Equal(t, http.StatusOK, post(t, srv.URL+"/webhooks/shop/"+secret, `{"something":"else"}`, nil))
	}
	require.Len(t, logs.with("wrong secret"), 1)
	require.Len(t, logs.with("no such account"), 1)
	require.Len(t, logs.with("unreadable payload"), 1)
	require.Len(t, logs.with("nothing wacamp uses"), 1)

	mu.Lock()
	clock = clock.Add(webhook.RefusalLogEvery)
	mu.Unlock()
	require.Equal(t, http.StatusUnauthorized, post(t, srv.URL+"/webhooks/shop/guess", body, nil))
	require.Len(t, logs.with("wrong secret"), 2)
	require.Len(t, logs.with("wrong secret", "suppressed=4"), 1)
	require.Len(t, logs.with("no such account"), 1)
	require.NotContains(t, logs.with("wrong secret")[0], "guess", "the secret sent is never logged")
}

// An account whose webhook secret is shorter than MinSecretLen takes no
// webhooks, even with that secret; the reason is logged (not every time).
func TestReceiverRefusesShortSecrets(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	short := strings.Repeat("s", webhook.MinSecretLen-1)
	vars := map[string]string{"HOOK": short}
	clock := time.Now()
	getenv := func(k string) string { mu.Lock(); defer mu.Unlock(); return vars[k] }
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	_, recv, _, _ := setupReceiver(t, getenv, now)
	var logs lines
	recv.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	srv := httptest.NewServer(recv)
	t.Cleanup(srv.Close)
	require.NoError(t, recv.CheckSecrets(context.Background()))
	require.Len(t, logs.with("level=ERROR", "account=shop", "shorter than 16 characters"), 1, "logged at start-up")
	body := statusBody("wamid.X", "delivered", time.Now().Unix())
	for range 3 {
		require.Equal(t, http.StatusUnauthorized, post(t, srv.URL+"/webhooks/shop/"+short, body, nil))
		mu.Lock()
		clock = clock.Add(6 * time.Second) // past the re-read interval: the accounts are read again
		mu.Unlock()
	}
	shortLines := logs.with("level=ERROR", "account=shop", "shorter than 16 characters")
	require.Len(t, shortLines, 2, "logged once per RefusalLogEvery, not at every re-read")
	require.NotContains(t, logs.b.String(), short)

	mu.Lock()
	vars["HOOK"] = short + "s"
	clock = clock.Add(6 * time.Second)
	mu.Unlock()
	require.Equal(t, http.StatusOK, post(t, srv.URL+"/webhooks/shop/"+short+"s", body, nil))
}

// A customer's inbound message reaches the queue (and the web UI) as no
// more than applying it needs: the sender's phone, not the text or media.
func TestReceiverQueuesOnlyWhatApplyingNeeds(t *testing.T) {
	t.Parallel()
	db, srv, ins, _ := setup(t)
	const private = "my card number is 4111 1111 1111 1111"
	body := `[{"value":{"messages":[{"from":"4915100000001","id":"wamid.IN1","timestamp":"1","type":"text","text":{"body":"` + private + `"}},` +
		`{"id":"wamid.IN2","type":"image","image":{"caption":"` + private + `","link":"https://example.com/private.jpg"}}]},"field":"messages"}]`
	require.Equal(t, http.StatusOK, post(t, srv.URL+"/webhooks/shop/"+secret, body, nil))
	tasks, err := ins.ListPendingTasks(webhook.Queue)
	require.NoError(t, err)
	require.Len(t, tasks, 1)
	payload := string(tasks[0].Payload)
	require.Contains(t, payload, "4915100000001", "the sender's phone, to end their enrollments")
	for _, leak := range []string{"card number", "4111", "private.jpg", "wamid.IN"} {
		require.NotContains(t, payload, leak)
	}
	require.Equal(t, 1, applyQueued(t, db, ins))
}

// An inbound message whose whole text is an opt-out keyword keeps its text
// and id on the way to the workers (and nothing else does): applied, it
// puts its sender on the account's suppression list; a sentence with
// "stop" in it does not.
func TestReceiverKeepsOnlyKeywords(t *testing.T) {
	t.Parallel()
	db, srv, ins, _ := setup(t)
	body := `[{"value":{"messages":[{"from":"4915100000001","id":"wamid.IN1","timestamp":"1","type":"text","text":{"body":" Stop "}},` +
		`{"from":"4915100000002","id":"wamid.IN2","timestamp":"2","type":"text","text":{"body":"please stop the music"}}]},"field":"messages"}]`
	require.Equal(t, http.StatusOK, post(t, srv.URL+"/webhooks/shop/"+secret, body, nil))
	tasks, err := ins.ListPendingTasks(webhook.Queue)
	require.NoError(t, err)
	require.Len(t, tasks, 1)
	payload := string(tasks[0].Payload)
	require.Contains(t, payload, `"Text":"Stop"`)
	require.Contains(t, payload, "wamid.IN1")
	require.NotContains(t, payload, "music")
	require.NotContains(t, payload, "wamid.IN2")
	require.Equal(t, 1, applyQueued(t, db, ins))
	got, err := db.Suppressed(context.Background(), consent.Check{Lists: []string{"account:shop"}}, []string{"4915100000001", "4915100000002"})
	require.NoError(t, err)
	require.Equal(t, map[string]bool{"4915100000001": true}, got)
	for _, p := range []string{"4915100000001", "4915100000002"} {
		_, ok, err := db.LastInbound(context.Background(), 1, p)
		require.NoError(t, err)
		require.True(t, ok, "every inbound message is recorded: %s", p)
	}
}

// lateAccounts has no accounts at its first read, as when the receiver
// starts before the campaign is applied.
type lateAccounts struct {
	webhook.Accounts
	reads atomic.Int32
}

func (l *lateAccounts) WebhookAccounts(ctx context.Context) ([]webhook.Account, error) {
	if l.reads.Add(1) == 1 {
		return nil, nil
	}
	return l.Accounts.WebhookAccounts(ctx)
}

// The start-up check keeps nothing: an account applied after it takes
// webhooks at once, not after the re-read interval.
func TestReceiverCheckSecretsAtStartUp(t *testing.T) {
	t.Parallel()
	clock := time.Now()
	_, recv, _, _ := setupReceiver(t, func(k string) string { return env[k] }, func() time.Time { return clock })
	recv.Accounts = &lateAccounts{Accounts: recv.Accounts}
	require.NoError(t, recv.CheckSecrets(context.Background()))
	srv := httptest.NewServer(recv)
	t.Cleanup(srv.Close)
	require.Equal(t, http.StatusOK, post(t, srv.URL+"/webhooks/shop/"+secret, statusBody("wamid.X", "delivered", time.Now().Unix()), nil))
}

// A NUL byte (or invalid UTF-8) in an event's id, reason or text is data
// Postgres refuses: it made the whole webhook's apply task fail, again on
// every retry, so its other events were lost too (found by fuzzing). Every
// event of such a body is applied or kept.
func TestReceiverAppliesEventsWithUnstorableText(t *testing.T) {
	t.Parallel()
	db, srv, ins, refs := setup(t)
	ctx := context.Background()
	now := time.Now()
	ok, err := db.Claim(ctx, refs[0], now, now.Add(time.Minute), nil, consent.Check{})
	require.NoError(t, err)
	require.True(t, ok)
	ok, err = db.MarkSent(ctx, refs[0], "wamid.A", now, time.Time{}, now.Add(time.Hour))
	require.NoError(t, err)
	require.True(t, ok)
	body := fmt.Sprintf(`[{"value":{"statuses":[`+
		`{"id":"wamid.\u0000","status":"delivered","timestamp":"%d","recipient_id":"4915100000002"},`+
		`{"id":"wamid.Z","status":"failed","timestamp":"%d","recipient_id":"4915100000002","errors":[{"code":"131026","title":"t\u0000\ud800"}]},`+
		`{"id":"wamid.A","status":"read","timestamp":"%d","recipient_id":"4915100000001"}]},"field":"statuses"}]`,
		now.Unix(), now.Unix(), now.Unix())
	require.Equal(t, http.StatusOK, post(t, srv.URL+"/webhooks/shop/"+secret, body, nil))
	require.Equal(t, 1, applyQueued(t, db, ins))
	job, err := db.Job(ctx, refs[0].ID)
	require.NoError(t, err)
	require.Equal(t, delivery.Read, job.Status, "the event after the unstorable ones is applied")
}
