// Package console is the campaign console of the web UI server: pages
// that show where each broadcast and sequence stands and let an operator
// pause, resume or cancel a broadcast. Pages are rendered on the server
// from embedded templates; the only script is an embedded file that
// refreshes the live parts of a page, so the pages carry a strict
// Content-Security-Policy.
package console

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wacamp/wacamp/campaign"
	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/sequence"
	"github.com/wacamp/wacamp/store"
)

// Broadcasts is the operator's view of broadcasts (*campaign.Service).
type Broadcasts interface {
	All(ctx context.Context) ([]campaign.Report, error)
	Status(ctx context.Context, name string) (campaign.Report, error)
	Pause(ctx context.Context, name string) (campaign.Broadcast, error)
	Resume(ctx context.Context, name string) (campaign.Broadcast, error)
	Cancel(ctx context.Context, name string) (campaign.Broadcast, error)
	RetryFailed(ctx context.Context, name string) (campaign.RetryResult, error)
}

// Sequences reports the drip sequences (*sequence.Service).
type Sequences interface {
	Reports(ctx context.Context) ([]sequence.Report, error)
	Report(ctx context.Context, name string) (sequence.Report, error)
}

// Store reads what the campaign page shows beyond the status report
// (*store.DB).
type Store interface {
	BroadcastByName(ctx context.Context, name string) (campaign.Broadcast, error)
	Recipients(ctx context.Context, broadcastID, after int64, limit int, f store.RecipientFilter) ([]store.Recipient, error)
	SendsOverTime(ctx context.Context, broadcastID int64, from, to time.Time, n int) ([]int, error)
	ErrorGroups(ctx context.Context, broadcastID int64, limit int) ([]store.ErrorGroup, error)

	SequenceByName(ctx context.Context, name string) (store.ConsoleSequence, error)
	SequenceDeliveries(ctx context.Context, sequenceID int64, f store.DeliveryFilter, after store.StepCursor, limit int) ([]store.StepDelivery, error)
	StepSendsOverTime(ctx context.Context, sequenceID int64, from, to time.Time, n int) ([]int, error)
	SequenceErrorGroups(ctx context.Context, sequenceID int64, limit int) ([]store.ErrorGroup, error)
}

// Options configure the console.
type Options struct {
	Broadcasts Broadcasts
	Sequences  Sequences
	Store      Store
	// ReadOnly shows no action buttons and refuses every action.
	ReadOnly bool
	// Prefix is the path the console is served under, without a trailing
	// slash ("/console"); QueuesURL is the Asynq UI's root ("/").
	Prefix    string
	QueuesURL string
	// PageSize is the recipient table's page (default 50).
	PageSize int
	// Refresh is how often the pages refresh their live parts (default 3 s).
	Refresh time.Duration
	Now     func() time.Time
	Log     *slog.Logger
}

// CSP is the console pages' Content-Security-Policy: nothing but the
// console's own script, style sheet and forms.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// The actions an operator can take on a broadcast, in button order.
const (
	ActPause  = "pause"
	ActResume = "resume"
	ActCancel = "cancel"
	ActRetry  = "retry-failed"
)

//go:embed templates static
var assets embed.FS

type handler struct {
	o       Options
	pages   map[string]*template.Template
	static  http.Handler
	csrfKey []byte
}

// New returns the console's handler; mount it at o.Prefix+"/". It does not
// authenticate: serve it behind the web UI's authentication and
// hardening.
func New(o Options) http.Handler {
	if o.PageSize <= 0 {
		o.PageSize = 50
	}
	if o.Refresh <= 0 {
		o.Refresh = 3 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.QueuesURL == "" {
		o.QueuesURL = "/"
	}
	o.Prefix = strings.TrimSuffix(o.Prefix, "/")
	key := make([]byte, 32)
	_, _ = rand.Read(key) // never fails (crypto/rand)
	h := &handler{o: o, pages: map[string]*template.Template{}, csrfKey: key}
	funcs := template.FuncMap{
		"seg":      url.PathEscape,
		"when":     when,
		"eta":      eta,
		"pct":      pct,
		"statuses": func() []delivery.Status { return delivery.Statuses },
		"count":    func(m map[string]int, s delivery.Status) int { return m[string(s)] },
		"pending":  func(m map[string]int) int { return m["planned"] + m["queued"] + m["sending"] },
		"accepted": func(m map[string]int) int { return m["sent"] + m["delivered"] + m["read"] },
		"counts":   countsLine,
		"add":      func(a, b int) int { return a + b },
	}
	for _, p := range []string{"list", "broadcast", "sequence", "confirm", "error"} {
		h.pages[p] = template.Must(template.New("layout.html").Funcs(funcs).ParseFS(assets, "templates/layout.html", "templates/parts.html", "templates/"+p+".html"))
	}
	sub, _ := fs.Sub(assets, "static") // the directory is embedded
	h.static = http.StripPrefix(o.Prefix+"/static/", http.FileServerFS(sub))
	mux := http.NewServeMux()
	p := o.Prefix
	mux.HandleFunc("GET "+p+"/{$}", h.list)
	mux.Handle("GET "+p+"/static/", h.static)
	mux.HandleFunc("GET "+p+"/broadcasts/{name}", h.broadcast)
	mux.HandleFunc("GET "+p+"/broadcasts/{name}/{action}", h.confirm)
	mux.HandleFunc("GET "+p+"/sequences/{name}", h.sequence)
	mux.HandleFunc("POST "+p+"/broadcasts/{name}/{action}", h.act)
	mux.HandleFunc(p+"/", func(w http.ResponseWriter, r *http.Request) {
		h.fail(w, r, http.StatusNotFound, "no such page")
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", CSP)
		w.Header().Set("Cache-Control", "no-store")
		mux.ServeHTTP(w, r)
	})
}

// page is what every page's layout needs.
type page struct {
	Title     string
	Prefix    string
	QueuesURL string
	ReadOnly  bool
	Refresh   int // milliseconds; 0: no refresh
	Now       time.Time
}

func (h *handler) page(title string, refresh bool) page {
	p := page{Title: title, Prefix: h.o.Prefix, QueuesURL: h.o.QueuesURL, ReadOnly: h.o.ReadOnly, Now: h.o.Now()}
	if refresh {
		p.Refresh = int(h.o.Refresh.Milliseconds())
	}
	return p
}

func (h *handler) render(w http.ResponseWriter, r *http.Request, status int, name string, data any) {
	var b strings.Builder
	if err := h.pages[name].Execute(&b, data); err != nil {
		h.o.Log.ErrorContext(r.Context(), "console: render", slog.String("page", name), slog.Any("err", err))
		http.Error(w, "could not render the page", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(b.String()))
}

type errorPage struct {
	page
	Status  int
	Message string
}

// fail renders an error page; a server error's detail goes to the log,
// not to the page.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, status int, msg string) {
	h.render(w, r, status, "error", errorPage{page: h.page(http.StatusText(status), false), Status: status, Message: msg})
}

// failErr answers err: not found, a move the broadcast's state does not
// allow, or a server error.
func (h *handler) failErr(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, campaign.ErrNotFound):
		kind := "broadcast"
		if strings.Contains(r.URL.Path, "/sequences/") {
			kind = "sequence"
		}
		h.fail(w, r, http.StatusNotFound, "no "+kind+" "+strconv.Quote(r.PathValue("name")))
	case errors.Is(err, campaign.ErrInvalidTransition):
		h.fail(w, r, http.StatusConflict, err.Error())
	default:
		h.o.Log.ErrorContext(r.Context(), "console", slog.String("path", r.URL.Path), slog.Any("err", err))
		h.fail(w, r, http.StatusInternalServerError, "the database could not be read; see the server's log")
	}
}

type listPage struct {
	page
	Broadcasts []campaign.Report
	Sequences  []sequence.Report
}

func (h *handler) list(w http.ResponseWriter, r *http.Request) {
	bs, err := h.o.Broadcasts.All(r.Context())
	if err != nil {
		h.failErr(w, r, err)
		return
	}
	// Live ones first (running, paused, scheduled), then the newest.
	slices.SortStableFunc(bs, func(a, b campaign.Report) int {
		if fa, fb := a.Status.Final(), b.Status.Final(); fa != fb {
			if fa {
				return 1
			}
			return -1
		}
		return b.StartAt.Compare(a.StartAt)
	})
	var seqs []sequence.Report
	if h.o.Sequences != nil {
		if seqs, err = h.o.Sequences.Reports(r.Context()); err != nil {
			h.failErr(w, r, err)
			return
		}
	}
	h.render(w, r, http.StatusOK, "list", listPage{page: h.page("Campaigns", true), Broadcasts: bs, Sequences: seqs})
}

// chartBuckets is how many bars the progress chart has.
const chartBuckets = 60

type broadcastPage struct {
	page
	R          campaign.Report
	Reasons    []string
	Actions    []string
	Done       string
	Chart      template.HTML
	Errors     []store.ErrorGroup
	Recipients []store.Recipient
	Table      table
	QueueLinks []queueLink
}

// table is a paged, searchable table's search form and links.
type table struct {
	Action string // the page's URL, the search form's action
	Phone  string
	Status string // a delivery state or ""
	Next   string // the next page's URL; "" on the last
	First  string // the first page's URL; "" on the first
	Empty  bool
}

// query reads a table's search, state filter and page size from q.
func (h *handler) query(q url.Values) (f store.RecipientFilter, size int) {
	size = h.o.PageSize
	if n, err := strconv.Atoi(q.Get("size")); err == nil && n > 0 {
		size = min(n, store.MaxRecipientPage)
	}
	f.Phone = strings.TrimSpace(q.Get("phone"))
	if st := delivery.Status(q.Get("state")); slices.Contains(delivery.Statuses, st) {
		f.Status = st
	}
	return f, size
}

// link is the table's page after the cursor after ("": the first), with
// its filter and size.
func (h *handler) link(base string, f store.RecipientFilter, size int, after string) string {
	v := url.Values{}
	if after != "" {
		v.Set("after", after)
	}
	if f.Phone != "" {
		v.Set("phone", f.Phone)
	}
	if f.Status != "" {
		v.Set("state", string(f.Status))
	}
	if size != h.o.PageSize {
		v.Set("size", strconv.Itoa(size))
	}
	if len(v) > 0 {
		base += "?" + v.Encode()
	}
	return base + "#recipients"
}

type queueLink struct{ Name, URL string }

func (h *handler) broadcast(w http.ResponseWriter, r *http.Request) {
	ctx, name := r.Context(), r.PathValue("name")
	rep, err := h.o.Broadcasts.Status(ctx, name)
	if err != nil {
		h.failErr(w, r, err)
		return
	}
	b, err := h.o.Store.BroadcastByName(ctx, name)
	if err != nil {
		h.failErr(w, r, err)
		return
	}
	q := r.URL.Query()
	after, _ := strconv.ParseInt(q.Get("after"), 10, 64)
	f, size := h.query(q)
	// One row more than the page says whether there is a next one.
	rows, err := h.o.Store.Recipients(ctx, b.ID, after, size+1, f)
	if err != nil {
		h.failErr(w, r, err)
		return
	}
	base := h.o.Prefix + "/broadcasts/" + url.PathEscape(name)
	p := broadcastPage{page: h.page(name, true), R: rep, Reasons: rep.Reasons(),
		Table: table{Action: base, Phone: f.Phone, Status: string(f.Status), Empty: len(rows) == 0}}
	if len(rows) > size {
		rows = rows[:size]
		p.Table.Next = h.link(base, f, size, strconv.FormatInt(rows[len(rows)-1].RecipientID, 10))
	}
	if after > 0 {
		p.Table.First = h.link(base, f, size, "")
	}
	p.Recipients = rows
	if p.Errors, err = h.o.Store.ErrorGroups(ctx, b.ID, 20); err != nil {
		h.failErr(w, r, err)
		return
	}
	if p.Chart, err = h.chart(ctx, b, rep); err != nil {
		h.failErr(w, r, err)
		return
	}
	if !h.o.ReadOnly {
		p.Actions = actions(rep)
	}
	if d := q.Get("done"); slices.Contains(allActions, d) {
		p.Done = d
		if d == ActRetry {
			// Numbers only: nothing a link could make the page say.
			re, _ := strconv.Atoi(q.Get("replanned"))
			kept, _ := strconv.Atoi(q.Get("kept"))
			p.Done = fmt.Sprintf("retry-failed: %d failed deliveries planned again, %d left failed", re, kept)
		}
	}
	for _, qn := range []string{delivery.QueueBroadcast, delivery.QueueStatus} {
		p.QueueLinks = append(p.QueueLinks, queueLink{Name: qn, URL: strings.TrimSuffix(h.o.QueuesURL, "/") + "/queues/" + qn})
	}
	h.render(w, r, http.StatusOK, "broadcast", p)
}

type sequencePage struct {
	page
	R      sequence.Report
	Chart  template.HTML
	Errors []store.ErrorGroup
	Steps  []store.StepDelivery
	Table  table
	Queue  queueLink
}

// sequence is a sequence's page: its report (what `scheduler status`
// says), a chart of its step sends, its errors by step and code, and a
// paged, searchable table of its step deliveries. Sequences have no
// lifecycle actions.
func (h *handler) sequence(w http.ResponseWriter, r *http.Request) {
	ctx, name := r.Context(), r.PathValue("name")
	if h.o.Sequences == nil {
		h.fail(w, r, http.StatusNotFound, "no sequence "+strconv.Quote(name))
		return
	}
	s, err := h.o.Store.SequenceByName(ctx, name)
	if err != nil {
		h.failErr(w, r, err)
		return
	}
	rep, err := h.o.Sequences.Report(ctx, name)
	if err != nil {
		h.failErr(w, r, err)
		return
	}
	q := r.URL.Query()
	f, size := h.query(q)
	after := parseStepCursor(q.Get("after"))
	rows, err := h.o.Store.SequenceDeliveries(ctx, s.ID, store.DeliveryFilter{Status: f.Status, Contains: f.Phone}, after, size+1)
	if err != nil {
		h.failErr(w, r, err)
		return
	}
	base := h.o.Prefix + "/sequences/" + url.PathEscape(name)
	p := sequencePage{page: h.page(name, true), R: rep,
		Table: table{Action: base, Phone: f.Phone, Status: string(f.Status), Empty: len(rows) == 0},
		Queue: queueLink{Name: delivery.QueueBroadcast, URL: strings.TrimSuffix(h.o.QueuesURL, "/") + "/queues/" + delivery.QueueBroadcast}}
	if len(rows) > size {
		rows = rows[:size]
		last := rows[len(rows)-1]
		p.Table.Next = h.link(base, f, size, fmt.Sprintf("%d.%d", last.Enrollment, last.Step))
	}
	if after != (store.StepCursor{}) {
		p.Table.First = h.link(base, f, size, "")
	}
	p.Steps = rows
	if p.Errors, err = h.o.Store.SequenceErrorGroups(ctx, s.ID, 20); err != nil {
		h.failErr(w, r, err)
		return
	}
	if p.Chart, err = h.sequenceChart(ctx, s); err != nil {
		h.failErr(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "sequence", p)
}

// parseStepCursor reads a step table cursor ("enrollment.step");
// anything else is the first page.
func parseStepCursor(v string) store.StepCursor {
	e, st, ok := strings.Cut(v, ".")
	enrollment, err1 := strconv.ParseInt(e, 10, 64)
	step, err2 := strconv.Atoi(st)
	if !ok || err1 != nil || err2 != nil {
		return store.StepCursor{}
	}
	return store.StepCursor{Enrollment: enrollment, Step: step}
}

var allActions = []string{ActPause, ActResume, ActCancel, ActRetry}

// actions are the moves the broadcast's state allows, by the lifecycle
// table, and retry-failed while it has failed deliveries and may send
// them (running, paused or completed: campaign.Service.RetryFailed).
func actions(r campaign.Report) []string {
	s := r.Status
	var out []string
	if slices.Contains(campaign.Lifecycle[campaign.MovePause].From, s) {
		out = append(out, ActPause)
	}
	if slices.Contains(campaign.Lifecycle[campaign.MoveResume].From, s) {
		out = append(out, ActResume)
	}
	if slices.Contains(campaign.Lifecycle[campaign.MoveCancel].From, s) || slices.Contains(campaign.Lifecycle[campaign.MoveStopRecurring].From, s) {
		out = append(out, ActCancel)
	}
	if r.Counts[string(delivery.Failed)] > 0 && slices.Contains([]campaign.Status{campaign.StatusRunning, campaign.StatusPaused, campaign.StatusCompleted}, s) {
		out = append(out, ActRetry)
	}
	return out
}

type confirmPage struct {
	page
	Name, Action, Token string
	R                   campaign.Report
}

// confirm asks before an action: a page with a form that posts it.
func (h *handler) confirm(w http.ResponseWriter, r *http.Request) {
	name, act := r.PathValue("name"), r.PathValue("action")
	if !h.allowed(w, r, act) {
		return
	}
	rep, err := h.o.Broadcasts.Status(r.Context(), name)
	if err != nil {
		h.failErr(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "confirm", confirmPage{page: h.page(act+" "+name, false), Name: name, Action: act, Token: h.token(r), R: rep})
}

// act carries out a confirmed action and sends the browser back to the
// broadcast's page.
func (h *handler) act(w http.ResponseWriter, r *http.Request) {
	name, act := r.PathValue("name"), r.PathValue("action")
	if !h.allowed(w, r, act) {
		return
	}
	if err := r.ParseForm(); err != nil || !hmac.Equal([]byte(r.PostFormValue("token")), []byte(h.token(r))) {
		h.fail(w, r, http.StatusForbidden, "the form is stale or was not sent from this console: open the page again")
		return
	}
	var err error
	done := "?done=" + act
	switch act {
	case ActPause:
		_, err = h.o.Broadcasts.Pause(r.Context(), name)
	case ActResume:
		_, err = h.o.Broadcasts.Resume(r.Context(), name)
	case ActCancel:
		_, err = h.o.Broadcasts.Cancel(r.Context(), name)
	case ActRetry:
		var res campaign.RetryResult
		res, err = h.o.Broadcasts.RetryFailed(r.Context(), name)
		kept := 0
		for _, n := range res.NotRetried {
			kept += n
		}
		done += "&replanned=" + strconv.Itoa(res.Replanned) + "&kept=" + strconv.Itoa(kept)
	}
	if err != nil {
		h.failErr(w, r, err)
		return
	}
	user, _, _ := r.BasicAuth()
	h.o.Log.InfoContext(r.Context(), "console: "+act, slog.String("broadcast", name), slog.String("user", user))
	http.Redirect(w, r, h.o.Prefix+"/broadcasts/"+url.PathEscape(name)+done, http.StatusSeeOther)
}

// allowed refuses actions in read-only mode and unknown ones.
func (h *handler) allowed(w http.ResponseWriter, r *http.Request, act string) bool {
	switch {
	case h.o.ReadOnly:
		h.fail(w, r, http.StatusForbidden, "the console is read-only (--read-only)")
	case !slices.Contains(allActions, act):
		h.fail(w, r, http.StatusNotFound, "no action "+strconv.Quote(act))
	default:
		return true
	}
	return false
}

// token is the form token of r's user: an HMAC of the user name under a
// key made at start, so a form is only good on this server, for this
// user, until it restarts. The cross-origin check (HardenUI) is the first
// line; the token is a second.
func (h *handler) token(r *http.Request) string {
	user, _, _ := r.BasicAuth()
	m := hmac.New(sha256.New, h.csrfKey)
	m.Write([]byte("wacamp console form\x00" + user))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// when formats an optional instant in the server's zone.
func when(t any) string {
	switch v := t.(type) {
	case time.Time:
		if v.IsZero() {
			return "—"
		}
		return v.Local().Format("2006-01-02 15:04:05")
	case *time.Time:
		if v == nil {
			return "—"
		}
		return when(*v)
	}
	return fmt.Sprint(t)
}

// eta formats a report's ETA.
func eta(s *float64) string {
	if s == nil {
		return "—"
	}
	return (time.Duration(*s) * time.Second).Round(time.Second).String()
}

func pct(done, total int) string {
	if total <= 0 {
		return "0.0"
	}
	return strconv.FormatFloat(100*float64(done)/float64(total), 'f', 1, 64)
}

// countOrder is the order counts are shown in: delivery states, then
// enrollment states; other keys (reason codes) follow by name.
var countOrder = func() map[string]int {
	m := map[string]int{}
	for i, st := range delivery.Statuses {
		m[string(st)] = i + 1
	}
	for i, st := range []string{sequence.EnrollActive, sequence.EnrollCompleted, sequence.EnrollExited, sequence.EnrollUnenrolled, sequence.EnrollStopped} {
		m[st] = len(delivery.Statuses) + i + 1
	}
	return m
}()

// countsLine prints non-zero counts, in countOrder.
func countsLine(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k, n := range m {
		if n > 0 {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b string) int {
		oa, ob := countOrder[a], countOrder[b]
		if oa == 0 {
			oa = len(countOrder) + 1
		}
		if ob == 0 {
			ob = len(countOrder) + 1
		}
		return cmp.Or(cmp.Compare(oa, ob), strings.Compare(a, b))
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = strconv.Itoa(m[k]) + " " + k
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}
