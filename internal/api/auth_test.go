package api_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/internal/api"
)

// A tokens file is read line by line; a line in error is named by its
// number, and the error never shows the token, even when the line's
// fields are out of order and the token stands where the name or the
// role should.
func TestLoadTokensNeverShowsAToken(t *testing.T) {
	t.Parallel()
	const secret = "0123456789abcdef0123456789abcdef"
	load := func(content string) ([]api.Token, error) {
		path := filepath.Join(t.TempDir(), "tokens")
		require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
		return api.LoadTokens(func(k string) string {
			if k == api.EnvTokensFile {
				return path
			}
			return ""
		})
	}
	got, err := load("# the CRM\ncrm:rw:" + secret + "\n\ndash:ro:" + secret + "ff\n")
	require.NoError(t, err)
	require.Len(t, got, 2)
	require.Equal(t, "crm", got[0].Name)
	require.Equal(t, api.ReadOnly, got[1].Role)

	for _, line := range []string{"ci:" + secret + ":rw", secret + ":rw:ci", "ci:admin:" + secret, "ci:rw:short", "ci rw " + secret} {
		_, err := load("ok:ro:" + secret + "00\n" + line + "\n")
		require.Error(t, err, line)
		require.Contains(t, err.Error(), "line 2", line)
		require.NotContains(t, err.Error(), secret, "the error shows the token: %v", err)
	}
}
