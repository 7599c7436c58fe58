package api_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
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

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/campaign"
	"github.com/wacamp/wacamp/config"
	"github.com/wacamp/wacamp/consent"
	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/internal/api"
	"github.com/wacamp/wacamp/internal/app"
	"github.com/wacamp/wacamp/internal/service"
	"github.com/wacamp/wacamp/internal/testenv"
	"github.com/wacamp/wacamp/provider/botsailor/botsailorsim"
	"github.com/wacamp/wacamp/provider/sim"
)

const (
	simToken = "SIM-secret-token-4b7d1c9e"
	rwToken  = "rw-token-0123456789abcdef0123"
	roToken  = "ro-token-fedcba9876543210fedc"
)

// syncBuf is a goroutine-safe buffer for the server's log.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// env is one test's API: a server over a fresh database and Redis, a
// BotSailor-family simulator for the accounts, and the server's log.
type env struct {
	t      *testing.T
	url    string
	simURL string
	conns  *app.Conns
	log    *syncBuf
	api    *contract
	// tokenOff, while set, makes the server's environment lack SIM_TOKEN.
	tokenOff *atomic.Bool
}

func newEnv(t *testing.T) *env {
	t.Helper()
	simSrv := httptest.NewServer(botsailorsim.New(botsailorsim.Options{Tokens: []string{simToken},
		Knobs: sim.Knobs{DeliverAfter: time.Hour, ReadAfter: -1, Seed: 1}}))
	t.Cleanup(simSrv.Close)
	vars := map[string]string{
		"DATABASE_URL":        testenv.NewMigratedDatabase(t),
		"REDIS_URL":           testenv.NewRedis(t).URL,
		"SIM_TOKEN":           simToken,
		"WACAMP_DB_MAX_CONNS": "4",
	}
	tokenOff := &atomic.Bool{}
	getenv := func(k string) string {
		if k == "SIM_TOKEN" && tokenOff.Load() {
			return ""
		}
		return vars[k]
	}
	cfg, err := config.FromEnv(getenv)
	require.NoError(t, err)
	logs := &syncBuf{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	conns, err := app.Open(context.Background(), cfg, log)
	require.NoError(t, err)
	t.Cleanup(conns.Close)
	svc, closeSvc := service.New(conns, getenv, nil)
	t.Cleanup(closeSvc)
	rw, err := api.NewToken("crm", api.ReadWrite, rwToken)
	require.NoError(t, err)
	ro, err := api.NewToken("dashboard", api.ReadOnly, roToken)
	require.NoError(t, err)
	srv, err := api.New(api.Config{Service: svc, Tokens: []api.Token{rw, ro}, Logger: log})
	require.NoError(t, err)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	e := &env{t: t, url: ts.URL, simURL: simSrv.URL + "/api/v1", conns: conns, log: logs, api: newContract(t, ts.URL), tokenOff: tokenOff}
	// The operator applies the account (scheduler apply): campaigns sent
	// through the API use it as applied.
	chk, err := svc.Check(context.Background(), service.Source{Files: map[string][]byte{"accounts.yaml": []byte(e.account())}}, service.CheckOptions{Apply: true})
	require.NoError(t, err)
	require.Empty(t, chk.Problems)
	_, err = svc.Apply(context.Background(), chk)
	require.NoError(t, err)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the server's log:\n%s", logs.String())
		}
		require.NotContains(t, logs.String(), rwToken, "a token's value in the log")
		require.NotContains(t, logs.String(), roToken, "a token's value in the log")
	})
	return e
}

// answer is a response, read.
type answer struct {
	status int
	header http.Header
	body   []byte
	closed bool // the server closed the connection after it
}

func (a answer) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(a.body, &m), "body: %s", a.body)
	return m
}

// do sends a request with token ("" = none) and returns the answer.
func (e *env) do(method, path, token, contentType string, body []byte, header ...string) answer {
	e.t.Helper()
	req, err := http.NewRequest(method, e.url+path, bytes.NewReader(body))
	require.NoError(e.t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(e.t, err)
	a := answer{status: resp.StatusCode, header: resp.Header, body: b, closed: resp.Close}
	e.api.check(e.t, req, body, a)
	return a
}

func (e *env) postJSON(path, token string, v any, header ...string) answer {
	e.t.Helper()
	b, err := json.Marshal(v)
	require.NoError(e.t, err)
	return e.do("POST", path, token, "application/json", b, header...)
}

// account is an account on the simulator.
func (e *env) account() string {
	return `accounts:
  - name: main
    provider: wabotick
    customer_service_window: not_enforced
    base_url: ` + e.simURL + `
    api_token: ${SIM_TOKEN}
    phone_number_id: "1190600"
    whatsapp_bot_id: 7
    rate_per_second: 50
    daily_unique_limit: unlimited
`
}

// bundle is a broadcast of n people in a CSV, as a JSON bundle of files.
func (e *env) bundle(n int) map[string]any {
	var people strings.Builder
	people.WriteString("phone,name\n")
	for i := range n {
		fmt.Fprintf(&people, "3161%07d,P%d\n", i, i)
	}
	return map[string]any{"files": map[string]string{
		"accounts.yaml": e.account(),
		"promo.yaml":    "broadcasts:\n  - name: promo\n    account: main\n    audience: {csv: people.csv}\n    message: {text: \"Hello {{name}}\"}\n",
		"people.csv":    people.String(),
	}}
}

// Every route refuses a request without a token or with a wrong one, a
// read-only token changes nothing, and the log names the token, never its
// value.
func TestAuthentication(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, r := range api.Routes() {
		method, path, _ := strings.Cut(r, " ")
		path = strings.ReplaceAll(path, "{name}", "promo")
		require.Equal(t, http.StatusUnauthorized, e.do(method, path, "", "", nil).status, "%s without a token", r)
		a := e.do(method, path, "wrong-token-0000000000000000000", "", nil)
		require.Equal(t, http.StatusUnauthorized, a.status, "%s with a wrong token", r)
		require.Equal(t, "unauthorized", a.json(t)["code"])
		require.NotEmpty(t, a.header.Get("WWW-Authenticate"))
		require.True(t, a.closed, "%s: a refused request holds no connection", r)
		if method == "POST" && path != "/v1/validate" {
			a := e.do(method, path, roToken, "application/json", []byte(`{}`))
			require.Equal(t, http.StatusForbidden, a.status, "%s with a read-only token", r)
		}
	}
	// A read-only token cannot apply: nothing is written.
	require.Equal(t, http.StatusForbidden, e.postJSON("/v1/apply", roToken, e.bundle(2)).status)
	list := e.do("GET", "/v1/broadcasts", roToken, "", nil)
	require.Equal(t, http.StatusOK, list.status)
	require.Empty(t, list.json(t)["broadcasts"])
	require.Contains(t, e.log.String(), "token=dashboard")
	require.Contains(t, e.log.String(), "status=403")
	// Without tokens the server does not start unless told to.
	_, err := api.New(api.Config{Service: &service.Service{}})
	require.ErrorIs(t, err, api.ErrNoTokens)
}

// validate and apply take YAML or a JSON bundle; a refused campaign's
// problems come back as JSON with file, line and field; apply is
// idempotent.
func TestValidateAndApply(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	bad := e.account() + "broadcasts:\n  - name: promo\n    account: nobody\n    audience: {recipients: [{phone: \"12\"}]}\n    message: {text: \"Hi\"}\n"
	a := e.do("POST", "/v1/validate", roToken, "application/yaml", []byte(bad))
	require.Equal(t, http.StatusUnprocessableEntity, a.status, "%s", a.body)
	var refused struct {
		Code     string
		Problems []service.Problem
	}
	require.NoError(t, json.Unmarshal(a.body, &refused))
	require.Equal(t, "invalid_campaign", refused.Code)
	require.NotEmpty(t, refused.Problems)
	fields := map[string]bool{}
	for _, p := range refused.Problems {
		require.Equal(t, "campaign.yaml", p.File, "problems name the file as given: %+v", p)
		require.Positive(t, p.Line)
		require.True(t, strings.HasPrefix(p.Text, fmt.Sprintf("campaign.yaml:%d: ", p.Line)), p.Text)
		fields[p.Field] = true
	}
	require.True(t, fields["broadcasts[0].account"], "the unknown account: %+v", refused.Problems)
	require.NotContains(t, string(a.body), "wacamp-campaign-", "the temporary directory shows")

	// A bundle with a file outside its directory is refused as such.
	a = e.postJSON("/v1/validate", roToken, map[string]any{"files": map[string]string{"../x.yaml": "accounts: []"}})
	require.Equal(t, http.StatusBadRequest, a.status, "%s", a.body)

	ok := e.postJSON("/v1/validate?offline=true", roToken, e.bundle(3))
	require.Equal(t, http.StatusOK, ok.status, "%s", ok.body)
	require.Equal(t, true, ok.json(t)["valid"])

	first := e.postJSON("/v1/apply", rwToken, e.bundle(3))
	require.Equal(t, http.StatusOK, first.status, "%s", first.body)
	require.Contains(t, string(first.body), `"action": "created"`)
	again := e.postJSON("/v1/apply", rwToken, e.bundle(3))
	require.Equal(t, http.StatusOK, again.status, "%s", again.body)
	require.NotContains(t, string(again.body), `"created"`)
	require.NotContains(t, string(again.body), `"updated"`)
	got := e.do("GET", "/v1/broadcasts/promo", roToken, "", nil).json(t)
	require.Equal(t, float64(3), got["recipients"])
	require.Equal(t, http.StatusNotFound, e.do("GET", "/v1/broadcasts/nothing", roToken, "", nil).status)
}

// The broadcast endpoints: lifecycle verbs, retry-failed's counts,
// delivery pages filtered by state and phone, and exports.
func TestBroadcastEndpoints(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	require.Equal(t, http.StatusOK, e.postJSON("/v1/apply", rwToken, e.bundle(6)).status)
	ctx, db := context.Background(), e.conns.Store
	b, err := db.BroadcastByName(ctx, "promo")
	require.NoError(t, err)
	now := time.Now()
	started, err := db.StartBroadcast(ctx, b.ID, b.UpdatedAt, now)
	require.NoError(t, err)
	require.True(t, started)
	refs, err := db.PlanNext(ctx, b.ID, 10, now)
	require.NoError(t, err)
	require.Len(t, refs, 6)
	fail := func(i int, code, reason string) {
		ok, err := db.Finish(ctx, refs[i], delivery.Failed, code, reason, now)
		require.NoError(t, err)
		require.True(t, ok)
	}
	fail(0, "131026", "wabotick send: code 131026: undeliverable (permanent)")
	fail(1, "", "gave up after 10 attempts: wabotick send: http 503: unavailable (transient)")
	fail(2, "", "outcome unknown: the provider's history could not be read to check whether it was sent: timeout")
	for _, r := range refs[3:] {
		ok, err := db.Finish(ctx, r, delivery.Skipped, "", "test", now)
		require.NoError(t, err)
		require.True(t, ok)
	}
	ok, err := db.SetStatus(ctx, b.ID, []campaign.Status{campaign.StatusRunning}, campaign.StatusCompleted, "", now)
	require.NoError(t, err)
	require.True(t, ok)

	page := e.do("GET", "/v1/broadcasts/promo/deliveries?state=failed&limit=2", roToken, "", nil)
	require.Equal(t, http.StatusOK, page.status, "%s", page.body)
	var p service.DeliveryPage
	require.NoError(t, json.Unmarshal(page.body, &p))
	require.Len(t, p.Deliveries, 2)
	require.Equal(t, "131026", p.Deliveries[0].ErrorCode)
	require.Equal(t, refs[1].ID, p.Next)
	page = e.do("GET", fmt.Sprintf("/v1/broadcasts/promo/deliveries?state=failed&limit=2&after=%d", p.Next), roToken, "", nil)
	p = service.DeliveryPage{}
	require.NoError(t, json.Unmarshal(page.body, &p))
	require.Len(t, p.Deliveries, 1, "the last page")
	require.Zero(t, p.Next)
	page = e.do("GET", "/v1/broadcasts/promo/deliveries?phone=%2B31610000004", roToken, "", nil)
	p = service.DeliveryPage{}
	require.NoError(t, json.Unmarshal(page.body, &p))
	require.Len(t, p.Deliveries, 1)
	require.Equal(t, "P4", p.Deliveries[0].Name)
	require.Equal(t, delivery.Skipped, p.Deliveries[0].Status)
	require.Equal(t, http.StatusBadRequest, e.do("GET", "/v1/broadcasts/promo/deliveries?state=lost", roToken, "", nil).status)

	retry := e.do("POST", "/v1/broadcasts/promo/retry-failed", rwToken, "", nil)
	require.Equal(t, http.StatusOK, retry.status, "%s", retry.body)
	var rr struct {
		campaign.RetryResult
		Why map[string]string
	}
	require.NoError(t, json.Unmarshal(retry.body, &rr))
	require.Equal(t, 1, rr.Replanned)
	require.Equal(t, map[string]int{delivery.NotRetriedPermanent: 1, delivery.NotRetriedOutcomeUnknown: 1}, rr.NotRetried)
	require.Equal(t, campaign.StatusRunning, rr.Status, "the completed broadcast runs again")
	require.NotEmpty(t, rr.Why[delivery.NotRetriedOutcomeUnknown])

	jsonl := e.do("GET", "/v1/broadcasts/promo/export", roToken, "", nil)
	require.Equal(t, http.StatusOK, jsonl.status)
	require.Len(t, strings.Split(strings.TrimSpace(string(jsonl.body)), "\n"), 6)
	csvA := e.do("GET", "/v1/broadcasts/promo/export?format=csv", roToken, "", nil)
	require.Equal(t, http.StatusOK, csvA.status)
	require.Contains(t, csvA.header.Get("Content-Type"), "text/csv")
	recs, err := csv.NewReader(bytes.NewReader(csvA.body)).ReadAll()
	require.NoError(t, err)
	require.Len(t, recs, 7, "a header and a row per recipient")
	require.Equal(t, service.BroadcastColumns, recs[0])
	require.Equal(t, "planned", recs[2][3], "the delivery retry-failed planned again")
	require.Equal(t, http.StatusNotFound, e.do("GET", "/v1/sequences/promo/export", roToken, "", nil).status)

	pause := e.do("POST", "/v1/broadcasts/promo/pause", rwToken, "", nil)
	require.Equal(t, http.StatusOK, pause.status, "%s", pause.body)
	require.Equal(t, "paused", pause.json(t)["status"])
	again := e.do("POST", "/v1/broadcasts/promo/pause", rwToken, "", nil)
	require.Equal(t, http.StatusConflict, again.status)
	require.Equal(t, "invalid_transition", again.json(t)["code"])
	require.Equal(t, "running", e.do("POST", "/v1/broadcasts/promo/resume", rwToken, "", nil).json(t)["status"])
	require.Equal(t, "cancelled", e.do("POST", "/v1/broadcasts/promo/cancel", rwToken, "", nil).json(t)["status"])
	require.Equal(t, http.StatusConflict, e.do("POST", "/v1/broadcasts/promo/retry-failed", rwToken, "", nil).status)
}

// Enrollment with an Idempotency-Key: retries, concurrent ones included,
// get the first answer and enroll once; the key with another body is
// refused; bad phones are refused as JSON before anyone is enrolled.
func TestEnrollIdempotency(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	seq := e.account() + "sequences:\n  - name: onboarding\n    account: main\n    steps:\n      - {after: 1h, message: {text: \"Welcome {{name}}!\"}}\n"
	require.Equal(t, http.StatusOK, e.do("POST", "/v1/apply", rwToken, "application/yaml", []byte(seq)).status)
	body := map[string]any{"people": []map[string]any{{"phone": "+31 6 1000 0001", "name": "Ann"}, {"phone": "31610000002", "name": "Bob"}}}

	const n = 6
	answers := make([]answer, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			answers[i] = e.postJSON("/v1/sequences/onboarding/enroll", rwToken, body, "Idempotency-Key", "signup-42")
		})
	}
	wg.Wait()
	replayed := 0
	for _, a := range answers {
		require.Equal(t, http.StatusOK, a.status, "%s", a.body)
		require.JSONEq(t, `{"enrolled": 2, "skipped": 0, "opted_out": 0}`, string(a.body))
		if a.header.Get("Idempotent-Replayed") == "true" {
			replayed++
		}
	}
	require.Equal(t, n-1, replayed, "one request ran, the others got its answer")
	rep := e.do("GET", "/v1/sequences/onboarding", roToken, "", nil).json(t)
	require.Equal(t, map[string]any{"active": float64(2)}, rep["enrollments"])

	other := e.postJSON("/v1/sequences/onboarding/enroll", rwToken, map[string]any{"people": []map[string]any{{"phone": "31610000003"}}},
		"Idempotency-Key", "signup-42")
	require.Equal(t, http.StatusUnprocessableEntity, other.status)
	require.Equal(t, "idempotency_key_reused", other.json(t)["code"])
	// Without a key, enrolling again changes nothing either.
	plain := e.postJSON("/v1/sequences/onboarding/enroll", rwToken, body)
	require.JSONEq(t, `{"enrolled": 0, "skipped": 2, "opted_out": 0}`, string(plain.body))

	badPhone := e.postJSON("/v1/sequences/onboarding/enroll", rwToken, map[string]any{"people": []map[string]any{{"phone": "31610000004"}, {"phone": "12"}}})
	require.Equal(t, http.StatusUnprocessableEntity, badPhone.status)
	require.Contains(t, string(badPhone.body), `"field": "people.phone[1]"`)
	unknown := e.postJSON("/v1/sequences/onboarding/enroll", rwToken, map[string]any{"persons": []string{}})
	require.Equal(t, http.StatusBadRequest, unknown.status, "unknown fields are refused")

	un := e.postJSON("/v1/sequences/onboarding/unenroll", rwToken, map[string]any{"phones": []string{"31610000001", "31610000009"}},
		"Idempotency-Key", "un-1")
	require.Equal(t, http.StatusOK, un.status, "%s", un.body)
	require.JSONEq(t, `{"unenrolled": ["31610000001"], "not_active": ["31610000009"]}`, string(un.body))
	ex := e.postJSON("/v1/exit", rwToken, map[string]any{"phones": []string{"31610000002"}, "on": "reply"})
	require.Equal(t, http.StatusOK, ex.status, "%s", ex.body)
	require.JSONEq(t, `{"exited": {"31610000002": []}}`, string(ex.body), "the sequence does not exit on reply")
	require.Equal(t, http.StatusNotFound, e.postJSON("/v1/sequences/nothing/enroll", rwToken, body).status)
}

// A test send goes to the test phone through the account's limits and is
// recorded as a test: the campaign's counts do not move; a second one at
// once is held by the pair interval (429, Retry-After); an opted-out phone
// is refused; a sequence's step is named by its number.
func TestTestSend(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	campaignYAML := e.account() + `broadcasts:
  - name: promo
    account: main
    audience: {recipients: [{phone: "31610000001", name: Ann}]}
    message: {text: "Hello {{name}}"}
sequences:
  - name: onboarding
    account: main
    steps:
      - {after: 1h, message: {text: "Welcome {{name}}!"}}
`
	applied := e.do("POST", "/v1/apply", rwToken, "application/yaml", []byte(campaignYAML))
	require.Equal(t, http.StatusOK, applied.status, "%s", applied.body)
	before := e.do("GET", "/v1/broadcasts/promo", roToken, "", nil).json(t)["counts"]

	// Without the account's token nothing can be sent, and nothing of the
	// recipient's limits is taken: the send with the token right after is
	// not held by the pair interval.
	e.tokenOff.Store(true)
	noToken := e.postJSON("/v1/test-send", rwToken, map[string]any{"campaign": "promo", "phone": "+31 6 9999 0001", "name": "Tester"})
	e.tokenOff.Store(false)
	require.Equal(t, http.StatusOK, noToken.status, "%s", noToken.body)
	require.Equal(t, "failed", noToken.json(t)["status"], "%s", noToken.body)
	require.Contains(t, string(noToken.body), "SIM_TOKEN is not set", "%s", noToken.body)

	a := e.postJSON("/v1/test-send", rwToken, map[string]any{"campaign": "promo", "phone": "+31 6 9999 0001", "name": "Tester"})
	require.Equal(t, http.StatusOK, a.status, "%s", a.body)
	got := a.json(t)
	require.Equal(t, "sent", got["status"], "%s", a.body)
	require.Equal(t, "31699990001", got["phone"])
	require.Equal(t, "crm", got["requested_by"])
	require.Equal(t, before, e.do("GET", "/v1/broadcasts/promo", roToken, "", nil).json(t)["counts"], "a test is not counted in the campaign")
	var n int64
	require.NoError(t, e.conns.Store.Gorm().Raw(`SELECT COUNT(*) FROM test_sends WHERE campaign = 'promo' AND status = 'sent'`).Scan(&n).Error)
	require.Equal(t, int64(1), n)

	unrendered := e.postJSON("/v1/test-send", rwToken, map[string]any{"campaign": "promo", "phone": "31699990001"})
	require.Equal(t, http.StatusBadRequest, unrendered.status, "no name for {{name}}: %s", unrendered.body)
	held := e.postJSON("/v1/test-send", rwToken, map[string]any{"campaign": "promo", "phone": "31699990001", "name": "Tester"})
	require.Equal(t, http.StatusTooManyRequests, held.status, "%s", held.body)
	require.Equal(t, "held", held.json(t)["code"])
	require.NotEmpty(t, held.header.Get("Retry-After"))
	require.Contains(t, string(held.body), "try again in ", "the message says when, for those who read it (the CLI)")

	_, err := e.conns.Store.Suppress(context.Background(), []consent.Entry{{List: "account:main", Phone: "31699990002",
		Scope: consent.ScopeAll, Source: consent.SourceCLI, Reason: "test"}}, time.Now())
	require.NoError(t, err)
	out := e.postJSON("/v1/test-send", rwToken, map[string]any{"campaign": "promo", "phone": "31699990002", "name": "X"})
	require.Equal(t, http.StatusUnprocessableEntity, out.status, "%s", out.body)
	require.Equal(t, "opted_out", out.json(t)["code"])

	step := e.postJSON("/v1/test-send", rwToken, map[string]any{"campaign": "onboarding", "step": 1, "phone": "31699990003", "name": "Ben"})
	require.Equal(t, http.StatusOK, step.status, "%s", step.body)
	require.Equal(t, "sequence", step.json(t)["kind"])
	require.Equal(t, http.StatusBadRequest, e.postJSON("/v1/test-send", rwToken, map[string]any{"campaign": "onboarding", "phone": "31699990003"}).status)
	require.Equal(t, http.StatusNotFound, e.postJSON("/v1/test-send", rwToken, map[string]any{"campaign": "nothing", "phone": "31699990003"}).status)
	require.Equal(t, http.StatusForbidden, e.postJSON("/v1/test-send", roToken, map[string]any{"campaign": "promo", "phone": "31699990004"}).status)
}

// A read-only token's validation reads no secret and asks no provider:
// a campaign in a request chooses its accounts' base_url, and checking
// online would send the secret it names there. A read-write token's
// validation or apply, which read secrets, take only accounts as applied.
func TestReadOnlyValidationIsOffline(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var asked atomic.Int32
	trap := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		http.Error(w, "no", http.StatusTeapot)
	}))
	t.Cleanup(trap.Close)
	doc := strings.Replace(e.account(), e.simURL, trap.URL+"/api/v1", 1)
	a := e.do("POST", "/v1/validate", roToken, "application/yaml", []byte(doc))
	require.Equal(t, http.StatusOK, a.status, "%s", a.body)
	require.Zero(t, asked.Load(), "a read-only validation called the account's base_url")
	// A read-write validation checks online, so it reads the account's
	// token: an account pointed at another host than the applied one is
	// refused before that, and the token never leaves for it.
	a = e.do("POST", "/v1/validate", rwToken, "application/yaml", []byte(doc))
	require.Equal(t, http.StatusUnprocessableEntity, a.status, "%s", a.body)
	require.Contains(t, string(a.body), `account \"main\" differs from the applied one`)
	a = e.do("POST", "/v1/apply", rwToken, "application/yaml", []byte(doc))
	require.Equal(t, http.StatusUnprocessableEntity, a.status, "%s", a.body)
	require.Zero(t, asked.Load(), "a campaign sent through the API sent the account's token to a host of its choosing")
	fresh := strings.Replace(e.account(), "name: main", "name: other", 1)
	a = e.do("POST", "/v1/validate", rwToken, "application/yaml", []byte(fresh))
	require.Equal(t, http.StatusUnprocessableEntity, a.status, "%s", a.body)
	require.Contains(t, string(a.body), `account \"other\" is not applied`)
	a = e.do("POST", "/v1/validate", rwToken, "application/yaml", []byte(e.account()))
	require.Equal(t, http.StatusOK, a.status, "the applied account checks online: %s", a.body)
}
