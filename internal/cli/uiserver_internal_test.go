package cli

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/internal/testenv"
)

// uiTestServer serves the real web UI on rds the way Serve does, behind
// basic auth ops:pw.
func uiTestServer(t *testing.T, opt asynq.RedisConnOpt) *httptest.Server {
	t.Helper()
	ui := UIHandler(opt, false)
	t.Cleanup(func() { _ = ui.Close() })
	ts := httptest.NewUnstartedServer(nil)
	ts.Config = uiServer(BasicAuth(ui, Credentials{User: "ops", Password: "pw"}, nil))
	ts.Listener = limitConns(ts.Listener, maxUIConns)
	ts.Start()
	t.Cleanup(ts.Close)
	return ts
}

// A cross-origin form POST carrying the user's Basic auth (as a browser
// sends it from another site) must not pause a queue; the UI's own
// same-origin requests still do.
func TestUIRefusesCrossOriginChanges(t *testing.T) {
	t.Parallel()
	rds := testenv.NewRedis(t)
	client := asynq.NewClient(rds.Opt)
	defer client.Close()
	_, err := client.Enqueue(asynq.NewTask("x", nil), asynq.Queue("broadcast"))
	require.NoError(t, err)
	insp := asynq.NewInspector(rds.Opt)
	defer insp.Close()
	paused := func() bool {
		info, err := insp.GetQueueInfo("broadcast")
		require.NoError(t, err)
		return info.Paused
	}
	ts := uiTestServer(t, rds.Opt)
	pause := func(hdr map[string]string) int {
		req, _ := http.NewRequest(http.MethodPost, ts.URL+"/api/queues/broadcast:pause", strings.NewReader(""))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("ops", "pw")
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, hdr := range []map[string]string{
		{"Origin": "http://evil.example"},
		{"Sec-Fetch-Site": "cross-site"},
		{"Sec-Fetch-Site": "same-site", "Origin": "http://ui.evil.example"},
		{"Origin": "null"},
	} {
		require.Equal(t, http.StatusForbidden, pause(hdr), "%v", hdr)
		require.False(t, paused(), "a cross-origin request paused the queue: %v", hdr)
	}
	require.Equal(t, http.StatusNoContent, pause(map[string]string{"Origin": ts.URL, "Sec-Fetch-Site": "same-origin"}))
	require.True(t, paused())
}

// Every answer of the UI, its page and its refusals, forbids framing and
// MIME sniffing; the page's own scripts are still allowed.
func TestUISecurityHeaders(t *testing.T) {
	t.Parallel()
	rds := testenv.NewRedis(t)
	ts := uiTestServer(t, rds.Opt)
	for _, auth := range []bool{true, false} {
		req, _ := http.NewRequest(http.MethodGet, ts.URL+"/", nil)
		if auth {
			req.SetBasicAuth("ops", "pw")
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		if auth {
			require.Equal(t, http.StatusOK, resp.StatusCode)
		} else {
			require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		}
		require.Equal(t, "DENY", resp.Header.Get("X-Frame-Options"))
		require.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
		csp := resp.Header.Get("Content-Security-Policy")
		require.Contains(t, csp, "frame-ancestors 'none'")
		require.NotContains(t, csp, "script-src", "the asynqmon page runs inline scripts")
		require.NotContains(t, csp, "default-src", "the asynqmon page runs inline scripts")
	}
}

// The UI server bounds how long a client may hold a connection.
func TestUIServerTimeouts(t *testing.T) {
	t.Parallel()
	srv := uiServer(http.NotFoundHandler())
	require.NotZero(t, srv.ReadHeaderTimeout)
	require.NotZero(t, srv.ReadTimeout)
	require.NotZero(t, srv.WriteTimeout)
	require.NotZero(t, srv.IdleTimeout)
}

// limitConns keeps at most n connections open: the next is accepted only
// once one closes, and closing a connection twice frees one slot.
func TestLimitConns(t *testing.T) {
	t.Parallel()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ln := limitConns(inner, 2)
	defer ln.Close()
	accepted := make(chan net.Conn, 10)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	for range 4 {
		c, err := net.Dial("tcp", inner.Addr().String())
		require.NoError(t, err)
		defer c.Close()
	}
	first, second := <-accepted, <-accepted
	select {
	case c := <-accepted:
		c.Close()
		t.Fatal("a third connection was accepted while two were open")
	case <-time.After(100 * time.Millisecond): // a non-event: nothing to wait for
	}
	require.NoError(t, first.Close())
	_ = first.Close() // a second Close frees nothing more
	third := <-accepted
	defer third.Close()
	select {
	case c := <-accepted:
		c.Close()
		t.Fatal("a fourth connection was accepted while two were open")
	case <-time.After(100 * time.Millisecond):
	}
	require.NoError(t, second.Close())
	fourth := <-accepted
	fourth.Close()
	require.NoError(t, ln.Close())
	_, open := <-accepted
	require.False(t, open, "Accept did not end when the listener closed")
}

// Served without authentication, the web UI and the API answer only
// requests addressed to loopback: a DNS-rebound name (evil.example
// resolving to 127.0.0.1) gets 421 and reaches nothing. Off loopback,
// asynqmon refuses --insecure-no-auth before it serves anything.
func TestNoAuthServesLoopbackNamesOnly(t *testing.T) {
	t.Parallel()
	reached := 0
	h := LoopbackHostOnly(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached++ }))
	for host, want := range map[string]int{"127.0.0.1:8080": 200, "localhost:8092": 200, "[::1]:8080": 200, "127.0.0.1": 200,
		"evil.example:8080": http.StatusMisdirectedRequest, "10.0.0.5:8080": http.StatusMisdirectedRequest, "": http.StatusMisdirectedRequest} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, "/v1/apply", nil)
		req.Host = host
		h.ServeHTTP(rec, req)
		require.Equal(t, want, rec.Code, "Host %q", host)
	}
	require.Equal(t, 4, reached)

	var out strings.Builder
	err := Asynqmon(t.Context(), []string{"--addr", "0.0.0.0:0", "--insecure-no-auth"}, IO{Stdout: &out, Stderr: &out, Getenv: func(string) string { return "" }})
	require.Error(t, err)
	require.Contains(t, err.Error()+out.String(), "loopback")
}

// A request refused for its login closes its connection, so clients
// without one cannot hold the server's connection slots idle; a request
// with the login keeps its connection.
func TestRefusedLoginClosesTheConnection(t *testing.T) {
	t.Parallel()
	ts := httptest.NewServer(BasicAuth(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), Credentials{User: "ops", Password: "pw"}, nil))
	defer ts.Close()
	get := func(user, pw string) *http.Response {
		req, err := http.NewRequest(http.MethodGet, ts.URL+"/", nil)
		require.NoError(t, err)
		if user != "" {
			req.SetBasicAuth(user, pw)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp
	}
	for _, login := range [][2]string{{"", ""}, {"ops", "wrong"}} {
		resp := get(login[0], login[1])
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		require.True(t, resp.Close, "a refused request's connection stays open (login %q)", login[0])
	}
	resp := get("ops", "pw")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.False(t, resp.Close)
}
