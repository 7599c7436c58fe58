package waapi

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/wacamp/wacamp/provider"
	"github.com/wacamp/wacamp/provider/internal/httpapi"
	"github.com/wacamp/wacamp/provider/internal/wire"
	"github.com/wacamp/wacamp/templates"
)

// providerName is the Provider field of every *provider.Error of this driver.
const providerName = "waapi"

// DefaultTimeout is the timeout of the HTTP client made when
// Config.HTTPClient is nil.
const DefaultTimeout = httpapi.DefaultTimeout

// maxBody caps how much of an answer is read.
const maxBody = 8 << 20

// Config configures a Client.
type Config struct {
	// BaseURL is the API root under which the /whatsapp/... paths live,
	// e.g. https://api.example.com. The doc names no public host, so it
	// must be set. A trailing slash is tolerated.
	BaseURL string
	// SessionID is the WhatsApp session (instance) id, sent as the
	// session_id query parameter. It is not a secret but is only ever
	// printed masked.
	SessionID string
	// AccessToken is the session's access token, sent as the access_token
	// query parameter (and in the JSON body of /whatsapp/message, where the
	// doc puts it). It is a secret.
	AccessToken string
	// BearerToken is the account's API token for the Authorization: Bearer
	// header. It is a secret. Empty means AccessToken is sent as the Bearer.
	BearerToken string
	// HTTPClient makes the calls; nil means a client with DefaultTimeout.
	HTTPClient *http.Client
	// Logger receives one debug record per call; nil discards.
	Logger *slog.Logger
}

// Validate reports every problem of the configuration at once. It names
// the missing fields and never prints a secret.
func (c Config) Validate() error {
	p := httpapi.Check(providerName)
	p.Require("BaseURL", c.BaseURL) // the API documents no public default
	p.BaseURL(c.BaseURL, false)
	if u, err := url.Parse(c.BaseURL); err == nil && u.RawQuery != "" {
		// The calls' query (session_id, access_token) is appended to it.
		p.Addf("BaseURL must not carry a query")
	}
	p.Require("SessionID", c.SessionID)
	p.Require("AccessToken", c.AccessToken)
	return p.Err()
}

// String describes the configuration with the secrets redacted and the
// session id masked.
func (c Config) String() string { return c.described().String() }

// GoString is String, so %#v does not print the secrets either.
func (c Config) GoString() string { return c.String() }

// LogValue logs the configuration with the secrets redacted and the session
// id masked.
func (c Config) LogValue() slog.Value { return c.described().LogValue() }

func (c Config) described() httpapi.Described {
	return httpapi.Describe("waapi.Config",
		httpapi.Field{Name: "BaseURL", Key: "base_url", Value: c.BaseURL},
		httpapi.Field{Name: "SessionID", Key: "session_id", Value: maskID(c.SessionID)},
		httpapi.Field{Name: "AccessToken", Key: "access_token", Value: c.AccessToken, Secret: true},
		httpapi.Field{Name: "BearerToken", Key: "bearer_token", Value: c.BearerToken, Secret: true},
	)
}

// maskID keeps the last four characters of an id.
func maskID(id string) string {
	if len(id) <= 4 {
		return strings.Repeat("*", len(id))
	}
	return "..." + id[len(id)-4:]
}

// Client sends messages through one WhatsApp session. It is safe for
// concurrent use. It prints and logs as its Config does (String, GoString,
// LogValue), with the secrets redacted and the session id masked.
// Conversation and MessageStatus are not offered by this API (statuses
// arrive by webhook, see ParseWebhook): they return an error wrapping
// provider.ErrUnsupported without calling the provider.
type Client struct {
	base   // String, GoString, LogValue (secrets redacted); Conversation, MessageStatus unsupported
	cfg    Config
	bearer string
	k      *httpapi.Client
}

// base is httpapi.Base under a name that keeps the embedded field unexported.
type base = httpapi.Base

// New returns a Client for cfg. It does not call the provider; use
// cfg.Validate to check the configuration first.
func New(cfg Config) *Client {
	// The session id is no secret, but it travels next to the access token
	// in the URL and is never printed in full.
	k := httpapi.New(providerName, cfg.BaseURL, cfg.HTTPClient, cfg.Logger, cfg.AccessToken, cfg.BearerToken, cfg.SessionID)
	k.SecretURL = true // access_token travels in the query: request URLs are secret
	return &Client{
		base:   httpapi.NoHistory(providerName, "waapi.Client", cfg.described()),
		cfg:    cfg,
		bearer: cmp.Or(cfg.BearerToken, cfg.AccessToken),
		k:      k,
	}
}

// Capabilities returns what this API can send and report.
func (c *Client) Capabilities() provider.Capabilities { return Capabilities }

// The API paths, relative to Config.BaseURL.
const (
	pathMessage = "/whatsapp/message"
	pathFileURL = "/whatsapp/message/fileurl"
	pathButton  = "/whatsapp/message/button"
	pathList    = "/whatsapp/message/list"
)

// opSend is the Op of every Send error.
const opSend = "send"

// request is one send call: a JSON body or a multipart form.
type request struct {
	path  string
	phone string
	json  map[string]any
	form  [][2]string // multipart fields, in order
}

// Send delivers the rendered message m to the phone number to (E.164 digits;
// a leading "+", spaces, dashes, dots and parentheses are removed). The
// result's WAMID is data.key.id of the answer, the last part of the
// deprecated "true_<jid>_<id>" data string, or "" when a successful answer
// carries no id (the doc's /whatsapp/message sample has none).
//
// Errors are *provider.Error: ClassPermanent for a bad recipient or a kind
// this API cannot send (template, bot_flow, sticker) and ClassHaltCampaign
// for a message without content, both without calling the API;
// ClassAmbiguous when the answer was lost after the request was written or
// a 2xx answer could not be read; ClassTransient for a transport error
// before writing, 5xx and 429; ClassHaltAccount for 401/403 and answers
// about the token or the session; otherwise the class of the answer's Meta
// code or text (see classify).
func (c *Client) Send(ctx context.Context, to string, m templates.Message) (provider.SendResult, error) {
	req, pe := c.buildSend(to, m)
	if pe != nil {
		return provider.SendResult{}, pe
	}
	ans, err := c.do(ctx, req)
	if err != nil {
		return provider.SendResult{}, err
	}
	return provider.SendResult{WAMID: c.k.Secrets.ID(ans.messageID())}, nil
}

// buildSend turns a message into its call, or refuses it.
func (c *Client) buildSend(to string, m templates.Message) (request, *provider.Error) {
	phone, ok := wire.NormalizePhone(to)
	if !ok {
		return request{}, refuse(provider.ClassPermanent, fmt.Sprintf("invalid phone number %q", wire.MaskPhone(to)))
	}
	switch m.Kind {
	case templates.KindText:
		if m.Text == "" {
			return request{}, refuse(provider.ClassHaltCampaign, "text message has no text")
		}
		return request{path: pathMessage, phone: phone, json: map[string]any{
			"session_id":   c.cfg.SessionID,
			"access_token": c.cfg.AccessToken,
			"chatId":       phone,
			"message":      m.Text,
		}}, nil
	case templates.KindLocation:
		l := m.Location
		if l == nil {
			return request{}, refuse(provider.ClassHaltCampaign, "location message has no location")
		}
		lat := strconv.FormatFloat(l.Latitude, 'f', -1, 64)
		lng := strconv.FormatFloat(l.Longitude, 'f', -1, 64)
		var parts []string
		for _, s := range []string{l.Name, l.Address} {
			if s = strings.TrimSpace(s); s != "" {
				parts = append(parts, s)
			}
		}
		text := cmp.Or(strings.Join(parts, ", "), lat+","+lng)
		return request{path: pathMessage, phone: phone, json: map[string]any{
			"session_id":   c.cfg.SessionID,
			"access_token": c.cfg.AccessToken,
			"chatId":       phone,
			"message":      text,
			"location": map[string]any{
				"name": cmp.Or(l.Name, l.Address, text),
				"lat":  lat,
				"lng":  lng,
			},
		}}, nil
	case templates.KindMedia:
		return c.mediaRequest(phone, m.Media)
	case templates.KindButtons:
		return buttonsRequest(phone, m.Buttons)
	case templates.KindList:
		return listRequest(phone, m.List)
	case templates.KindTemplate:
		return request{}, refuse(provider.ClassPermanent, "this API cannot send WhatsApp templates")
	case templates.KindBotFlow:
		return request{}, refuse(provider.ClassPermanent, "this API cannot trigger bot flows")
	}
	return request{}, refuse(provider.ClassPermanent, fmt.Sprintf("unsupported message kind %q", m.Kind))
}

// mediaRequest builds the multipart /whatsapp/message/fileurl call.
func (c *Client) mediaRequest(phone string, md *templates.Media) (request, *provider.Error) {
	if md == nil || md.URL == "" {
		return request{}, refuse(provider.ClassHaltCampaign, "media message has no media URL")
	}
	typ := cmp.Or(md.Type, mediaTypeOf(md.URL))
	if !slices.Contains(Capabilities.Media, typ) {
		return request{}, refuse(provider.ClassPermanent, fmt.Sprintf("this API cannot send %s media", typ))
	}
	form := [][2]string{
		{"chatId", phone},
		{"url", md.URL},
		{"type", typ},
		{"mimetype", cmp.Or(md.MimeType, mimeTypeOf(md.URL, typ))},
	}
	if md.Caption != "" && typ != "audio" {
		form = append(form, [2]string{"caption", md.Caption})
	}
	if typ == "document" {
		if name := cmp.Or(md.Filename, fileNameOf(md.URL)); name != "" {
			form = append(form, [2]string{"filename", name})
		}
	}
	return request{path: pathFileURL, phone: phone, form: form}, nil
}

// buttonTypes maps our button types to the API's.
var buttonTypes = map[string]string{"reply": "replyButton", "url": "urlButton", "call": "callButton"}

// buttonsRequest builds the /whatsapp/message/button call. The API's
// btndata has no header: a header is put above the text, separated by a
// blank line.
func buttonsRequest(phone string, b *templates.Buttons) (request, *provider.Error) {
	if b == nil || b.Text == "" || len(b.Buttons) == 0 {
		return request{}, refuse(provider.ClassHaltCampaign, "buttons message has no text or no buttons")
	}
	if max := Capabilities.MaxButtons; max > 0 && len(b.Buttons) > max {
		return request{}, refuse(provider.ClassPermanent, fmt.Sprintf("this API sends at most %d buttons (the message has %d)", max, len(b.Buttons)))
	}
	buttons := make([]map[string]any, 0, len(b.Buttons))
	for _, bt := range b.Buttons {
		typ, ok := buttonTypes[bt.Type]
		if !ok {
			return request{}, refuse(provider.ClassPermanent, fmt.Sprintf("this API cannot send %q buttons", bt.Type))
		}
		el := map[string]any{"type": typ, "title": bt.Title}
		if bt.Type != "reply" {
			el["payload"] = bt.Payload
		}
		buttons = append(buttons, el)
	}
	text := b.Text
	if b.Header != "" {
		text = b.Header + "\n\n" + b.Text
	}
	data := map[string]any{"text": text, "buttons": buttons}
	if b.Footer != "" {
		data["footerText"] = b.Footer
	}
	return request{path: pathButton, phone: phone, json: map[string]any{"chatId": phone, "btndata": data}}, nil
}

// listRequest builds the /whatsapp/message/list call: header → title,
// footer → description, row id → rowId (the row title when the id is empty).
func listRequest(phone string, l *templates.List) (request, *provider.Error) {
	if l == nil || l.Text == "" || len(l.Sections) == 0 {
		return request{}, refuse(provider.ClassHaltCampaign, "list message has no text or no sections")
	}
	sections := make([]map[string]any, 0, len(l.Sections))
	for _, s := range l.Sections {
		rows := make([]map[string]any, 0, len(s.Rows))
		for _, r := range s.Rows {
			rows = append(rows, map[string]any{"title": r.Title, "description": r.Description, "rowId": cmp.Or(r.ID, r.Title)})
		}
		sections = append(sections, map[string]any{"title": s.Title, "rows": rows})
	}
	return request{path: pathList, phone: phone, json: map[string]any{
		"chatId": phone,
		"msgdata": map[string]any{
			"buttonText":  l.Button,
			"text":        l.Text,
			"title":       l.Header,
			"description": l.Footer,
			"sections":    sections,
			"listType":    0,
		},
	}}, nil
}

// refuse builds the error of a send refused before reaching the provider.
func refuse(class provider.Class, msg string) *provider.Error {
	return httpapi.Refuse(providerName, opSend, class, msg)
}

// encode returns the request body and its content type.
func (r request) encode() ([]byte, string, error) {
	if r.json != nil {
		b, err := json.Marshal(r.json)
		return b, "application/json", err
	}
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, f := range r.form {
		if err := mw.WriteField(f[0], f[1]); err != nil {
			return nil, "", err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, "", err
	}
	return buf.Bytes(), mw.FormDataContentType(), nil
}

// do makes one send call and returns the provider's successful answer, or a
// *provider.Error.
func (c *Client) do(ctx context.Context, r request) (*answer, error) {
	body, contentType, err := r.encode()
	if err != nil {
		return nil, refuse(provider.ClassHaltCampaign, "cannot encode the message: "+err.Error())
	}
	q := url.Values{}
	q.Set("session_id", c.cfg.SessionID)
	q.Set("access_token", c.cfg.AccessToken)
	call := httpapi.Call{
		Op: opSend, Name: r.path, URL: c.k.BaseURL + r.path + "?" + q.Encode(), Body: body, ContentType: contentType,
		Header: map[string]string{"Authorization": "Bearer " + c.bearer},
		Phone:  r.phone, Send: true, MaxBody: maxBody,
	}
	return httpapi.Fetch(ctx, c.k, call, c.interpret)
}

// interpret turns an HTTP answer into a successful answer or an error.
func (c *Client) interpret(call httpapi.Call, a httpapi.Answer) (*answer, *provider.Error) {
	ans, perr := parseAnswer(a.Raw)
	if perr != nil {
		return nil, c.k.NotJSON(call, a, perr, classify(a.Status, "", ""))
	}
	v := ans.verdict()
	switch {
	case a.OK() && v == wire.FlagOK:
		return ans, nil
	case a.OK() && v == wire.FlagUnknown:
		if c.k.Secrets.ID(ans.messageID()) != "" {
			return ans, nil
		}
		return nil, c.k.Unclear(call, a, "answer has no status")
	}
	msg := c.k.Secrets.Message(ans.messageText())
	code := provider.ExtractCode(msg)
	if code == "" {
		code = ans.errorCode(a.Status)
	}
	return nil, c.k.Refused(call, a, a.Status, classify(a.Status, code, msg), msg, code)
}

// classify is provider.Classify with this API's own texts and rules:
//
//  1. a known Meta code decides alone;
//  2. HTTP 401/403 halt the account, HTTP 429 is transient;
//  3. texts about the session or instance (not found/invalid/expired/not
//     ready, not connected, logged out, disconnected, client not ready)
//     or the access token halt the
//     account; "invalid number", "not registered", "not exist" texts
//     (a number not on WhatsApp) are permanent;
//  4. else provider.Classify (its texts, then 5xx → transient, 4xx →
//     permanent, else permanent).
func classify(status int, code, msg string) provider.Class {
	if code != "" {
		// The code decided when the HTTP status makes no difference.
		if a := provider.Classify(http.StatusTooManyRequests, code, ""); a == provider.Classify(http.StatusUnauthorized, code, "") {
			return a
		}
	}
	switch status {
	case http.StatusUnauthorized, http.StatusForbidden:
		return provider.ClassHaltAccount
	case http.StatusTooManyRequests:
		return provider.ClassTransient
	}
	m := strings.ToLower(msg)
	switch {
	case wire.ContainsAny(m, "session", "instance") && wire.ContainsAny(m, "not found", "invalid", "expired", "closed", "does not exist", "not exist", "required", "missing", "not ready", "not started"),
		wire.ContainsAny(m, "not connected", "logged out", "logout", "not logged", "disconnected", "access token", "access_token", "scan the qr", "scan qr",
			"client is not ready", "not ready to send"):
		if !wire.ContainsAny(m, "rate limit") {
			return provider.ClassHaltAccount
		}
	case wire.ContainsAny(m, "invalid number", "invalid chatid", "invalid chat id", "invalid phone", "number not", "not registered",
		"not exist", "not on whatsapp", "not a whatsapp", "isn't on whatsapp"):
		return provider.ClassPermanent
	}
	return provider.Classify(status, code, msg)
}

// urlExt returns the lower-case extension of a URL's path, without the dot.
func urlExt(raw string) string {
	p := raw
	if u, err := url.Parse(raw); err == nil {
		p = u.Path
	}
	return strings.TrimPrefix(strings.ToLower(path.Ext(p)), ".")
}

// fileNameOf returns the last path element of a URL, or "".
func fileNameOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	name := path.Base(u.Path)
	if name == "/" || name == "." {
		return ""
	}
	return name
}

// mediaTypeOf guesses the media type from a URL's extension.
func mediaTypeOf(raw string) string { return wire.MediaKind(urlExt(raw)) }

// mimeTypes are the MIME types of the usual WhatsApp media extensions; the
// system table is asked for others.
var mimeTypes = map[string]string{
	"jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp", "gif": "image/gif",
	"mp4": "video/mp4", "3gp": "video/3gpp", "mov": "video/quicktime",
	"mp3": "audio/mpeg", "ogg": "audio/ogg", "opus": "audio/ogg", "aac": "audio/aac", "amr": "audio/amr", "m4a": "audio/mp4",
	"pdf": "application/pdf", "txt": "text/plain", "csv": "text/csv",
	"doc": "application/msword", "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
	"xls": "application/vnd.ms-excel", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
	"ppt": "application/vnd.ms-powerpoint", "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
	"zip": "application/zip",
}

// defaultMimeTypes are used when the URL's extension says nothing.
var defaultMimeTypes = map[string]string{
	"image": "image/jpeg", "video": "video/mp4", "audio": "audio/mpeg", "document": "application/octet-stream",
}

// mimeTypeOf derives a media file's MIME type from its URL's extension, or
// the usual type of the media kind.
func mimeTypeOf(raw, typ string) string {
	ext := urlExt(raw)
	if m, ok := mimeTypes[ext]; ok {
		return m
	}
	if ext != "" {
		if m := mime.TypeByExtension("." + ext); m != "" {
			if base, _, err := mime.ParseMediaType(m); err == nil {
				return base
			}
		}
	}
	return cmp.Or(defaultMimeTypes[typ], "application/octet-stream")
}
