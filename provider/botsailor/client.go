package botsailor

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/wacamp/wacamp/provider"
	"github.com/wacamp/wacamp/provider/internal/httpapi"
	"github.com/wacamp/wacamp/provider/internal/wire"
	"github.com/wacamp/wacamp/templates"
)

// providerName is the Provider field of every *provider.Error of this driver.
const providerName = "botsailor"

// The defaults used when a Config leaves a field zero.
const (
	// DefaultTimeout is the timeout of the HTTP client made when
	// Config.HTTPClient is nil.
	DefaultTimeout = httpapi.DefaultTimeout
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
	p := httpapi.Check(providerName)
	p.Require("BaseURL", c.BaseURL)
	p.BaseURL(c.BaseURL, false)
	p.Require("Token", c.Token)
	p.Require("PhoneNumberID", c.PhoneNumberID)
	if c.WhatsAppBotID < 0 {
		p.Addf("WhatsAppBotID must be >= 0, got %d", c.WhatsAppBotID)
	}
	return p.Err()
}

// String describes the configuration with the token redacted.
func (c Config) String() string { return c.described().String() }

// GoString is String, so %#v does not print the token either.
func (c Config) GoString() string { return c.String() }

// LogValue logs the configuration with the token redacted.
func (c Config) LogValue() slog.Value { return c.described().LogValue() }

func (c Config) described() httpapi.Described {
	return httpapi.Describe("botsailor.Config",
		httpapi.Field{Name: "BaseURL", Key: "base_url", Value: c.BaseURL},
		httpapi.Field{Name: "Token", Key: "token", Value: c.Token, Secret: true},
		httpapi.Field{Name: "PhoneNumberID", Key: "phone_number_id", Value: c.PhoneNumberID},
		httpapi.Field{Name: "WhatsAppBotID", Key: "whatsapp_bot_id", Value: c.WhatsAppBotID},
	)
}

// Client calls one BotSailor-family account for one phone number. It is safe
// for concurrent use. It prints and logs as its Config does (String,
// GoString, LogValue), with the token redacted.
type Client struct {
	described // String, GoString, LogValue: as its Config, token redacted
	cfg       Config
	k         *httpapi.Client
}

// described is httpapi.Described under a name that keeps the embedded field
// unexported.
type described = httpapi.Described

// New returns a Client for cfg. It does not call the provider; use
// cfg.Validate to check the configuration first.
func New(cfg Config) *Client {
	return &Client{described: httpapi.As("botsailor.Client", cfg.described()), cfg: cfg,
		k: httpapi.New(providerName, cfg.BaseURL, cfg.HTTPClient, cfg.Logger, cfg.Token)}
}

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

// maxConversationRead is the most entries Conversation asks for when the
// provider lists a conversation oldest first.
const maxConversationRead = 1000

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
	return provider.SendResult{WAMID: c.k.Secrets.ID(ans.wamid())}, nil
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
// limit <= 0) of the conversation with phone, newest first: the doc does
// not give the order, so a list that runs oldest first (by its times, else
// its numeric ids: olderFirst) is turned round, and when such a list is
// full, so that it holds the oldest entries and not the newest, it is read
// again with four times the limit, up to maxConversationRead entries (an
// error beyond). It is how the wamid of a send whose answer carried none,
// or was lost, is found. A refusal that says the subscriber or the
// conversation does not exist is an empty conversation (see noHistory).
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
	var msgs []provider.ConversationMessage
	for {
		form := url.Values{}
		form.Set("phone_number_id", c.cfg.PhoneNumberID)
		form.Set("phone_number", p)
		form.Set("limit", strconv.Itoa(limit))
		ans, err := c.do(ctx, call{op: opConversation, path: pathConversation, form: form})
		if err != nil {
			return nil, err
		}
		msgs = ans.conversation()
		if !olderFirst(msgs) {
			break
		}
		slices.Reverse(msgs)
		if len(msgs) < limit {
			break
		}
		// Listed oldest first and full: the newest are not in it.
		if limit >= maxConversationRead {
			return nil, c.refuse("conversation", provider.ClassPermanent, fmt.Sprintf(
				"the provider lists the conversation oldest first and it is longer than %d entries: its newest messages cannot be read", limit))
		}
		limit = min(limit*4, maxConversationRead)
	}
	msgs = byTimeNewestFirst(msgs)
	// Ids and failure reasons are recorded on deliveries: kept only as
	// far as they can be vouched for, like an answer's.
	for i := range msgs {
		m := &msgs[i]
		m.ID, m.WAMID, m.Reason = c.k.Secrets.ID(m.ID), c.k.Secrets.ID(m.WAMID), c.k.Secrets.Message(m.Reason)
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
	r.Reason = c.k.Secrets.Message(r.Reason)
	r.Code = c.k.Secrets.Code(r.Code)
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
	form := maps.Clone(cl.form)
	form.Set("apiToken", c.cfg.Token)
	hc := httpapi.Call{
		Op: cl.op, Name: cl.path, URL: c.k.BaseURL + cl.path, Body: []byte(form.Encode()),
		ContentType: "application/x-www-form-urlencoded", Phone: cl.form.Get("phone_number"), Send: cl.send, MaxBody: maxBody,
	}
	return httpapi.Fetch(ctx, c.k, hc, func(cl httpapi.Call, a httpapi.Answer) (*answer, *provider.Error) {
		return c.interpret(ctx, cl, a)
	})
}

// interpret turns an HTTP answer into a successful answer or an error.
func (c *Client) interpret(ctx context.Context, cl httpapi.Call, a httpapi.Answer) (*answer, *provider.Error) {
	ans, perr := parseAnswer(a.Raw)
	if perr != nil && a.OK() && cl.Op == opConversation {
		if msgs, ok := scrapeConversation(a.Raw); ok {
			c.k.Log.WarnContext(ctx, "botsailor: conversation answer is not JSON; fields recovered by pattern",
				slog.Int("messages", len(msgs)))
			return &answer{scraped: msgs}, nil
		}
	}
	if perr != nil {
		return nil, c.k.NotJSON(cl, a, perr, provider.Classify(a.Status, "", ""))
	}

	verdict := ans.verdict()
	if verdict == wire.FlagOK && a.OK() {
		return ans, nil
	}
	if verdict == wire.FlagFail && cl.Op == opConversation && (a.OK() || a.Status == http.StatusNotFound) && noHistory(ans.messageText()) {
		// Someone never messaged has no subscriber, or no conversation,
		// yet: the doc does not say how that is answered, and a refusal
		// naming it is an empty history, not a failure (or a first
		// template could never be sent).
		return &answer{}, nil
	}
	if verdict == wire.FlagUnknown && a.OK() {
		if cl.Send && c.k.Secrets.ID(ans.wamid()) == "" {
			return nil, c.k.Unclear(cl, a, "answer has no status")
		}
		return ans, nil
	}
	// The provider refused ({"status":"0"}), or the HTTP status says it
	// failed whatever the body says.
	msg := c.k.Secrets.Message(ans.messageText())
	code := provider.ExtractCode(msg)
	if code == "" {
		code = ans.errorCode(a.Status)
	}
	return nil, c.k.Refused(cl, a, a.Status, provider.Classify(a.Status, code, msg), msg, code)
}

// refuse builds the error of a call refused before reaching the provider.
func (c *Client) refuse(op string, class provider.Class, msg string) *provider.Error {
	return httpapi.Refuse(providerName, op, class, msg)
}
