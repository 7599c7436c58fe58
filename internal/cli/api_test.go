package cli_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/internal/cli"
)

// scheduler api refuses to start without a token (or with a weak one, or
// --insecure-no-auth off loopback); with a token file it serves, logging
// the token's name and never its value.
func TestAPICommand(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	code, out := w.run("api", "--addr", "127.0.0.1:0")
	require.Equal(t, 2, code, out)
	require.Contains(t, out, "no API token")
	code, out = w.run("api", "--addr", "0.0.0.0:0", "--insecure-no-auth")
	require.Equal(t, 2, code, out)
	require.Contains(t, out, "loopback")
	w.env["WACAMP_API_TOKEN_RO"] = "weak-value-x"
	code, out = w.run("api", "--addr", "127.0.0.1:0")
	require.Equal(t, 2, code, out)
	require.NotContains(t, out, "weak-value-x", "a token's value in an error")
	delete(w.env, "WACAMP_API_TOKEN_RO")

	const token = "cli-test-token-1234567890abcdef"
	file := filepath.Join(t.TempDir(), "tokens")
	require.NoError(t, os.WriteFile(file, []byte("# the CRM\ncrm:rw:"+token+"\n"), 0o600))
	w.env["WACAMP_API_TOKENS_FILE"] = file
	w.daemon(cli.Scheduler, "api", "--addr", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0")
	logged := func(re *regexp.Regexp) string {
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if m := re.FindStringSubmatch(w.all.String()); m != nil {
				return m[1]
			}
		}
		t.Fatalf("no %s in the log:\n%s", re, w.all.String())
		return ""
	}
	addr := logged(regexp.MustCompile(`msg="api: serving 1 token\(s\)" url=http://(127\.0\.0\.1:\d+)/`))
	metrics := logged(regexp.MustCompile(`url=http://(127\.0\.0\.1:\d+)/metrics`))
	get := func(url, tok string) int {
		req, err := http.NewRequestWithContext(context.Background(), "GET", url, nil)
		require.NoError(t, err)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	require.Equal(t, http.StatusUnauthorized, get("http://"+addr+"/v1/broadcasts", ""))
	require.Equal(t, http.StatusOK, get("http://"+addr+"/v1/broadcasts", token))
	require.Equal(t, http.StatusOK, get("http://"+metrics+"/readyz", ""), "the API process is ready: Redis, Postgres, migrations")
	require.Eventually(t, func() bool { return regexp.MustCompile(`token=crm`).MatchString(w.all.String()) }, 10*time.Second, 10*time.Millisecond)
	require.NotContains(t, w.all.String(), token)
}
