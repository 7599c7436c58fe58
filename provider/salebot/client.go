package salebot

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"unicode"

	"github.com/wacamp/wacamp/provider"
	"github.com/wacamp/wacamp/provider/internal/httpapi"
	"github.com/wacamp/wacamp/provider/internal/wire"
	"github.com/wacamp/wacamp/templates"
)

// providerName is the Provider field of every *provider.Error of this driver.
const providerName = "salebot"

// DefaultBaseURL is the API root used when Config.BaseURL is empty.
const DefaultBaseURL = "https://chatter.salebot.pro/api"

// DefaultTimeout is the timeout of the HTTP client made when
// Config.HTTPClient is nil.
const DefaultTimeout = httpapi.DefaultTimeout

// The API actions this driver calls: {BaseURL}/{api_key}/{action}.
const (
	ActionWhatsAppMessage  = "whatsapp_message"
	ActionWhatsAppCallback = "whatsapp_callback"
)

// maxBody caps how much of an answer is read.
const maxBody = 4 << 20

// Config configures a Client.
type Config struct {
	// BaseURL is the API root without the key, e.g.
	// https://chatter.salebot.pro/api (the default when empty). A trailing
	// slash is tolerated.
	BaseURL string
	// APIKey is the project's API key. It is a secret and travels in the
	// URL path ({BaseURL}/{api_key}/{action}), so request URLs are secret
	// too: neither the key nor a URL holding it appears in errors, logs or
	// String().
	APIKey string
	// WhatsAppBotID is the id of the connected WhatsApp channel ("Messengers
	// and chats"), sent as whatsapp_bot_id with every message.
	WhatsAppBotID int64
	// HTTPClient makes the calls; nil means a client with DefaultTimeout.
	HTTPClient *http.Client
	// Logger receives one debug record per call; nil discards.
	Logger *slog.Logger
}

// Validate reports every problem of the configuration at once. It names
// the fields, never their secret values.
func (c Config) Validate() error {
	p := httpapi.Check(providerName)
	// Empty: DefaultBaseURL. User info is allowed: request URLs are secret
	// (the key is in the path), so no error shows it, and String redacts it.
	p.BaseURL(c.BaseURL, true)
	p.Require("APIKey", c.APIKey)
	if strings.ContainsFunc(c.APIKey, func(r rune) bool { return unicode.IsSpace(r) || r == '/' || r == '?' || r == '#' }) {
		// The doc warns of a stray space copied into the URL.
		p.Addf("APIKey must not contain spaces, '/', '?' or '#'")
	}
	if c.WhatsAppBotID <= 0 {
		p.Addf("WhatsAppBotID must be set (> 0), got %d", c.WhatsAppBotID)
	}
	return p.Err()
}

// String describes the configuration with the API key redacted.
func (c Config) String() string { return c.described().String() }

// GoString is String, so %#v does not print the API key either.
func (c Config) GoString() string { return c.String() }

// LogValue logs the configuration with the API key redacted.
func (c Config) LogValue() slog.Value { return c.described().LogValue() }

func (c Config) described() httpapi.Described {
	return httpapi.Describe("salebot.Config",
		httpapi.Field{Name: "BaseURL", Key: "base_url", Value: redactURL(c.BaseURL)},
		httpapi.Field{Name: "APIKey", Key: "api_key", Value: c.APIKey, Secret: true},
		httpapi.Field{Name: "WhatsAppBotID", Key: "whatsapp_bot_id", Value: c.WhatsAppBotID},
	)
}

// redactURL hides a password in a BaseURL's user info.
func redactURL(s string) string {
	if u, err := url.Parse(s); err == nil && u.User != nil {
		return u.Redacted()
	}
	return s
}

// Client sends messages through one Salebot project's WhatsApp channel. It
// is safe for concurrent use. It prints and logs as its Config does
// (String, GoString, LogValue), with the API key redacted. Conversation
// and MessageStatus are not offered: the seed doc's message history is by
// client_id only and carries no WhatsApp message ids, and statuses arrive
// only on the message webhook (see ParseWebhook); they return an error
// wrapping provider.ErrUnsupported without calling the provider.
type Client struct {
	base // String, GoString, LogValue (key redacted); Conversation, MessageStatus unsupported
	cfg  Config
	k    *httpapi.Client
}

// base is httpapi.Base under a name that keeps the embedded field unexported.
type base = httpapi.Base

// New returns a Client for cfg. It does not call the provider; use
// cfg.Validate to check the configuration first.
func New(cfg Config) *Client {
	k := httpapi.New(providerName, cmp.Or(cfg.BaseURL, DefaultBaseURL), cfg.HTTPClient, cfg.Logger, cfg.APIKey)
	k.SecretURL = true // the key is a path segment: request URLs are secret
	return &Client{base: httpapi.NoHistory(providerName, "salebot.Client", cfg.described()), cfg: cfg, k: k}
}

// Capabilities returns what the API can do.
func (c *Client) Capabilities() provider.Capabilities { return Capabilities }

// request is one send call: the action and its JSON body.
type request struct {
	action string
	body   map[string]any
	phone  string // for logs, masked
}

// Send sends one rendered message m to the WhatsApp number to (country code
// and digits; a leading "+", spaces, dashes, dots and parentheses are
// removed).
//
//   - text → whatsapp_message {"phone", "message", "whatsapp_bot_id"};
//   - media → whatsapp_message with attachment_type (image, video, audio;
//     document is "file") and attachment_url, the caption as message;
//   - buttons (reply only) → whatsapp_message with message and the doc's
//     buttons object: {"hint": ..., "buttons": [{"type":"reply", "text",
//     "line": 0, "index_in_line": i}]}. The header and footer are joined to
//     the text with blank lines; the hint, shown where buttons cannot be, is
//     the text followed by the numbered button titles;
//   - bot_flow → whatsapp_callback {"phone", "message": the bot flow's
//     callback text, "whatsapp_bot_id"}.
//
// Templates, locations, lists, other button types and sticker media are
// refused with a ClassPermanent *provider.Error without a call.
//
// The seed doc shows no send answer. A 2xx JSON answer is accepted unless
// its "status" says "error"/false/0 or it carries an "error" or
// "error_message". Salebot's answer names no WhatsApp message id ("message_id"
// in its webhook is the bot block's id), so SendResult.WAMID is "" unless the
// answer has an explicit "wamid" or "wa_message_id" field, or an "id" that
// starts with "wamid."; statuses are matched to sends by phone
// (provider.Event.MatchByPhone).
//
// Errors are *provider.Error: ClassAmbiguous when the answer was lost after
// the request was written (or was not JSON), ClassTransient for a transport
// error before that, for 5xx and 429, and otherwise the class of the
// provider's answer (an unknown API key, HTTP 401/403/404 or a WhatsApp
// channel not connected halts the account; an invalid phone is permanent).
func (c *Client) Send(ctx context.Context, to string, m templates.Message) (provider.SendResult, error) {
	req, err := c.sendRequest(to, m)
	if err != nil {
		return provider.SendResult{}, err
	}
	ans, err := c.do(ctx, req)
	if err != nil {
		return provider.SendResult{}, err
	}
	return provider.SendResult{WAMID: c.k.Secrets.ID(ans.wamid())}, nil
}

// attachmentTypes maps our media types to Salebot's attachment_type.
var attachmentTypes = map[string]string{
	"image":    "image",
	"video":    "video",
	"audio":    "audio",
	"document": "file",
}

// sendRequest builds the call for one message, or refuses a message that
// cannot be sent.
func (c *Client) sendRequest(to string, m templates.Message) (request, error) {
	phone, ok := wire.NormalizePhone(to)
	if !ok {
		return request{}, refuse(provider.ClassPermanent, fmt.Sprintf("invalid phone number %q", wire.MaskPhone(to)))
	}
	body := map[string]any{"phone": phone, "whatsapp_bot_id": c.cfg.WhatsAppBotID}
	req := request{action: ActionWhatsAppMessage, body: body, phone: phone}
	switch m.Kind {
	case templates.KindText:
		if m.Text == "" {
			return request{}, refuse(provider.ClassHaltCampaign, "text message has no text")
		}
		body["message"] = m.Text
	case templates.KindMedia:
		if m.Media == nil || m.Media.URL == "" {
			return request{}, refuse(provider.ClassHaltCampaign, "media message has no media URL")
		}
		at, ok := attachmentTypes[m.Media.Type]
		if !ok {
			return request{}, refuse(provider.ClassPermanent, fmt.Sprintf("salebot cannot send %q media", m.Media.Type))
		}
		body["attachment_type"] = at
		body["attachment_url"] = m.Media.URL
		if m.Media.Caption != "" {
			body["message"] = m.Media.Caption
		}
	case templates.KindButtons:
		b := m.Buttons
		if b == nil || len(b.Buttons) == 0 {
			return request{}, refuse(provider.ClassHaltCampaign, "buttons message has no buttons")
		}
		text := joinNonEmpty("\n\n", b.Header, b.Text, b.Footer)
		if text == "" {
			return request{}, refuse(provider.ClassHaltCampaign, "buttons message has no text")
		}
		hint := text
		buttons := make([]map[string]any, 0, len(b.Buttons))
		for i, btn := range b.Buttons {
			if btn.Type != "reply" {
				return request{}, refuse(provider.ClassPermanent, fmt.Sprintf("salebot cannot send %q buttons", btn.Type))
			}
			buttons = append(buttons, map[string]any{
				"type": "reply", "text": btn.Title, "line": 0, "index_in_line": i,
			})
			hint += fmt.Sprintf("\n%d. %s", i+1, btn.Title)
		}
		body["message"] = text
		body["buttons"] = map[string]any{"hint": hint, "buttons": buttons}
	case templates.KindBotFlow:
		if m.BotFlow == "" {
			return request{}, refuse(provider.ClassHaltCampaign, "bot flow message has no callback text")
		}
		req.action = ActionWhatsAppCallback
		body["message"] = m.BotFlow
	case templates.KindTemplate, templates.KindLocation, templates.KindList:
		return request{}, refuse(provider.ClassPermanent, fmt.Sprintf("salebot cannot send %s messages", m.Kind))
	default:
		return request{}, refuse(provider.ClassPermanent, fmt.Sprintf("unsupported message kind %q", m.Kind))
	}
	return req, nil
}

// do makes one call and returns the provider's successful answer, or a
// *provider.Error.
func (c *Client) do(ctx context.Context, req request) (*answer, error) {
	payload, err := json.Marshal(req.body)
	if err != nil {
		return nil, refuse(provider.ClassPermanent, fmt.Sprintf("cannot encode %s request: %v", req.action, err))
	}
	call := httpapi.Call{
		Op: "send", Name: req.action, URL: c.k.BaseURL + "/" + url.PathEscape(c.cfg.APIKey) + "/" + req.action,
		Body: payload, ContentType: "application/json", Phone: req.phone, Send: true, MaxBody: maxBody,
	}
	return httpapi.Fetch(ctx, c.k, call, c.interpret)
}

// interpret turns an HTTP answer into an accepted answer or an error.
func (c *Client) interpret(call httpapi.Call, a httpapi.Answer) (*answer, *provider.Error) {
	ans, perr := parseAnswer(a.Raw)
	if perr != nil {
		if a.OK() && plainAcceptance(a.Raw) {
			// The doc shows no send answer: a 2xx with an empty or plain
			// text body ("OK") is the server accepting.
			return &answer{}, nil
		}
		class := classify(a.Status, "", "")
		if a.Status == http.StatusNotFound && len(bytes.TrimSpace(a.Raw)) > 0 && !looksHTML(a.Raw) {
			// A 404 with a text body is about the request (a client not
			// found), not the key; the key's 404 has no body to speak of.
			class = provider.ClassPermanent
		}
		return nil, c.k.NotJSON(call, a, perr, class)
	}
	if a.OK() && !ans.refused() {
		return ans, nil
	}
	msg := c.k.Secrets.Message(ans.messageText())
	code := provider.ExtractCode(msg)
	if code == "" {
		code = ans.errorCode(a.Status)
	}
	status := a.Status
	if bs := ans.bodyStatus(); bs != 0 && a.OK() {
		status = bs // a failure's own code under HTTP 2xx (a 500 there may have gone out)
	}
	return nil, c.k.Refused(call, a, a.Status, classify(status, code, msg), cmp.Or(msg, c.k.Secrets.Snippet(a.Raw)), code)
}

// plainAcceptance reports whether a 2xx body that is not JSON still reads
// as acceptance: empty, or short plain text (not HTML, not broken JSON).
func plainAcceptance(raw []byte) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || (len(t) < 64 && !looksHTML(t) && t[0] != '{' && t[0] != '[')
}

func looksHTML(raw []byte) bool { return bytes.HasPrefix(bytes.TrimSpace(raw), []byte("<")) }

// classify is provider.Classify with what Salebot's answers add: a Meta
// code decides alone; else an unknown or invalid API key and a WhatsApp
// channel or bot that is not connected or not found halt the account, an
// invalid phone is permanent; else HTTP 404 (the unknown key's answer: the
// key is in the path) halts the account; else provider.Classify.
func classify(httpStatus int, code, msg string) provider.Class {
	if code != "" {
		return provider.Classify(httpStatus, code, msg)
	}
	m := strings.ToLower(msg)
	switch {
	case wire.ContainsAny(m, "api key", "api_key", "apikey", "access key", "token") &&
		wire.ContainsAny(m, "invalid", "not found", "unknown", "wrong", "incorrect", "expired", "revoked", "missing", "required", "does not exist", "doesn't exist"):
		return provider.ClassHaltAccount
	case wire.ContainsAny(m, "phone", "number", "recipient") &&
		wire.ContainsAny(m, "invalid", "incorrect", "wrong", "not valid", "no whatsapp", "not on whatsapp",
			"doesn't have whatsapp", "does not have whatsapp", "without whatsapp"):
		return provider.ClassPermanent
	case wire.ContainsAny(m, "whatsapp", "bot", "channel", "messenger") &&
		wire.ContainsAny(m, "not connected", "not found", "disconnected", "not authorized", "not authorised",
			"stopped", "asleep", "not started", "does not exist", "doesn't exist", "disabled", "inactive"):
		return provider.ClassHaltAccount
	}
	if httpStatus == http.StatusNotFound && msg == "" {
		return provider.ClassHaltAccount // the unknown key's bare 404
	}
	if httpStatus == http.StatusNotFound {
		return provider.ClassPermanent // e.g. "client not found": this recipient
	}
	return provider.Classify(httpStatus, code, msg)
}

// refuse builds the error of a send refused before reaching the provider.
func refuse(class provider.Class, msg string) *provider.Error {
	return httpapi.Refuse(providerName, "send", class, msg)
}

func joinNonEmpty(sep string, parts ...string) string {
	var out []string
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, sep)
}
