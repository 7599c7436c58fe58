package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/provider/drivers"
	"github.com/wacamp/wacamp/spec"
)

// Senders builds and caches one provider client per account, resolving the
// account's token from this process's environment or secret file.
type Senders struct {
	Getenv     func(string) string
	HTTPClient *http.Client
	Logger     *slog.Logger

	mu      sync.Mutex
	clients map[delivery.Account]delivery.Sender
}

var _ delivery.Senders = (*Senders)(nil)

// Sender returns the client of account a.
func (s *Senders) Sender(_ context.Context, a delivery.Account) (delivery.Sender, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.clients[a]; ok {
		return c, nil
	}
	d, ok := drivers.Lookup(a.Provider)
	if !ok || d.New == nil {
		return nil, fmt.Errorf("provider %q is not supported", a.Provider)
	}
	token, err := spec.ResolveToken(a.TokenRef, s.Getenv)
	if err != nil {
		return nil, fmt.Errorf("api token: %w", err)
	}
	var secret string
	if a.SecretRef != "" {
		if secret, err = spec.ResolveToken(a.SecretRef, s.Getenv); err != nil {
			return nil, fmt.Errorf("api secret: %w", err)
		}
	}
	client, err := d.New(drivers.Settings{BaseURL: a.BaseURL, Token: token, Secret: secret, PhoneNumberID: a.PhoneNumberID,
		WhatsAppBotID: a.WhatsAppBotID, SessionID: a.SessionID, HTTPClient: s.httpClient(), Logger: s.Logger})
	if err != nil {
		return nil, fmt.Errorf("account %s: %w", a.Name, err)
	}
	var c delivery.Sender = client
	if s.clients == nil {
		s.clients = map[delivery.Account]delivery.Sender{}
	}
	s.clients[a] = c
	return c, nil
}

func (s *Senders) httpClient() *http.Client {
	if s.HTTPClient != nil {
		return s.HTTPClient
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	// Keep a connection for every send a worker may have in flight
	// (concurrency × batch parallelism: 50 × 4 by default): a send that
	// finds none idle dials a new one and a returned one over the limit is
	// closed, which costs more CPU than the request itself on a fast
	// provider.
	t.MaxIdleConns, t.MaxIdleConnsPerHost = 0, 256
	s.HTTPClient = &http.Client{Timeout: 30 * time.Second, Transport: t}
	return s.HTTPClient
}

// AccountLister lists the applied accounts (store.DB satisfies it).
type AccountLister interface {
	Accounts(ctx context.Context) ([]delivery.Account, error)
}

// Unusable returns, by account name, why this process cannot send for
// each applied account whose credentials it cannot resolve (an unset
// environment variable, an unreadable secret file). Every worker takes
// every account's sends from the one queue, and a send it cannot make
// pauses its account's broadcasts: a worker says so when it starts.
func (s *Senders) Unusable(ctx context.Context, accounts AccountLister) (map[string]error, error) {
	all, err := accounts.Accounts(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]error{}
	for _, a := range all {
		if _, err := s.Sender(ctx, a); err != nil {
			out[a.Name] = err
		}
	}
	return out, nil
}
