package salebotsim

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wacamp/wacamp/provider/internal/wire"
	"github.com/wacamp/wacamp/provider/sim"
)

// The simulator's canned texts.
const (
	msgKeyNotFound    = "api key not found"
	msgUnknownMethod  = "method not found"
	msgBotNotFound    = "whatsapp bot not found"
	msgClientNotFound = "client not found"
	msgInvalidPhone   = "invalid phone number"
	// MsgUndeliverable is the error_message of a failed message's webhook.
	MsgUndeliverable = sim.MsgUndeliverable + " (#131026)"
)

// ClientTypeWhatsApp is the client_type of WhatsApp clients in webhooks.
const ClientTypeWhatsApp = 6

// The defaults used when an Options field is zero.
const (
	DefaultDeliverAfter   = time.Second
	DefaultWebhookRetries = 3
	DefaultWebhookBackoff = 50 * time.Millisecond
	DefaultProjectID      = 1
)

// firstMessageID is the first message id handed out (the doc's history
// sample has 104500).
const firstMessageID = 104500

// firstClientID is the first client id handed out.
const firstClientID = 49177759

// Options are the simulator's knobs. The zero value is a well-behaved
// Salebot that accepts any key and bot id and pushes nothing.
type Options struct {
	// APIKeys are the accepted API keys; empty accepts any non-empty key.
	APIKeys []string
	// WhatsAppBotIDs are the connected WhatsApp channels; empty accepts any
	// numeric whatsapp_bot_id.
	WhatsAppBotIDs []int64
	// ProjectID is the webhook's project_id; 0 means DefaultProjectID.
	ProjectID int64
	// Knobs are the faults, limits, lifecycle, seed and clock. A dropped
	// send (DropAfterAcceptRate) will be reported by webhook. The limits
	// are RatePerSecond per API key, PairInterval between accepted sends
	// of one API key to one phone and SubscriberLimit distinct phones the
	// project may message; sends over them are answered
	// {"status":"error","error":…}: HTTP 429 "(#130429) Rate limit hit",
	// HTTP 429 "(#131056) … pair rate limit hit", HTTP 400 "Subscriber
	// limit has been exceeded. …". DeliverAfter is how long after
	// acceptance a message's report is pushed. ReadAfter and ReadShare are
	// ignored: Salebot reports no reads. FailShare is the share of
	// accepted messages reported as not delivered (delivered 0,
	// error_message MsgUndeliverable).
	sim.Knobs
	// Fail500Rate is the share (0–1) of accepted sends answered a bare
	// HTTP 500 page (its statuses are still pushed).
	Fail500Rate float64

	// WebhookURL receives the pushes; empty pushes nothing.
	WebhookURL string
	// WebhookClient makes the pushes; nil means a client with a 5 s timeout.
	WebhookClient *http.Client
	// WebhookDuplicateRate is the share (0–1) of pushes sent twice in a row.
	WebhookDuplicateRate float64
	// WebhookReorder swaps each new report with the pending report of the
	// latest earlier message to the same phone, so reports of messages to
	// one phone arrive newest first.
	WebhookReorder bool
	// WebhookEarly pushes a message's report before the send is answered,
	// instead of DeliverAfter later.
	WebhookEarly bool
	// WebhookRetries is how many times a push that failed (transport error
	// or non-2xx) is tried again before it is dropped; 0 means
	// DefaultWebhookRetries, < 0 none.
	WebhookRetries int
	// WebhookBackoff is the wait before the first retry, doubled for each
	// next one; 0 means DefaultWebhookBackoff.
	WebhookBackoff time.Duration
	// ManualPushes turns the timers off: pushes are made only by DeliverDue
	// and Flush (and WebhookEarly's at once). Tests on a fake clock set it,
	// so no timer on the real clock pushes behind their back.
	ManualPushes bool
	// RecepientSuffix is appended to client.recepient in pushes (e.g.
	// "@c.us"), to exercise tolerant parsers.
	RecepientSuffix string
}

// Button is one button of a send, as received.
type Button struct {
	Type        string
	Text        string
	Line        int
	IndexInLine int
}

// Send is one accepted send, as recorded by the simulator.
type Send struct {
	Phone string
	// Kind is the action: "whatsapp_message", "whatsapp_callback" or
	// "message".
	Kind string
	// ID is the message id of its webhook report ("id"); WAMID is the
	// same as text, as the salebot driver's events carry it.
	ID    int64
	WAMID string
	// ClientID is the Salebot client of the phone.
	ClientID      int64
	WhatsAppBotID int64 // 0 when the request left it out
	At            time.Time
	// Text is the message: text, caption or callback text.
	Text           string
	AttachmentType string
	AttachmentURL  string
	Hint           string
	Buttons        []Button
	// Failed says the report will say delivered 0.
	Failed bool
}

// Recipient is the phone the send went to.
func (s Send) Recipient() string { return s.Phone }

// Stats counts what the simulator did.
type Stats struct {
	sim.Counts                 // sends accepted, rejected, dropped and refused by the limits
	Unauthorized int           // calls with an unknown API key
	BadRequests  int           // calls refused for their parameters
	Replies      int           // inbound messages made by Reply
	Webhooks     sim.PushStats // the pushes: answered 2xx, duplicated, retried, dropped after the last retry
}

// Server is the simulator. It is an http.Handler and safe for concurrent
// use. Close it to stop its timers.
type Server struct {
	mu             sync.Mutex
	opts           Options
	rng            *rand.Rand
	seq            int64              // last message id
	clients        map[string]*client // by phone
	clientsByID    map[int64]*client
	sim.Sent[Send]            // Sends and SendCount
	num            sim.Number // the limits: buckets by API key, pairs by (key, phone), subscribers (the clients)
	stats          Stats
	push           *sim.Pusher // the webhook queue; reports are keyed by phone
}

type client struct {
	id        int64
	phone     string
	createdAt time.Time
}

// New returns a simulator with the given knobs.
func New(opts Options) *Server {
	s := &Server{
		opts:        opts,
		rng:         sim.NewRand(opts.Seed),
		seq:         firstMessageID - 1,
		clients:     map[string]*client{},
		clientsByID: map[int64]*client{},
	}
	s.push = &sim.Pusher{Now: s.clock, Target: s.target}
	s.push.SetManual(opts.ManualPushes, s.opts.Time())
	return s
}

// SetOptions changes the knobs at run time. Messages already accepted keep
// the fate they were given.
func (s *Server) SetOptions(update func(*Options)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	update(&s.opts)
	s.push.SetManual(s.opts.ManualPushes, s.opts.Time())
}

// Stats returns the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Webhooks = s.push.Stats()
	return st
}

// Pending returns how many pushes wait for their time.
func (s *Server) Pending() int { return s.push.Pending() }

// clock is now, for the push queue's timer.
func (s *Server) clock() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opts.Time()
}

// target is where and how pushes go, as the knobs say now.
func (s *Server) target(*sim.Push) sim.Target {
	s.mu.Lock()
	defer s.mu.Unlock()
	retries := s.opts.WebhookRetries
	switch {
	case retries == 0:
		retries = DefaultWebhookRetries
	case retries < 0:
		retries = 0
	}
	return sim.Target{URL: s.opts.WebhookURL, Client: s.opts.WebhookClient, Tries: 1 + retries,
		Backoff: cmp.Or(s.opts.WebhookBackoff, DefaultWebhookBackoff)}
}

// ServeHTTP answers one API call.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		sim.WriteJSON(w, http.StatusMethodNotAllowed, failure("method not allowed"))
		return
	}
	p, err := readParams(w, r)
	if err != nil {
		s.count(func(st *Stats) { st.BadRequests++ })
		sim.WriteJSON(w, http.StatusBadRequest, failure("invalid request: "+err.Error()))
		return
	}
	// Wait after reading the body: only then does the server notice a
	// client that gives up.
	s.mu.Lock()
	latency := s.opts.Latency
	s.mu.Unlock()
	if !sim.Delay(r, latency) {
		return
	}
	path := strings.TrimPrefix(strings.Trim(r.URL.Path, "/"), "api/")
	key, action, ok := strings.Cut(path, "/")
	if !ok || key == "" || strings.Contains(action, "/") {
		sim.WriteJSON(w, http.StatusNotFound, failure(msgUnknownMethod))
		return
	}
	if !s.authorized(key) {
		s.count(func(st *Stats) { st.Unauthorized++ })
		sim.WriteJSON(w, http.StatusNotFound, failure(msgKeyNotFound))
		return
	}
	switch action {
	case "whatsapp_message", "whatsapp_callback", "message":
		s.send(w, key, action, p)
	default:
		sim.WriteJSON(w, http.StatusNotFound, failure(msgUnknownMethod))
	}
}

func (s *Server) count(f func(*Stats)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(&s.stats)
}

func (s *Server) authorized(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.opts.APIKeys) == 0 || slices.Contains(s.opts.APIKeys, key)
}

// params are a call's parameters: query, then form or JSON body.
type params map[string]any

// readParams merges the query and the body (JSON object, or a form).
func readParams(w http.ResponseWriter, r *http.Request) (params, error) {
	p := params{}
	for k, v := range r.URL.Query() {
		p[k] = v[0]
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return p, nil
	}
	if raw[0] == '{' || strings.Contains(r.Header.Get("Content-Type"), "json") {
		var body map[string]any
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&body); err != nil {
			return nil, fmt.Errorf("body is not a JSON object")
		}
		for k, v := range body {
			p[k] = v
		}
		return p, nil
	}
	form, err := url.ParseQuery(string(raw))
	if err != nil {
		return nil, fmt.Errorf("body is not a form")
	}
	for k, v := range form {
		p[k] = v[0]
	}
	return p, nil
}

// get returns parameter name, following a value_<name> redirection.
func (p params) get(name string) any {
	if alias := str(p["value_"+name]); alias != "" {
		if v, ok := p[alias]; ok {
			return v
		}
	}
	return p[name]
}

func (p params) str(name string) string { return str(p.get(name)) }

func str(v any) string {
	if b, ok := v.(bool); ok {
		return strconv.FormatBool(b)
	}
	return wire.Scalar(v)
}

// digits returns the digits of a phone number and whether it is 8–15 long.
func digits(s string) (string, bool) {
	if i := strings.IndexByte(s, '@'); i >= 0 {
		s = s[:i]
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case strings.ContainsRune("+ -().", r):
		default:
			return "", false
		}
	}
	return b.String(), b.Len() >= 8 && b.Len() <= 15
}

// attachmentTypes are the doc's attachment_type values.
var attachmentTypes = []string{"image", "video", "link", "file", "audio"}

// badRequest answers HTTP 400 with the doc's error shape.
func (s *Server) badRequest(w http.ResponseWriter, msg string) {
	s.count(func(st *Stats) { st.BadRequests++ })
	sim.WriteJSON(w, http.StatusBadRequest, failure(msg))
}

// send handles the three message actions.
func (s *Server) send(w http.ResponseWriter, key, action string, p params) {
	snd := Send{Kind: action, Text: p.str("message")}
	switch action {
	case "message":
		id, err := strconv.ParseInt(p.str("client_id"), 10, 64)
		if err != nil {
			s.badRequest(w, "client_id is required")
			return
		}
		s.mu.Lock()
		c := s.clientsByID[id]
		s.mu.Unlock()
		if c == nil {
			s.badRequest(w, msgClientNotFound)
			return
		}
		snd.Phone = c.phone
	default:
		raw := p.str("phone")
		if raw == "" && action == "whatsapp_callback" {
			raw = p.str("client_phone")
		}
		if raw == "" {
			s.badRequest(w, "phone is required")
			return
		}
		phone, ok := digits(raw)
		if !ok {
			s.badRequest(w, msgInvalidPhone)
			return
		}
		snd.Phone = phone
		botID, msg := s.botID(p)
		if msg != "" {
			s.badRequest(w, msg)
			return
		}
		snd.WhatsAppBotID = botID
	}
	if action != "whatsapp_callback" {
		snd.AttachmentURL = p.str("attachment_url")
		snd.AttachmentType = p.str("attachment_type")
		if snd.AttachmentURL != "" {
			if snd.AttachmentType == "" {
				snd.AttachmentType = "file"
			}
			if !slices.Contains(attachmentTypes, snd.AttachmentType) {
				s.badRequest(w, "invalid attachment_type")
				return
			}
		} else if snd.AttachmentType != "" {
			s.badRequest(w, "attachment_url is required")
			return
		}
		var err error
		if snd.Hint, snd.Buttons, err = parseButtons(p.get("buttons")); err != nil {
			s.badRequest(w, "invalid buttons: "+err.Error())
			return
		}
	}
	if snd.Text == "" && snd.AttachmentURL == "" {
		s.badRequest(w, "message is required")
		return
	}
	s.accept(w, key, snd)
}

// botID reads whatsapp_bot_id: it must name a connected channel; it may be
// left out when at most one is configured. It returns an error text.
func (s *Server) botID(p params) (int64, string) {
	s.mu.Lock()
	known := slices.Clone(s.opts.WhatsAppBotIDs)
	s.mu.Unlock()
	v := p.str("whatsapp_bot_id")
	if v == "" {
		if len(known) > 1 {
			return 0, "whatsapp_bot_id is required"
		}
		return 0, ""
	}
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, "whatsapp_bot_id must be a number"
	}
	if len(known) > 0 && !slices.Contains(known, id) {
		return 0, msgBotNotFound
	}
	return id, ""
}

// parseButtons reads the doc's buttons object: {"hint", "buttons": [{"type",
// "text", "line", "index_in_line"}]}, as JSON or as a JSON string (GET).
func parseButtons(v any) (string, []Button, error) {
	if s, ok := v.(string); ok {
		if strings.TrimSpace(s) == "" {
			return "", nil, nil
		}
		dec := json.NewDecoder(strings.NewReader(s))
		dec.UseNumber()
		if err := dec.Decode(&v); err != nil {
			return "", nil, fmt.Errorf("not JSON")
		}
	}
	if v == nil {
		return "", nil, nil
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return "", nil, fmt.Errorf("not an object")
	}
	list, ok := obj["buttons"].([]any)
	if !ok || len(list) == 0 {
		return "", nil, fmt.Errorf("no buttons")
	}
	var out []Button
	for _, el := range list {
		b, ok := el.(map[string]any)
		if !ok {
			return "", nil, fmt.Errorf("a button is not an object")
		}
		btn := Button{Type: str(b["type"]), Text: str(b["text"])}
		if btn.Type == "" || btn.Text == "" {
			return "", nil, fmt.Errorf("a button has no type or text")
		}
		btn.Line, _ = strconv.Atoi(str(b["line"]))
		btn.IndexInLine, _ = strconv.Atoi(str(b["index_in_line"]))
		out = append(out, btn)
	}
	return str(obj["hint"]), out, nil
}

// accept runs the fault knobs and records an accepted send.
func (s *Server) accept(w http.ResponseWriter, key string, snd Send) {
	s.mu.Lock()
	if s.rng.Float64() < s.opts.Fail5xxRate {
		s.stats.Rejected5xx++
		s.mu.Unlock()
		sim.Unavailable(w)
		return
	}
	now := s.opts.Time()
	if v := s.num.Admit(key, "", snd.Phone, now, s.opts.Limits()); v != sim.Admitted {
		s.stats.Tally(v)
		s.mu.Unlock()
		refuseLimit(w, v)
		return
	}
	c := s.clientLocked(snd.Phone, now)
	s.seq++
	snd.ID, snd.WAMID, snd.ClientID, snd.At = s.seq, strconv.FormatInt(s.seq, 10), c.id, now
	s.num.Record(key, "", snd.Phone, now)
	// Draw every share for every message, so changing one knob does not
	// shift the others' decisions.
	drop := s.rng.Float64() < s.opts.DropAfterAcceptRate
	snd.Failed = s.rng.Float64() < s.opts.FailShare
	dup := s.rng.Float64() < s.opts.WebhookDuplicateRate
	s.Sent.Record(snd)
	s.stats.Accepted++
	if drop {
		s.stats.Dropped++
	}
	fail500 := !drop && s.rng.Float64() < s.opts.Fail500Rate
	var early *sim.Push
	if s.opts.WebhookURL != "" {
		p := &sim.Push{Key: snd.Phone, Body: s.reportLocked(snd, c), Twice: dup}
		deliverAfter := cmp.Or(s.opts.DeliverAfter, DefaultDeliverAfter)
		switch {
		case s.opts.WebhookEarly:
			early = p
		case deliverAfter > 0 && s.opts.WebhookReorder:
			p.Due = now.Add(deliverAfter)
			s.push.EnqueueSwapped(p, now)
		case deliverAfter > 0:
			p.Due = now.Add(deliverAfter)
			s.push.Enqueue(p, now)
		}
	}
	s.mu.Unlock()

	if early != nil {
		s.push.PushNow(early)
	}
	switch {
	case drop:
		sim.HangUp(w)
	case fail500:
		sim.ServerError(w)
	default:
		sim.WriteJSON(w, http.StatusOK, map[string]string{"status": "success"})
	}
}

// refuseLimit answers a send the number's limits refused.
func refuseLimit(w http.ResponseWriter, v sim.Verdict) {
	switch v {
	case sim.RateLimited:
		w.Header().Set("Retry-After", "1")
		sim.WriteJSON(w, http.StatusTooManyRequests, failure(v.Message()))
	case sim.PairLimited:
		sim.WriteJSON(w, http.StatusTooManyRequests, failure(v.Message()))
	default:
		sim.WriteJSON(w, http.StatusBadRequest, failure(v.Message()))
	}
}

// clientLocked returns the client of phone, creating it. Callers hold mu.
func (s *Server) clientLocked(phone string, now time.Time) *client {
	if c := s.clients[phone]; c != nil {
		return c
	}
	c := &client{id: firstClientID + int64(len(s.clients)), phone: phone, createdAt: now}
	s.clients[phone] = c
	s.num.Subscribe("", phone) // a client counts against the subscriber limit
	s.clientsByID[c.id] = c
	return c
}

// webhook is the doc's message webhook body.
type webhook struct {
	ID           int64         `json:"id"`
	Client       webhookClient `json:"client"`
	Message      string        `json:"message"`
	Attachments  []string      `json:"attachments"`
	MessageID    *int64        `json:"message_id"`
	ProjectID    int64         `json:"project_id"`
	IsInput      int           `json:"is_input"`
	Delivered    int           `json:"delivered"`
	ErrorMessage string        `json:"error_message"`
}

type webhookClient struct {
	ID         int64   `json:"id"`
	Recepient  string  `json:"recepient"`
	ClientType int     `json:"client_type"`
	Name       string  `json:"name"`
	Avatar     string  `json:"avatar"`
	CreatedAt  int64   `json:"created_at"`
	Tag        *string `json:"tag"`
	Group      string  `json:"group"`
}

// payloadLocked builds a webhook body. Callers hold mu.
func (s *Server) payloadLocked(id int64, c *client, botID int64, text, attachment string, input, delivered bool, errMsg string) []byte {
	wh := webhook{
		ID: id,
		Client: webhookClient{
			ID:         c.id,
			Recepient:  c.phone + s.opts.RecepientSuffix,
			ClientType: ClientTypeWhatsApp,
			Name:       "WhatsApp " + c.phone[max(0, len(c.phone)-4):],
			CreatedAt:  c.createdAt.Unix(),
		},
		Message:      text,
		Attachments:  []string{},
		ProjectID:    cmp.Or(s.opts.ProjectID, DefaultProjectID),
		ErrorMessage: errMsg,
	}
	if botID != 0 {
		wh.Client.Group = strconv.FormatInt(botID, 10)
	}
	if attachment != "" {
		wh.Attachments = []string{attachment}
	}
	if input {
		wh.IsInput = 1
	}
	if delivered {
		wh.Delivered = 1
	}
	b, _ := json.Marshal(wh)
	return b
}

// reportLocked builds the report of an accepted send. Callers hold mu.
func (s *Server) reportLocked(snd Send, c *client) []byte {
	text := snd.Text
	if snd.Kind == "whatsapp_callback" {
		text = "Bot launched: " + snd.Text
	}
	errMsg := ""
	if snd.Failed {
		errMsg = MsgUndeliverable
	}
	return s.payloadLocked(snd.ID, c, snd.WhatsAppBotID, text, snd.AttachmentURL, false, !snd.Failed, errMsg)
}

// Reply makes phone send text to the bot: an inbound message (is_input 1)
// pushed to WebhookURL at once (from the timer goroutine; with ManualPushes,
// by the next DeliverDue or Flush). It returns the message id.
func (s *Server) Reply(phone, text string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opts.Time()
	c := s.clientLocked(phone, now)
	s.seq++
	s.stats.Replies++
	if s.opts.WebhookURL != "" {
		s.push.Enqueue(&sim.Push{Due: now, Body: s.payloadLocked(s.seq, c, 0, text, "", true, true, "")}, now)
	}
	return strconv.FormatInt(s.seq, 10)
}

// DeliverDue pushes, in order, every pending push due at or before now and
// returns how many it pushed (successfully or not). It returns when they are
// done, so tests with a fake clock can advance it, call DeliverDue and
// assert on what the receiver got.
func (s *Server) DeliverDue(now time.Time) int { return s.push.DeliverDue(now) }

// Flush pushes every pending push, due or not, and returns how many.
func (s *Server) Flush() int { return s.push.DeliverDue(time.Unix(1<<62, 0)) }

// Close stops the timers, drops pending pushes and waits for the pushes in
// flight (cutting their back-offs short).
func (s *Server) Close() { s.push.Close() }

type answer struct {
	Status string `json:"status"`
	Error  string `json:"error"`
}

func failure(msg string) answer { return answer{Status: "error", Error: msg} }
