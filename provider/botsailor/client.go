// Package botsailor is the driver for the BotSailor API family: BotSailor
// itself and its white-label resellers (Wabotick and others), which serve the
// same paths under /api/v1/ on their own hosts and differ in a few response
// shapes.
//
// Every call is a form-encoded POST with the apiToken in the body, never in
// the URL. Answers are parsed tolerantly: "status" may be "1"/"0", 1/0,
// true/false or "success"/"error"; the wamid may sit in several places;
// "message" may be a string, an object or an array. Failures come back as
// *provider.Error carrying the HTTP status, Meta's error code when the answer
// names one, the provider's text and the policy class of provider.Classify.
//
// A send whose answer is lost (dropped connection, unreadable or non-JSON 2xx
// body, context cancelled after the request was written) is ClassAmbiguous:
// the provider may have accepted it, so reconcile (Conversation) before
// sending again.
package botsailor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/wacamp/wacamp/provider"
	"github.com/wacamp/wacamp/provider/internal/wire"
	"github.com/wacamp/wacamp/templates"
)

// providerName is the Provider field of every *provider.Error of this driver.
const providerName = "botsailor"

// The defaults used when a Config leaves a field zero.
const (
	// DefaultTimeout is the timeout of the HTTP client made when
	// Config.HTTPClient is nil.
	DefaultTimeout = 30 * time.Second
	// DefaultConversationLimit is how many messages Conversation asks for
	// when called with limit <= 0.
	DefaultConversationLimit = 20
)

// maxBody caps how much of an answer is read.
const maxBody = 8 << 20

// Config configures a Client.
type Config struct {
	// BaseURL is the API root including /api/v1, e.g.
	// https://botsailor.com/api/v1 or https://app.wabotick.com/api/v1.
	// A trailing slash is tolerated.
	BaseURL string
	// Token is the apiToken. It is a secret: it is sent only in request
	// bodies and never appears in errors, logs or String().
	Token string
	// PhoneNumberID is the WhatsApp phone number id the messages are sent from.
	PhoneNumberID string
	// WhatsAppBotID is the provider's bot id of that number; MessageStatus
	// needs it. Zero makes MessageStatus fail without calling the provider.
	WhatsAppBotID int64
	// HTTPClient makes the calls; nil means a client with DefaultTimeout.
	HTTPClient *http.Client
	// Logger receives one debug record per call; nil discards.
	Logger *slog.Logger
}

// Validate reports every problem of the configuration at once.
func (c Config) Validate() error {
	var errs []error
	if c.BaseURL == "" {
		errs = append(errs, errors.New("botsailor: BaseURL must be set"))
	} else if u, err := url.Parse(c.BaseURL); (err == nil && u.User != nil) || strings.Contains(c.BaseURL, "@") {
		// Not printed: it may hold a password (even one url.Parse refuses).
		errs = append(errs, errors.New("botsailor: BaseURL must not carry credentials (user:password@)"))
	} else if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("botsailor: BaseURL %q must be an absolute http(s) URL", c.BaseURL))
	}
	if c.Token == "" {
		errs = append(errs, errors.New("botsailor: Token must be set"))
	}
	if c.PhoneNumberID == "" {
		errs = append(errs, errors.New("botsailor: PhoneNumberID must be set"))
	}
	if c.WhatsAppBotID < 0 {
		errs = append(errs, fmt.Errorf("botsailor: WhatsAppBotID must be >= 0, got %d", c.WhatsAppBotID))
	}
	return errors.Join(errs...)
}

// String describes the configuration with the token redacted.
func (c Config) String() string {
	return fmt.Sprintf("botsailor.Config{BaseURL: %q, Token: %s, PhoneNumberID: %q, WhatsAppBotID: %d}",
		c.BaseURL, wire.RedactedOrEmpty(c.Token), c.PhoneNumberID, c.WhatsAppBotID)
}

// GoString is String, so %#v does not print the token either.
func (c Config) GoString() string { return c.String() }

// LogValue logs the configuration with the token redacted.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("base_url", c.BaseURL),
		slog.String("token", wire.RedactedOrEmpty(c.Token)),
		slog.String("phone_number_id", c.PhoneNumberID),
		slog.Int64("whatsapp_bot_id", c.WhatsAppBotID),
	)
}

// Client calls one BotSailor-family account for one phone number. It is safe
// for concurrent use.
type Client struct {
	cfg     Config
	baseURL string
	http    *http.Client
	log     *slog.Logger
	// secrets are the forms of the token that may come back in an answer:
	// as is and URL-encoded.
	secrets wire.Scrubber
	now     func() time.Time
}

// New returns a Client for cfg. It does not call the provider; use
// cfg.Validate to check the configuration first.
func New(cfg Config) *Client {
	c := &Client{
		cfg:     cfg,
		baseURL: strings.TrimRight(cfg.BaseURL, "/"),
		http:    wire.Client(cfg.HTTPClient, DefaultTimeout),
		log:     cfg.Logger,
		now:     time.Now,
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.secrets = wire.NewScrubber(cfg.Token)
	return c
}

// String describes the client with the token redacted.
func (c *Client) String() string {
	return "botsailor.Client{" + strings.TrimPrefix(c.cfg.String(), "botsailor.Config{")
}

// GoString is String, so %#v does not print the token either.
func (c *Client) GoString() string { return c.String() }

// LogValue logs the client's configuration with the token redacted.
func (c *Client) LogValue() slog.Value { return c.cfg.LogValue() }

// The API paths, relative to Config.BaseURL.
const (
	pathSend          = "/whatsapp/send"
	pathSendFile      = "/whatsapp/send/file"
	pathSendTemplate  = "/whatsapp/send/template"
	pathTriggerBot    = "/whatsapp/trigger-bot"
	pathConversation  = "/whatsapp/get/conversation"
	pathMessageStatus = "/whatsapp/get/message-status"
	pathMyInfo        = "/user/myInfo"
)

// opConversation is the Op of Conversation calls.
const opConversation = "conversation"

// call describes one API call.
type call struct {
	op   string // provider.Error.Op
	path string
	form url.Values
	// send marks calls that deliver a message: a lost answer after the
	// request was written is ambiguous, not transient.
	send bool
}

// Send delivers m to the phone number to (country code and digits; a leading
// "+", spaces, dashes, dots and parentheses are removed). It returns the
// wamid when the answer carries one: text and media sends name it
// ("wa_message_id"), as does Wabotick's template send ("data"."message_id",
// seed 001); BotSailor's template send and every bot-flow trigger answer
// without one (SendResult.WAMID == ""), so Conversation finds it.
//
// Errors are *provider.Error: ClassPermanent for a bad recipient,
// ClassHaltCampaign for a message that cannot be sent to anyone (unknown
// kind, missing media or template), ClassAmbiguous when the answer was lost
// after the request was written, and the provider.Classify class of the
// provider's answer otherwise. A cancelled ctx is wrapped (errors.Is works).
func (c *Client) Send(ctx context.Context, to string, m templates.Message) (provider.SendResult, error) {
	cl, err := c.sendCall(to, m)
	if err != nil {
		return provider.SendResult{}, err
	}
	ans, err := c.do(ctx, cl)
	if err != nil {
		return provider.SendResult{}, err
	}
	return provider.SendResult{WAMID: c.secrets.ID(ans.wamid())}, nil
}

// sendCall builds the call for one message, or refuses a message that cannot
// be sent.
func (c *Client) sendCall(to string, m templates.Message) (call, error) {
	phone, ok := wire.NormalizePhone(to)
	if !ok {
		return call{}, c.refuse("send", provider.ClassPermanent, fmt.Sprintf("invalid phone number %q", wire.MaskPhone(to)))
	}
	if err := Capabilities.Check(m); err != nil {
		// Validation refuses these first; a message that slipped through
		// is never sent half-understood.
		return call{}, c.refuse("send", provider.ClassPermanent, err.Error())
	}
	form := url.Values{}
	form.Set("phone_number_id", c.cfg.PhoneNumberID)
	form.Set("phone_number", phone)
	switch m.Kind {
	case templates.KindText:
		if m.Text == "" {
			return call{}, c.refuse("send", provider.ClassHaltCampaign, "text message has no text")
		}
		form.Set("message", m.Text)
		return call{op: "send", path: pathSend, form: form, send: true}, nil
	case templates.KindMedia:
		if m.Media == nil || m.Media.URL == "" {
			return call{}, c.refuse("send-file", provider.ClassHaltCampaign, "media message has no media URL")
		}
		form.Set("media_url", m.Media.URL)
		if m.Media.Type != "" {
			form.Set("media_type", m.Media.Type)
		}
		if m.Media.Caption != "" {
			form.Set("media_caption_text", m.Media.Caption)
		}
		return call{op: "send-file", path: pathSendFile, form: form, send: true}, nil
	case templates.KindTemplate:
		if m.Template == nil || m.Template.ID == "" {
			return call{}, c.refuse("send-template", provider.ClassHaltCampaign, "template message has no template id")
		}
		form.Set("template_id", m.Template.ID)
		for _, v := range m.Template.Vars {
			form.Set(fmt.Sprintf("templateVariable-%s-%d", v.Name, v.Index), v.Value)
		}
		return call{op: "send-template", path: pathSendTemplate, form: form, send: true}, nil
	case templates.KindBotFlow:
		if m.BotFlow == "" {
			return call{}, c.refuse("trigger-bot", provider.ClassHaltCampaign, "bot flow message has no bot flow id")
		}
		form.Set("bot_flow_unique_id", m.BotFlow)
		return call{op: "trigger-bot", path: pathTriggerBot, form: form, send: true}, nil
	}
	return call{}, c.refuse("send", provider.ClassHaltCampaign, fmt.Sprintf("unsupported message kind %q", m.Kind))
}

// Conversation returns up to limit messages (DefaultConversationLimit when
// limit <= 0) of the conversation with phone, in the provider's order
// (newest first on BotSailor). It is how the wamid of a send whose answer
// carried none, or was lost, is found.
//
// The "offset" parameter is not sent: the doc marks it optional and its only
// example (offset=1) leaves open whether it counts from 0 or 1, so the
// provider's default (the newest messages) is the one safe choice; a
// reconciliation looks only at the newest messages anyway.
//
// Errors are *provider.Error; a lost answer is ClassTransient.
func (c *Client) Conversation(ctx context.Context, phone string, limit int) ([]provider.ConversationMessage, error) {
	p, ok := wire.NormalizePhone(phone)
	if !ok {
		return nil, c.refuse("conversation", provider.ClassPermanent, fmt.Sprintf("invalid phone number %q", wire.MaskPhone(phone)))
	}
	if limit <= 0 {
		limit = DefaultConversationLimit
	}
	form := url.Values{}
	form.Set("phone_number_id", c.cfg.PhoneNumberID)
	form.Set("phone_number", p)
	form.Set("limit", strconv.Itoa(limit))
	ans, err := c.do(ctx, call{op: opConversation, path: pathConversation, form: form})
	if err != nil {
		return nil, err
	}
	// Ids and failure reasons are recorded on deliveries: kept only as
	// far as they can be vouched for, like an answer's.
	msgs := ans.conversation()
	for i := range msgs {
		m := &msgs[i]
		m.ID, m.WAMID, m.Reason = c.secrets.ID(m.ID), c.secrets.ID(m.WAMID), c.secrets.Message(m.Reason)
	}
	return msgs, nil
}

// MessageStatus returns the provider's current status of the message wamid.
// An unknown status word gives provider.StatusUnknown. Errors are
// *provider.Error; a lost answer is ClassTransient, a missing
// Config.WhatsAppBotID ClassPermanent.
func (c *Client) MessageStatus(ctx context.Context, wamid string) (provider.StatusReport, error) {
	if wamid == "" {
		return provider.StatusReport{}, c.refuse("message-status", provider.ClassPermanent, "empty wamid")
	}
	if c.cfg.WhatsAppBotID == 0 {
		return provider.StatusReport{}, c.refuse("message-status", provider.ClassPermanent, "WhatsAppBotID is not configured")
	}
	form := url.Values{}
	form.Set("wa_message_id", wamid)
	form.Set("whatsapp_bot_id", strconv.FormatInt(c.cfg.WhatsAppBotID, 10))
	ans, err := c.do(ctx, call{op: "message-status", path: pathMessageStatus, form: form})
	if err != nil {
		return provider.StatusReport{}, err
	}
	// The failure reason and code are the provider's text: scrubbed like
	// an error's.
	r := ans.statusReport()
	r.Reason = c.secrets.Message(r.Reason)
	r.Code = c.secrets.Code(r.Code)
	return r, nil
}

// AccountInfo returns the account's subscriber and message-credit limits
// ("unlimited", or a limit the answer leaves out, is -1). Errors are
// *provider.Error; a lost answer is ClassTransient.
func (c *Client) AccountInfo(ctx context.Context) (provider.AccountInfo, error) {
	ans, err := c.do(ctx, call{op: "my-info", path: pathMyInfo, form: url.Values{}})
	if err != nil {
		return provider.AccountInfo{}, err
	}
	return ans.accountInfo(), nil
}

// do makes one call and returns the provider's successful answer, or a
// *provider.Error.
func (c *Client) do(ctx context.Context, cl call) (*answer, error) {
	start := c.now()
	form := maps.Clone(cl.form)
	form.Set("apiToken", c.cfg.Token)
	body := form.Encode()

	var written atomic.Bool
	trace := &httptrace.ClientTrace{
		WroteRequest: func(info httptrace.WroteRequestInfo) {
			if info.Err == nil {
				written.Store(true)
			}
		},
	}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace),
		http.MethodPost, c.baseURL+cl.path, strings.NewReader(body))
	if err != nil {
		return nil, c.fail(cl, 0, provider.ClassHaltAccount, "", fmt.Errorf("build request: %w", c.secrets.ScrubErr(err)))
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")

	resp, err := c.http.Do(req)
	if re, class, ok := wire.Redirected(err, cl.send); ok {
		pe := c.fail(cl, re.Status, class, c.secrets.Scrub(re.Error()), nil)
		c.logCall(ctx, cl, start, re.Status, pe)
		return nil, pe
	}
	if err != nil {
		pe := c.lost(ctx, cl, 0, written.Load(), fmt.Errorf("post %s: %w", cl.path, c.secrets.ScrubErr(err)))
		c.logCall(ctx, cl, start, 0, pe)
		return nil, pe
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		var pe *provider.Error
		if wire.NotServed(resp.StatusCode) {
			pe = c.fail(cl, resp.StatusCode, provider.ClassTransient, "", fmt.Errorf("read answer: %w", c.secrets.ScrubErr(err)))
			pe.RetryAfter = wire.RetryAfter(resp.Header, c.now())
		} else {
			pe = c.lost(ctx, cl, resp.StatusCode, true, fmt.Errorf("read answer: %w", c.secrets.ScrubErr(err)))
		}
		c.logCall(ctx, cl, start, resp.StatusCode, pe)
		return nil, pe
	}

	ans, pe := c.interpret(ctx, cl, resp, raw)
	c.logCall(ctx, cl, start, resp.StatusCode, pe)
	if pe != nil {
		return nil, pe
	}
	return ans, nil
}

// interpret turns an HTTP answer into a successful answer or an error.
func (c *Client) interpret(ctx context.Context, cl call, resp *http.Response, raw []byte) (*answer, *provider.Error) {
	status := resp.StatusCode
	ok2xx := status >= 200 && status <= 299
	ans, perr := parseAnswer(raw)
	if perr != nil && ok2xx && cl.op == opConversation {
		if msgs, ok := scrapeConversation(raw); ok {
			c.log.WarnContext(ctx, "botsailor: conversation answer is not JSON; fields recovered by pattern",
				slog.Int("messages", len(msgs)))
			return &answer{scraped: msgs}, nil
		}
	}
	if perr != nil {
		// Not JSON: an HTML error page, a proxy's text, a truncated body.
		// Its words are not the provider's verdict, so classify on the
		// HTTP status alone.
		snippet := c.secrets.Snippet(raw)
		switch {
		case ok2xx && cl.send:
			return nil, c.fail(cl, status, provider.ClassAmbiguous, snippet, fmt.Errorf("unparseable answer: %w", perr))
		case ok2xx:
			return nil, c.fail(cl, status, provider.ClassTransient, snippet, fmt.Errorf("unparseable answer: %w", perr))
		}
		class := provider.Classify(status, "", "")
		if cl.send {
			class = wire.BareClass(status, class)
		}
		pe := c.fail(cl, status, class, snippet, nil)
		pe.RetryAfter = wire.RetryAfter(resp.Header, c.now())
		return nil, pe
	}

	verdict := ans.verdict()
	if verdict == verdictOK && ok2xx {
		return ans, nil
	}
	if verdict == verdictUnknown && ok2xx {
		if cl.send && c.secrets.ID(ans.wamid()) == "" {
			// A 2xx JSON answer that neither says it worked nor failed nor
			// names a message: we cannot tell whether it was sent.
			return nil, c.fail(cl, status, provider.ClassAmbiguous, c.secrets.Snippet(raw), errors.New("answer has no status"))
		}
		return ans, nil
	}
	// The provider refused ({"status":"0"}), or the HTTP status says it
	// failed whatever the body says.
	msg := c.secrets.Message(ans.messageText())
	code := provider.ExtractCode(msg)
	if code == "" {
		code = ans.errorCode(status)
	}
	pe := c.fail(cl, status, provider.Classify(status, code, msg), msg, nil)
	pe.Code = c.secrets.Code(code)
	pe.RetryAfter = wire.RetryAfter(resp.Header, c.now())
	return nil, pe
}

// lost builds the error of a call whose answer never arrived or could not be
// read: ambiguous for a send whose request was written, transient otherwise.
// A cancelled or expired ctx is wrapped so errors.Is finds it.
func (c *Client) lost(ctx context.Context, cl call, httpStatus int, written bool, err error) *provider.Error {
	class := provider.ClassTransient
	if cl.send && written {
		class = provider.ClassAmbiguous
	}
	if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
		err = fmt.Errorf("%w (%w)", ctxErr, err)
	}
	return c.fail(cl, httpStatus, class, "", err)
}

// fail builds a *provider.Error of this driver.
func (c *Client) fail(cl call, httpStatus int, class provider.Class, msg string, err error) *provider.Error {
	return &provider.Error{
		Provider:   providerName,
		Op:         cl.op,
		HTTPStatus: httpStatus,
		Message:    msg,
		Class:      class,
		Err:        err,
	}
}

// refuse builds the error of a call refused before reaching the provider.
func (c *Client) refuse(op string, class provider.Class, msg string) *provider.Error {
	return &provider.Error{Provider: providerName, Op: op, Message: msg, Class: class}
}

func (c *Client) logCall(ctx context.Context, cl call, start time.Time, httpStatus int, pe *provider.Error) {
	attrs := []slog.Attr{
		slog.String("op", cl.op),
		slog.String("path", cl.path),
		slog.Int("http_status", httpStatus),
		slog.Duration("duration", c.now().Sub(start)),
	}
	if p := cl.form.Get("phone_number"); p != "" {
		attrs = append(attrs, slog.String("phone", wire.MaskPhone(p)))
	}
	if pe != nil {
		attrs = append(attrs, slog.String("class", pe.Class.String()), slog.String("error", pe.Error()))
	}
	c.log.LogAttrs(ctx, slog.LevelDebug, "botsailor: call", attrs...)
}
