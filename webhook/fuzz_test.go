package webhook_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/wacamp/wacamp/internal/hostile"
	"github.com/wacamp/wacamp/provider"
	"github.com/wacamp/wacamp/provider/drivers"
	"github.com/wacamp/wacamp/spec"
	"github.com/wacamp/wacamp/webhook"
)

// fuzzAccounts are the receiver's accounts in FuzzReceiver: one per
// provider that takes webhooks, and one whose secret is too short to be
// accepted.
var fuzzAccounts = []webhook.Account{
	{ID: 1, Name: "shop", Provider: "sobot", SecretRef: "env:HOOK"},
	{ID: 2, Name: "sale", Provider: "salebot", SecretRef: "env:HOOK_SALE"},
	{ID: 3, Name: "wa", Provider: "waapi", SecretRef: "env:HOOK_WA"},
	{ID: 4, Name: "weak", Provider: "sobot", SecretRef: "env:HOOK_WEAK"},
}

// fuzzSecrets are the accounts' webhook secrets by name; weak's is refused.
var fuzzSecrets = map[string]string{
	"shop": secret, "sale": "sale-SECRET-2-abcdefghij", "wa": "wa&SECRET/3?x=y#z%41", "weak": "short",
}

// fuzzWorld is what the receiver queues or keeps, recorded.
type fuzzWorld struct {
	mu      sync.Mutex
	down    bool     // Redis refuses every task
	queued  [][]byte // apply task payloads
	kept    [][]byte // webhooks kept in the inbox
	account []int64  // the account of each kept webhook
}

func (w *fuzzWorld) WebhookAccounts(context.Context) ([]webhook.Account, error) {
	return fuzzAccounts, nil
}

func (w *fuzzWorld) EnqueueContext(_ context.Context, t *asynq.Task, _ ...asynq.Option) (*asynq.TaskInfo, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.down {
		return nil, errors.New("redis: connection refused")
	}
	if t.Type() != webhook.TypeApply {
		return nil, errors.New("unexpected task type " + t.Type())
	}
	w.queued = append(w.queued, t.Payload())
	return &asynq.TaskInfo{}, nil
}

func (w *fuzzWorld) KeepWebhook(_ context.Context, accountID int64, payload []byte, _ time.Time) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.kept = append(w.kept, payload)
	w.account = append(w.account, accountID)
	return nil
}

// reset forgets what was recorded and sets whether Redis is down.
func (w *fuzzWorld) reset(down bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.down, w.queued, w.kept, w.account = down, nil, nil, nil
}

// taken returns the payloads queued or kept.
func (w *fuzzWorld) taken() [][]byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append(append([][]byte(nil), w.queued...), w.kept...)
}

// appliedStore is the apply handler's store: it records the events.
type appliedStore struct{ events []provider.Event }

func (s *appliedStore) ApplyWebhookEvents(_ context.Context, _ int64, events []provider.Event, _, _ time.Time) (webhook.Result, error) {
	s.events = append(s.events, events...)
	return webhook.Result{}, nil
}

func (s *appliedStore) SweepWebhookEvents(context.Context, time.Time, time.Duration) (int, int, error) {
	return 0, 0, nil
}

// fuzzAnswer is what the receiver said, without the headers that change by
// request (Date).
type fuzzAnswer struct {
	status               int
	body, ctype, nosniff string
}

// FuzzReceiver posts any body, under any account name and secret (in the
// path or the X-Webhook-Secret header) and any method, to the webhook
// receiver over loopback, with Redis up or down (the inbox keeps what it
// cannot take). Nothing is queued or kept unless the request is a POST
// naming an account that takes webhooks with that account's secret; what
// is taken is applied by the apply handler; no request gets a 5xx; and an
// unknown account gets exactly the answer a wrong secret gets.
func FuzzReceiver(f *testing.F) {
	now := time.Now().Unix()
	valid := map[string]string{
		"shop": statusBody("wamid.A", "delivered", now),
		"sale": `{"id":1,"client":{"recepient":"79875146788","client_type":6},"message":"hi","is_input":0,"delivered":1}`,
		"wa":   `{"event":"onMessageUpdate","data":[{"key":{"remoteJid":"111@s.whatsapp.net","fromMe":true,"id":"B1"},"update":{"status":"READ"}}]}`,
	}
	for name, body := range valid {
		s := fuzzSecrets[name]
		f.Add(name, s, false, uint8(0), []byte(body), false)
		f.Add(name, s, true, uint8(0), []byte(body), true)
		f.Add(name, s+"x", false, uint8(0), []byte(body), false)       // a longer secret
		f.Add(name, s[:len(s)-1], true, uint8(0), []byte(body), false) // a prefix
		f.Add(name, strings.ToUpper(s), false, uint8(0), []byte(body), false)
		f.Add(name, s, false, uint8(1), []byte(body), false) // GET
		f.Add(name, s, false, uint8(0), []byte(`{"id": "wamid.X", "status":`), false)
		f.Add(strings.ToUpper(name), s, false, uint8(0), []byte(body), false)
		f.Add(name+"/"+s, "", true, uint8(0), []byte(body), false) // the secret in the name's place
	}
	f.Add("weak", "short", false, uint8(0), []byte(valid["shop"]), false)
	f.Add("nope", secret, false, uint8(0), []byte(valid["shop"]), false)
	f.Add("", "", false, uint8(0), []byte(valid["shop"]), false)
	f.Add("../shop", secret, false, uint8(0), []byte(valid["shop"]), false)
	f.Add("shop", secret+"\x00", false, uint8(0), []byte(valid["shop"]), false)
	for _, body := range hostile.WebhookSeeds() {
		for name := range valid {
			f.Add(name, fuzzSecrets[name], false, uint8(0), []byte(body), false)
		}
	}

	world := &fuzzWorld{}
	recv := &webhook.Receiver{
		Accounts: world, Queue: world, Inbox: world, Resolve: spec.ResolveToken,
		Getenv: func(k string) string {
			return map[string]string{"HOOK": fuzzSecrets["shop"], "HOOK_SALE": fuzzSecrets["sale"],
				"HOOK_WA": fuzzSecrets["wa"], "HOOK_WEAK": fuzzSecrets["weak"]}[k]
		},
		Parser: func(p string) (webhook.Parser, bool) {
			d, ok := drivers.Lookup(p)
			return d.ParseWebhook, ok && d.ParseWebhook != nil
		},
	}
	srv := httptest.NewServer(recv)
	f.Cleanup(srv.Close)
	client := srv.Client()
	client.Timeout = 10 * time.Second
	do := func(method, path, header string, body []byte) (fuzzAnswer, error) {
		req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(string(body)))
		if err != nil {
			return fuzzAnswer{}, err
		}
		if header != "" {
			req.Header.Set(webhook.SecretHeader, header)
		}
		resp, err := client.Do(req)
		if err != nil {
			return fuzzAnswer{}, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return fuzzAnswer{resp.StatusCode, string(b), resp.Header.Get("Content-Type"), resp.Header.Get("X-Content-Type-Options")}, err
	}
	strangers, err := do(http.MethodPost, "/webhooks/no-such-account/"+url.PathEscape(secret), "", []byte(valid["shop"]))
	if err != nil {
		f.Fatal(err)
	}
	apply := &webhook.ApplyHandler{}

	f.Fuzz(func(t *testing.T, name, secret string, inHeader bool, method uint8, body []byte, redisDown bool) {
		if inHeader && strings.ContainsFunc(secret, func(r rune) bool { return r < ' ' && r != '\t' || r == 0x7f }) {
			inHeader = false // a client cannot send it as a header
		}
		m := []string{http.MethodPost, http.MethodGet, http.MethodPut}[int(method)%3]
		path := "/webhooks/" + url.PathEscape(name)
		header := ""
		if inHeader {
			header = secret
		} else {
			path += "/" + url.PathEscape(secret)
		}
		// What the receiver sees: the decoded path's account name, and the
		// secret after it (an escaped "/" in the name is one) or in the
		// header.
		decoded, _ := url.PathUnescape(strings.TrimPrefix(path, "/webhooks/"))
		gotName, gotSecret, inPath := strings.Cut(decoded, "/")
		if !inPath {
			gotSecret = header
		}
		want, known := fuzzSecrets[gotName]
		authorized := known && len(want) >= webhook.MinSecretLen && gotSecret == want

		world.reset(redisDown)
		got, err := do(m, path, header, body)
		if err != nil {
			t.Fatal(err)
		}
		if got.status >= 500 {
			t.Fatalf("%s %s answered %d %q", m, path, got.status, got.body)
		}
		taken := world.taken()
		if len(taken) > 0 && (!authorized || m != http.MethodPost) {
			t.Fatalf("%s %s (header %q) was queued or kept without the account's secret", m, path, header)
		}
		if !authorized && got != strangers {
			t.Fatalf("%s %s answered %+v; an unknown account gets %+v", m, path, got, strangers)
		}
		for _, payload := range taken {
			st := &appliedStore{}
			apply.Store = st
			if err := apply.ProcessTask(context.Background(), asynq.NewTask(webhook.TypeApply, payload)); err != nil {
				t.Fatalf("a taken webhook cannot be applied: %v", err)
			}
			hostile.RequireQueueable(t, st.events)
		}
	})
}
