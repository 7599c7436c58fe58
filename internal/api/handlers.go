package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/wacamp/wacamp/campaign"
	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/internal/phone"
	"github.com/wacamp/wacamp/internal/service"
	"github.com/wacamp/wacamp/spec"
	"github.com/wacamp/wacamp/store"
)

// Limits on what a request may carry: campaign files are untrusted input.
const (
	// MaxJSONBytes bounds a JSON request other than a campaign.
	MaxJSONBytes = 8 << 20
	// MaxPeople is the most people one enroll request takes.
	MaxPeople = 10000
)

// campaignSource reads a campaign from the request body: YAML (one file,
// any Content-Type but JSON), JSON that is a campaign document (JSON is
// YAML), or a bundle of files as JSON: {"files": {"accounts.yaml":
// "...", "people.csv": "..."}}.
func campaignSource(w http.ResponseWriter, r *http.Request) (service.Source, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, service.MaxSourceBytes))
	if err != nil {
		return service.Source{}, err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return service.Source{}, &service.InputError{Msg: "empty body: send a campaign as YAML or JSON"}
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt == "application/json" {
		var bundle struct {
			Files map[string]string `json:"files"`
		}
		if err := json.Unmarshal(body, &bundle); err != nil {
			return service.Source{}, &service.InputError{Msg: "body: " + err.Error()}
		}
		if bundle.Files != nil {
			files := make(map[string][]byte, len(bundle.Files))
			for name, text := range bundle.Files {
				files[name] = []byte(text)
			}
			return service.Source{Files: files}, nil
		}
	}
	return service.Source{Files: map[string][]byte{"campaign.yaml": body}}, nil
}

// checkedBroadcast and checkedSequence summarise a checked campaign.
type checkedBroadcast struct {
	Name       string     `json:"name"`
	Account    string     `json:"account"`
	Recipients int        `json:"recipients"`
	Duplicates int        `json:"duplicates_removed"`
	StartAt    *time.Time `json:"start_at,omitempty"`
}

type checkedSequence struct {
	Name  string `json:"name"`
	Steps int    `json:"steps"`
}

type validation struct {
	Valid      bool               `json:"valid"`
	Accounts   int                `json:"accounts"`
	Broadcasts []checkedBroadcast `json:"broadcasts"`
	Sequences  []checkedSequence  `json:"sequences"`
	Warnings   []string           `json:"warnings"`
	Changes    []store.Change     `json:"changes,omitempty"`
	// Estimates are validate's (not apply's), as `scheduler validate`
	// prints them.
	Estimates *service.Estimates `json:"estimates,omitempty"`
}

// check reads and checks the request's campaign; it has answered (and
// returns nil) when the campaign is refused or unreadable.
func (s *Server) check(w http.ResponseWriter, r *http.Request, apply bool) *service.Checked {
	src, err := campaignSource(w, r)
	if err != nil {
		s.fail(w, r, err)
		return nil
	}
	offline := false
	if v := r.URL.Query().Get("offline"); v != "" && !apply {
		if offline, err = strconv.ParseBool(v); err != nil {
			writeError(w, http.StatusBadRequest, "bad_request", "offline: want true or false")
			return nil
		}
	}
	// Checking online reads the secrets a campaign names and sends them
	// to its accounts' base_url: only a token that may apply may do that.
	// A read-only token's validation is offline, whatever it asks.
	if tokenOf(r).Role != ReadWrite {
		offline = true
	}
	// A campaign sent here that reads secrets (an apply, an online
	// validation) uses accounts as the operator applied them: it cannot
	// define one, nor point an account's secrets at another host.
	chk, err := s.cfg.Service.Check(r.Context(), src, service.CheckOptions{Offline: offline, Apply: apply, StoredAccounts: apply || !offline})
	if err != nil {
		s.fail(w, r, err)
		return nil
	}
	if len(chk.Problems) > 0 {
		chk.Close()
		writeJSON(w, http.StatusUnprocessableEntity, apiError{Code: "invalid_campaign", Problems: chk.Problems, Warnings: chk.Warnings,
			Error: fmt.Sprintf("%d problem(s); nothing was written", len(chk.Problems))})
		return nil
	}
	return chk
}

func summary(chk *service.Checked) validation {
	v := validation{Valid: true, Accounts: len(chk.Bundle.Accounts), Broadcasts: []checkedBroadcast{}, Sequences: []checkedSequence{},
		Warnings: chk.Warnings}
	if v.Warnings == nil {
		v.Warnings = []string{}
	}
	for _, b := range chk.Bundle.Broadcasts {
		v.Broadcasts = append(v.Broadcasts, checkedBroadcast{Name: b.Name, Account: b.Account, Recipients: b.RecipientCount(),
			Duplicates: b.Duplicates, StartAt: b.StartAt})
	}
	for _, sq := range chk.Bundle.Sequences {
		v.Sequences = append(v.Sequences, checkedSequence{Name: sq.Name, Steps: len(sq.Steps)})
	}
	return v
}

func (s *Server) validate(w http.ResponseWriter, r *http.Request) {
	chk := s.check(w, r, false)
	if chk == nil {
		return
	}
	defer chk.Close()
	v := summary(chk)
	// The estimates read the database only (never a provider nor a
	// secret): a read-only token, whose validation is offline, gets them
	// too; asking offline=true leaves them out, as validate --offline.
	asked, _ := strconv.ParseBool(r.URL.Query().Get("offline"))
	var est service.Estimates
	switch {
	case asked:
		est = service.Estimate(r.Context(), nil, service.NotEstimatedOffline, chk.Bundle, s.cfg.Service.Clock())
	case s.cfg.Service.Store == nil:
		est = service.Estimate(r.Context(), nil, "not estimated (no database)", chk.Bundle, s.cfg.Service.Clock())
	default:
		est = service.Estimate(r.Context(), s.cfg.Service.Store, "", chk.Bundle, s.cfg.Service.Clock())
	}
	v.Warnings = append(v.Warnings, est.Warnings...)
	v.Estimates = &est
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) apply(w http.ResponseWriter, r *http.Request) {
	chk := s.check(w, r, true)
	if chk == nil {
		return
	}
	defer chk.Close()
	changes, err := s.cfg.Service.Apply(r.Context(), chk)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v := summary(chk)
	v.Changes = changes
	writeJSON(w, http.StatusOK, v)
}

// reply answers v, or err when there is one.
func (s *Server) reply(w http.ResponseWriter, r *http.Request, v any, err error) {
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// list is xs as a JSON list: [] rather than null when empty.
func list[T any](xs []T) []T {
	if xs == nil {
		return []T{}
	}
	return xs
}

func (s *Server) listBroadcasts(w http.ResponseWriter, r *http.Request) {
	reports, err := s.cfg.Service.Campaigns.All(r.Context())
	s.reply(w, r, map[string]any{"broadcasts": list(reports)}, err)
}

func (s *Server) getBroadcast(w http.ResponseWriter, r *http.Request) {
	rep, err := s.cfg.Service.Campaigns.Status(r.Context(), r.PathValue("name"))
	s.reply(w, r, rep, err)
}

// broadcastState is what a lifecycle verb answers.
type broadcastState struct {
	Name   string          `json:"name"`
	Status campaign.Status `json:"status"`
	Reason string          `json:"reason,omitempty"`
}

func (s *Server) lifecycle(verb service.Verb) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		b, err := s.cfg.Service.Lifecycle(r.Context(), verb, r.PathValue("name"))
		if err != nil {
			s.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, broadcastState{Name: b.Name, Status: b.Status, Reason: b.Reason})
	}
}

// retried is retry-failed's answer: the counts, and what each reason
// not to retry means.
type retried struct {
	campaign.RetryResult
	Why map[string]string `json:"why,omitempty"`
}

func (s *Server) retryFailed(w http.ResponseWriter, r *http.Request) {
	res, err := s.cfg.Service.RetryFailed(r.Context(), r.PathValue("name"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := retried{RetryResult: res}
	for reason := range res.NotRetried {
		if out.Why == nil {
			out.Why = map[string]string{}
		}
		out.Why[reason] = delivery.NotRetriedWhy[reason]
	}
	writeJSON(w, http.StatusOK, out)
}

// deliveryQuery reads a deliveries page's query: state, phone and limit
// (after is the route's). On a refusal it has answered, and ok is false.
func deliveryQuery(w http.ResponseWriter, r *http.Request) (f store.DeliveryFilter, limit int, ok bool) {
	q := r.URL.Query()
	if st := q.Get("state"); st != "" {
		f.Status = delivery.Status(st)
		known := false
		for _, s := range delivery.Statuses {
			known = known || s == f.Status
		}
		if !known {
			writeError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("state %q: want one of %v", st, delivery.Statuses))
			return f, 0, false
		}
	}
	if ph := q.Get("phone"); ph != "" {
		p, err := phone.Normalize(ph)
		if err != nil {
			writeError(w, http.StatusBadRequest, "bad_request", "phone: "+err.Error())
			return f, 0, false
		}
		f.Phone = p
	}
	limit = 100
	if v := q.Get("limit"); v != "" {
		var err error
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > service.MaxPage {
			writeError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("limit: want 1 to %d", service.MaxPage))
			return f, 0, false
		}
	}
	return f, limit, true
}

func (s *Server) deliveries(w http.ResponseWriter, r *http.Request) {
	f, limit, ok := deliveryQuery(w, r)
	if !ok {
		return
	}
	after := int64(0)
	if v := r.URL.Query().Get("after"); v != "" {
		var err error
		if after, err = strconv.ParseInt(v, 10, 64); err != nil || after < 0 {
			writeError(w, http.StatusBadRequest, "bad_request", "after: want the next cursor of the previous page")
			return
		}
	}
	page, err := s.cfg.Service.Deliveries(r.Context(), r.PathValue("name"), f, after, limit)
	s.reply(w, r, page, err)
}

func (s *Server) sequenceDeliveries(w http.ResponseWriter, r *http.Request) {
	f, limit, ok := deliveryQuery(w, r)
	if !ok {
		return
	}
	page, err := s.cfg.Service.SequenceDeliveries(r.Context(), r.PathValue("name"), f, r.URL.Query().Get("after"), limit)
	s.reply(w, r, page, err)
}

// flushWriter pushes each chunk of an export to the client and extends
// the connection's write deadline as it goes: an export of millions of rows
// outlasts the server's write timeout, one chunk never does.
type flushWriter struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

func (f flushWriter) Write(p []byte) (int, error) { return f.w.Write(p) }

func (f flushWriter) Flush() {
	_ = f.rc.Flush()
	_ = f.rc.SetWriteDeadline(time.Now().Add(time.Minute))
}

func (s *Server) export(kind service.Kind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name, format := r.PathValue("name"), r.URL.Query().Get("format")
		if format == "" {
			format = "jsonl"
		}
		enc, ok := service.Encoders[format]
		if !ok {
			writeError(w, http.StatusBadRequest, "bad_request", "format: want jsonl or csv")
			return
		}
		// The name must be of the route's kind, checked before anything
		// is written: an error after the first row cannot be a status.
		var err error
		if kind == service.KindBroadcast {
			_, err = s.cfg.Service.Store.BroadcastByName(r.Context(), name)
		} else {
			_, _, err = s.cfg.Service.Sequences.Target(r.Context(), name)
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		ct := "application/jsonl"
		if format == "csv" {
			ct = "text/csv; charset=utf-8"
		}
		w.Header().Set("Content-Type", ct)
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s.%s"`, safeFileName(name), format))
		fw := flushWriter{w: w, rc: http.NewResponseController(w)}
		if err := s.cfg.Service.ExportTo(r.Context(), name, enc(fw)); err != nil {
			// The status is sent: the client sees a cut answer (no
			// final newline / a short CSV); the log says why.
			s.cfg.Logger.ErrorContext(r.Context(), "api: export cut short", slog.String("name", name), slog.String("error", err.Error()))
		}
	}
}

func safeFileName(name string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x80 && (r == '-' || r == '_' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return r
		}
		return '_'
	}, name)
}

func (s *Server) listSequences(w http.ResponseWriter, r *http.Request) {
	reports, err := s.cfg.Service.Sequences.Reports(r.Context())
	s.reply(w, r, map[string]any{"sequences": list(reports)}, err)
}

func (s *Server) getSequence(w http.ResponseWriter, r *http.Request) {
	rep, err := s.cfg.Service.Sequences.Report(r.Context(), r.PathValue("name"))
	s.reply(w, r, rep, err)
}

// readJSON decodes the request's JSON body into v (unknown fields
// refused), at most MaxJSONBytes.
func readJSON(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, MaxJSONBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return err
		}
		return &service.InputError{Msg: "body: " + err.Error()}
	}
	return nil
}

// personIn is one person to enroll.
type personIn struct {
	Phone string            `json:"phone"`
	Name  string            `json:"name,omitempty"`
	Vars  map[string]string `json:"vars,omitempty"`
}

type enrollIn struct {
	People []personIn `json:"people"`
}

type enrollOut struct {
	Enrolled int `json:"enrolled"`
	Skipped  int `json:"skipped"`
	OptedOut int `json:"opted_out"`
}

// phones normalises the phones of a request; a bad one is a problem named
// by its place (field[i]).
func phones(field string, raw []string) ([]string, []service.Problem) {
	var out []string
	var probs []service.Problem
	for i, p := range raw {
		n, err := phone.Normalize(p)
		if err != nil {
			f := fmt.Sprintf("%s[%d]", field, i)
			probs = append(probs, service.Problem{Field: f, Message: err.Error(), Text: f + ": " + err.Error()})
			continue
		}
		out = append(out, n)
	}
	return out, probs
}

func refusePhones(w http.ResponseWriter, probs []service.Problem) {
	writeJSON(w, http.StatusUnprocessableEntity, apiError{Error: fmt.Sprintf("%d problem(s); nothing was changed", len(probs)),
		Code: "invalid_phone", Problems: probs})
}

// phoneBatch checks a request's phones: 1 to MaxPeople, each a number
// that normalises (a bad one is a problem named field[i]). On a refusal it
// has answered, and ok is false.
func phoneBatch(w http.ResponseWriter, field string, raw []string) (norm []string, ok bool) {
	if len(raw) == 0 || len(raw) > MaxPeople {
		writeError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("%s: want 1 to %d phones", field, MaxPeople))
		return nil, false
	}
	norm, probs := phones(field, raw)
	if len(probs) > 0 {
		refusePhones(w, probs)
		return nil, false
	}
	return norm, true
}

func (s *Server) enroll(w http.ResponseWriter, r *http.Request) {
	var in enrollIn
	if err := readJSON(w, r, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	raw := make([]string, len(in.People))
	for i, p := range in.People {
		raw[i] = p.Phone
	}
	norm, ok := phoneBatch(w, "people.phone", raw)
	if !ok {
		return
	}
	people := make([]spec.Person, len(in.People))
	for i, p := range in.People {
		people[i] = spec.Person{Recipient: spec.Recipient{Phone: norm[i], Name: p.Name, Vars: p.Vars},
			Pos: spec.Pos{File: fmt.Sprintf("people[%d]", i)}}
	}
	res, err := s.cfg.Service.Enroll(r.Context(), r.PathValue("name"),
		func(context.Context) iter.Seq2[spec.Person, error] { return spec.Persons(people...) }, service.EnrollOptions{Count: len(people)})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, enrollOut{Enrolled: res.Enrolled, Skipped: res.Skipped, OptedOut: res.OptedOut})
}

type unenrollIn struct {
	Phones []string `json:"phones"`
	Reason string   `json:"reason,omitempty"`
}

type unenrollOut struct {
	Unenrolled []string `json:"unenrolled"`
	NotActive  []string `json:"not_active"`
}

func (s *Server) unenroll(w http.ResponseWriter, r *http.Request) {
	var in unenrollIn
	if err := readJSON(w, r, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	norm, ok := phoneBatch(w, "phones", in.Phones)
	if !ok {
		return
	}
	reason := in.Reason
	if reason == "" {
		reason = "unenrolled through the API by " + tokenOf(r).Name
	}
	out := unenrollOut{Unenrolled: []string{}, NotActive: []string{}}
	for _, p := range norm {
		ok, err := s.cfg.Service.Unenroll(r.Context(), r.PathValue("name"), p, reason)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if ok {
			out.Unenrolled = append(out.Unenrolled, p)
		} else {
			out.NotActive = append(out.NotActive, p)
		}
	}
	writeJSON(w, http.StatusOK, out)
}

type exitIn struct {
	Phones []string `json:"phones"`
	On     string   `json:"on"`
}

func (s *Server) exit(w http.ResponseWriter, r *http.Request) {
	var in exitIn
	if err := readJSON(w, r, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	if in.On != "reply" && in.On != "unsubscribe" {
		writeError(w, http.StatusBadRequest, "bad_request", "on: want reply or unsubscribe")
		return
	}
	norm, ok := phoneBatch(w, "phones", in.Phones)
	if !ok {
		return
	}
	exited := map[string][]string{}
	for _, p := range norm {
		names, err := s.cfg.Service.Exit(r.Context(), p, in.On)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if names == nil {
			names = []string{}
		}
		exited[p] = names
	}
	writeJSON(w, http.StatusOK, map[string]any{"exited": exited})
}

type testSendIn struct {
	Campaign string            `json:"campaign"`
	Step     int               `json:"step,omitempty"`
	Phone    string            `json:"phone"`
	Name     string            `json:"name,omitempty"`
	Vars     map[string]string `json:"vars,omitempty"`
}

func (s *Server) testSend(w http.ResponseWriter, r *http.Request) {
	var in testSendIn
	if err := readJSON(w, r, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	if in.Campaign == "" {
		writeError(w, http.StatusBadRequest, "bad_request", "campaign: the broadcast or sequence whose message to send")
		return
	}
	norm, probs := phones("phone", []string{in.Phone})
	if len(probs) > 0 {
		refusePhones(w, probs)
		return
	}
	res, err := s.cfg.Service.TestSend(r.Context(), service.TestSendRequest{Campaign: in.Campaign, Step: in.Step, Phone: norm[0],
		Name: in.Name, Vars: in.Vars, RequestedBy: tokenOf(r).Name})
	s.reply(w, r, res, err)
}
