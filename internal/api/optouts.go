package api

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"

	"github.com/wacamp/wacamp/consent"
	"github.com/wacamp/wacamp/internal/service"
)

// The suppression list's routes call service.Optouts, as `scheduler
// optout …` does: the same checks, defaults and results.

// optoutIn is one person to put on, or take off, an account's list.
type optoutIn struct {
	Account string `json:"account,omitempty"`
	Phone   string `json:"phone"`
	Scope   string `json:"scope,omitempty"`
	Reason  string `json:"reason,omitempty"`
}

func (s *Server) optoutAdd(w http.ResponseWriter, r *http.Request) {
	var in optoutIn
	if err := readJSON(w, r, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	reason := in.Reason
	if reason == "" {
		reason = "added through the API by " + tokenOf(r).Name
	}
	res, err := s.cfg.Service.Optouts().Add(r.Context(), service.OptoutEntry{Account: in.Account, Phone: in.Phone, Scope: in.Scope,
		Reason: reason}, consent.SourceAPI)
	s.reply(w, r, res, err)
}

func (s *Server) optoutRemove(w http.ResponseWriter, r *http.Request) {
	var in optoutIn
	if err := readJSON(w, r, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	if in.Reason != "" {
		writeError(w, http.StatusBadRequest, "bad_request", "reason: a removal takes none")
		return
	}
	res, err := s.cfg.Service.Optouts().Remove(r.Context(), service.OptoutEntry{Account: in.Account, Phone: in.Phone, Scope: in.Scope})
	s.reply(w, r, res, err)
}

func (s *Server) optoutList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit := 100
	if v := q.Get("limit"); v != "" {
		var err error
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > service.MaxPage {
			writeError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("limit: want 1 to %d", service.MaxPage))
			return
		}
	}
	page, err := s.cfg.Service.Optouts().Page(r.Context(), q.Get("account"), q.Get("after"), limit)
	s.reply(w, r, page, err)
}

func (s *Server) optoutExport(w http.ResponseWriter, r *http.Request) {
	account := r.URL.Query().Get("account")
	svc := s.cfg.Service.Optouts()
	// The account is checked before anything is written: an error after
	// the header cannot be a status.
	if account != "" {
		if _, err := svc.Account(r.Context(), account); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="optouts.csv"`)
	fw := flushWriter{w: w, rc: http.NewResponseController(w)}
	if _, err := svc.Export(r.Context(), account, fw); err != nil {
		s.cfg.Logger.ErrorContext(r.Context(), "api: opt-out export cut short", slog.String("error", err.Error()))
	}
}

// optoutImport streams the CSV body to a temporary file (at most
// service.MaxSourceBytes), which service.Optouts.Import reads twice: every
// row is checked before any is written.
func (s *Server) optoutImport(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	dir, err := os.MkdirTemp("", "wacamp-optout-import-")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "optouts.csv")
	if err := spool(path, http.MaxBytesReader(w, r.Body, service.MaxSourceBytes)); err != nil {
		s.fail(w, r, err)
		return
	}
	reason := q.Get("reason")
	if reason == "" {
		reason = "imported through the API by " + tokenOf(r).Name
	}
	res, err := s.cfg.Service.Optouts().Import(r.Context(), service.OptoutImport{Account: q.Get("account"), Path: path, Name: "body",
		Scope: q.Get("scope"), Reason: reason})
	s.reply(w, r, res, err)
}

// spool copies body into a new file at path.
func spool(path string, body io.Reader) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600) // #nosec G304 -- our own temporary directory
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, body); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// failOptout answers the suppression list's own errors; false when err is
// none of them.
func failOptout(w http.ResponseWriter, err error) bool {
	var refused *service.ImportRefused
	switch {
	case errors.As(err, &refused):
		probs := make([]service.Problem, len(refused.Problems))
		for i, p := range refused.Problems {
			probs[i] = service.Problem{File: p.File, Line: p.Line, Field: p.Field, Message: p.Msg, Text: p.String()}
		}
		writeJSON(w, http.StatusUnprocessableEntity, apiError{Error: refused.Error(), Code: "invalid_rows", Problems: probs})
	case errors.Is(err, service.ErrNoAccount):
		writeError(w, http.StatusNotFound, "no_account", err.Error())
	default:
		return false
	}
	return true
}
