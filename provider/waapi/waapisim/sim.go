package waapisim

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"mime"
	"net/http"
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
	msgSent           = "Message sent successfully"
	msgUnauthorized   = "Unauthorized"
	msgBadSession     = "Invalid session_id or access_token"
	msgInvalidNumber  = "Invalid number: not on WhatsApp"
	codeUndeliverable = "131026"
)

// The defaults used when an Options field is zero.
const (
	// DefaultDeliverAfter is Options.DeliverAfter when it is zero.
	DefaultDeliverAfter = time.Second
	// DefaultWebhookRetries is Options.WebhookRetries when it is zero.
	DefaultWebhookRetries = 3
	// DefaultWebhookRetryDelay is Options.WebhookRetryDelay when it is zero.
	DefaultWebhookRetryDelay = 100 * time.Millisecond
)

// Session is one WhatsApp session the simulator knows.
type Session struct {
	ID          string
	AccessToken string
}

// Options are the simulator's knobs. The zero value is a well-behaved
// provider that accepts any credentials, delivers every message after a
// second and pushes nothing until a webhook URL is set.
type Options struct {
	// BearerTokens are the accepted Bearer tokens; empty accepts any
	// non-empty one.
	BearerTokens []string
	// Sessions are the accepted session_id/access_token pairs; empty
	// accepts any non-empty pair.
	Sessions []Session
	// Knobs are the faults, limits, lifecycle, seed and clock. A dropped
	// send's statuses are still pushed. The limits are per session; sends
	// over them are answered {"status": false, "message": …}: HTTP 429
	// "(#130429) Rate limit hit", HTTP 429 "(#131056) ... pair rate limit
	// hit", HTTP 403 "Subscriber limit has been exceeded...". A failed
	// message is pushed as ERROR.
	sim.Knobs
	// Fail500Rate is the share (0–1) of accepted sends answered a bare
	// HTTP 500 page (its statuses are still pushed).
	Fail500Rate float64
	// DocTextAnswers answers text and location sends as the doc's sample
	// does, {"status": true, "message": "Message sent successfully"},
	// without the message's id.
	DocTextAnswers bool
	// WebhookEcho pushes a message's "sent" status as our own message
	// (event "onAnyMessage": its key, its content and status SERVER_ACK),
	// so its id can be tied to its text.
	WebhookEcho bool

	// WebhookURL is where pushes go for sessions that did not call
	// setWebhook; empty pushes nothing for them.
	WebhookURL string
	// WebhookDuplicateRate is the share (0–1) of pushes sent twice.
	WebhookDuplicateRate float64
	// WebhookReorder pushes a message's "sent" status after its delivered
	// (or failed) one, at the time of the latter.
	WebhookReorder bool
	// WebhookEarly pushes a message's "sent" status before the send request
	// is answered: the webhook beats the answer.
	WebhookEarly bool
	// WebhookRetries is how many times a failed push is retried before it
	// is dropped; 0 means DefaultWebhookRetries, < 0 never retried.
	WebhookRetries int
	// WebhookRetryDelay is the real-time back-off between push attempts
	// (doubling each time); 0 means DefaultWebhookRetryDelay.
	WebhookRetryDelay time.Duration
	// WebhookClient makes the pushes; nil means a client with a 5 s timeout.
	WebhookClient *http.Client
}

// Send is one accepted send, as recorded by the simulator.
type Send struct {
	SessionID string
	Phone     string
	// Kind is "text", "location", "file", "button", "list" or "sendText".
	Kind string
	// ID is the message id answered in data.key.id.
	ID string
	At time.Time
	// Text is the message text, the media caption, the buttons' or list's
	// text.
	Text string
	// MediaType, MediaURL and MimeType describe a file send.
	MediaType string
	MediaURL  string
	MimeType  string
	// Fields are the request's body fields as decoded (JSON values, or
	// strings for a multipart form), without the credentials.
	Fields map[string]any
}

// Push is one webhook push the receiver acknowledged.
type Push struct {
	URL   string
	Event string // "onMessageUpdate" or "onMessage"
	ID    string // the message id
	// Status is the pushed status (SERVER_ACK, DELIVERY_ACK, READ, ERROR),
	// empty for an inbound message.
	Status string
	Body   []byte
}

// Recipient is the phone the send went to.
func (s Send) Recipient() string { return s.Phone }

// Stats counts what the simulator did.
type Stats struct {
	sim.Counts                 // sends accepted, rejected, dropped and refused by the limits
	Failed500    int           // accepted sends answered a bare HTTP 500
	Unauthorized int           // calls refused for credentials
	WebhooksSet  int           // setWebhook calls
	Replies      int           // inbound messages made with Reply
	Webhooks     sim.PushStats // the pushes: acknowledged (duplicates included), duplicated, retried, given up after the retries
}

// WebhookConfig is what setWebhook set for a session.
type WebhookConfig struct {
	URL    string
	Events []string
}

// Server is the simulator. It is an http.Handler and safe for concurrent
// use. Close it to stop its push goroutine.
type Server struct {
	mu             sync.Mutex
	opts           Options
	rng            *rand.Rand
	seq            uint64
	sim.Sent[Send] // Sends and SendCount
	pushed         []Push
	num            sim.Number               // the limits: buckets, pairs and subscribers by session
	lastSession    map[string]string        // phone → session of the last send
	hooks          map[string]WebhookConfig // by session
	stats          Stats
	push           *sim.Pusher // the webhook queue; each push's Tag is its pushTag
	client         *http.Client
}

// pushTag is what a push is: the session whose webhook gets it, and what
// Pushes reports of it.
type pushTag struct {
	session, event, id, status string
}

// New returns a running simulator with the given knobs.
func New(opts Options) *Server {
	s := &Server{
		opts:        opts,
		rng:         sim.NewRand(opts.Seed),
		lastSession: map[string]string{},
		hooks:       map[string]WebhookConfig{},
		client:      cmp.Or(opts.WebhookClient, &http.Client{Timeout: 5 * time.Second}),
	}
	// The timer looks at the clock at least once a second, since a fake
	// clock does not move with it.
	s.push = &sim.Pusher{Now: s.clock, Target: s.target, Posted: s.posted, MaxWait: time.Second}
	return s
}

// SetOptions changes the knobs at run time. Messages already accepted keep
// the fate they were given; Seed and WebhookClient are read only by New.
func (s *Server) SetOptions(update func(*Options)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	update(&s.opts)
	s.push.SetManual(false, s.opts.Time()) // look at the clock again
}

// Stats returns the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Webhooks = s.push.Stats()
	return st
}

// Pushes returns every push the receiver acknowledged, in order.
func (s *Server) Pushes() []Push {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.pushed)
}

// Pending returns how many pushes are waiting for their time.
func (s *Server) Pending() int { return s.push.Pending() }

// Webhook returns what setWebhook set for a session.
func (s *Server) Webhook(sessionID string) (WebhookConfig, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h, ok := s.hooks[sessionID]
	return h, ok
}

// Close stops the push goroutine and waits for an in-flight push. Pending
// pushes are discarded. Close is idempotent.
func (s *Server) Close() { s.push.Close() }

// clock is now, for the push queue's timer.
func (s *Server) clock() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opts.Time()
}

// target is where and how a push goes: the webhook its session set, else
// Options.WebhookURL.
func (s *Server) target(p *sim.Push) sim.Target {
	s.mu.Lock()
	defer s.mu.Unlock()
	url := s.opts.WebhookURL
	if h, ok := s.hooks[p.Tag.(pushTag).session]; ok {
		url = h.URL
	}
	return sim.Target{URL: url, Client: s.client,
		Tries:   1 + max(cmp.Or(s.opts.WebhookRetries, DefaultWebhookRetries), 0),
		Backoff: cmp.Or(s.opts.WebhookRetryDelay, DefaultWebhookRetryDelay)}
}

// posted records a push the receiver acknowledged.
func (s *Server) posted(p *sim.Push, url string) {
	t := p.Tag.(pushTag)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pushed = append(s.pushed, Push{URL: url, Event: t.event, ID: t.id, Status: t.status, Body: p.Body})
}

// ServeHTTP answers one API call.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	route := r.URL.Path
	if i := strings.Index(route, "/whatsapp"); i >= 0 {
		route = route[i:]
	}
	route = strings.TrimSuffix(route, "/")
	fields, err := readFields(r)
	if err != nil {
		sim.WriteJSON(w, http.StatusBadRequest, failure("Invalid request body"))
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
	session, msg := s.authorize(r, fields)
	if msg != "" {
		s.mu.Lock()
		s.stats.Unauthorized++
		s.mu.Unlock()
		sim.WriteJSON(w, http.StatusUnauthorized, failure(msg))
		return
	}
	kinds := map[string]string{
		"/whatsapp/message":          "text",
		"/whatsapp/message/fileurl":  "file",
		"/whatsapp/message/button":   "button",
		"/whatsapp/message/list":     "list",
		"/whatsapp/message/sendText": "sendText",
		"/whatsapp/sendText":         "sendText",
	}
	if route == "/whatsapp/setWebhook" {
		if r.Method != http.MethodPut && r.Method != http.MethodPost {
			w.Header().Set("Allow", "PUT")
			sim.WriteJSON(w, http.StatusMethodNotAllowed, failure("Method not allowed"))
			return
		}
		s.setWebhook(w, session, fields)
		return
	}
	kind, ok := kinds[route]
	if !ok {
		sim.WriteJSON(w, http.StatusNotFound, failure("Route not found"))
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		sim.WriteJSON(w, http.StatusMethodNotAllowed, failure("Method not allowed"))
		return
	}
	s.send(w, session, kind, fields)
}

// readFields decodes a JSON body or a (multipart) form into fields.
func readFields(r *http.Request) (map[string]any, error) {
	fields := map[string]any{}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mt {
	case "multipart/form-data":
		if err := r.ParseMultipartForm(1 << 20); err != nil { // #nosec G120 -- ServeHTTP limits the body to 1 MB
			return nil, err
		}
		for k, v := range r.MultipartForm.Value {
			fields[k] = v[0]
		}
	case "application/x-www-form-urlencoded":
		if err := r.ParseForm(); err != nil {
			return nil, err
		}
		for k, v := range r.PostForm {
			fields[k] = v[0]
		}
	default:
		// JSON, with or without a content type (the doc's curls send
		// JSON with --data and no header).
		var buf bytes.Buffer
		if _, err := buf.ReadFrom(r.Body); err != nil {
			return nil, err
		}
		if b := bytes.TrimSpace(buf.Bytes()); len(b) > 0 {
			if err := json.Unmarshal(b, &fields); err != nil {
				return nil, err
			}
		}
	}
	return fields, nil
}

// authorize checks the Bearer token and the session credentials (query
// string first, then body). It returns the session id, or the refusal text.
func (s *Server) authorize(r *http.Request, fields map[string]any) (string, string) {
	bearer, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	bearer = strings.TrimSpace(bearer)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !ok || bearer == "" || (len(s.opts.BearerTokens) > 0 && !slices.Contains(s.opts.BearerTokens, bearer)) {
		return "", msgUnauthorized
	}
	q := r.URL.Query()
	var ids, tokens []string
	for _, v := range []string{q.Get("session_id"), wire.Scalar(fields["session_id"])} {
		if v != "" {
			ids = append(ids, v)
		}
	}
	for _, v := range []string{q.Get("access_token"), wire.Scalar(fields["access_token"])} {
		if v != "" {
			tokens = append(tokens, v)
		}
	}
	if len(ids) == 0 || len(tokens) == 0 {
		return "", msgBadSession
	}
	// Every value given must name the same session.
	for _, id := range ids {
		for _, tok := range tokens {
			if id != ids[0] || tok != tokens[0] {
				return "", msgBadSession
			}
			if len(s.opts.Sessions) > 0 && !slices.Contains(s.opts.Sessions, Session{ID: id, AccessToken: tok}) {
				return "", msgBadSession
			}
		}
	}
	return ids[0], ""
}

// setWebhook records a session's push URL and events.
func (s *Server) setWebhook(w http.ResponseWriter, session string, fields map[string]any) {
	u := wire.Scalar(fields["webhook_url"])
	if u == "" {
		sim.WriteJSON(w, http.StatusBadRequest, failure("webhook_url is required"))
		return
	}
	var events []string
	if l, ok := fields["events"].([]any); ok {
		for _, e := range l {
			if e, ok := e.(string); ok {
				events = append(events, e)
			}
		}
	}
	s.mu.Lock()
	s.hooks[session] = WebhookConfig{URL: u, Events: events}
	s.stats.WebhooksSet++
	s.mu.Unlock()
	sim.WriteJSON(w, http.StatusOK, map[string]any{
		"status":  true,
		"message": "Webhook set successfully!",
		"data":    map[string]any{"webhook_url": u, "events": events},
	})
}

// send handles the send routes.
func (s *Server) send(w http.ResponseWriter, session, kind string, fields map[string]any) {
	phoneField := "chatId"
	if kind == "sendText" {
		phoneField = "to"
	}
	snd := Send{SessionID: session, Kind: kind, Fields: map[string]any{}}
	for k, v := range fields {
		if k != "session_id" && k != "access_token" {
			snd.Fields[k] = v
		}
	}
	var need []string
	content := map[string]any{}
	switch kind {
	case "text", "sendText":
		need = []string{"message"}
		snd.Text = wire.Scalar(fields["message"])
		content["extendedTextMessage"] = map[string]any{"text": snd.Text}
		if loc, ok := fields["location"].(map[string]any); ok && kind == "text" {
			lat, err1 := strconv.ParseFloat(wire.Scalar(loc["lat"]), 64)
			lng, err2 := strconv.ParseFloat(wire.Scalar(loc["lng"]), 64)
			if err1 != nil || err2 != nil {
				sim.WriteJSON(w, http.StatusBadRequest, failure("location.lat and location.lng must be numbers"))
				return
			}
			snd.Kind = "location"
			content = map[string]any{"locationMessage": map[string]any{
				"degreesLatitude": lat, "degreesLongitude": lng, "name": wire.Scalar(loc["name"]),
			}}
		}
	case "file":
		need = []string{"url", "type"}
		snd.MediaType, snd.MediaURL, snd.MimeType = wire.Scalar(fields["type"]), wire.Scalar(fields["url"]), wire.Scalar(fields["mimetype"])
		snd.Text = wire.Scalar(fields["caption"])
		switch snd.MediaType {
		case "image", "video", "audio", "document":
		case "":
		default:
			sim.WriteJSON(w, http.StatusBadRequest, failure("type must be image, video, audio or document"))
			return
		}
		media := map[string]any{"url": snd.MediaURL, "mimetype": snd.MimeType}
		if snd.Text != "" && snd.MediaType != "audio" {
			media["caption"] = snd.Text
		}
		if fn := wire.Scalar(fields["filename"]); fn != "" {
			media["fileName"] = fn
		}
		content[snd.MediaType+"Message"] = media
	case "button":
		bd, _ := fields["btndata"].(map[string]any)
		snd.Text = wire.Scalar(field(bd, "text"))
		buttons, _ := field(bd, "buttons").([]any)
		if snd.Text == "" || len(buttons) == 0 {
			sim.WriteJSON(w, http.StatusBadRequest, failure("btndata.text and btndata.buttons are required"))
			return
		}
		for _, b := range buttons {
			switch wire.Scalar(field(b, "type")) {
			case "replyButton", "urlButton", "callButton":
			default:
				sim.WriteJSON(w, http.StatusBadRequest, failure("button type must be replyButton, urlButton or callButton"))
				return
			}
		}
		content["templateMessage"] = map[string]any{"hydratedTemplate": map[string]any{
			"hydratedContentText": snd.Text, "hydratedFooterText": wire.Scalar(field(bd, "footerText")),
		}}
	case "list":
		md, _ := fields["msgdata"].(map[string]any)
		snd.Text = wire.Scalar(field(md, "text"))
		sections, _ := field(md, "sections").([]any)
		if snd.Text == "" || len(sections) == 0 || wire.Scalar(field(md, "buttonText")) == "" {
			sim.WriteJSON(w, http.StatusBadRequest, failure("msgdata.text, msgdata.buttonText and msgdata.sections are required"))
			return
		}
		content["listMessage"] = map[string]any{
			"title": wire.Scalar(field(md, "title")), "description": snd.Text,
			"buttonText": wire.Scalar(field(md, "buttonText")), "footerText": wire.Scalar(field(md, "description")),
		}
	}
	need = append([]string{phoneField}, need...)
	for _, n := range need {
		if wire.Scalar(fields[n]) == "" {
			sim.WriteJSON(w, http.StatusBadRequest, failure(n+" is required"))
			return
		}
	}
	snd.Phone = phoneOf(wire.Scalar(fields[phoneField]))
	if !sim.ValidPhone(snd.Phone) {
		sim.WriteJSON(w, http.StatusBadRequest, failure(msgInvalidNumber))
		return
	}

	s.mu.Lock()
	if s.rng.Float64() < s.opts.Fail5xxRate {
		s.stats.Rejected5xx++
		s.mu.Unlock()
		sim.Unavailable(w)
		return
	}
	now := s.opts.Time()
	if v := s.num.Admit(session, session, snd.Phone, now, s.opts.Limits()); v != sim.Admitted {
		s.stats.Tally(v)
		s.mu.Unlock()
		sim.WriteJSON(w, limitStatus[v], failure(v.Message()))
		return
	}
	s.num.Record(session, session, snd.Phone, now)
	s.lastSession[snd.Phone] = session
	snd.ID, snd.At = s.newID(), now
	s.Sent.Record(snd)
	s.stats.Accepted++
	early := s.schedule(session, snd.Phone, snd.ID, content, now)
	drop := s.rng.Float64() < s.opts.DropAfterAcceptRate
	if drop {
		s.stats.Dropped++
	}
	fail500 := !drop && s.rng.Float64() < s.opts.Fail500Rate
	if fail500 {
		s.stats.Failed500++
	}
	s.mu.Unlock()

	if early != nil {
		s.push.PushNow(early)
	}
	if drop {
		sim.HangUp(w)
		return
	}
	if fail500 {
		sim.ServerError(w)
		return
	}
	if s.opts.DocTextAnswers && (kind == "text" || kind == "location") {
		sim.WriteJSON(w, http.StatusOK, map[string]any{"status": true, "message": msgSent})
		return
	}
	jid := snd.Phone + "@s.whatsapp.net"
	if kind == "sendText" {
		sim.WriteJSON(w, http.StatusOK, map[string]any{
			"status": true, "message": msgSent,
			"data": "true_" + snd.Phone + "@c.us_" + snd.ID,
		})
		return
	}
	sim.WriteJSON(w, http.StatusOK, map[string]any{
		"status":  true,
		"message": msgSent,
		"data": map[string]any{
			"key":              map[string]any{"remoteJid": jid, "fromMe": true, "id": snd.ID},
			"status":           "PENDING",
			"message":          content,
			"messageTimestamp": strconv.FormatInt(now.Unix(), 10),
		},
	})
}

// limitStatus is the HTTP status of a send the number's limits refused.
var limitStatus = map[sim.Verdict]int{sim.RateLimited: http.StatusTooManyRequests, sim.PairLimited: http.StatusTooManyRequests, sim.SubscriberLimited: http.StatusForbidden}

// ackOf is the API's word of each status after sent.
var ackOf = map[string]string{"delivered": "DELIVERY_ACK", "failed": "ERROR", "read": "READ"}

// schedule decides a message's fate and queues its status pushes. With
// WebhookEarly it returns the "sent" push for the caller to deliver before
// answering. Callers hold mu.
func (s *Server) schedule(session, phone, id string, content map[string]any, now time.Time) *sim.Push {
	// Draw every share for every message, so changing one knob does not
	// shift the other decisions.
	fail, read := s.rng.Float64() < s.opts.FailShare, s.rng.Float64() < s.opts.ReadShare
	dup := [3]bool{}
	for i := range dup {
		dup[i] = s.rng.Float64() < s.opts.WebhookDuplicateRate
	}
	sent := s.statusPush(session, phone, id, "SERVER_ACK", now, dup[0])
	if s.opts.WebhookEcho {
		sent = s.echoPush(session, phone, id, content, now, dup[0])
	}
	var later []*sim.Push
	lc := s.opts.Lifecycle()
	for i, st := range lc.Steps(now, sim.Fate{Failed: fail, Read: read}, DefaultDeliverAfter)[1:] {
		later = append(later, s.statusPush(session, phone, id, ackOf[st.Status], st.At, dup[i+1]))
	}
	var early *sim.Push
	switch {
	case s.opts.WebhookEarly:
		early = sent
	case s.opts.WebhookReorder && len(later) > 0:
		// After the delivered/failed push, at its time, before any read.
		sent.Due = later[0].Due
		later = slices.Insert(later, 1, sent)
	default:
		later = slices.Insert(later, 0, sent)
	}
	for _, p := range later {
		s.push.Enqueue(p, now)
	}
	return early
}

// statusPush builds an onMessageUpdate push. Callers hold mu.
func (s *Server) statusPush(session, phone, id, status string, at time.Time, twice bool) *sim.Push {
	update := map[string]any{"status": status}
	if status == "ERROR" {
		update["error"] = map[string]any{"code": codeUndeliverable, "message": sim.MsgUndeliverable}
	}
	body, _ := json.Marshal(map[string]any{
		"event":      "onMessageUpdate",
		"session_id": session,
		"data": []any{map[string]any{
			"key":              map[string]any{"remoteJid": phone + "@s.whatsapp.net", "fromMe": true, "id": id},
			"update":           update,
			"messageTimestamp": at.Unix(),
		}},
	})
	return &sim.Push{Due: at, Body: body, Twice: twice, Tag: pushTag{session: session, event: "onMessageUpdate", id: id, status: status}}
}

// echoPush builds the onAnyMessage push of our own message. Callers hold mu.
func (s *Server) echoPush(session, phone, id string, content map[string]any, at time.Time, twice bool) *sim.Push {
	body, _ := json.Marshal(map[string]any{
		"event":      "onAnyMessage",
		"session_id": session,
		"data": map[string]any{
			"key":              map[string]any{"remoteJid": phone + "@s.whatsapp.net", "fromMe": true, "id": id},
			"message":          content,
			"status":           "SERVER_ACK",
			"messageTimestamp": at.Unix(),
		},
	})
	return &sim.Push{Due: at, Body: body, Twice: twice, Tag: pushTag{session: session, event: "onAnyMessage", id: id, status: "SERVER_ACK"}}
}

// Reply pushes an inbound text message from phone, as if the subscriber had
// written, to the webhook of the session that last sent to phone (else the
// first configured session, else Options.WebhookURL). The push is due now;
// it returns the message id.
func (s *Server) Reply(phone, text string) string {
	s.mu.Lock()
	session := s.lastSession[phone]
	if session == "" && len(s.opts.Sessions) > 0 {
		session = s.opts.Sessions[0].ID
	}
	now := s.opts.Time()
	id := s.newID()
	s.stats.Replies++
	body, _ := json.Marshal(map[string]any{
		"event":      "onMessage",
		"session_id": session,
		"data": map[string]any{
			"key":              map[string]any{"remoteJid": phone + "@s.whatsapp.net", "fromMe": false, "id": id},
			"message":          map[string]any{"conversation": text},
			"messageTimestamp": now.Unix(),
			"pushName":         "Subscriber " + phone,
		},
	})
	s.push.Enqueue(&sim.Push{Due: now, Body: body, Tag: pushTag{session: session, event: "onMessage", id: id}}, now)
	s.mu.Unlock()
	return id
}

// newID makes a Baileys-style message id: "BAE5" and 12 upper-case hex
// digits (a sequence number and random bits). Callers hold mu.
func (s *Server) newID() string {
	s.seq++
	return fmt.Sprintf("BAE5%04X%08X", s.seq&0xffff, s.rng.Uint32())
}

// Flush delivers every push due on the Options.Now clock, waiting for any
// in-flight push first, and returns how many it delivered (attempted).
// Tests with a fake clock call it after advancing the clock.
func (s *Server) Flush() int { return s.push.DeliverDue(s.clock()) }

// phoneOf returns the digits of a chatId ("2349048988056",
// "+234 904...", "2349048988056@s.whatsapp.net" or "...@c.us"); "" when it
// holds anything else.
func phoneOf(chatID string) string {
	user, _, _ := strings.Cut(strings.TrimSpace(chatID), "@")
	user = strings.TrimPrefix(user, "+")
	for _, c := range user {
		if c < '0' || c > '9' {
			return ""
		}
	}
	return user
}

func field(m any, key string) any {
	if o, ok := m.(map[string]any); ok {
		return o[key]
	}
	return nil
}

func failure(msg string) map[string]any { return map[string]any{"status": false, "message": msg} }
