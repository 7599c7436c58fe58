package sobotsim

import (
	"cmp"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wacamp/wacamp/provider/sim"
)

// The simulator's canned answers.
const (
	msgSent            = "Message sent successfully."
	msgBadCredentials  = "Invalid API credentials"
	msgInvalidMobile   = "Invalid mobile number"
	msgTemplateMissing = "Template not found"
	codeUndeliverable  = 131026
)

// Defaults used when Options fields are zero.
const (
	// DefaultDeliverAfter is Options.DeliverAfter when it is zero.
	DefaultDeliverAfter = time.Second
	// DefaultWebhookAttempts is Options.WebhookAttempts when it is zero.
	DefaultWebhookAttempts = 3
	// DefaultWebhookBackoff is Options.WebhookBackoff when it is zero.
	DefaultWebhookBackoff = 50 * time.Millisecond
)

// Credential is one accepted x-api-key / x-api-secret pair.
type Credential struct {
	Key    string
	Secret string
}

// Options are the simulator's knobs. The zero value is a well-behaved
// provider that accepts any non-empty key pair, delivers every message
// after a second and pushes no webhooks.
type Options struct {
	// Credentials are the accepted key pairs; empty accepts any pair of
	// non-empty headers.
	Credentials []Credential
	// Knobs are the faults, limits, lifecycle, seed and clock. A dropped
	// send's message and webhooks go out. The limits are RatePerSecond per
	// API key, PairInterval from the account to one recipient and
	// SubscriberLimit distinct recipients of the account; sends over them
	// are answered {"message":…,"code":…}: HTTP 429 "(#130429) Rate limit
	// hit" with Retry-After: 1, HTTP 400 "(#131056) … pair rate limit hit",
	// HTTP 400 "Subscriber limit has been exceeded. …".
	sim.Knobs
	// Fail500Rate is the share (0–1) of accepted sends answered a bare
	// HTTP 500 page (its statuses are still pushed).
	Fail500Rate float64
	// Templates are the known template names; empty accepts any. A
	// template send naming another is answered HTTP 404
	// {"message":"Template not found","code":404}.
	Templates []string
	// ErrorsHTTP200 answers every refusal (except 503 and 429) with HTTP
	// 200 and the error code in the body only, as the doc's samples leave
	// possible.
	ErrorsHTTP200 bool

	// WebhookURL receives the status and inbound pushes; empty pushes
	// nothing.
	WebhookURL string
	// WebhookMetaStyle pushes statuses as
	// [{"value":{"messaging_product":"whatsapp","statuses":[…]},"field":"messages"}]
	// with recipient_id (and errors for failed) instead of the doc's bare
	// {"id","status","timestamp"} objects.
	WebhookMetaStyle bool
	// WebhookDuplicateRate is the share (0–1) of pushes sent twice.
	WebhookDuplicateRate float64
	// WebhookReorder pushes a message's sent status right after its
	// delivered (or failed) status instead of before it.
	WebhookReorder bool
	// WebhookEarly pushes a message's first status before the send request
	// is answered: the webhook beats the answer.
	WebhookEarly bool
	// WebhookAttempts is how many times a push is tried before it is
	// dropped; 0 means DefaultWebhookAttempts.
	WebhookAttempts int
	// WebhookBackoff is the wait before the first retry of a push, doubled
	// for each further one; 0 means DefaultWebhookBackoff.
	WebhookBackoff time.Duration
	// WebhookClient makes the pushes; nil means a client with a 5 s
	// timeout.
	WebhookClient *http.Client
}

// Send is one accepted send, as recorded by the simulator.
type Send struct {
	Phone string // customer_number
	Name  string // customer_name
	// Kind is the body's type ("text", "image", "quick_reply", "list",
	// "location" ...), or "template" for a template send.
	Kind  string
	WAMID string
	At    time.Time
	// Text is the message text, the media caption or the template name.
	Text     string
	URL      string   // media url
	MimeType string   // media mime_type
	Filename string   // document filename
	Buttons  []string // quick_reply button titles
	// Template and Lang are a template send's template_name and
	// template_lang; Params its raw params.
	Template string
	Lang     string
	Params   json.RawMessage
	// Body is the whole request body.
	Body map[string]any
}

// Recipient is the phone the send went to.
func (s Send) Recipient() string { return s.Phone }

// Stats counts what the simulator did.
type Stats struct {
	sim.Counts                 // sends accepted, rejected, dropped and refused by the limits
	Unauthorized int           // calls refused for bad credentials
	Invalid      int           // sends refused for a bad body, number or template
	Webhooks     sim.PushStats // the pushes: answered 2xx, duplicated, retried, dropped after WebhookAttempts tries
	Replies      int           // inbound messages made by Reply
}

// Server is the simulator. It is an http.Handler and safe for concurrent
// use. Call Close when done to stop its timers.
type Server struct {
	mu             sync.Mutex
	opts           Options
	rng            *rand.Rand
	seq            uint32
	sim.Sent[Send]            // Sends and SendCount
	num            sim.Number // the limits: buckets by API key, pairs by (key, phone), subscribers
	stats          Stats
	push           *sim.Pusher // the webhook queue
}

// New returns a simulator with the given knobs.
func New(opts Options) *Server {
	s := &Server{opts: opts, rng: sim.NewRand(opts.Seed)}
	s.push = &sim.Pusher{Now: s.Now, Target: s.target}
	return s
}

// SetOptions changes the knobs at run time. Messages already accepted keep
// the fate and pushes they were given.
func (s *Server) SetOptions(update func(*Options)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	update(&s.opts)
}

// Stats returns the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Webhooks = s.push.Stats()
	return st
}

// Pending returns how many webhook pushes are scheduled but not yet made.
func (s *Server) Pending() int { return s.push.Pending() }

// target is where and how pushes go, as the knobs say now.
func (s *Server) target(*sim.Push) sim.Target {
	s.mu.Lock()
	defer s.mu.Unlock()
	return sim.Target{URL: s.opts.WebhookURL, Client: s.opts.WebhookClient,
		Tries:   cmp.Or(s.opts.WebhookAttempts, DefaultWebhookAttempts),
		Backoff: cmp.Or(s.opts.WebhookBackoff, DefaultWebhookBackoff)}
}

// Now returns the simulator's clock reading.
func (s *Server) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opts.Time()
}

// ServeHTTP answers one API call.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	var body map[string]any
	dec := json.NewDecoder(r.Body)
	dec.UseNumber()
	bodyErr := dec.Decode(&body)

	// Wait after reading the body: only then does the server notice a
	// client that gives up.
	s.mu.Lock()
	latency := s.opts.Latency
	s.mu.Unlock()
	if !sim.Delay(r, latency) {
		return
	}
	if !s.authorized(r) {
		s.count(func(st *Stats) { st.Unauthorized++ })
		s.refuse(w, http.StatusUnauthorized, msgBadCredentials)
		return
	}
	if strings.TrimSuffix(r.URL.Path, "/") != "/message" {
		s.refuse(w, http.StatusNotFound, "Not found")
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		sim.WriteJSON(w, http.StatusMethodNotAllowed, errorAnswer{Message: "Method not allowed", Code: http.StatusMethodNotAllowed})
		return
	}
	if bodyErr != nil || body == nil {
		s.count(func(st *Stats) { st.Invalid++ })
		s.refuse(w, http.StatusBadRequest, "Invalid JSON body")
		return
	}
	s.send(w, r, body)
}

func (s *Server) count(f func(*Stats)) {
	s.mu.Lock()
	f(&s.stats)
	s.mu.Unlock()
}

// authorized checks the x-api-key and x-api-secret headers.
func (s *Server) authorized(r *http.Request) bool {
	key, secret := r.Header.Get("x-api-key"), r.Header.Get("x-api-secret")
	if key == "" || secret == "" {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.opts.Credentials) == 0 || slices.Contains(s.opts.Credentials, Credential{Key: key, Secret: secret})
}

// refuse answers {"message":msg,"code":status}, under HTTP 200 when
// ErrorsHTTP200 is set (except for 429 and 5xx).
func (s *Server) refuse(w http.ResponseWriter, status int, msg string) {
	s.mu.Lock()
	http200 := s.opts.ErrorsHTTP200
	s.mu.Unlock()
	httpStatus := status
	if http200 && status != http.StatusTooManyRequests && status < 500 {
		httpStatus = http.StatusOK
	}
	sim.WriteJSON(w, httpStatus, errorAnswer{Message: msg, Code: status})
}

// send validates and accepts one message.
func (s *Server) send(w http.ResponseWriter, r *http.Request, body map[string]any) {
	snd, problem := parseSend(body)
	if problem != "" {
		s.count(func(st *Stats) { st.Invalid++ })
		s.refuse(w, http.StatusBadRequest, problem)
		return
	}
	key := r.Header.Get("x-api-key")

	s.mu.Lock()
	// Draw every decision of the send up front, so that a knob changes
	// only its own decisions.
	fail5xx, drop := s.rng.Float64() < s.opts.Fail5xxRate, s.rng.Float64() < s.opts.DropAfterAcceptRate
	if fail5xx {
		s.stats.Rejected5xx++
		s.mu.Unlock()
		sim.Unavailable(w)
		return
	}
	if snd.Kind == "template" && len(s.opts.Templates) > 0 && !slices.Contains(s.opts.Templates, snd.Template) {
		s.stats.Invalid++
		s.mu.Unlock()
		s.refuse(w, http.StatusNotFound, msgTemplateMissing)
		return
	}
	now := s.opts.Time()
	if v := s.num.Admit(key, "", snd.Phone, now, s.opts.Limits()); v != sim.Admitted {
		s.stats.Tally(v)
		s.mu.Unlock()
		if v == sim.RateLimited {
			w.Header().Set("Retry-After", "1")
		}
		s.refuse(w, limitStatus[v], v.Message())
		return
	}
	s.seq++
	s.num.Record(key, "", snd.Phone, now)
	snd.WAMID, snd.At = s.newWAMID(snd.Phone), now
	s.Sent.Record(snd)
	s.stats.Accepted++
	if drop {
		s.stats.Dropped++
	}
	fail500 := !drop && s.rng.Float64() < s.opts.Fail500Rate
	early := s.schedule(snd, now)
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
		sim.WriteJSON(w, http.StatusOK, sendAnswer{
			Data:    sendData{ID: snd.WAMID, Status: "submitted"},
			Message: msgSent,
			Code:    http.StatusOK,
		})
	}
}

// limitStatus is the HTTP status of a send the number's limits refused.
var limitStatus = map[sim.Verdict]int{sim.RateLimited: http.StatusTooManyRequests, sim.PairLimited: http.StatusBadRequest, sim.SubscriberLimited: http.StatusBadRequest}

// newWAMID makes a wamid shaped like Meta's: "wamid." and base64 of the
// recipient and a hex id. Callers hold mu.
func (s *Server) newWAMID(phone string) string {
	return sim.WAMID("wamid.", []byte{0x1c, 0x18}, phone, s.seq, s.rng)
}

// schedule decides an accepted message's fate and queues its status
// pushes. With WebhookEarly it returns the first push, to be made before
// the answer, instead of queuing it. Callers hold mu.
func (s *Server) schedule(snd Send, now time.Time) *sim.Push {
	// Draw every share for every message, so changing one knob does not
	// shift the other's decisions.
	fail, read := s.rng.Float64() < s.opts.FailShare, s.rng.Float64() < s.opts.ReadShare
	var dups [4]bool
	for i := range dups {
		dups[i] = s.rng.Float64() < s.opts.WebhookDuplicateRate
	}
	if s.opts.WebhookURL == "" {
		return nil
	}
	lc := s.opts.Lifecycle()
	steps := lc.Steps(now, sim.Fate{Failed: fail, Read: read}, DefaultDeliverAfter)
	if s.opts.WebhookReorder && len(steps) > 1 {
		// sent goes out at the second status's time, right after it.
		steps[0].At = steps[1].At
		steps[0], steps[1] = steps[1], steps[0]
	}
	var early *sim.Push
	for i, st := range steps {
		p := &sim.Push{Due: st.At, Body: s.statusBody(snd, st.Status, st.At), Twice: dups[i]}
		if i == 0 && s.opts.WebhookEarly {
			early = p
			continue
		}
		s.push.Enqueue(p, now)
	}
	return early
}

// statusBody is the webhook payload of one status. Callers hold mu.
func (s *Server) statusBody(snd Send, status string, at time.Time) []byte {
	st := map[string]any{
		"id":        snd.WAMID,
		"status":    status,
		"timestamp": strconv.FormatInt(at.Unix(), 10),
	}
	if status == "failed" {
		st["errors"] = []map[string]any{{
			"code":       codeUndeliverable,
			"title":      sim.MsgUndeliverable,
			"message":    sim.MsgUndeliverable,
			"error_data": map[string]string{"details": sim.MsgUndeliverable},
		}}
	}
	if !s.opts.WebhookMetaStyle {
		b, _ := json.Marshal(st)
		return b
	}
	st["recipient_id"] = snd.Phone
	b, _ := json.Marshal([]any{map[string]any{
		"value": map[string]any{
			"messaging_product": "whatsapp",
			"metadata":          map[string]string{"display_phone_number": "918788000000"},
			"statuses":          []any{st},
		},
		"field": "messages",
	}})
	return b
}

// Reply makes the subscriber phone write text to the business: it pushes
// the doc's inbound text message payload to WebhookURL at once (if set)
// and returns the message's wamid.
func (s *Server) Reply(phone, text string) string {
	s.mu.Lock()
	s.seq++
	s.stats.Replies++
	wamid := s.newWAMID(phone)
	url := s.opts.WebhookURL
	body, _ := json.Marshal([]any{map[string]any{
		"value": map[string]any{
			"messaging_product": "whatsapp",
			"metadata":          map[string]string{"display_phone_number": "918788000000"},
			"contacts":          []any{map[string]any{"profile": map[string]string{"name": "Subscriber " + phone}, "wa_id": phone}},
			"messages": []any{map[string]any{
				"from":      phone,
				"id":        wamid,
				"timestamp": strconv.FormatInt(s.opts.Time().Unix(), 10),
				"text":      map[string]string{"body": text},
				"type":      "text",
			}},
		},
		"field": "messages",
	}})
	s.mu.Unlock()
	if url != "" {
		s.push.PushNow(&sim.Push{Body: body})
	}
	return wamid
}

// DeliverDue makes every push due at now (in due order) and returns when
// they are done: delivered, or dropped after the retries.
func (s *Server) DeliverDue(now time.Time) { s.push.DeliverDue(now) }

// Flush makes every push due at the simulator's clock reading.
func (s *Server) Flush() { s.DeliverDue(s.Now()) }

// Close stops the timers, aborts push retries and waits for the pushes in
// flight. Pushes not yet made are dropped.
func (s *Server) Close() { s.push.Close() }

// The answer shapes, with the doc's field order.
type (
	sendAnswer struct {
		Data    sendData `json:"data"`
		Message string   `json:"message"`
		Code    int      `json:"code"`
	}
	sendData struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	}
	errorAnswer struct {
		Message string `json:"message"`
		Code    int    `json:"code"`
	}
)
