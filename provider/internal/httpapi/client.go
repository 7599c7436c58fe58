package httpapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/wacamp/wacamp/provider"
	"github.com/wacamp/wacamp/provider/internal/wire"
)

// DefaultTimeout is the timeout of the HTTP client a driver makes when its
// configuration names none.
const DefaultTimeout = 30 * time.Second

// Client is the kernel of one driver's client of one account. It is safe
// for concurrent use once built; tests may replace Now and Log before the
// first call.
type Client struct {
	// Provider is the Provider of every *provider.Error and the prefix of
	// every log record ("botsailor: call").
	Provider string
	// BaseURL is the API root without a trailing slash: every call's URL
	// starts with it.
	BaseURL string
	// HTTP makes the calls; it never follows a redirect (wire.Client).
	HTTP *http.Client
	// Log receives one debug record per call.
	Log *slog.Logger
	// Secrets are the driver's credentials in every form they may come
	// back in.
	Secrets wire.Scrubber
	// Now is the clock of Retry-After dates and call durations.
	Now func() time.Time
	// SecretURL marks a driver whose request URLs hold a secret (a key in
	// the path, a token in the query): transport errors lose their URL and
	// a request that cannot be built says so without it.
	SecretURL bool
}

// New returns the kernel of provider's client of the API at baseURL (a
// trailing slash is dropped): hc (nil: a client with timeout
// DefaultTimeout) made to refuse redirects, log (nil discards) and a
// scrubber of secrets (empty ones are ignored).
func New(provider, baseURL string, hc *http.Client, log *slog.Logger, secrets ...string) *Client {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Client{
		Provider: provider,
		BaseURL:  strings.TrimRight(baseURL, "/"),
		HTTP:     wire.Client(hc, DefaultTimeout),
		Log:      log,
		Secrets:  wire.NewScrubber(secrets...),
		Now:      time.Now,
	}
}

// Call is one HTTP request of a driver.
type Call struct {
	// Op is the call's provider.Error.Op and the log's "op" ("send", ...).
	Op string
	// Name is how errors and logs name the call: its path or action, never
	// a secret.
	Name string
	// URL is the full request URL; it may hold a secret (see SecretURL).
	URL string
	// Body is the request body, sent with ContentType.
	Body        []byte
	ContentType string
	// Header holds the extra request headers (credentials among them).
	Header map[string]string
	// Phone is the recipient, logged masked; empty for none.
	Phone string
	// Send marks a call that delivers a message: once its request is
	// written, a lost answer is ambiguous, not transient.
	Send bool
	// MaxBody caps how much of the answer is read.
	MaxBody int64
}

// Answer is a provider's HTTP answer as read.
type Answer struct {
	Status int
	Header http.Header
	Raw    []byte
}

// OK reports whether the answer's HTTP status is 2xx.
func (a Answer) OK() bool { return a.Status >= 200 && a.Status <= 299 }

// Interpret reads an answer: nil accepts it, else the *provider.Error that
// the call fails with.
type Interpret func(Answer) *provider.Error

// Do makes the call, hands a read answer to interpret and logs one debug
// record. It returns nil or a *provider.Error.
func (c *Client) Do(ctx context.Context, call Call, interpret Interpret) error {
	start := c.Now()
	pe := c.do(ctx, call, start, interpret)
	if pe == nil {
		return nil
	}
	return pe
}

func (c *Client) do(ctx context.Context, call Call, start time.Time, interpret Interpret) *provider.Error {
	var written atomic.Bool
	trace := &httptrace.ClientTrace{
		WroteRequest: func(info httptrace.WroteRequestInfo) {
			if info.Err == nil {
				written.Store(true)
			}
		},
	}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace),
		http.MethodPost, call.URL, bytes.NewReader(call.Body))
	if err != nil {
		pe := c.Fail(call.Op, 0, provider.ClassHaltAccount, "", fmt.Errorf("build request: %w", c.Secrets.ScrubErr(err)))
		if c.SecretURL {
			// The URL holds a secret: never keep the url.Error's text.
			pe.Message, pe.Err = "invalid BaseURL", errors.New("build request: invalid URL")
		}
		return c.logged(ctx, call, start, 0, pe)
	}
	req.Header.Set("Content-Type", call.ContentType)
	req.Header.Set("Accept", "application/json")
	for k, v := range call.Header {
		req.Header.Set(k, v)
	}

	resp, err := c.HTTP.Do(req)
	if re, class, ok := wire.Redirected(err, call.Send); ok {
		return c.logged(ctx, call, start, re.Status, c.Fail(call.Op, re.Status, class, c.Secrets.Scrub(re.Error()), nil))
	}
	if err != nil {
		return c.logged(ctx, call, start, 0,
			c.Lost(ctx, call, 0, written.Load(), fmt.Errorf("post %s: %w", call.Name, c.transportErr(err))))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, call.MaxBody))
	if err != nil {
		err = fmt.Errorf("read answer: %w", c.transportErr(err))
		var pe *provider.Error
		if wire.NotServed(resp.StatusCode) {
			pe = c.Fail(call.Op, resp.StatusCode, provider.ClassTransient, "", err)
			pe.RetryAfter = c.RetryAfter(resp.Header)
		} else {
			pe = c.Lost(ctx, call, resp.StatusCode, true, err)
		}
		return c.logged(ctx, call, start, resp.StatusCode, pe)
	}
	return c.logged(ctx, call, start, resp.StatusCode, interpret(Answer{Status: resp.StatusCode, Header: resp.Header, Raw: raw}))
}

// Fail builds a *provider.Error of this driver.
func (c *Client) Fail(op string, httpStatus int, class provider.Class, msg string, err error) *provider.Error {
	return &provider.Error{Provider: c.Provider, Op: op, HTTPStatus: httpStatus, Message: msg, Class: class, Err: err}
}

// Refuse builds the error of driver's call op refused before it reached
// the provider.
func Refuse(driver, op string, class provider.Class, msg string) *provider.Error {
	return &provider.Error{Provider: driver, Op: op, Message: msg, Class: class}
}

// Lost builds the error of a call whose answer never arrived or could not
// be read: ambiguous for a send whose request was written, transient
// otherwise. A cancelled or expired ctx is wrapped so errors.Is finds it.
func (c *Client) Lost(ctx context.Context, call Call, httpStatus int, written bool, err error) *provider.Error {
	class := provider.ClassTransient
	if call.Send && written {
		class = provider.ClassAmbiguous
	}
	if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
		err = fmt.Errorf("%w (%w)", ctxErr, err)
	}
	return c.Fail(call.Op, httpStatus, class, "", err)
}

// RetryAfter is the wait an answer's Retry-After header asks for (see
// wire.RetryAfter).
func (c *Client) RetryAfter(h http.Header) time.Duration { return wire.RetryAfter(h, c.Now()) }

// NotJSON is the error of an answer that is not the provider's JSON (an
// HTML error page, a proxy's text, a truncated body; perr says why): its
// words are not the provider's verdict. Under a 2xx a send is ambiguous
// and any other call transient; else the call fails with class, the
// driver's reading of the status alone (for a send, a 5xx is classed by
// wire.BareClass, and no route halts the campaign: noRouteClass), and the
// answer's Retry-After.
func (c *Client) NotJSON(call Call, a Answer, perr error, class provider.Class) *provider.Error {
	snippet := c.Secrets.Snippet(a.Raw)
	if a.OK() {
		class = provider.ClassTransient
		if call.Send {
			class = provider.ClassAmbiguous
		}
		return c.Fail(call.Op, a.Status, class, snippet, fmt.Errorf("unparseable answer: %w", perr))
	}
	if call.Send {
		class = noRouteClass(a.Status, wire.BareClass(a.Status, class), a.Raw)
	}
	pe := c.Fail(call.Op, a.Status, class, snippet, nil)
	pe.RetryAfter = c.RetryAfter(a.Header)
	return pe
}

// noRouteClass is the class of a send answered with no route for its
// address or method (wire.NoRoute on the answer's HTTP status and raw
// body): the base URL, or a path the doc does not give, is wrong, and
// every message of this kind would fail the same way, so a permanent
// failure of this one message becomes ClassHaltCampaign (a broadcast
// pauses, its messages kept until the account is fixed and it is resumed;
// a sequence's step fails, as on any answer that halts a campaign). Any
// other class is kept.
func noRouteClass(status int, class provider.Class, body []byte) provider.Class {
	if class == provider.ClassPermanent && wire.NoRoute(status, body) {
		return provider.ClassHaltCampaign
	}
	return class
}

// Unclear is the error of a 2xx JSON answer to a send that neither says it
// worked nor failed nor names a message: whether it was sent cannot be
// told.
func (c *Client) Unclear(call Call, a Answer, why string) *provider.Error {
	return c.Fail(call.Op, a.Status, provider.ClassAmbiguous, c.Secrets.Snippet(a.Raw), errors.New(why))
}

// Refused is the error of an answer that says the call failed: status (the
// answer's HTTP status, or the one its body names), class, the provider's
// text msg (already cleaned) and code (kept only if it is one), and the
// answer's Retry-After. A send refused with no route for its address
// halts its campaign (see noRouteClass).
func (c *Client) Refused(call Call, a Answer, status int, class provider.Class, msg, code string) *provider.Error {
	if call.Send && code == "" {
		class = noRouteClass(a.Status, class, a.Raw)
	}
	pe := c.Fail(call.Op, status, class, msg, nil)
	pe.Code = c.Secrets.Code(code)
	pe.RetryAfter = c.RetryAfter(a.Header)
	return pe
}

// transportErr scrubs a transport error; where the URL holds a secret, the
// *url.Error's URL is dropped first (its op and inner error stay, and
// errors.Is still finds context and net errors).
func (c *Client) transportErr(err error) error {
	var ue *url.Error
	if c.SecretURL && errors.As(err, &ue) {
		err = &urlFreeError{op: ue.Op, err: ue.Err}
	}
	return c.Secrets.ScrubErr(err)
}

// urlFreeError is a url.Error without the URL.
type urlFreeError struct {
	op  string
	err error
}

func (e *urlFreeError) Error() string { return e.op + " request: " + e.err.Error() }
func (e *urlFreeError) Unwrap() error { return e.err }

// logged writes the debug record of one call and returns pe.
func (c *Client) logged(ctx context.Context, call Call, start time.Time, httpStatus int, pe *provider.Error) *provider.Error {
	attrs := []slog.Attr{
		slog.String("op", call.Op),
		slog.String("path", call.Name),
		slog.Int("http_status", httpStatus),
		slog.Duration("duration", c.Now().Sub(start)),
	}
	if call.Phone != "" {
		attrs = append(attrs, slog.String("phone", wire.MaskPhone(call.Phone)))
	}
	if pe != nil {
		attrs = append(attrs, slog.String("class", pe.Class.String()), slog.String("error", c.Secrets.Scrub(pe.Error())))
	}
	c.Log.LogAttrs(ctx, slog.LevelDebug, c.Provider+": call", attrs...)
	return pe
}

// Fetch is Do for an interpreter that also reads the accepted answer into
// a T (the driver's parsed answer): it returns that T, or the call's
// *provider.Error.
func Fetch[T any](ctx context.Context, c *Client, call Call, interpret func(Call, Answer) (T, *provider.Error)) (T, error) {
	var got T
	err := c.Do(ctx, call, func(a Answer) (pe *provider.Error) {
		got, pe = interpret(call, a)
		return pe
	})
	return got, err
}
