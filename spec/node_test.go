package spec

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestExpand(t *testing.T) {
	t.Parallel()
	l := &loader{getenv: testEnv(map[string]string{"A": "1", "B_2": "two", "BAD": "caf\xe9", "DATABASE_URL": "postgres://u:pw@db/x"})}
	f := &fileCtx{l: l, path: "x.yaml"}
	tests := []struct {
		in, want string
		wantErr  string
	}{
		{"plain", "plain", ""},
		{"${A}", "1", ""},
		{"a${A}b${B_2}c", "a1btwoc", ""},
		{"$A and $", "$A and $", ""},
		{"${A", "${A", ""},
		{"${NOPE}", "", "x.yaml:5: f: environment variable NOPE is not set or is empty"},
		{"${1X}", "", `x.yaml:5: f: "${1X}" is not a valid environment variable reference`},
		{"${}", "", `x.yaml:5: f: "${}" is not a valid environment variable reference`},
		{"${BAD}", "", `x.yaml:5: f: the value of environment variable BAD is not valid UTF-8`},
		{"x${DATABASE_URL}", "", `x.yaml:5: f: environment variable DATABASE_URL is a setting of wacamp's own processes (DATABASE_URL, REDIS_URL, ASYNQMON_*, WACAMP_*); a campaign file may not read it`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			before := len(l.probs.list)
			got, ok := f.expand(tt.in, 5, "f")
			if tt.wantErr != "" {
				require.False(t, ok)
				require.Equal(t, tt.wantErr, l.probs.list[before].String())
				return
			}
			require.True(t, ok)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestDidYouMean(t *testing.T) {
	t.Parallel()
	keys := []string{"name", "account", "start_at", "deadline", "audience", "message"}
	require.Equal(t, ` (did you mean "message"?)`, didYouMean("mesage", keys))
	require.Equal(t, ` (did you mean "start_at"?)`, didYouMean("startat", keys))
	require.Equal(t, ` (did you mean "deadline"?)`, didYouMean("Deadline", keys))
	require.Equal(t, "", didYouMean("recipients", keys))
	require.Equal(t, "", didYouMean("x", []string{"id"}))
}

func TestEditDistance(t *testing.T) {
	t.Parallel()
	require.Equal(t, 0, editDistance("abc", "abc"))
	require.Equal(t, 1, editDistance("mesage", "message"))
	require.Equal(t, 2, editDistance("mian", "main"))
	require.Equal(t, 3, editDistance("", "abc"))
}
