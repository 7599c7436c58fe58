package cli_test

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/internal/cli"
	"github.com/wacamp/wacamp/provider/botsailor/botsailorsim"
	"github.com/wacamp/wacamp/provider/sim"
)

// consoleUser and consolePassword are the test web UI's login.
const consoleUser, consolePassword = "ops", "console-pw-0123"

// asynqmon starts the asynqmon command (with args) on the world's
// database and Redis and returns its base URL, read from the line it logs
// once it listens.
func (w *world) asynqmon(args ...string) string {
	w.t.Helper()
	out := &syncBuf{}
	env := map[string]string{"ASYNQMON_USER": consoleUser, "ASYNQMON_PASSWORD": consolePassword}
	io := cli.IO{Stdout: out, Stderr: out, Getenv: func(k string) string {
		if v, ok := env[k]; ok {
			return v
		}
		return w.env[k]
	}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	// No metrics server: tests run at once, and it has a fixed port.
	go func() {
		done <- cli.Asynqmon(ctx, append([]string{"-addr", "127.0.0.1:0", "-metrics-addr", ""}, args...), io)
	}()
	w.t.Cleanup(func() {
		cancel()
		<-done
		if w.t.Failed() {
			w.t.Logf("asynqmon %v:\n%s", args, out.String())
		}
	})
	listening := regexp.MustCompile(`msg="asynqmon: web UI[^"]*" url=(http://[0-9.:]+)/`)
	var base string
	require.Eventually(w.t, func() bool {
		if m := listening.FindStringSubmatch(out.String()); m != nil {
			base = m[1]
			return true
		}
		select {
		case err := <-done:
			w.t.Fatalf("asynqmon ended: %v\n%s", err, out.String())
		default:
		}
		return false
	}, 30*time.Second, 10*time.Millisecond)
	return base
}

// page is one answer of the console.
type page struct {
	status int
	body   string
	header http.Header
}

// noRedirect is a client that shows redirects instead of following them.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// fetch gets base+path with the console login (or, with user "", none).
func fetch(t *testing.T, base, path, user, pass string) page {
	t.Helper()
	return do(t, http.MethodGet, base+path, user, pass, nil, nil)
}

func do(t *testing.T, method, u, user, pass string, form url.Values, hdr map[string]string) page {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	require.NoError(t, err)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := noRedirect.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return page{status: resp.StatusCode, body: string(b), header: resp.Header}
}

// state is the broadcast's state as `scheduler status --json` says.
func (w *world) state(name string) string {
	w.t.Helper()
	code, out := w.run("status", name, "--json")
	require.Equal(w.t, 0, code, out)
	var st struct{ Status string }
	require.NoError(w.t, json.Unmarshal([]byte(out), &st))
	return st.Status
}

// promoWorld is a world with the broadcast promo of n recipients applied
// (scheduled: no scheduler runs).
func promoWorld(t *testing.T, n int) *world {
	w := newWorld(t)
	code, out := w.run("apply", "-f", w.campaign(n))
	require.Equal(t, 0, code, out)
	return w
}

var formToken = regexp.MustCompile(`name="token" value="([^"]+)"`)

// Every console path, the page, its assets, the confirmation and the
// action alike, answers 401 without the login or with a wrong one; with it,
// the pages are served with a strict CSP (no inline script, no other
// origin).
func TestConsoleNeedsTheLoginOnEveryRoute(t *testing.T) {
	t.Parallel()
	w := promoWorld(t, 3)
	base := w.asynqmon()
	routes := []struct{ method, path string }{
		{"GET", "/console/"}, {"GET", "/console/static/console.css"}, {"GET", "/console/static/console.js"},
		{"GET", "/console/broadcasts/promo"}, {"GET", "/console/broadcasts/promo?phone=316&after=1"},
		{"GET", "/console/broadcasts/promo/pause"}, {"POST", "/console/broadcasts/promo/pause"},
		{"GET", "/console/broadcasts/nope"}, {"GET", "/console/elsewhere"}, {"GET", "/"},
	}
	for _, r := range routes {
		for _, login := range [][2]string{{"", ""}, {consoleUser, "wrong"}, {"someone", consolePassword}} {
			p := do(t, r.method, base+r.path, login[0], login[1], url.Values{}, nil)
			require.Equal(t, http.StatusUnauthorized, p.status, "%s %s as %q", r.method, r.path, login[0])
			require.NotContains(t, p.body, "promo")
		}
	}
	require.Equal(t, "scheduled", w.state("promo"), "no unauthenticated request changed anything")
	for path, want := range map[string]int{"/console/": 200, "/console/broadcasts/promo": 200, "/console/broadcasts/promo/pause": 200,
		"/console/broadcasts/nope": 404, "/console/broadcasts/promo/explode": 404, "/console/static/console.js": 200} {
		p := fetch(t, base, path, consoleUser, consolePassword)
		require.Equal(t, want, p.status, path)
		csp := p.header.Get("Content-Security-Policy")
		require.Contains(t, csp, "default-src 'none'", path)
		require.Contains(t, csp, "script-src 'self'", path)
		require.NotContains(t, csp, "unsafe-inline", path)
	}
	list := fetch(t, base, "/console/", consoleUser, consolePassword)
	require.Contains(t, list.body, `href="/console/broadcasts/promo"`)
	require.Contains(t, list.body, `href="/"`, "a link to the Asynq UI")
	require.NotContains(t, list.body, "<script>", "no inline script")
	// The Asynq UI links back, on its page only: its API answers and
	// assets pass untouched.
	for _, path := range []string{"/", "/queues/broadcast"} {
		p := fetch(t, base, path, consoleUser, consolePassword)
		require.Equal(t, 200, p.status, path)
		require.Contains(t, p.body, `<a href="/console/" id="wacamp-console-link"`, path)
	}
	js := regexp.MustCompile(`src="(/static/js/[^"]+\.js)"`).FindStringSubmatch(fetch(t, base, "/", consoleUser, consolePassword).body)
	require.NotNil(t, js)
	for _, path := range []string{"/api/queues", js[1]} {
		p := fetch(t, base, path, consoleUser, consolePassword)
		require.Equal(t, 200, p.status, path)
		require.NotContains(t, p.body, "wacamp-console-link", path)
	}
}

// The console's actions: a confirmation page, then a POST carrying the
// form's token moves the broadcast (pause, resume, cancel) and sends the
// browser back to its page. A POST without the token, or one a browser
// marks as coming from another site, changes nothing.
func TestConsoleActionsNeedTheFormAndTheSameOrigin(t *testing.T) {
	t.Parallel()
	w := promoWorld(t, 3)
	base := w.asynqmon()
	confirm := fetch(t, base, "/console/broadcasts/promo/pause", consoleUser, consolePassword)
	require.Equal(t, 200, confirm.status)
	require.Contains(t, confirm.body, "pause broadcast promo?")
	m := formToken.FindStringSubmatch(confirm.body)
	require.NotNil(t, m, confirm.body)
	token := html.UnescapeString(m[1])
	post := func(action string, form url.Values, hdr map[string]string) page {
		return do(t, http.MethodPost, base+"/console/broadcasts/promo/"+action, consoleUser, consolePassword, form, hdr)
	}

	p := post("pause", url.Values{}, nil)
	require.Equal(t, http.StatusForbidden, p.status, "no token")
	p = post("pause", url.Values{"token": {token + "x"}}, nil)
	require.Equal(t, http.StatusForbidden, p.status, "a wrong token")
	p = post("pause", url.Values{"token": {token}}, map[string]string{"Sec-Fetch-Site": "cross-site"})
	require.Equal(t, http.StatusForbidden, p.status, "a cross-site form")
	p = post("pause", url.Values{"token": {token}}, map[string]string{"Origin": "https://evil.example"})
	require.Equal(t, http.StatusForbidden, p.status, "another origin")
	require.Equal(t, "scheduled", w.state("promo"))

	p = post("pause", url.Values{"token": {token}}, map[string]string{"Sec-Fetch-Site": "same-origin"})
	require.Equal(t, http.StatusSeeOther, p.status, p.body)
	require.Equal(t, "/console/broadcasts/promo?done=pause", p.header.Get("Location"))
	require.Equal(t, "paused", w.state("promo"))
	shown := fetch(t, base, "/console/broadcasts/promo?done=pause", consoleUser, consolePassword)
	require.Contains(t, shown.body, `id="state">paused<`)
	require.Contains(t, shown.body, "paused by operator")
	require.Contains(t, shown.body, `/console/broadcasts/promo/resume"`)
	require.NotContains(t, shown.body, `/console/broadcasts/promo/pause"`, "no pause button on a paused broadcast")

	p = post("pause", url.Values{"token": {token}}, nil)
	require.Equal(t, http.StatusConflict, p.status, "pausing a paused broadcast")
	p = post("resume", url.Values{"token": {token}}, nil)
	require.Equal(t, http.StatusSeeOther, p.status, p.body)
	require.Equal(t, "scheduled", w.state("promo"), "it never started: back to scheduled")
	require.NotContains(t, fetch(t, base, "/console/broadcasts/promo", consoleUser, consolePassword).body, "act-retry-failed",
		"no retry button without failed deliveries")
	p = post("retry-failed", url.Values{"token": {token}}, nil)
	require.Equal(t, http.StatusConflict, p.status, "retry-failed on a scheduled broadcast: %s", p.body)
	p = post("cancel", url.Values{"token": {token}}, nil)
	require.Equal(t, http.StatusSeeOther, p.status, p.body)
	require.Equal(t, "cancelled", w.state("promo"))
	shown = fetch(t, base, "/console/broadcasts/promo", consoleUser, consolePassword)
	require.NotContains(t, shown.body, `class="button act-`, "no actions on a cancelled broadcast")
}

// With --read-only the console shows no action and refuses every one,
// even with a form token from a server that allows them.
func TestConsoleReadOnlyRefusesActions(t *testing.T) {
	t.Parallel()
	w := promoWorld(t, 3)
	rw, ro := w.asynqmon(), w.asynqmon("-read-only")
	m := formToken.FindStringSubmatch(fetch(t, rw, "/console/broadcasts/promo/pause", consoleUser, consolePassword).body)
	require.NotNil(t, m)
	shown := fetch(t, ro, "/console/broadcasts/promo", consoleUser, consolePassword)
	require.Equal(t, 200, shown.status)
	require.Contains(t, shown.body, "read-only")
	require.NotContains(t, shown.body, `class="button act-`)
	for _, act := range []string{"pause", "resume", "cancel"} {
		require.Equal(t, http.StatusForbidden, fetch(t, ro, "/console/broadcasts/promo/"+act, consoleUser, consolePassword).status, act)
		p := do(t, http.MethodPost, ro+"/console/broadcasts/promo/"+act, consoleUser, consolePassword,
			url.Values{"token": {html.UnescapeString(m[1])}}, map[string]string{"Sec-Fetch-Site": "same-origin"})
		require.Equal(t, http.StatusForbidden, p.status, act)
		require.Contains(t, p.body, "read-only")
	}
	require.Equal(t, "scheduled", w.state("promo"))
}

var (
	phoneRow = regexp.MustCompile(`data-phone="(\d+)"`)
	nextPage = regexp.MustCompile(`href="([^"]+)" id="next-page"`)
)

// The recipient table pages through the audience in its order, each
// recipient once, and finds recipients by any part of their number.
func TestConsoleRecipientsPageAndSearch(t *testing.T) {
	t.Parallel()
	w := promoWorld(t, 7)
	base := w.asynqmon()
	var seen []string
	path := "/console/broadcasts/promo?size=3"
	pages := 0
	for path != "" {
		p := fetch(t, base, path, consoleUser, consolePassword)
		require.Equal(t, 200, p.status, path)
		rows := phoneRow.FindAllStringSubmatch(p.body, -1)
		require.NotEmpty(t, rows, path)
		require.LessOrEqual(t, len(rows), 3)
		for _, r := range rows {
			seen = append(seen, r[1])
		}
		path = ""
		if m := nextPage.FindStringSubmatch(p.body); m != nil {
			path = html.UnescapeString(m[1])
		}
		if pages++; pages > 5 {
			t.Fatal("the pages do not end")
		}
	}
	require.Equal(t, 3, pages)
	require.Equal(t, []string{"31610000000", "31610000001", "31610000002", "31610000003", "31610000004", "31610000005", "31610000006"}, seen)

	for q, want := range map[string][]string{
		"0000005": {"31610000005"}, "+31 61 000 0006": {"31610000006"}, "abc": nil, "999": nil,
	} {
		p := fetch(t, base, "/console/broadcasts/promo?phone="+url.QueryEscape(q), consoleUser, consolePassword)
		require.Equal(t, 200, p.status)
		var got []string
		for _, r := range phoneRow.FindAllStringSubmatch(p.body, -1) {
			got = append(got, r[1])
		}
		require.Equal(t, want, got, q)
	}
}

// Without DATABASE_URL the web UI server still serves the Asynq UI, and
// the console's paths say what it needs.
func TestConsoleWithoutADatabase(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	delete(w.env, "DATABASE_URL")
	base := w.asynqmon()
	require.Equal(t, http.StatusUnauthorized, fetch(t, base, "/console/", "", "").status)
	p := fetch(t, base, "/console/", consoleUser, consolePassword)
	require.Equal(t, http.StatusServiceUnavailable, p.status)
	require.Contains(t, p.body, "DATABASE_URL")
	require.Equal(t, http.StatusOK, fetch(t, base, "/", consoleUser, consolePassword).status)
}

// Retry failed, from the console: on a completed broadcast whose every
// message the provider accepted and then reported failed, the button is
// there; confirmed, nothing is planned again (each may have reached the
// phone) and the page says so; the broadcast stays completed.
func TestConsoleRetryFailed(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	failing := botsailorsim.New(botsailorsim.Options{Tokens: []string{secret}, Knobs: sim.Knobs{DeliverAfter: 50 * time.Millisecond, ReadAfter: -1, FailShare: 1, Seed: 3}})
	ts := httptest.NewServer(failing)
	t.Cleanup(ts.Close)
	w.sim, w.simURL = failing, ts.URL+"/api/v1"
	code, out := w.run("apply", "-f", w.campaign(5))
	require.Equal(t, 0, code, out)
	w.daemon(cli.Worker, "-concurrency", "5")
	w.daemon(cli.Scheduler, "run", "-interval", "100ms")
	require.Eventually(t, func() bool {
		code, out := w.run("status", "promo", "--json")
		var st struct {
			Status string
			Counts map[string]int
		}
		return code == 0 && json.Unmarshal([]byte(out), &st) == nil && st.Status == "completed" && st.Counts["failed"] == 5
	}, 90*time.Second, 200*time.Millisecond)

	base := w.asynqmon()
	shown := fetch(t, base, "/console/broadcasts/promo", consoleUser, consolePassword)
	require.Contains(t, shown.body, `href="/console/broadcasts/promo/retry-failed"`)
	confirm := fetch(t, base, "/console/broadcasts/promo/retry-failed", consoleUser, consolePassword)
	require.Equal(t, 200, confirm.status)
	require.Contains(t, confirm.body, "Its 5 failed deliveries are planned again where")
	m := formToken.FindStringSubmatch(confirm.body)
	require.NotNil(t, m)
	p := do(t, http.MethodPost, base+"/console/broadcasts/promo/retry-failed", consoleUser, consolePassword,
		url.Values{"token": {html.UnescapeString(m[1])}}, map[string]string{"Sec-Fetch-Site": "same-origin"})
	require.Equal(t, http.StatusSeeOther, p.status, p.body)
	loc := p.header.Get("Location")
	require.Equal(t, "/console/broadcasts/promo?done=retry-failed&replanned=0&kept=5", loc)
	shown = fetch(t, base, loc, consoleUser, consolePassword)
	require.Contains(t, shown.body, "Done: retry-failed: 0 failed deliveries planned again, 5 left failed.")
	require.Equal(t, "completed", w.state("promo"))
}

// rowsOf reads every page of a console table from path, following its
// next-page links, and returns the rows' data-phone values.
func rowsOf(t *testing.T, base, path string) []string {
	t.Helper()
	var seen []string
	for pages := 0; path != ""; pages++ {
		require.Less(t, pages, 20, "the pages do not end")
		p := fetch(t, base, path, consoleUser, consolePassword)
		require.Equal(t, 200, p.status, path)
		for _, r := range phoneRow.FindAllStringSubmatch(p.body, -1) {
			seen = append(seen, r[1])
		}
		path = ""
		if m := nextPage.FindStringSubmatch(p.body); m != nil {
			path = html.UnescapeString(m[1])
		}
	}
	return seen
}

// The recipient table's state filter keeps the recipients in that state,
// in audience order, across pages; with a phone search too, both. A
// cancelled broadcast's recipients are skipped; those the feeder never
// reached count as planned until then.
func TestConsoleRecipientsByState(t *testing.T) {
	t.Parallel()
	w := promoWorld(t, 7)
	base := w.asynqmon()
	all := []string{"31610000000", "31610000001", "31610000002", "31610000003", "31610000004", "31610000005", "31610000006"}
	require.Equal(t, all, rowsOf(t, base, "/console/broadcasts/promo?size=2&state=planned"), "never fed: all planned")
	require.Empty(t, rowsOf(t, base, "/console/broadcasts/promo?size=2&state=sent"))
	p := fetch(t, base, "/console/broadcasts/promo?state=sent&phone=0003", consoleUser, consolePassword)
	require.Contains(t, p.body, "No recipients whose phone contains “0003” and in state sent.")
	require.Contains(t, p.body, `<option value="sent" selected>sent</option>`)

	code, out := w.run("cancel", "promo")
	require.Equal(t, 0, code, out)
	code, out = w.run("status", "promo", "--json")
	require.Equal(t, 0, code, out)
	var st struct{ Counts map[string]int }
	require.NoError(t, json.Unmarshal([]byte(out), &st))
	require.Equal(t, map[string]int{"skipped": 7}, nonZero(st.Counts), "cancel skips every recipient, fed or not")
	require.Equal(t, all, rowsOf(t, base, "/console/broadcasts/promo?size=2&state=skipped"))
	require.Empty(t, rowsOf(t, base, "/console/broadcasts/promo?size=2&state=planned"))
	require.Equal(t, []string{"31610000003"}, rowsOf(t, base, "/console/broadcasts/promo?state=skipped&phone=0003"))
	require.Equal(t, all, rowsOf(t, base, "/console/broadcasts/promo?size=2&state=bogus"), "an unknown state filters nothing")
}

func nonZero(m map[string]int) map[string]int {
	out := map[string]int{}
	for k, n := range m {
		if n != 0 {
			out[k] = n
		}
	}
	return out
}

// A sequence's page, opened from the list, shows what `scheduler status`
// counts (enrollments by state, each step's deliveries by state); its step
// table pages through every step delivery in enrollment order and finds
// them by part of the number and by state.
func TestConsoleSequencePage(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	code, out := w.run("apply", "-f", w.sequence(`{after: 0s, message: {text: "Welcome {{name}}!"}}`, `{after: 24h, message: {text: "Day two"}}`))
	require.Equal(t, 0, code, out)
	var csv strings.Builder
	csv.WriteString("phone,name\n")
	for i := range 7 {
		fmt.Fprintf(&csv, "49151000000%02d,P%d\n", 10-i, i)
	}
	code, out = w.run("enroll", "onboarding", "-f", w.write("people.csv", csv.String()))
	require.Equal(t, 0, code, out)
	code, out = w.run("unenroll", "onboarding", "--phone", "4915100000007")
	require.Equal(t, 0, code, out)
	base := w.asynqmon()

	for _, path := range []string{"/console/sequences/onboarding", "/console/sequences/onboarding?state=planned&phone=1&after=3.1"} {
		for _, login := range [][2]string{{"", ""}, {consoleUser, "wrong"}} {
			p := fetch(t, base, path, login[0], login[1])
			require.Equal(t, http.StatusUnauthorized, p.status, path)
			require.NotContains(t, p.body, "onboarding")
		}
	}
	require.Equal(t, http.StatusNotFound, fetch(t, base, "/console/sequences/nope", consoleUser, consolePassword).status)
	require.Contains(t, fetch(t, base, "/console/", consoleUser, consolePassword).body, `href="/console/sequences/onboarding"`)

	code, out = w.run("status", "onboarding", "--json")
	require.Equal(t, 0, code, out)
	var rep struct {
		Enrollments map[string]int
		Steps       []struct {
			Step   int
			Counts map[string]int
		}
	}
	require.NoError(t, json.Unmarshal([]byte(out), &rep))
	require.Equal(t, map[string]int{"active": 6, "unenrolled": 1}, rep.Enrollments)
	p := fetch(t, base, "/console/sequences/onboarding", consoleUser, consolePassword)
	require.Equal(t, 200, p.status)
	require.Contains(t, p.body, `id="enrollments">6 active, 1 unenrolled<`)
	require.Len(t, rep.Steps, 2)
	for _, s := range rep.Steps {
		for _, state := range []string{"planned", "queued", "sent", "failed", "skipped"} {
			require.Contains(t, p.body, fmt.Sprintf(`id="step-%d-%s">%d<`, s.Step, state, s.Counts[state]), "step %d %s", s.Step, state)
		}
	}
	require.Equal(t, 6, rep.Steps[0].Counts["planned"])
	require.Equal(t, 1, rep.Steps[0].Counts["skipped"])
	require.Contains(t, p.body, `<svg class="chart"`, "the chart (empty: nothing sent)")
	require.Contains(t, p.body, `<td>step 1</td><td>skipped</td><td>—</td><td class="num">1</td><td class="small">enrollment unenrolled: unenrolled by operator</td>`,
		"the unenrolled person's step, among the errors")

	phones := []string{"4915100000010", "4915100000009", "4915100000008", "4915100000007", "4915100000006", "4915100000005", "4915100000004"}
	require.Equal(t, phones, rowsOf(t, base, "/console/sequences/onboarding?size=3"))
	require.Equal(t, []string{"4915100000007"}, rowsOf(t, base, "/console/sequences/onboarding?size=3&state=skipped"))
	require.Equal(t, slices.Delete(slices.Clone(phones), 3, 4), rowsOf(t, base, "/console/sequences/onboarding?size=2&state=planned"))
	require.Equal(t, []string{"4915100000010"}, rowsOf(t, base, "/console/sequences/onboarding?phone="+url.QueryEscape("+49 151 0000 0010")))
	require.Empty(t, rowsOf(t, base, "/console/sequences/onboarding?phone=0010&state=sent"))
}
