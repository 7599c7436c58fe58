// Package wire holds the HTTP plumbing every provider driver shares:
// secret redaction and scrubbing, Retry-After, which HTTP statuses are
// worth retrying, and phone numbers as drivers send and log them.
package wire

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
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

// RetryAfter reads a Retry-After header (seconds or an HTTP date, against
// now); 0 when absent or past.
func RetryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		return time.Duration(secs * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
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
// gateway's 502/503/504). A bare 500 is not among them: the server may have
// acted before it failed.
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

// Scrubber replaces every form of a driver's secrets (plain, URL-escaped…)
// in text that may be printed.
type Scrubber []string

// Scrub returns s with every secret replaced by Redacted.
func (sc Scrubber) Scrub(s string) string {
	for _, sec := range sc {
		s = strings.ReplaceAll(s, sec, Redacted)
	}
	return s
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
