package service

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/wacamp/wacamp/campaign"
	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/internal/app"
	"github.com/wacamp/wacamp/provider"
	"github.com/wacamp/wacamp/provider/drivers"
	"github.com/wacamp/wacamp/spec"
	"github.com/wacamp/wacamp/store"
	"github.com/wacamp/wacamp/webhook"
)

// Source is where campaign files come from: a path (a file or a
// directory, as `scheduler apply -f`), or files given as bytes (the HTTP
// API), by base name.
type Source struct {
	Path  string
	Files map[string][]byte
}

// MaxFiles and MaxSourceBytes bound a Source given as bytes: it is
// untrusted input (the body of an HTTP request).
const (
	MaxFiles       = 64
	MaxSourceBytes = 32 << 20
)

// CheckOptions says how to check.
type CheckOptions struct {
	// Offline reads no secret and calls no provider (validate --offline).
	Offline bool
	// Apply checks for an apply: a broadcast already stored with its start
	// may keep a start that has passed (it ran). Needs the store.
	Apply bool
	// Progress is told how reading large CSV audiences goes.
	Progress func(spec.Progress)
	// StoredAccounts refuses an account that is not stored with the same
	// provider, base URL and secret references (campaigns sent through
	// the HTTP API): a caller cannot point a secret of the server's at a
	// host of their choosing, nor define an account. Needs the store.
	StoredAccounts bool
}

// Problem is one reason a campaign is refused, as validate prints it:
// Text is the line (file:line: field: message, or the message of a
// check that has no position); the other fields are its parts when known.
type Problem struct {
	File    string `json:"file,omitempty"`
	Line    int    `json:"line,omitempty"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
	Text    string `json:"text"`
}

// Checked is a campaign that was checked: its Bundle when it passed, the
// warnings, and the problems that refuse it (nothing may be written).
// Close it when done (a Source given as bytes lives in a temporary
// directory until then: apply reads its CSV files once more).
type Checked struct {
	Bundle   *spec.Bundle
	Warnings []string
	Problems []Problem
	cleanup  func()
}

// Close removes what Check wrote for a Source given as bytes.
func (c *Checked) Close() {
	if c != nil && c.cleanup != nil {
		c.cleanup()
		c.cleanup = nil
	}
}

// Check loads and checks campaign files as validate and apply do, every
// problem at once: the files themselves (spec), start times, and unless
// offline each account at its provider and its webhook secret's strength.
// A refused campaign is a Checked with Problems, not an error; an error
// is a failure to check (the context ended, the database).
func (s *Service) Check(ctx context.Context, src Source, opts CheckOptions) (*Checked, error) {
	c := &Checked{}
	path, shown := src.Path, func(s string) string { return s }
	if src.Files != nil {
		dir, err := writeSource(src.Files)
		if err != nil {
			return nil, err
		}
		c.cleanup = func() { _ = os.RemoveAll(dir) }
		path = dir
		// Problems name the files as they were given, not where they lie.
		shown = strings.NewReplacer(dir+string(filepath.Separator), "", dir, ".").Replace
	}
	refused := func(ve *spec.ValidationError) *Checked {
		c.Warnings = nil
		for _, p := range ve.Problems {
			p.File = shown(p.File)
			c.Problems = append(c.Problems, Problem{File: p.File, Line: p.Line, Field: p.Field, Message: shown(p.Msg), Text: shown(p.String())})
		}
		return c
	}
	bundle, err := spec.LoadWith(ctx, path, s.Getenv, drivers.Catalog{}, spec.LoadOptions{Offline: opts.Offline, Progress: opts.Progress})
	var ve *spec.ValidationError
	if errors.As(err, &ve) {
		return refused(ve), nil
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	applied := func(spec.Broadcast) bool { return false }
	if opts.Apply {
		if s.Store == nil {
			c.Close()
			return nil, errors.New("apply needs the database")
		}
		applied = func(b spec.Broadcast) bool {
			cur, err := s.Store.BroadcastByName(ctx, b.Name)
			return err == nil && cur.StartAt.Equal(*b.StartAt)
		}
	}
	if opts.StoredAccounts {
		problems, err := s.storedAccounts(ctx, bundle)
		if err != nil {
			c.Close()
			return nil, err
		}
		if len(problems) > 0 {
			return refused(&spec.ValidationError{Problems: problems}), nil
		}
	}
	startWarnings, err := bundle.CheckStarts(s.now(), applied)
	if errors.As(err, &ve) {
		return refused(ve), nil
	}
	c.Bundle = bundle
	c.Warnings = append(append(c.Warnings, bundle.Warnings...), startWarnings...)
	if !opts.Offline {
		warnings, problems := s.checkPlans(ctx, bundle)
		// The receiver refuses a weak webhook secret: every status of that
		// account would be lost, so it is a problem, not a warning.
		problems = append(problems, weakWebhookSecrets(bundle, s.Getenv)...)
		c.Warnings = append(c.Warnings, warnings...)
		for _, p := range problems {
			c.Problems = append(c.Problems, Problem{Message: shown(p), Text: shown(p)})
		}
	}
	for i, w := range c.Warnings {
		c.Warnings[i] = shown(w)
	}
	return c, nil
}

// writeSource writes files into a new private temporary directory, each
// by its base name (a name with a directory part, or that is not a
// campaign or CSV file, is refused).
func writeSource(files map[string][]byte) (string, error) {
	if len(files) == 0 {
		return "", &InputError{Msg: "no campaign file"}
	}
	if len(files) > MaxFiles {
		return "", &InputError{Msg: fmt.Sprintf("%d files; at most %d", len(files), MaxFiles)}
	}
	total := 0
	for name, data := range files {
		ext := strings.ToLower(filepath.Ext(name))
		if name != filepath.Base(name) || strings.HasPrefix(name, ".") || (ext != ".yaml" && ext != ".yml" && ext != ".csv") {
			return "", &InputError{Msg: fmt.Sprintf("file name %q: want a plain name ending in .yaml, .yml or .csv", name)}
		}
		total += len(data)
	}
	if total > MaxSourceBytes {
		return "", &InputError{Msg: fmt.Sprintf("the files hold %d bytes; at most %d", total, MaxSourceBytes)}
	}
	dir, err := os.MkdirTemp("", "wacamp-campaign-")
	if err != nil {
		return "", fmt.Errorf("campaign files: %w", err)
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			_ = os.RemoveAll(dir)
			return "", fmt.Errorf("campaign files: %w", err)
		}
	}
	return dir, nil
}

// InputError is input refused before it is checked (too large, a bad file
// name): the caller's mistake.
type InputError struct{ Msg string }

func (e *InputError) Error() string { return e.Msg }

// Apply writes a checked campaign (accounts, broadcasts with their
// audiences, sequence versions) in one transaction; applying the same
// files again changes nothing. A Checked with problems is refused.
func (s *Service) Apply(ctx context.Context, c *Checked) ([]store.Change, error) {
	if c == nil || c.Bundle == nil || len(c.Problems) > 0 {
		return nil, errors.New("apply: the campaign was refused")
	}
	return s.Store.Apply(ctx, c.Bundle, s.now())
}

// storedAccounts returns a problem for each of b's accounts that is not
// stored, or is stored with another provider, base URL or secret
// reference (CheckOptions.StoredAccounts).
func (s *Service) storedAccounts(ctx context.Context, b *spec.Bundle) ([]spec.Problem, error) {
	if s.Store == nil {
		return nil, errors.New("checking accounts against the stored ones needs the database")
	}
	var problems []spec.Problem
	for _, a := range b.Accounts {
		cur, ok, err := s.Store.AccountEndpointOf(ctx, a.Name)
		if err != nil {
			return nil, err
		}
		want := store.AccountEndpoint{Provider: a.Provider, BaseURL: a.BaseURL, TokenRef: a.TokenRef, SecretRef: a.SecretRef, WebhookSecretRef: a.WebhookSecretRef}
		switch {
		case !ok:
			problems = append(problems, spec.Problem{File: a.Pos.File, Line: a.Pos.Line, Field: "accounts", Msg: fmt.Sprintf("account %q is not applied: accounts are applied by the operator (scheduler apply); through the HTTP API a campaign uses them as applied", a.Name)})
		case cur != want:
			problems = append(problems, spec.Problem{File: a.Pos.File, Line: a.Pos.Line, Field: "accounts", Msg: fmt.Sprintf("account %q differs from the applied one in its provider, base_url or secrets: through the HTTP API these stay as the operator applied them (scheduler apply)", a.Name)})
		}
	}
	return problems, nil
}

// accountInfoer is a provider client that can read the account's plan.
type accountInfoer interface {
	AccountInfo(ctx context.Context) (provider.AccountInfo, error)
}

// checkPlans asks each account's provider for its plan limits and warns
// about broadcasts that would exceed them. An account the provider refuses
// (an invalid or expired token, an unknown or disconnected account: an
// account-level answer) is a problem: nothing of it could be sent. Not
// reaching the provider is a warning: validation must not depend on the
// provider being up.
func (s *Service) checkPlans(ctx context.Context, b *spec.Bundle) (warnings, problems []string) {
	senders := &app.Senders{Getenv: s.Getenv}
	infos := map[string]provider.AccountInfo{}
	for _, a := range b.Accounts {
		if caps, ok := drivers.CapabilitiesOf(a.Provider); !ok || !caps.AccountInfo {
			continue // the API tells nothing about the plan
		}
		sd, err := senders.Sender(ctx, delivery.Account{Name: a.Name, Provider: a.Provider, BaseURL: a.BaseURL,
			TokenRef: a.TokenRef, SecretRef: a.SecretRef, SessionID: a.SessionID, PhoneNumberID: a.PhoneNumberID, WhatsAppBotID: a.WhatsAppBotID})
		if err != nil {
			warnings = append(warnings, fmt.Sprintf("account %s: cannot check plan limits: %v", a.Name, err))
			continue
		}
		ai, ok := sd.(accountInfoer)
		if !ok {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		info, err := ai.AccountInfo(cctx)
		cancel()
		var pe *provider.Error
		switch {
		case errors.As(err, &pe) && pe.Class == provider.ClassHaltAccount:
			problems = append(problems, fmt.Sprintf("%s: account %s: the provider refuses the account (check api_token and the account's ids): %v", a.Pos, a.Name, err))
		case errors.As(err, &pe) && (pe.HTTPStatus == http.StatusNotFound || pe.HTTPStatus == http.StatusMethodNotAllowed):
			warnings = append(warnings, fmt.Sprintf("account %s: cannot check plan limits: the provider has no such path (HTTP %d): check base_url "+
				"(BotSailor's ends in /api/v1); a host without this call can ignore this, but sends to a wrong base_url halt their campaign: %v",
				a.Name, pe.HTTPStatus, err))
		case err != nil:
			warnings = append(warnings, fmt.Sprintf("account %s: cannot check plan limits: %v", a.Name, err))
		default:
			infos[a.Name] = info
			if ids := info.PhoneNumberIDs; len(ids) > 0 && a.PhoneNumberID != "" && !slices.Contains(ids, a.PhoneNumberID) {
				warnings = append(warnings, fmt.Sprintf("account %s: phone_number_id %s is not among the numbers the provider lists for this api_token (%s): "+
					"its sends will be refused", a.Name, a.PhoneNumberID, strings.Join(ids, ", ")))
			}
		}
	}
	for _, bc := range b.Broadcasts {
		if info, ok := infos[bc.Account]; ok {
			warnings = append(warnings, campaign.LimitWarnings(bc.Name, bc.RecipientCount(), info)...)
		}
	}
	return warnings, problems
}

// weakWebhookSecrets names each account whose webhook secret is shorter
// than webhook.MinSecretLen: the receiver refuses its webhooks, so validate
// and apply refuse it. The secret itself is never shown.
func weakWebhookSecrets(b *spec.Bundle, getenv func(string) string) []string {
	var out []string
	for _, a := range b.Accounts {
		if a.WebhookSecretRef == "" {
			continue
		}
		if s, err := spec.ResolveToken(a.WebhookSecretRef, getenv); err == nil && len(s) < webhook.MinSecretLen {
			out = append(out, fmt.Sprintf("account %s: webhook_secret is shorter than %d characters; the webhook receiver refuses this account's webhooks (e.g. openssl rand -hex 16)", a.Name, webhook.MinSecretLen))
		}
	}
	return out
}
