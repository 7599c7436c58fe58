package botsailorsim

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

	"github.com/wacamp/wacamp/provider/internal/wire"
	"github.com/wacamp/wacamp/provider/sim"
)

// The simulator's canned answers.
const (
	msgSent           = "Message sent successfully."
	msgTemplateSent   = "Template message sent successfully."
	msgBotTriggered   = "Bot has been trigger successfully."
	msgInvalidToken   = "Invalid API token."
	msgInvalidPhone   = "Invalid phone number."
	msgNotFound       = "Message not found."
	codeUndeliverable = "131026"
)

// The answer shapes of Options.Shape.
const (
	// ShapeBotSailor answers as seed 000 (BotSailor) shows.
	ShapeBotSailor = "botsailor"
	// ShapeWabotick answers as seed 001 (Wabotick) shows.
	ShapeWabotick = "wabotick"
)

// DefaultDeliverAfter is Options.DeliverAfter when it is zero.
const DefaultDeliverAfter = time.Second

// Options are the simulator's knobs. The zero value is a well-behaved
// provider that accepts any token and delivers every message after a second.
type Options struct {
	// Tokens are the accepted apiTokens; empty accepts any non-empty token.
	Tokens []string
	// Knobs are the faults, limits, lifecycle, seed and clock. The limits
	// are RatePerSecond per phone_number_id, PairInterval from one
	// phone_number_id to one recipient (WhatsApp's is 6 s) and
	// SubscriberLimit distinct recipients of the account. A send over them
	// is refused under HTTP 200 {"status":"0","message":…}: "(#130429) Rate
	// limit hit", "(#131056) … pair rate limit hit", or the doc's
	// "Subscriber limit has been exceeded". A failed message's
	// failed_reason is "Message undeliverable.".
	sim.Knobs
	// SlowAcceptRate is the share (0–1) of sends (of every kind) the
	// provider takes SlowAccept to accept: the request is held that long,
	// then handled as any other (rate limit, drop, …) and, if accepted,
	// recorded in the conversation — also when the client gave up waiting
	// meanwhile, as a provider does that finishes work the caller
	// abandoned. Drawn after Fail5xxRate.
	SlowAcceptRate float64
	// SlowAccept is how long a send drawn by SlowAcceptRate is held.
	SlowAccept time.Duration
	// SlowHold, when set, holds such a send instead of a timer on the real
	// clock: the send goes on when SlowHold(SlowAccept) returns (Stats
	// counts it held meanwhile). A test releases it on a signal of its own.
	SlowHold func(time.Duration)
	// ConvNoWAMIDRate is the share (0–1) of template and bot-flow messages
	// that get/conversation lists without a wa_message_id (null), as a
	// provider does that has not learned Meta's id yet; the entry keeps its
	// own "id" and its message_status. Their send answers name no wamid
	// either (Shape Wabotick included), and get/message-status knows them
	// by wamid all the same.
	ConvNoWAMIDRate float64
	// ConvWAMIDAfter is how long such a message is listed without its
	// wamid; 0 means for good.
	ConvWAMIDAfter time.Duration
	// ListAfter is how long an accepted message takes to show in
	// get/conversation (a provider whose history lags its sends); 0 at once.
	ListAfter time.Duration
	// Shape is whose answers the simulator gives: "" or ShapeBotSailor for
	// seed 000's, ShapeWabotick for seed 001's. Any other value answers
	// every call HTTP 500, so a typo cannot pass for a shape.
	//
	// The Wabotick shape differs where 001 does:
	//   - send/template answers {"status":"success","message":"Template
	//     message sent successfully.","data":{"message_id":"wamid…"}}, the
	//     wamid of the recorded message (BotSailor: {"status":"1",
	//     "message":…}, no wamid);
	//   - get/message-status answers 001's sample, printed over several
	//     lines as 001 prints it;
	//   - user/myInfo, which 001 does not document, answers the same
	//     figures in 001's {"status":"success","data":{…}} envelope (that
	//     of its Get Subscriber), printed over several lines.
	// Text, media and bot-flow sends, the conversation and every refusal
	// ({"status":"0","message":…}) are answered alike: 001's samples for
	// them are 000's.
	Shape string
}

// Send is one accepted send, as recorded by the simulator.
type Send struct {
	Phone         string
	PhoneNumberID string
	Kind          string // "text", "file", "template" or "bot"
	WAMID         string // also for template and bot sends, whose answer has none
	At            time.Time
	// Text is the message text, the media caption, the template id or the
	// bot flow id.
	Text string
	// TemplateVars are a template send's templateVariable-<name>-<index>
	// fields, keyed "<name>-<index>"; nil for other kinds.
	TemplateVars map[string]string
}

// Recipient is the phone the send went to.
func (s Send) Recipient() string { return s.Phone }

// Stats counts what the simulator did.
type Stats struct {
	sim.Counts            // sends accepted, rejected, dropped and refused by the limits
	StatusPolls       int // get/message-status calls
	ConversationCalls int // get/conversation calls
	Slowed            int // sends held for Options.SlowAccept
	SlowHeld          int // of them, still held (not yet accepted or refused)
}

// Server is the simulator. It is an http.Handler and safe for concurrent use.
type Server struct {
	mu             sync.Mutex
	opts           Options
	rng            *rand.Rand
	seq            uint32
	sim.Sent[Send]                        // Sends and SendCount
	messages       map[string]*message    // by wamid
	convs          map[convKey][]*message // oldest first
	numbers        []string               // phone_number_ids seen, in order
	num            sim.Number             // the limits: buckets by phone_number_id, pairs by (number, recipient), subscribers
	stats          Stats
}

type convKey struct{ phoneNumberID, phone string }

// message is one recorded message and its fate.
type message struct {
	id        int64
	wamid     string
	content   string
	at        time.Time
	deliverAt time.Time // zero: never delivered
	readAt    time.Time // zero: never read
	failed    bool
	fromUser  bool // an inbound message from the subscriber (Reply)
	// wamidFrom is when the conversation starts listing the wamid; zero:
	// always. hideWAMID without it: never.
	wamidFrom time.Time
	hideWAMID bool
	listFrom  time.Time // not in the conversation before then
}

// listedWAMID is the wa_message_id the conversation shows at now, or nil.
func (m *message) listedWAMID(now time.Time) *string {
	if m.hideWAMID && (m.wamidFrom.IsZero() || now.Before(m.wamidFrom)) {
		return nil
	}
	return &m.wamid
}

// New returns a simulator with the given knobs.
func New(opts Options) *Server {
	return &Server{
		opts:     opts,
		rng:      sim.NewRand(opts.Seed),
		messages: map[string]*message{},
		convs:    map[convKey][]*message{},
	}
}

// SetOptions changes the knobs at run time. Messages already accepted keep
// the fate they were given.
func (s *Server) SetOptions(update func(*Options)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	update(&s.opts)
}

// Stats returns the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// shape returns the answer shape in force; "" is ShapeBotSailor.
func (s *Server) shape() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return cmp.Or(s.opts.Shape, ShapeBotSailor)
}

// ServeHTTP answers one API call.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		sim.WriteJSON(w, http.StatusMethodNotAllowed, failure("Method not allowed."))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		sim.WriteJSON(w, http.StatusBadRequest, failure("Invalid request."))
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
	if shape := s.shape(); shape != ShapeBotSailor && shape != ShapeWabotick {
		sim.WriteJSON(w, http.StatusInternalServerError, failure("botsailorsim: unknown Options.Shape "+strconv.Quote(shape)+"."))
		return
	}
	if !s.authorized(r) {
		sim.WriteJSON(w, http.StatusOK, failure(msgInvalidToken))
		return
	}
	switch strings.TrimSuffix(r.URL.Path, "/") {
	case "/api/v1/whatsapp/send":
		s.send(w, r, "text")
	case "/api/v1/whatsapp/send/file":
		s.send(w, r, "file")
	case "/api/v1/whatsapp/send/template":
		s.send(w, r, "template")
	case "/api/v1/whatsapp/trigger-bot":
		s.send(w, r, "bot")
	case "/api/v1/whatsapp/get/conversation":
		s.conversation(w, r)
	case "/api/v1/whatsapp/get/message-status":
		s.messageStatus(w, r)
	case "/api/v1/user/myInfo":
		s.myInfo(w)
	default:
		sim.WriteJSON(w, http.StatusNotFound, failure("Invalid API endpoint."))
	}
}

// authorized checks the apiToken (form, query or bearer header).
func (s *Server) authorized(r *http.Request) bool {
	token := r.Form.Get("apiToken")
	if token == "" {
		token = strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	}
	if token == "" {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.opts.Tokens) == 0 || slices.Contains(s.opts.Tokens, token)
}

// required returns the first missing parameter of names, or "".
func required(r *http.Request, names ...string) string {
	for _, n := range names {
		if strings.TrimSpace(r.Form.Get(n)) == "" {
			return n
		}
	}
	return ""
}

// send handles the four send endpoints.
func (s *Server) send(w http.ResponseWriter, r *http.Request, kind string) {
	need := []string{"phone_number_id", "phone_number"}
	switch kind {
	case "text":
		need = append(need, "message")
	case "template":
		need = append(need, "template_id")
	case "bot":
		need = append(need, "bot_flow_unique_id")
	case "file":
		if r.Form.Get("media_id") == "" {
			need = append(need, "media_url")
		}
	}
	if missing := required(r, need...); missing != "" {
		sim.WriteJSON(w, http.StatusOK, failure(missing+" is required."))
		return
	}
	phone, numberID := r.Form.Get("phone_number"), r.Form.Get("phone_number_id")
	if !sim.ValidPhone(phone) {
		sim.WriteJSON(w, http.StatusOK, failure(msgInvalidPhone))
		return
	}
	snd := Send{Phone: phone, PhoneNumberID: numberID, Kind: kind}
	content := map[string]any{"messaging_product": "whatsapp", "to": phone}
	switch kind {
	case "text":
		snd.Text = r.Form.Get("message")
		content["type"] = "text"
		content["text"] = map[string]any{"body": snd.Text}
	case "file":
		mediaType := cmp.Or(r.Form.Get("media_type"), mediaTypeOf(r.Form.Get("media_url")))
		snd.Text = cmp.Or(r.Form.Get("media_caption_text"), r.Form.Get("message"))
		media := map[string]any{"link": r.Form.Get("media_url")}
		if id := r.Form.Get("media_id"); id != "" {
			media = map[string]any{"id": id}
		}
		if snd.Text != "" && mediaType != "audio" {
			media["caption"] = snd.Text
		}
		content["type"] = mediaType
		content[mediaType] = media
	case "template":
		snd.Text = r.Form.Get("template_id")
		snd.TemplateVars = templateVars(r)
		content["type"] = "template"
		content["template"] = templateContent(snd.Text, snd.TemplateVars)
	case "bot":
		snd.Text = r.Form.Get("bot_flow_unique_id")
		content["type"] = "text"
		content["text"] = map[string]any{"body": "Bot flow " + snd.Text + " started."}
	}
	body, _ := json.Marshal(content)

	s.mu.Lock()
	if s.rng.Float64() < s.opts.Fail5xxRate {
		s.stats.Rejected5xx++
		s.mu.Unlock()
		sim.Unavailable(w)
		return
	}
	if s.opts.SlowAcceptRate > 0 && s.rng.Float64() < s.opts.SlowAcceptRate {
		// Drawn only when the knob is on, so other seeds' decisions stay.
		hold, wait := s.opts.SlowAccept, s.opts.SlowHold
		s.stats.Slowed++
		s.stats.SlowHeld++
		s.mu.Unlock()
		// Not sim.Delay: the client giving up must not stop the provider.
		if wait != nil {
			wait(hold)
		} else {
			<-time.After(hold)
		}
		s.mu.Lock()
		s.stats.SlowHeld--
	}
	now := s.opts.Time()
	if v := s.num.Admit(numberID, "", phone, now, s.opts.Limits()); v != sim.Admitted {
		s.stats.Tally(v)
		s.mu.Unlock()
		// Refused under HTTP 200, as every refusal of the family.
		sim.WriteJSON(w, http.StatusOK, failure(v.Message()))
		return
	}
	m := s.record(numberID, phone, string(body), now)
	if s.opts.ListAfter > 0 {
		m.listFrom = now.Add(s.opts.ListAfter)
	}
	if (kind == "template" || kind == "bot") && s.opts.ConvNoWAMIDRate > 0 && s.rng.Float64() < s.opts.ConvNoWAMIDRate {
		// Drawn only when the knob is on, so other seeds' decisions stay.
		m.hideWAMID = true
		if s.opts.ConvWAMIDAfter > 0 {
			m.wamidFrom = now.Add(s.opts.ConvWAMIDAfter)
		}
	}
	s.num.Record(numberID, "", phone, now)
	snd.WAMID, snd.At = m.wamid, now
	s.Sent.Record(snd)
	s.stats.Accepted++
	drop := s.rng.Float64() < s.opts.DropAfterAcceptRate
	if drop {
		s.stats.Dropped++
	}
	s.mu.Unlock()

	if drop {
		sim.HangUp(w)
		return
	}
	switch {
	case kind == "template" && s.shape() == ShapeWabotick && !m.hideWAMID:
		sim.WriteLinedJSON(w, http.StatusOK, dataAnswer{Status: "success", Message: msgTemplateSent,
			Data: map[string]string{"message_id": m.wamid}})
	case kind == "template":
		sim.WriteJSON(w, http.StatusOK, answer{Status: "1", Message: msgTemplateSent})
	case kind == "bot":
		sim.WriteJSON(w, http.StatusOK, answer{Status: "1", Message: msgBotTriggered})
	default:
		sim.WriteJSON(w, http.StatusOK, sendAnswer{Status: "1", WAMID: m.wamid, Message: msgSent})
	}
}

// record stores an accepted message and decides its fate. Callers hold mu.
func (s *Server) record(numberID, phone, content string, now time.Time) *message {
	s.seq++
	s.num.Subscribe("", phone)
	if !slices.Contains(s.numbers, numberID) {
		s.numbers = append(s.numbers, numberID)
	}
	m := &message{
		id:      int64(s.seq),
		wamid:   s.newWAMID(phone),
		content: content,
		at:      now,
	}
	// Draw both shares for every message, so changing one knob does not
	// shift the other's decisions.
	fail, read := s.rng.Float64() < s.opts.FailShare, s.rng.Float64() < s.opts.ReadShare
	lc := s.opts.Lifecycle()
	for _, st := range lc.Steps(now, sim.Fate{Failed: fail, Read: read}, DefaultDeliverAfter)[1:] {
		switch st.Status {
		case "failed":
			m.deliverAt, m.failed = st.At, true
		case "delivered":
			m.deliverAt = st.At
		case "read":
			m.readAt = st.At
		}
	}
	s.messages[m.wamid] = m
	k := convKey{numberID, phone}
	s.convs[k] = append(s.convs[k], m)
	return m
}

// Reply records an inbound text message from phone to the number, as if
// the subscriber had written: it shows in the conversation with sender
// "user". It returns its wamid.
func (s *Server) Reply(phoneNumberID, phone, text string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	content, _ := json.Marshal(map[string]any{"type": "text", "text": map[string]string{"body": text}})
	m := &message{id: int64(s.seq), wamid: s.newWAMID(phone), content: string(content), at: s.opts.Time(), fromUser: true}
	k := convKey{phoneNumberID, phone}
	s.convs[k] = append(s.convs[k], m)
	return m.wamid
}

// newWAMID makes a wamid shaped like Meta's: base64 of the recipient and a
// hex id, here a sequence number and random bytes. Callers hold mu.
func (s *Server) newWAMID(phone string) string {
	return sim.WAMID("wamid.", []byte{0x1c, 0x18}, phone, s.seq, s.rng)
}

// state is a message's status at a time.
type state struct {
	status    string
	updatedAt time.Time
	readAt    time.Time
	failedAt  time.Time
}

func (m *message) stateAt(now time.Time) state {
	switch {
	case m.deliverAt.IsZero() || now.Before(m.deliverAt):
		return state{status: "sent", updatedAt: m.at}
	case m.failed:
		return state{status: "failed", updatedAt: m.deliverAt, failedAt: m.deliverAt}
	case !m.readAt.IsZero() && !now.Before(m.readAt):
		return state{status: "read", updatedAt: m.readAt, readAt: m.readAt}
	}
	return state{status: "delivered", updatedAt: m.deliverAt}
}

// conversation answers get/conversation: newest first, limit messages after
// skipping offset (0-based, default 0).
func (s *Server) conversation(w http.ResponseWriter, r *http.Request) {
	if missing := required(r, "phone_number_id", "phone_number", "limit"); missing != "" {
		sim.WriteJSON(w, http.StatusOK, failure(missing+" is required."))
		return
	}
	limit, err := strconv.Atoi(r.Form.Get("limit"))
	if err != nil || limit <= 0 {
		sim.WriteJSON(w, http.StatusOK, failure("limit must be a positive number."))
		return
	}
	offset := 0
	if v := r.Form.Get("offset"); v != "" {
		if offset, err = strconv.Atoi(v); err != nil || offset < 0 {
			sim.WriteJSON(w, http.StatusOK, failure("offset must be a number."))
			return
		}
	}
	phone := r.Form.Get("phone_number")
	if !sim.ValidPhone(phone) {
		sim.WriteJSON(w, http.StatusOK, failure(msgInvalidPhone))
		return
	}
	s.mu.Lock()
	s.stats.ConversationCalls++
	now := s.opts.Time()
	all := s.convs[convKey{r.Form.Get("phone_number_id"), phone}]
	entries := []convEntry{}
	listed := make([]*message, 0, len(all))
	for _, m := range all {
		if !now.Before(m.listFrom) {
			listed = append(listed, m)
		}
	}
	for i := len(listed) - 1 - offset; i >= 0 && len(entries) < limit; i-- {
		m := listed[i]
		st := m.stateAt(now)
		entries = append(entries, convEntry{
			ID:                      m.id,
			SubscriberID:            phone + "-1",
			BotID:                   1,
			Sender:                  senderOf(m),
			MessageContent:          m.content,
			ConversationTime:        formatTime(m.at),
			WAMID:                   m.listedWAMID(now),
			MessageStatus:           &st.status,
			DeliveryStatusUpdatedAt: formatTime(st.updatedAt),
			FailedReason:            failedReason(st),
		})
	}
	s.mu.Unlock()
	sim.WriteJSON(w, http.StatusOK, answer{Status: "1", Message: entries})
}

// messageStatus answers get/message-status. Any numeric whatsapp_bot_id is
// accepted.
func (s *Server) messageStatus(w http.ResponseWriter, r *http.Request) {
	if missing := required(r, "wa_message_id", "whatsapp_bot_id"); missing != "" {
		sim.WriteJSON(w, http.StatusOK, failure(missing+" is required."))
		return
	}
	if _, err := strconv.ParseInt(r.Form.Get("whatsapp_bot_id"), 10, 64); err != nil {
		sim.WriteJSON(w, http.StatusOK, failure("whatsapp_bot_id must be a number."))
		return
	}
	s.mu.Lock()
	s.stats.StatusPolls++
	m := s.messages[r.Form.Get("wa_message_id")]
	var st state
	if m != nil {
		st = m.stateAt(s.opts.Time())
	}
	s.mu.Unlock()
	if m == nil {
		sim.WriteJSON(w, http.StatusOK, failure(msgNotFound))
		return
	}
	rep := statusEntry{
		MessageStatus:           st.status,
		DeliveryStatusUpdatedAt: formatTime(st.updatedAt),
		ReadTime:                optionalTime(st.readAt),
		FailedTime:              optionalTime(st.failedAt),
		FailedReason:            failedReason(st),
	}
	if st.status == "failed" {
		rep.ErrorCode = codeUndeliverable
	}
	if s.shape() == ShapeWabotick {
		sim.WriteLinedJSON(w, http.StatusOK, answer{Status: "1", Message: rep})
		return
	}
	sim.WriteJSON(w, http.StatusOK, answer{Status: "1", Message: rep})
}

// myInfo answers user/myInfo in the doc's shape, with live figures.
func (s *Server) myInfo(w http.ResponseWriter) {
	s.mu.Lock()
	limit := "unlimited"
	if s.opts.SubscriberLimit > 0 {
		limit = strconv.Itoa(s.opts.SubscriberLimit)
	}
	bots := make([]map[string]string, 0, len(s.numbers))
	for _, n := range s.numbers {
		bots = append(bots, map[string]string{
			"display_phone_number":         "+" + n,
			"phone_number_id":              n,
			"whatsapp_business_account_id": "100000000000001",
			"whatsapp_business_name":       "BotSailor Simulator",
		})
	}
	info := map[string]any{
		"user_id":               1,
		"user_type":             "Member",
		"name":                  "Simulator",
		"email":                 "sim@example.com",
		"package_name":          "Simulated",
		"status":                "1",
		"bot_subscriber_data":   map[string]string{"limit": limit, "count": strconv.Itoa(s.num.Subscribers(""))},
		"message_credit_data":   map[string]any{"limit": "unlimited", "used": s.stats.Accepted},
		"whatsapp_bots_details": bots,
	}
	wabotick := cmp.Or(s.opts.Shape, ShapeBotSailor) == ShapeWabotick
	s.mu.Unlock()
	if wabotick {
		sim.WriteLinedJSON(w, http.StatusOK, dataAnswer{Status: "success", Data: info})
		return
	}
	sim.WriteJSON(w, http.StatusOK, answer{Status: "1", Message: info})
}

// The answer shapes, with the docs' field order.
type (
	answer struct {
		Status  string `json:"status"`
		Message any    `json:"message"`
	}
	// dataAnswer is Wabotick's envelope (seed 001): the payload under
	// "data", "message" only when there is a text.
	dataAnswer struct {
		Status  string `json:"status"`
		Message string `json:"message,omitempty"`
		Data    any    `json:"data"`
	}
	sendAnswer struct {
		Status  string `json:"status"`
		WAMID   string `json:"wa_message_id"`
		Message string `json:"message"`
	}
	convEntry struct {
		ID                      int64   `json:"id"`
		SubscriberID            string  `json:"whatsapp_bot_subscriber_subscriber_id"`
		BotID                   int64   `json:"whatsapp_bot_id"`
		Sender                  string  `json:"sender"`
		AgentName               *string `json:"agent_name"`
		MessageContent          string  `json:"message_content"`
		ConversationTime        string  `json:"conversation_time"`
		WAMID                   *string `json:"wa_message_id"`
		ReactionData            *string `json:"reaction_data"`
		MessageStatus           *string `json:"message_status"`
		DeliveryStatusUpdatedAt string  `json:"delivery_status_updated_at"`
		FailedReason            string  `json:"failed_reason"`
	}
	statusEntry struct {
		MessageStatus           string  `json:"message_status"`
		DeliveryStatusUpdatedAt string  `json:"delivery_status_updated_at"`
		ReadTime                *string `json:"read_time"`
		FailedTime              *string `json:"failed_time"`
		FailedReason            string  `json:"failed_reason"`
		ErrorCode               string  `json:"error_code,omitempty"`
	}
)

func senderOf(m *message) string {
	if m.fromUser {
		return "user"
	}
	return "bot"
}

func failure(msg string) answer { return answer{Status: "0", Message: msg} }

func failedReason(st state) string {
	if st.status == "failed" {
		return sim.MsgUndeliverable
	}
	return ""
}

// formatTime formats t as the API does: "YYYY-MM-DD HH:MM:SS" in UTC.
func formatTime(t time.Time) string { return t.UTC().Format(time.DateTime) }

func optionalTime(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := formatTime(t)
	return &s
}

// mediaTypeOf guesses the media type from a URL's extension.
func mediaTypeOf(u string) string {
	u = strings.ToLower(u)
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		u = u[:i]
	}
	return wire.MediaKind(u[strings.LastIndexByte(u, '.')+1:])
}

// templateVars collects the templateVariable-<name>-<index> fields.
func templateVars(r *http.Request) map[string]string {
	vars := map[string]string{}
	for k, v := range r.Form {
		if name, ok := strings.CutPrefix(k, "templateVariable-"); ok && len(v) > 0 {
			vars[name] = v[0]
		}
	}
	return vars
}

// templateContent is the Meta template object of a template send: the body
// parameters ordered by their index.
func templateContent(name string, vars map[string]string) map[string]any {
	keys := make([]string, 0, len(vars))
	for k := range vars {
		keys = append(keys, k)
	}
	index := func(k string) int {
		n, _ := strconv.Atoi(k[strings.LastIndexByte(k, '-')+1:])
		return n
	}
	slices.SortFunc(keys, func(a, b string) int { return cmp.Or(cmp.Compare(index(a), index(b)), strings.Compare(a, b)) })
	params := make([]map[string]string, 0, len(keys))
	for _, k := range keys {
		params = append(params, map[string]string{"type": "text", "text": vars[k]})
	}
	t := map[string]any{"name": name, "language": map[string]string{"code": "en_US"}}
	if len(params) > 0 {
		t["components"] = []map[string]any{{"type": "body", "parameters": params}}
	}
	return t
}
