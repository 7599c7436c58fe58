package spec

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestResolveToken(t *testing.T) {
	t.Parallel()
	const secret = "tok-SECRET-123"
	file := writeTokenFile(t, "\n "+secret+" \n")
	empty := writeTokenFile(t, "\n")
	env := testEnv(map[string]string{"BOTSAILOR_API_TOKEN": secret, "BLANK": "  "})
	tests := []struct {
		name    string
		ref     string
		want    string
		wantErr string
	}{
		{"Env", "env:BOTSAILOR_API_TOKEN", secret, ""},
		{"File", "file:" + file, secret, ""},
		{"EnvUnset", "env:NOPE", "", "environment variable NOPE is not set or is empty"},
		{"EnvBlank", "env:BLANK", "", "environment variable BLANK is not set or is empty"},
		{"EnvBadName", "env:" + secret, "", "token reference env:<VAR> has an invalid variable name"},
		{"FileMissing", "file:/nonexistent/wacamp/token", "", `cannot read "/nonexistent/wacamp/token": no such file or directory`},
		{"FileEmpty", "file:" + empty, "", `"` + empty + `" is empty`},
		{"TokenAsRef", secret, "", `api token reference must start with "env:" or "file:"`},
		{"Empty", "", "", `api token reference must start with "env:" or "file:"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ResolveToken(tt.ref, env)
			if tt.wantErr != "" {
				require.EqualError(t, err, tt.wantErr)
				require.NotContains(t, err.Error(), "SECRET")
				require.Empty(t, got)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}
