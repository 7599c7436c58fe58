package sobot

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
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
	"github.com/wacamp/wacamp/templates"
)

// providerName is the Provider field of every *provider.Error of this driver.
const providerName = "sobot"

// The defaults used when a Config leaves a field zero.
const (
	// DefaultBaseURL is the API root used when Config.BaseURL is empty.
	DefaultBaseURL = "https://api.sobot.in"
	// DefaultTimeout is the timeout of the HTTP client made when
	// Config.HTTPClient is nil.
	DefaultTimeout = 30 * time.Second
)

// pathMessage is the one send endpoint, relative to the base URL. The doc
// writes it with the trailing slash.
const pathMessage = "/message/"

// maxBody caps how much of an answer is read.
const maxBody = 8 << 20

// redacted replaces secrets in everything this package prints.
const redacted = wire.Redacted

// Config configures a Client.
type Config struct {
	// BaseURL is the API root, e.g. https://api.sobot.in; empty means
	// DefaultBaseURL. A trailing slash is tolerated.
	BaseURL string
	// APIKey is sent as the x-api-key header. It is a secret: it never
	// appears in errors, logs or String().
	APIKey string
	// APISecret is sent as the x-api-secret header. It is a secret too.
	APISecret string
	// HTTPClient makes the calls; nil means a client with DefaultTimeout.
	HTTPClient *http.Client
	// Logger receives one debug record per call; nil discards.
	Logger *slog.Logger
}

// Validate reports every problem of the configuration at once. It names
// missing fields and never prints a secret.
func (c Config) Validate() error {
	var errs []error
	if c.BaseURL != "" {
		if u, err := url.Parse(c.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, errors.New("sobot: BaseURL must be an absolute http(s) URL"))
		} else if u.User != nil {
			errs = append(errs, errors.New("sobot: BaseURL must not carry credentials"))
		}
	}
	if c.APIKey == "" {
		errs = append(errs, errors.New("sobot: APIKey must be set"))
	}
	if c.APISecret == "" {
		errs = append(errs, errors.New("sobot: APISecret must be set"))
	}
	return errors.Join(errs...)
}

// String describes the configuration with the API key and secret redacted.
func (c Config) String() string {
	return fmt.Sprintf("sobot.Config{BaseURL: %q, APIKey: %s, APISecret: %s}",
		c.baseURL(), wire.RedactedOrEmpty(c.APIKey), wire.RedactedOrEmpty(c.APISecret))
}

// GoString is String, so %#v does not print the secrets either.
func (c Config) GoString() string { return c.String() }

// LogValue logs the configuration with the API key and secret redacted.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("base_url", c.baseURL()),
		slog.String("api_key", wire.RedactedOrEmpty(c.APIKey)),
		slog.String("api_secret", wire.RedactedOrEmpty(c.APISecret)),
	)
}

func (c Config) baseURL() string {
	return strings.TrimRight(cmp.Or(c.BaseURL, DefaultBaseURL), "/")
}

// Client calls one Sobot account. It is safe for concurrent use.
type Client struct {
	cfg     Config
	baseURL string
	http    *http.Client
	log     *slog.Logger
	// secrets are the forms of the key and secret that may come back in an
	// answer or a transport error.
	secrets wire.Scrubber
	now     func() time.Time
}

// New returns a Client for cfg. It does not call the provider; use
// cfg.Validate to check the configuration first.
func New(cfg Config) *Client {
	c := &Client{
		cfg:     cfg,
		baseURL: cfg.baseURL(),
		http:    wire.Client(cfg.HTTPClient, DefaultTimeout),
		log:     cfg.Logger,
		now:     time.Now,
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.secrets = wire.NewScrubber(cfg.APIKey, cfg.APISecret)
	return c
}

// String describes the client with the secrets redacted.
func (c *Client) String() string {
	return "sobot.Client{" + strings.TrimPrefix(c.cfg.String(), "sobot.Config{")
}

// GoString is String, so %#v does not print the secrets either.
func (c *Client) GoString() string { return c.String() }

// LogValue logs the client's configuration with the secrets redacted.
func (c *Client) LogValue() slog.Value { return c.cfg.LogValue() }

// Capabilities returns what Sobot's API can send and report.
func (c *Client) Capabilities() provider.Capabilities { return Capabilities }

// Conversation is not offered: the seed doc has no conversation history.
// It returns an error wrapping provider.ErrUnsupported without calling the
// API.
func (c *Client) Conversation(ctx context.Context, phone string, limit int) ([]provider.ConversationMessage, error) {
	return nil, fmt.Errorf("sobot conversation: %w", provider.ErrUnsupported)
}

// MessageStatus is not offered: Sobot pushes statuses by webhook only (see
// ParseWebhook). It returns an error wrapping provider.ErrUnsupported
// without calling the API.
func (c *Client) MessageStatus(ctx context.Context, wamid string) (provider.StatusReport, error) {
	return provider.StatusReport{}, fmt.Errorf("sobot message status: %w", provider.ErrUnsupported)
}

// Send sends one rendered message to the phone number to (country code and
// digits; a leading "+", spaces, dashes, dots and parentheses are removed)
// by POST {BaseURL}/message/. The doc requires a customer_name ("Name of a
// customer for future reference"): the recipient's name that ctx carries
// (provider.WithRecipientName), which `scheduler validate` and `enroll`
// require for every recipient of a Sobot account; only without one (a
// recipient loaded before that check) does the phone number stand in.
//
// It returns the wamid of the answer's data.id ("" if the answer names
// none). Errors are *provider.Error (Provider "sobot", Op "send"):
//   - ClassPermanent, without calling the API, for a message Sobot cannot
//     send (bot flows, audio, URL or call buttons, more than three buttons,
//     what [CheckMessage] reports, a bad phone number, missing content);
//   - ClassAmbiguous when the request was written but its answer was lost
//     (dropped connection, unreadable or non-JSON 2xx body, ctx cancelled);
//     ClassTransient when it failed before the request was written;
//   - else the class of the answer: the body's "code" is authoritative when
//     it is >= 400, even under HTTP 200; 401/403 and bad-credential texts
//     halt the account, unknown or paused templates halt the campaign, 429
//     and 5xx are transient, other 4xx permanent; a Meta code in the text
//     ("(#131026) ...") decides first.
func (c *Client) Send(ctx context.Context, to string, m templates.Message) (provider.SendResult, error) {
	body, err := buildSendBody(to, provider.RecipientName(ctx), m)
	if err != nil {
		return provider.SendResult{}, err
	}
	ans, err := c.post(ctx, body)
	if err != nil {
		return provider.SendResult{}, err
	}
	return provider.SendResult{WAMID: c.secrets.ID(ans.wamid())}, nil
}

// post sends one message body and returns the provider's successful answer,
// or a *provider.Error.
func (c *Client) post(ctx context.Context, body map[string]any) (*answer, error) {
	start := c.now()
	phone, _ := body["customer_number"].(string)
	raw, err := json.Marshal(body)
	if err != nil {
		return nil, c.logged(ctx, start, phone, 0, refuse(provider.ClassPermanent, "cannot encode message: "+err.Error()))
	}

	var written atomic.Bool
	trace := &httptrace.ClientTrace{
		WroteRequest: func(info httptrace.WroteRequestInfo) {
			if info.Err == nil {
				written.Store(true)
			}
		},
	}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace),
		http.MethodPost, c.baseURL+pathMessage, bytes.NewReader(raw))
	if err != nil {
		return nil, c.logged(ctx, start, phone, 0,
			c.fail(0, provider.ClassHaltAccount, "", fmt.Errorf("build request: %w", c.secrets.ScrubErr(err))))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("x-api-key", c.cfg.APIKey)
	req.Header.Set("x-api-secret", c.cfg.APISecret)

	resp, err := c.http.Do(req)
	if re, class, ok := wire.Redirected(err, true); ok {
		return nil, c.logged(ctx, start, phone, re.Status, c.fail(re.Status, class, c.secrets.Scrub(re.Error()), nil))
	}
	if err != nil {
		return nil, c.logged(ctx, start, phone, 0,
			c.lost(ctx, 0, written.Load(), fmt.Errorf("post %s: %w", pathMessage, c.secrets.ScrubErr(err))))
	}
	defer resp.Body.Close()
	rawAns, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		var pe *provider.Error
		if wire.NotServed(resp.StatusCode) {
			pe = c.fail(resp.StatusCode, provider.ClassTransient, "", fmt.Errorf("read answer: %w", c.secrets.ScrubErr(err)))
			pe.RetryAfter = wire.RetryAfter(resp.Header, c.now())
		} else {
			pe = c.lost(ctx, resp.StatusCode, true, fmt.Errorf("read answer: %w", c.secrets.ScrubErr(err)))
		}
		return nil, c.logged(ctx, start, phone, resp.StatusCode, pe)
	}
	ans, pe := c.interpret(resp, rawAns)
	if pe != nil {
		return nil, c.logged(ctx, start, phone, resp.StatusCode, pe)
	}
	_ = c.logged(ctx, start, phone, resp.StatusCode, nil) // logs the success; returns nil
	return ans, nil
}

// interpret turns an HTTP answer into a successful answer or an error.
func (c *Client) interpret(resp *http.Response, raw []byte) (*answer, *provider.Error) {
	status := resp.StatusCode
	ok2xx := status >= 200 && status <= 299
	ans, perr := parseAnswer(raw)
	if perr != nil {
		// Not JSON: an HTML error page, a proxy's text, a truncated body.
		// Its words are not the provider's verdict: classify on the HTTP
		// status alone.
		snippet := c.secrets.Snippet(raw)
		if ok2xx {
			return nil, c.fail(status, provider.ClassAmbiguous, snippet, fmt.Errorf("unparseable answer: %w", perr))
		}
		pe := c.fail(status, wire.BareClass(status, provider.Classify(status, "", "")), snippet, nil)
		pe.RetryAfter = wire.RetryAfter(resp.Header, c.now())
		return nil, pe
	}

	bodyCode := ans.code()
	switch {
	case ok2xx && bodyCode >= 200 && bodyCode <= 299:
		return ans, nil
	case ok2xx && bodyCode == 0 && !ans.hasError():
		if c.secrets.ID(ans.wamid()) != "" {
			return ans, nil
		}
		// A 2xx JSON answer that neither says it worked nor failed nor
		// names a message: we cannot tell whether it was sent.
		return nil, c.fail(status, provider.ClassAmbiguous, c.secrets.Snippet(raw), errors.New("answer has no code and no message id"))
	}

	// The provider refused: the body's code (authoritative when >= 400) or
	// the HTTP status says so.
	effective := status
	if bodyCode >= 400 && bodyCode <= 599 {
		effective = bodyCode
	} else if ok2xx {
		// {"code": 0 or 1xx or 3xx, "error": ...} under HTTP 2xx: a refusal
		// with no usable status.
		effective = 0
	}
	msg := c.secrets.Message(ans.messageText())
	code := ans.metaCode(msg)
	pe := c.fail(cmp.Or(effective, status), classify(effective, code, msg), msg, nil)
	pe.Code = c.secrets.Code(code)
	pe.RetryAfter = wire.RetryAfter(resp.Header, c.now())
	return nil, pe
}

// classify is provider.Classify plus the texts Sobot uses: bad credentials
// halt the account, an unknown template halts the campaign, an invalid
// mobile number fails the one message. A Meta code still decides first.
func classify(status int, code, msg string) provider.Class {
	if code != "" {
		return provider.Classify(status, code, msg)
	}
	m := strings.ToLower(msg)
	switch {
	case strings.Contains(m, "credential"), strings.Contains(m, "api secret"), strings.Contains(m, "secret key"),
		strings.Contains(m, "api key") && containsAny(m, "invalid", "missing", "required", "wrong", "incorrect"):
		return provider.ClassHaltAccount
	case strings.Contains(m, "template") &&
		containsAny(m, "not found", "invalid", "not exist", "does not exist", "paused", "disabled", "not approved", "rejected", "no template"):
		return provider.ClassHaltCampaign
	case containsAny(m, "invalid mobile", "invalid number", "invalid customer number", "invalid phone", "not a valid whatsapp", "not on whatsapp"):
		return provider.ClassPermanent
	}
	return provider.Classify(status, "", msg)
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// lost builds the error of a send whose answer never arrived or could not be
// read: ambiguous when the request was written, transient otherwise. A
// cancelled or expired ctx is wrapped so errors.Is finds it.
func (c *Client) lost(ctx context.Context, httpStatus int, written bool, err error) *provider.Error {
	class := provider.ClassTransient
	if written {
		class = provider.ClassAmbiguous
	}
	if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
		err = fmt.Errorf("%w (%w)", ctxErr, err)
	}
	return c.fail(httpStatus, class, "", err)
}

// fail builds a *provider.Error of this driver.
func (c *Client) fail(httpStatus int, class provider.Class, msg string, err error) *provider.Error {
	return &provider.Error{
		Provider:   providerName,
		Op:         "send",
		HTTPStatus: httpStatus,
		Message:    msg,
		Class:      class,
		Err:        err,
	}
}

// refuse builds the error of a send refused before reaching the provider.
func refuse(class provider.Class, msg string) *provider.Error {
	return &provider.Error{Provider: providerName, Op: "send", Message: msg, Class: class}
}

// logged writes the debug record of one call and returns pe.
func (c *Client) logged(ctx context.Context, start time.Time, phone string, httpStatus int, pe *provider.Error) error {
	attrs := []slog.Attr{
		slog.String("op", "send"),
		slog.String("path", pathMessage),
		slog.Int("http_status", httpStatus),
		slog.Duration("duration", c.now().Sub(start)),
	}
	if phone != "" {
		attrs = append(attrs, slog.String("phone", wire.MaskPhone(phone)))
	}
	if pe != nil {
		attrs = append(attrs, slog.String("class", pe.Class.String()), slog.String("error", pe.Error()))
	}
	c.log.LogAttrs(ctx, slog.LevelDebug, "sobot: call", attrs...)
	if pe == nil {
		return nil
	}
	return pe
}
