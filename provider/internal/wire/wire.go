package wire

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/wacamp/wacamp/provider"
)

// Redacted replaces secrets in everything a driver prints.
const Redacted = "[REDACTED]"

// RedactedOrEmpty shows whether a secret is set without showing it.
func RedactedOrEmpty(secret string) string {
	if secret == "" {
		return `""`
	}
	return Redacted
}

// MaxRetryAfter caps the wait a provider's Retry-After asks for. A longer
// one is a broken or hostile answer ("1e300", a date in year 9999) that
// would park a send for centuries (or, overflowing, not at all); after an
// hour the provider is asked again and may say wait again.
const MaxRetryAfter = time.Hour

// RetryAfter reads a Retry-After header (seconds or an HTTP date, against
// now); 0 when absent, past or not a number (NaN), at most MaxRetryAfter.
func RetryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		switch {
		case !(secs > 0): // zero, negative or NaN
			return 0
		case secs >= MaxRetryAfter.Seconds(): // +Inf too
			return MaxRetryAfter
		}
		return time.Duration(secs * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		return min(max(t.Sub(now), 0), MaxRetryAfter)
	}
	return 0
}

// RetryableStatus reports whether an HTTP status is worth retrying.
func RetryableStatus(status int) bool {
	return status >= 500 || status == http.StatusTooManyRequests || status == http.StatusRequestTimeout
}

// NotServed reports whether an HTTP status whose body could not be read
// (or is not the provider's own answer) says the request was not served:
// 429, 408, or a 5xx that provider.BareServerErrorClass calls transient (a
// gateway's 502/503). A bare 500 or 504 is not among them: the server may
// have acted before it failed, or may still act.
func NotServed(status int) bool {
	if status >= 500 {
		return provider.BareServerErrorClass(status) == provider.ClassTransient
	}
	return RetryableStatus(status)
}

// BareClass is the class of a send answered with a non-2xx status whose
// body is not the provider's own answer: for a 5xx,
// provider.BareServerErrorClass; else class (the driver's reading of the
// status alone).
func BareClass(status int, class provider.Class) provider.Class {
	if status >= 500 {
		return provider.BareServerErrorClass(status)
	}
	return class
}

// NoRoute reports whether a non-2xx answer says only that the address or
// the method is wrong, as a web server or framework answers a path it has
// no route for: a 405, or a 404 whose body is empty, an HTML page, a bare
// "Not Found" (Go's "404 page not found"), or a JSON object whose one
// member (detail, message or error) says just that (FastAPI's {"detail":
// "Not Found"}). A provider's own refusal of one message ("client not
// found", {"status":false}, "Template not found") says more.
func NoRoute(status int, body []byte) bool {
	if status == http.StatusMethodNotAllowed {
		return true // the route takes no such method, whatever its text
	}
	if status != http.StatusNotFound {
		return false
	}
	b := bytes.TrimSpace(body)
	if len(b) == 0 || b[0] == '<' {
		return true
	}
	text := string(b)
	if b[0] == '{' {
		var obj map[string]any
		if json.Unmarshal(b, &obj) != nil || len(obj) != 1 {
			return false
		}
		text = ""
		for _, k := range []string{"detail", "message", "error"} {
			if s, ok := obj[k].(string); ok {
				text = s
			}
		}
	}
	switch strings.TrimRight(strings.ToLower(strings.TrimSpace(text)), ".!") {
	case "not found", "404 not found", "404 page not found", "404":
		return true
	}
	t := strings.ToLower(text)
	return strings.HasPrefix(t, "cannot post ") || strings.HasPrefix(t, "cannot get ")
}

// Scrubber replaces every form of a driver's secrets in text that may be
// printed: as is, URL-escaped (%XX, + for a space) and JSON-escaped (\uXXXX,
// \/ and \" — escaped once or more), in any mixture. The zero Scrubber
// scrubs nothing.
type Scrubber struct{ re *regexp.Regexp }

// NewScrubber returns a Scrubber of secrets; empty ones are ignored.
func NewScrubber(secrets ...string) Scrubber {
	var uniq []string
	for _, s := range secrets {
		if s != "" && !slices.Contains(uniq, s) {
			uniq = append(uniq, s)
		}
	}
	if len(uniq) == 0 {
		return Scrubber{}
	}
	// Longest first, so a secret that contains another is replaced whole.
	slices.SortStableFunc(uniq, func(a, b string) int { return cmp.Compare(len(b), len(a)) })
	alts := make([]string, len(uniq))
	for i, s := range uniq {
		alts[i] = secretPattern(s)
	}
	return Scrubber{re: regexp.MustCompile(strings.Join(alts, "|"))}
}

// secretPattern matches s with each character in any of its escaped forms.
func secretPattern(s string) string {
	var b strings.Builder
	for _, r := range s {
		b.WriteString("(?:")
		b.WriteString(regexp.QuoteMeta(string(r)))
		b.WriteString("|")
		for _, c := range []byte(string(r)) {
			b.WriteString("%" + hexPattern(uint64(c), 2))
		}
		if r <= 0xFFFF {
			b.WriteString(`|\\+u` + hexPattern(uint64(r), 4)) // #nosec G115 -- a rune of a string is never negative
		}
		switch r {
		case ' ':
			b.WriteString(`|\+`)
		case '/', '"', '\\':
			b.WriteString(`|\\+` + regexp.QuoteMeta(string(r)))
		}
		b.WriteString(")")
	}
	return b.String()
}

// hexPattern matches v as width hex digits in either case.
func hexPattern(v uint64, width int) string {
	var b strings.Builder
	for _, d := range fmt.Sprintf("%0*x", width, v) {
		if d >= 'a' && d <= 'f' {
			b.WriteString("[" + string(d) + strings.ToUpper(string(d)) + "]")
		} else {
			b.WriteRune(d)
		}
	}
	return b.String()
}

// Scrub returns s with every secret replaced by Redacted.
func (sc Scrubber) Scrub(s string) string {
	if sc.re == nil {
		return s
	}
	return sc.re.ReplaceAllLiteralString(s, Redacted)
}

// MaxCodeLen is the longest provider error code kept.
const MaxCodeLen = 32

// Code returns a provider's error code if it is one: digits, or a short
// token (at most MaxCodeLen) of letters, digits, '_', '.' and '-' that holds
// no secret. Anything else is data we cannot vouch for and gives "" (the
// answer's message, scrubbed, still says what happened).
func (sc Scrubber) Code(code string) string {
	code = strings.TrimSpace(code)
	if code == "" || len(code) > MaxCodeLen || sc.Scrub(code) != code {
		return ""
	}
	for _, r := range code {
		ok := r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '_' || r == '.' || r == '-'
		if !ok {
			return ""
		}
	}
	return code
}

// The longest provider text kept: of a JSON answer's message (or a failure
// reason), and of the start of a body that is not the provider's answer.
const (
	MaxMessage = 500
	MaxSnippet = 200
)

// Message returns a provider's text (an answer's message, a failure
// reason) as wacamp may print, log and store it: every secret replaced,
// invalid UTF-8 replaced with U+FFFD and control characters other than
// tab and newline (NUL among them, which Postgres refuses in text) with a
// space, cut to MaxMessage bytes.
func (sc Scrubber) Message(s string) string {
	return Truncate(sc.clean(s, false), MaxMessage)
}

// Snippet returns the start of a body that is not the provider's answer
// (an HTML page, a proxy's text) as one line of text, cleaned as Message
// cleans text, cut to MaxSnippet bytes; "(empty body)" if nothing is left.
func (sc Scrubber) Snippet(raw []byte) string {
	return cmp.Or(Truncate(sc.clean(string(raw), true), MaxSnippet), "(empty body)")
}

// clean scrubs s, makes it storable text (and one line if oneLine) and
// scrubs it again: a secret whose characters were apart (a NUL or a run of
// white space in it) may only have come together in the cleaning.
func (sc Scrubber) clean(s string, oneLine bool) string {
	s = strings.ToValidUTF8(sc.Scrub(s), "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) && (oneLine || r != '\t' && r != '\n') {
			return ' '
		}
		return r
	}, s)
	if oneLine {
		s = strings.Join(strings.Fields(s), " ")
	}
	return sc.Scrub(s)
}

// MaxIDLen is the longest message id kept from a provider's answer.
const MaxIDLen = 256

// ID returns a message id from a provider's answer if it can be one: at
// most MaxIDLen bytes of valid UTF-8 without control characters, holding
// no secret. Anything else gives "", as if the answer named no id: an id is
// stored, shown and exported, and data we cannot vouch for must not be.
func (sc Scrubber) ID(id string) string {
	id = strings.TrimSpace(id)
	if len(id) > MaxIDLen || !utf8.ValidString(id) || sc.Scrub(id) != id ||
		strings.IndexFunc(id, unicode.IsControl) >= 0 {
		return ""
	}
	return id
}

// ScrubErr returns err, or an error with the same text scrubbed that
// unwraps only to fixed-text sentinels (never to the error carrying the
// secret).
func (sc Scrubber) ScrubErr(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if clean := sc.Scrub(msg); clean != msg {
		return &scrubbedError{msg: clean, err: err}
	}
	return err
}

type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }

func (e *scrubbedError) Unwrap() error {
	for _, sentinel := range []error{context.Canceled, context.DeadlineExceeded, io.ErrUnexpectedEOF, io.EOF} {
		if errors.Is(e.err, sentinel) {
			return sentinel
		}
	}
	return nil
}

// NormalizePhone keeps the digits of a phone number, allowing the usual
// separators (+, space, -, ., parentheses); false for anything else or no
// digits.
func NormalizePhone(s string) (string, bool) {
	var b strings.Builder
	for _, r := range strings.TrimSpace(s) {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '+' || r == ' ' || r == '-' || r == '.' || r == '(' || r == ')':
		default:
			return "", false
		}
	}
	if b.Len() == 0 {
		return "", false
	}
	return b.String(), true
}

// ContainsAny reports whether s contains any of subs.
func ContainsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// MaskPhone shows only a phone number's last four digits, for logs.
func MaskPhone(p string) string {
	if len(p) <= 4 {
		return strings.Repeat("*", len(p))
	}
	return strings.Repeat("*", len(p)-4) + p[len(p)-4:]
}

// Truncate cuts s to at most n bytes on a rune boundary, marking the cut.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// Client returns the HTTP client a driver calls its provider with: hc (a
// copy; nil means a new client with timeout) that never follows a
// redirect. Every driver sends credentials with each call (in the body, a
// header or the URL), and Go's client re-sends bodies, custom headers and
// the Referer to wherever a 307 or 308 points, over http as well as
// https. A redirect instead fails the call with a *RedirectError.
func Client(hc *http.Client, timeout time.Duration) *http.Client {
	c := &http.Client{Timeout: timeout}
	if hc != nil {
		cp := *hc
		c = &cp
	}
	c.CheckRedirect = refuseRedirect
	return c
}

func refuseRedirect(req *http.Request, _ []*http.Request) error {
	re := &RedirectError{Host: req.URL.Host, Scheme: req.URL.Scheme}
	if req.Response != nil {
		re.Status = req.Response.StatusCode
	}
	return re
}

// RedirectError is a provider answer that redirected the call elsewhere. It
// names only the host of the Location, never its path or query.
type RedirectError struct {
	Status int    // the 3xx status
	Host   string // the Location's host (and port)
	Scheme string // the Location's scheme
}

func (e *RedirectError) Error() string {
	return fmt.Sprintf("redirect (http %d) to %s://%s not followed: credentials are never sent on; set base_url to the API's final address",
		e.Status, e.Scheme, e.Host)
}

// Redirected returns the *RedirectError in err, if any, and the class of
// the call: halt-account (base_url sends every call elsewhere, and the call
// was not served) or, for a send answered 303 See Other (the server may have
// acted before pointing at the result), ambiguous.
func Redirected(err error, send bool) (*RedirectError, provider.Class, bool) {
	var re *RedirectError
	if !errors.As(err, &re) {
		return nil, 0, false
	}
	if send && re.Status == http.StatusSeeOther {
		return re, provider.ClassAmbiguous, true
	}
	return re, provider.ClassHaltAccount, true
}
