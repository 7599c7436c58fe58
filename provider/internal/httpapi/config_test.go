package httpapi

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestProblemsBaseURL(t *testing.T) {
	t.Parallel()
	const secret = "pa55|w0rd"
	for _, tt := range []struct {
		raw       string
		allowUser bool
		want      string // "" = no problem
	}{
		{"", false, ""},
		{"https://api.example.com/v1/", false, ""},
		{"http://127.0.0.1:8080", false, ""},
		{"api.example.com", false, "x: BaseURL must be an absolute http(s) URL"},
		{"ftp://api.example.com", false, "x: BaseURL must be an absolute http(s) URL"},
		{"https://", false, "x: BaseURL must be an absolute http(s) URL"},
		{"https://user:" + secret + "@api.example.com", false, "x: BaseURL must not carry credentials (user:password@)"},
		{"https://user:pass@api.example.com", false, "x: BaseURL must not carry credentials (user:password@)"},
		{"https://user:pass@api.example.com", true, ""},
		{"user:pass@api.example.com", true, "x: BaseURL must be an absolute http(s) URL"},
	} {
		p := Check("x")
		p.BaseURL(tt.raw, tt.allowUser)
		err := p.Err()
		if tt.want == "" {
			require.NoError(t, err, tt.raw)
			continue
		}
		require.EqualError(t, err, tt.want, tt.raw)
		require.NotContains(t, err.Error(), secret)
	}
}

func TestProblemsJoined(t *testing.T) {
	t.Parallel()
	p := Check("x")
	require.NoError(t, p.Err())
	p.Require("Token", "")
	p.Require("ID", "1")
	p.Addf("N must be >= 0, got %d", -1)
	require.EqualError(t, p.Err(), "x: Token must be set\nx: N must be >= 0, got -1")
}
