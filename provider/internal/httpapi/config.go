package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/wacamp/wacamp/provider"
)

// Problems collects what is wrong with a driver's configuration, so that
// its Validate reports every problem at once. Each problem is prefixed
// with the driver's name and names a field, never a secret's value.
type Problems struct {
	provider string
	errs     []error
}

// Check starts collecting the problems of provider's configuration.
func Check(provider string) *Problems { return &Problems{provider: provider} }

// Addf notes one problem. Its text must hold no secret.
func (p *Problems) Addf(format string, args ...any) {
	p.errs = append(p.errs, fmt.Errorf("%s: %s", p.provider, fmt.Sprintf(format, args...)))
}

// Require notes field as missing when its value is empty.
func (p *Problems) Require(field, value string) {
	if value == "" {
		p.Addf("%s must be set", field)
	}
}

// BaseURL notes what is wrong with raw as the driver's BaseURL, which is
// never printed (it may hold a password): it must be an absolute http(s)
// URL, and unless allowUser it must not carry credentials (user:password@,
// or an '@' in a text url.Parse refuses), as a transport error would show
// them. Empty raw is no problem: Require a BaseURL the driver has no
// default for.
func (p *Problems) BaseURL(raw string, allowUser bool) {
	if raw == "" {
		return
	}
	u, err := url.Parse(raw)
	switch {
	case !allowUser && ((err == nil && u.User != nil) || strings.Contains(raw, "@")):
		p.Addf("BaseURL must not carry credentials (user:password@)")
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		p.Addf("BaseURL must be an absolute http(s) URL")
	}
}

// Err returns every problem noted, joined, or nil when there is none.
func (p *Problems) Err() error { return errors.Join(p.errs...) }

// Unsupported gives a driver's Client that has neither a conversation
// history nor status polling (statuses arrive by webhook only) its
// Conversation and MessageStatus (through Base): both return an error
// wrapping provider.ErrUnsupported without calling the provider.
type Unsupported struct{ provider string }

// Conversation returns an error wrapping provider.ErrUnsupported without
// calling the provider: its API has no conversation history.
func (u Unsupported) Conversation(ctx context.Context, phone string, limit int) ([]provider.ConversationMessage, error) {
	return nil, fmt.Errorf("%s conversation: %w", u.provider, provider.ErrUnsupported)
}

// MessageStatus returns an error wrapping provider.ErrUnsupported without
// calling the provider: its API pushes statuses by webhook only.
func (u Unsupported) MessageStatus(ctx context.Context, wamid string) (provider.StatusReport, error) {
	return provider.StatusReport{}, fmt.Errorf("%s message-status: %w", u.provider, provider.ErrUnsupported)
}
