package wire

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestScrubEveryForm(t *testing.T) {
	const secret = `a&b<c>d/e+f=g h"i\j`
	sc := NewScrubber("", secret, "a&b") // "a&b" is inside secret: longest first
	forms := map[string]string{
		"plain":           secret,
		"query-escaped":   url.QueryEscape(secret),
		"path-escaped":    url.PathEscape(secret),
		"json-escaped":    `a\u0026b\u003cc\u003ed\/e+f=g h\"i\\j`,
		"upper-hex":       `a\u0026b\u003Cc\u003Ed/e+f=g h\"i\\j`,
		"escaped twice":   `a\\u0026b\\u003cc\\u003ed\\\/e+f=g h\\\"i\\\\j`,
		"mixed":           `a%26b\u003cc>d%2Fe+f=g+h"i\j`,
		"all \\u escapes": strings.NewReplacer("a", `\u0061`, "g", `\u0067`).Replace(secret),
	}
	for name, form := range forms {
		got := sc.Scrub("before " + form + " after")
		require.Equal(t, "before "+Redacted+" after", got, name)
	}
	require.Equal(t, "x "+Redacted+" y", sc.Scrub("x a&b y"))
	require.Equal(t, "nothing here", sc.Scrub("nothing here"))
	require.Equal(t, "text", Scrubber{}.Scrub("text"))
}

func TestCode(t *testing.T) {
	sc := NewScrubber("tok123")
	for code, want := range map[string]string{
		"131047":                "131047",
		" 190 ":                 "190",
		"RATE_LIMIT.v2-x":       "RATE_LIMIT.v2-x",
		"tok123":                "",
		"x-tok123":              "",
		"has space":             "",
		"a&b":                   "",
		strings.Repeat("9", 33): "",
		strings.Repeat("9", 32): strings.Repeat("9", 32),
		"":                      "",
	} {
		require.Equal(t, want, sc.Code(code), code)
	}
}

// A Retry-After is a wait from 0 to MaxRetryAfter whatever the header says:
// huge, infinite or not-a-number values once overflowed into a negative
// duration, and a date centuries ahead parked the send for 292 years.
func TestRetryAfterBounded(t *testing.T) {
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"":                    0,
		"7":                   7 * time.Second,
		"0.5":                 500 * time.Millisecond,
		"-1":                  0,
		"0":                   0,
		"NaN":                 0,
		"Inf":                 MaxRetryAfter,
		"1e300":               MaxRetryAfter,
		"9223372036854775807": MaxRetryAfter,
		"3600":                MaxRetryAfter,
		"soon":                0,
		now.Add(90 * time.Second).Format(http.TimeFormat): 90 * time.Second,
		now.Add(-time.Hour).Format(http.TimeFormat):       0,
		"Fri, 31 Dec 9999 23:59:59 GMT":                   MaxRetryAfter,
	} {
		h := http.Header{}
		if v != "" {
			h.Set("Retry-After", v)
		}
		require.Equal(t, want, RetryAfter(h, now), v)
	}
}

// A provider's text is kept as it may be printed and stored: no secret
// (even one a NUL or a run of white space kept apart in the answer), no NUL
// byte or invalid UTF-8 (Postgres refuses both: the delivery's outcome
// could not be recorded), no control characters.
func TestMessageAndSnippet(t *testing.T) {
	const secret = "tok 1&2"
	sc := NewScrubber(secret)
	require.Equal(t, "bad \uFFFD text "+Redacted+" end\n\tnext", sc.Message("bad\x00\xff text "+secret+" end\n\tnext"))
	require.Equal(t, Redacted, sc.Message("tok\x001&2"), "a NUL becomes a space: the secret shows")
	require.Equal(t, "a  [31m", sc.Message("a \x1b[31m"), "an escape sequence cannot colour a terminal")
	require.Equal(t, "<html> "+Redacted+" \uFFFD </html>", sc.Snippet([]byte("<html>\n  tok\t1&2 \xfe\x00 </html>")))
	require.Equal(t, "(empty body)", sc.Snippet([]byte(" \x00\n ")))
	long := sc.Message(strings.Repeat("é", MaxMessage))
	require.LessOrEqual(t, len(long), MaxMessage+len("..."))
}

// A message id is kept only if it can be one: it is stored, shown and
// exported, so an answer echoing a secret (or holding a NUL byte) as its
// id gives no id rather than put the secret into the database.
func TestID(t *testing.T) {
	sc := NewScrubber("tk&<9fQ2>")
	for id, want := range map[string]string{
		"wamid.HBgNODgwMTcyMzMwOTAwMxUCABEYEjlGQkY3MEFEMEVGODhCNDkxNQA=": "wamid.HBgNODgwMTcyMzMwOTAwMxUCABEYEjlGQkY3MEFEMEVGODhCNDkxNQA=",
		" true_2349048988056@c.us_BAE5 ":                                 "true_2349048988056@c.us_BAE5",
		"tk&<9fQ2>":                                                      "",
		"wamid.tk%26%3C9fQ2%3E":                                          "",
		"wamid.\x00":                                                     "",
		"\xff":                                                           "",
		strings.Repeat("a", MaxIDLen+1):                                  "",
		strings.Repeat("a", MaxIDLen):                                    strings.Repeat("a", MaxIDLen),
		"":                                                               "",
	} {
		require.Equal(t, want, sc.ID(id), id)
	}
}
