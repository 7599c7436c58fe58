package demo_test

import (
	"context"
	"encoding/base64"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/wacamp/wacamp/internal/cli"
	"github.com/wacamp/wacamp/internal/demo"
	"github.com/wacamp/wacamp/internal/testenv"
)

// chromium is the path of a Chromium (or Chrome) to drive; the test skips
// without one.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no Chromium found (chromium, chromium-browser, google-chrome): install Debian's chromium (apt-get install chromium) to run the browser test")
	return ""
}

var (
	consoleLine  = regexp.MustCompile(`console   (http://\S+/console/)`)
	passwordLine = regexp.MustCompile(`user (\S+), password ([0-9a-f]+)`)
	campaignLine = regexp.MustCompile(`campaign  (\S+) \(`)
)

// A person opens the console of a running demo in a browser: the list
// shows the running broadcast; its page shows its state and counts; pause
// (confirmed) shows it paused; resume (confirmed) shows it running again
// and, as the page refreshes itself, sending on.
//
// With WACAMP_CONSOLE_SCREENSHOT=FILE it also saves a screenshot of the
// campaign page there (how docs/console.png is made).
func TestConsoleInABrowser(t *testing.T) {
	t.Parallel()
	exe := chromium(t)
	out := &syncBuf{}
	// On the real Postgres and Redis: the embedded SQLite has one
	// connection, which the console's reads and the demo's sends share, and
	// on a loaded machine (the whole suite at once) the sends then stall.
	env := map[string]string{"DATABASE_URL": testenv.NewMigratedDatabase(t), "REDIS_URL": testenv.NewRedis(t).URL, "WACAMP_DB_MAX_CONNS": "4"}
	io := cli.IO{Stdout: out, Stderr: out, Getenv: func(k string) string { return env[k] }}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- demo.Run(ctx, []string{"-recipients", "400", "-rate", "4", "-ui", "127.0.0.1:0", "-api", "127.0.0.1:0", "-data", t.TempDir()}, io)
	}()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("demo: %v", err)
		}
		if t.Failed() {
			t.Logf("demo output:\n%s", out.String())
		}
	})
	var base, user, pass, name string
	waitFor(t, 60*time.Second, "the demo to print the console's URL", func() bool {
		c, p, n := consoleLine.FindStringSubmatch(out.String()), passwordLine.FindStringSubmatch(out.String()), campaignLine.FindStringSubmatch(out.String())
		if c == nil || p == nil || n == nil {
			return false
		}
		base, user, pass, name = c[1], p[1], p[2], n[1]
		return true
	})

	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.WindowSize(1280, 1000),
		chromedp.Flag("disable-dev-shm-usage", true))...)
	t.Cleanup(cancelAlloc)
	browser, cancelBrowser := chromedp.NewContext(alloc)
	t.Cleanup(cancelBrowser)
	// Every step has a minute; the first call starts the browser, with
	// no deadline of its own (a deadline would stop the browser).
	if err := chromedp.Do(browser); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	within := func() (context.Context, context.CancelFunc) { return context.WithTimeout(browser, time.Minute) }
	run := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		ctx, cancel := within()
		defer cancel()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	eval := func(expr string) int {
		t.Helper()
		ctx, cancel := within()
		defer cancel()
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](expr))
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		return n
	}
	// Reads and clicks run in the page, each at once: the page's refresh
	// replaces its live parts between two protocol calls, never during one.
	text := func(sel string) string {
		t.Helper()
		ctx, cancel := within()
		defer cancel()
		s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector(`+strconv.Quote(sel)+`).textContent`))
		if err != nil {
			t.Fatalf("read %s: %v", sel, err)
		}
		return strings.TrimSpace(s)
	}
	number := func(sel string) int {
		t.Helper()
		n, err := strconv.Atoi(text(sel))
		if err != nil {
			t.Fatalf("%s: %v", sel, err)
		}
		return n
	}
	visible := func(sel string) chromedp.Action[chromedp.Void] { return chromedp.WaitVisible(chromedp.CSS(sel)) }
	click := func(sel string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Evaluate[int](`(document.querySelector(`+strconv.Quote(sel)+`).click(), 1)`)(ctx, tg)
			return err
		})
	}
	// waitText waits until sel's text (kept fresh by the page's own
	// refresh, or by reloading when reload is set) satisfies ok.
	waitText := func(sel string, reload bool, ok func(string) bool) string {
		t.Helper()
		var got string
		waitFor(t, 60*time.Second, sel, func() bool {
			if reload {
				run("reload", chromedp.Reload(), visible(sel))
			}
			got = text(sel)
			return ok(got)
		})
		return got
	}
	is := func(want string) func(string) bool { return func(s string) bool { return s == want } }

	auth := base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
	row := `tr[data-broadcast="` + name + `"]`
	// The login, as the browser sends it once the user typed it.
	headers := func(ctx context.Context, tg *chromedp.Target) error {
		if _, err := cdp.Call(ctx, tg, network.Enable, network.EnableParams{}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, tg, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Authorization": "Basic " + auth}})
		return err
	}
	run("open the list", chromedp.Func(headers), chromedp.Navigate(base), visible(row))
	waitText(row+" .state", true, is("running"))
	if got := text(`tr[data-sequence="welcome"]`); !strings.Contains(got, "active") {
		t.Errorf("the list's sequence row: %q", got)
	}

	run("open the campaign", click(row+" a"), visible("#state"))
	if got := text("h1"); got != name {
		t.Errorf("the campaign page is %q, want %q", got, name)
	}
	if got := text("#state"); got != "running" {
		t.Errorf("state %q, want running", got)
	}
	total := number("#total")
	if total != 400 {
		t.Errorf("total %d, want 400", total)
	}
	sum := 0
	for _, st := range []string{"planned", "queued", "sending", "sent", "delivered", "read", "failed", "skipped", "expired"} {
		sum += number("#count-" + st)
	}
	if sum != total {
		t.Errorf("the counts per state add up to %d, not the audience's %d", sum, total)
	}
	// Once the page shows a message accepted, its chart shows it too (both
	// read at once: the refresh swaps them together).
	var shown []int
	waitFor(t, time.Minute, "a message accepted", func() bool {
		run("reload", chromedp.Reload(), visible("#state"))
		ctx, cancel := within()
		defer cancel()
		var err error
		shown, err = chromedp.Run(ctx, chromedp.Evaluate[[]int](`(() => {
			const n = id => Number(document.getElementById(id).textContent);
			return [n("count-sent") + n("count-delivered") + n("count-read"), document.querySelectorAll("#chart svg rect.bar").length];
		})()`))
		if err != nil {
			t.Fatalf("read the counts and the chart: %v", err)
		}
		return shown[0] > 0
	})
	if shown[1] == 0 {
		t.Errorf("%d messages accepted, and the progress chart has no bars", shown[0])
	}
	if shot := os.Getenv("WACAMP_CONSOLE_SCREENSHOT"); shot != "" {
		waitText("#handed", true, func(s string) bool { n, _ := strconv.Atoi(s); return n > total/3 })
		ctx, cancel := within()
		png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot()) // the window (1280×1000), as PNG
		cancel()
		if err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		if err := os.WriteFile(shot, png, 0o600); err != nil {
			t.Fatal(err)
		}
	}

	run("pause", click("a.act-pause"), visible("#confirm"))
	if got := text("h1"); got != "pause broadcast "+name+"?" {
		t.Errorf("the confirmation asks %q", got)
	}
	run("confirm pause", click("#confirm"), visible("#flash"))
	if got := text("#state"); got != "paused" {
		t.Fatalf("after pause the state shows %q", got)
	}
	if got := text("#reasons"); !strings.Contains(got, "paused by operator") {
		t.Errorf("reasons %q", got)
	}
	resumeButtons, pauseButtons := eval(`document.querySelectorAll("a.act-resume").length`), eval(`document.querySelectorAll("a.act-pause").length`)
	if resumeButtons != 1 || pauseButtons != 0 {
		t.Errorf("a paused broadcast shows %d resume and %d pause buttons", resumeButtons, pauseButtons)
	}
	handed := number("#handed")
	if handed >= total {
		t.Fatalf("the broadcast ended (%d of %d) before it could be resumed: slow the demo down", handed, total)
	}

	run("resume", click("a.act-resume"), visible("#confirm"))
	run("confirm resume", click("#confirm"), visible("#flash"))
	if got := text("#state"); got != "running" {
		t.Fatalf("after resume the state shows %q", got)
	}
	// The page refreshes itself: sending goes on.
	waitText("#handed", false, func(s string) bool { n, _ := strconv.Atoi(s); return n > handed })

	// The list's sequence opens its page, which counts its enrollments.
	seq := `tr[data-sequence="welcome"] a`
	run("back to the list", chromedp.Navigate(base), visible(seq))
	run("open the sequence", click(seq), visible("#enrollments"))
	if got := text("#enrollments"); !strings.Contains(got, "active") {
		t.Errorf("the sequence page's enrollments: %q", got)
	}
}

// waitFor polls cond until it holds, failing the test after timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(200 * time.Millisecond) // polling what a browser shows: there is no signal to wait on
	}
}
