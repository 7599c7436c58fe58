package sobot

import (
	"cmp"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"

	"github.com/wacamp/wacamp/provider"
	"github.com/wacamp/wacamp/provider/internal/httpapi"
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
	DefaultTimeout = httpapi.DefaultTimeout
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
	p := httpapi.Check(providerName)
	p.BaseURL(c.BaseURL, false) // empty: DefaultBaseURL
	p.Require("APIKey", c.APIKey)
	p.Require("APISecret", c.APISecret)
	return p.Err()
}

// String describes the configuration with the API key and secret redacted.
func (c Config) String() string { return c.described().String() }

// GoString is String, so %#v does not print the secrets either.
func (c Config) GoString() string { return c.String() }

// LogValue logs the configuration with the API key and secret redacted.
func (c Config) LogValue() slog.Value { return c.described().LogValue() }

func (c Config) described() httpapi.Described {
	return httpapi.Describe("sobot.Config",
		httpapi.Field{Name: "BaseURL", Key: "base_url", Value: c.baseURL()},
		httpapi.Field{Name: "APIKey", Key: "api_key", Value: c.APIKey, Secret: true},
		httpapi.Field{Name: "APISecret", Key: "api_secret", Value: c.APISecret, Secret: true},
	)
}

func (c Config) baseURL() string {
	return strings.TrimRight(cmp.Or(c.BaseURL, DefaultBaseURL), "/")
}

// Client calls one Sobot account. It is safe for concurrent use. It
// prints and logs as its Config does (String, GoString, LogValue), with
// the secrets redacted. Conversation and MessageStatus are not offered:
// the seed doc has no conversation history and Sobot pushes statuses by
// webhook only (see ParseWebhook); they return an error wrapping
// provider.ErrUnsupported without calling the API.
type Client struct {
	base // String, GoString, LogValue (secrets redacted); Conversation, MessageStatus unsupported
	cfg  Config
	k    *httpapi.Client
}

// base is httpapi.Base under a name that keeps the embedded field unexported.
type base = httpapi.Base

// New returns a Client for cfg. It does not call the provider; use
// cfg.Validate to check the configuration first.
func New(cfg Config) *Client {
	return &Client{base: httpapi.NoHistory(providerName, "sobot.Client", cfg.described()), cfg: cfg,
		k: httpapi.New(providerName, cfg.baseURL(), cfg.HTTPClient, cfg.Logger, cfg.APIKey, cfg.APISecret)}
}

// Capabilities returns what Sobot's API can send and report.
func (c *Client) Capabilities() provider.Capabilities { return Capabilities }

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
	return provider.SendResult{WAMID: c.k.Secrets.ID(ans.wamid())}, nil
}

// post sends one message body and returns the provider's successful answer,
// or a *provider.Error.
func (c *Client) post(ctx context.Context, body map[string]any) (*answer, error) {
	phone, _ := body["customer_number"].(string)
	raw, err := json.Marshal(body)
	if err != nil {
		return nil, refuse(provider.ClassPermanent, "cannot encode message: "+err.Error())
	}
	call := httpapi.Call{
		Op: "send", Name: pathMessage, URL: c.k.BaseURL + pathMessage, Body: raw, ContentType: "application/json",
		Header: map[string]string{"x-api-key": c.cfg.APIKey, "x-api-secret": c.cfg.APISecret},
		Phone:  phone, Send: true, MaxBody: maxBody,
	}
	return httpapi.Fetch(ctx, c.k, call, c.interpret)
}

// interpret turns an HTTP answer into a successful answer or an error.
func (c *Client) interpret(call httpapi.Call, a httpapi.Answer) (*answer, *provider.Error) {
	ans, perr := parseAnswer(a.Raw)
	if perr != nil {
		return nil, c.k.NotJSON(call, a, perr, provider.Classify(a.Status, "", ""))
	}
	bodyCode := ans.code()
	switch {
	case a.OK() && bodyCode >= 200 && bodyCode <= 299:
		return ans, nil
	case a.OK() && bodyCode == 0 && !ans.hasError():
		if c.k.Secrets.ID(ans.wamid()) != "" {
			return ans, nil
		}
		return nil, c.k.Unclear(call, a, "answer has no code and no message id")
	}

	// The provider refused: the body's code (authoritative when >= 400) or
	// the HTTP status says so.
	effective := a.Status
	if bodyCode >= 400 && bodyCode <= 599 {
		effective = bodyCode
	} else if a.OK() {
		// {"code": 0 or 1xx or 3xx, "error": ...} under HTTP 2xx: a refusal
		// with no usable status.
		effective = 0
	}
	msg := c.k.Secrets.Message(ans.messageText())
	code := ans.metaCode(msg)
	return nil, c.k.Refused(call, a, cmp.Or(effective, a.Status), classify(effective, code, msg), msg, code)
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
		strings.Contains(m, "api key") && wire.ContainsAny(m, "invalid", "missing", "required", "wrong", "incorrect"):
		return provider.ClassHaltAccount
	case strings.Contains(m, "template") &&
		wire.ContainsAny(m, "not found", "invalid", "not exist", "does not exist", "paused", "disabled", "not approved", "rejected", "no template"):
		return provider.ClassHaltCampaign
	case wire.ContainsAny(m, "invalid mobile", "invalid number", "invalid customer number", "invalid phone", "not a valid whatsapp", "not on whatsapp"):
		return provider.ClassPermanent
	}
	return provider.Classify(status, "", msg)
}

// refuse builds the error of a send refused before reaching the provider.
func refuse(class provider.Class, msg string) *provider.Error {
	return httpapi.Refuse(providerName, "send", class, msg)
}
