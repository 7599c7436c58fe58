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
	w.daemon(cli.Scheduler, "api", "--addr", "127.0.0.1:0")
	served := regexp.MustCompile(`url=http://(127\.0\.0\.1:\d+)/`)
	var addr string
	for deadline := time.Now().Add(30 * time.Second); addr == "" && time.Now().Before(deadline); {
		if m := served.FindStringSubmatch(w.all.String()); m != nil {
			addr = m[1]
		} else {
			time.Sleep(10 * time.Millisecond)
		}
	}
	require.NotEmpty(t, addr, "the API's address in the log:\n%s", w.all.String())
	get := func(tok string) int {
		req, err := http.NewRequestWithContext(context.Background(), "GET", "http://"+addr+"/v1/broadcasts", nil)
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
	require.Equal(t, http.StatusUnauthorized, get(""))
	require.Equal(t, http.StatusOK, get(token))
	require.Eventually(t, func() bool { return regexp.MustCompile(`token=crm`).MatchString(w.all.String()) }, 10*time.Second, 10*time.Millisecond)
	require.NotContains(t, w.all.String(), token)
}
