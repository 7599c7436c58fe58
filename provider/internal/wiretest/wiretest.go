package wiretest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/provider"
)

// HostileToken is a credential with every character that JSON (&, <, >, /)
// and URLs (+, =, /) escape.
const HostileToken = "tk&<9fQ2>/xK7+mLp4=Zw8Rt"

// JSONEscaped is s as a JSON encoder that escapes HTML and slashes writes
// it (Go's json.Marshal, PHP's json_encode with JSON_HEX_TAG|JSON_HEX_AMP),
// without the quotes: & < > as \u0026 \u003c \u003e and / as \/.
func JSONEscaped(s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return strings.ReplaceAll(string(b[1:len(b)-1]), "/", `\/`)
}

// EchoMessage is a provider answer's message text that echoes secret
// JSON-escaped (as a provider that prints its request JSON into its error
// does), for a driver test to put into the message field; the code field
// gets the secret as is.
func EchoMessage(secret string) string {
	return `invalid credentials in {"token":"` + JSONEscaped(secret) + `"}`
}

// RedirectStatuses are the statuses a redirect answers with.
var RedirectStatuses = []int{
	http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
	http.StatusTemporaryRedirect, http.StatusPermanentRedirect,
}

// Trap is a server a redirect points at; it records every request that
// reaches it.
type Trap struct {
	Host string // host:port of the trap
	Path string // the path the redirect names
	mu   sync.Mutex
	got  []string
}

// Received returns what reached the trap: each request's method, URL,
// headers and body.
func (tr *Trap) Received() []string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return append([]string(nil), tr.got...)
}

// RedirectTrap starts an origin server (over TLS when https) that answers
// every request with status and a Location on a plain-http trap server,
// with a path and query. It returns the origin's URL to use as base_url,
// the HTTP client that trusts it, and the trap.
func RedirectTrap(t *testing.T, status int, https bool) (string, *http.Client, *Trap) {
	t.Helper()
	tr := &Trap{Path: "/collect/stolen"}
	trap := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var hdr strings.Builder
		_ = r.Header.Write(&hdr)
		tr.mu.Lock()
		tr.got = append(tr.got, r.Method+" "+r.URL.String()+"\n"+hdr.String()+"\n"+string(body))
		tr.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(trap.Close)
	u, err := url.Parse(trap.URL)
	require.NoError(t, err)
	tr.Host = u.Host
	location := trap.URL + tr.Path + "?from=origin"
	redirect := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, location, status)
	})
	origin := httptest.NewUnstartedServer(redirect)
	if https {
		origin.StartTLS()
	} else {
		origin.Start()
	}
	t.Cleanup(origin.Close)
	return origin.URL, origin.Client(), tr
}

// RequireRefused checks a call answered by RedirectTrap's origin with
// status: nothing reached the trap, and err is a *provider.Error that names
// the trap's host but neither the redirect's path nor any of secrets, of
// class halt-account (ambiguous for a send answered 303 See Other).
func RequireRefused(t *testing.T, err error, tr *Trap, status int, send bool, secrets ...string) {
	t.Helper()
	require.Empty(t, tr.Received(), "a redirect was followed: credentials reached another origin")
	var pe *provider.Error
	require.ErrorAs(t, err, &pe)
	require.Equal(t, status, pe.HTTPStatus)
	require.Contains(t, err.Error(), tr.Host)
	require.NotContains(t, err.Error(), tr.Path)
	for _, s := range secrets {
		require.NotContains(t, err.Error(), s)
	}
	want := provider.ClassHaltAccount
	if send && status == http.StatusSeeOther {
		want = provider.ClassAmbiguous
	}
	require.Equal(t, want, pe.Class, err.Error())
}

// RequireScrubbed checks that err, a refusal whose answer echoed secret in
// its code field and JSON-escaped in its message, carries no form of it:
// no code, and a message with the secret redacted.
func RequireScrubbed(t *testing.T, err error, secret string) {
	t.Helper()
	var pe *provider.Error
	require.ErrorAs(t, err, &pe)
	require.Empty(t, pe.Code, "a code that is no code is dropped")
	require.Contains(t, pe.Message, "[REDACTED]")
	for _, form := range []string{secret, JSONEscaped(secret), url.QueryEscape(secret), "9fQ2"} {
		require.NotContains(t, err.Error(), form)
	}
}

// RequireAnswersScrubbed runs one subtest per named refusal answer, each
// echoing secret in a code field and JSON-escaped (EchoMessage) in its
// message: send makes a call to baseURL, a server answering HTTP 400 with
// the answer's JSON, and its error must carry no form of secret
// (RequireScrubbed).
func RequireAnswersScrubbed(t *testing.T, secret string, answers map[string]map[string]any, send func(baseURL string) error) {
	t.Helper()
	for name, answer := range answers {
		t.Run(name, func(t *testing.T) {
			body, err := json.Marshal(answer)
			require.NoError(t, err)
			srv := httptest.NewServer(Reply(http.StatusBadRequest, string(body)))
			t.Cleanup(srv.Close)
			RequireScrubbed(t, send(srv.URL), secret)
		})
	}
}

// Reply answers every request with status and the JSON body.
func Reply(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

// HangUp closes every request's connection without answering. It reports
// a failure to do so with t.Errorf, as a handler's goroutine may not stop
// the test.
func HangUp(t testing.TB) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("hijack: %v", err)
			return
		}
		if err := conn.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	}
}

// RequireError checks that err is a *provider.Error of the driver name,
// of call op ("" for any) and that its text shows none of secrets; it
// returns it.
func RequireError(t testing.TB, err error, name, op string, secrets ...string) *provider.Error {
	t.Helper()
	require.Error(t, err)
	var pe *provider.Error
	require.ErrorAs(t, err, &pe)
	require.Equal(t, name, pe.Provider)
	if op != "" {
		require.Equal(t, op, pe.Op)
	}
	for _, s := range secrets {
		require.NotContains(t, err.Error(), s)
	}
	return pe
}
