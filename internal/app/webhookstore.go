package app

import (
	"context"
	"time"

	"github.com/wacamp/wacamp/provider"
	"github.com/wacamp/wacamp/store"
	"github.com/wacamp/wacamp/webhook"
)

// WebhookStore gives the webhook package what it declares it needs
// (webhook.Accounts, Inbox, Store and KeptStore) from the store, so that
// webhook imports neither the store nor gorm.
type WebhookStore struct{ DB *store.DB }

var (
	_ webhook.Accounts  = WebhookStore{}
	_ webhook.Inbox     = WebhookStore{}
	_ webhook.Store     = WebhookStore{}
	_ webhook.KeptStore = WebhookStore{}
)

// WebhookAccounts lists the accounts that take webhooks.
func (s WebhookStore) WebhookAccounts(ctx context.Context) ([]webhook.Account, error) {
	rows, err := s.DB.WebhookAccounts(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]webhook.Account, len(rows))
	for i, a := range rows {
		out[i] = webhook.Account{ID: a.ID, Name: a.Name, Provider: a.Provider, SecretRef: a.WebhookSecretRef}
	}
	return out, nil
}

// KeepWebhook keeps a webhook's events the queue could not take.
func (s WebhookStore) KeepWebhook(ctx context.Context, accountID int64, payload []byte, now time.Time) error {
	return s.DB.KeepWebhook(ctx, accountID, payload, now)
}

// ApplyWebhookEvents applies one webhook's events.
func (s WebhookStore) ApplyWebhookEvents(ctx context.Context, accountID int64, events []provider.Event, now time.Time) (webhook.Result, error) {
	r, err := s.DB.ApplyWebhookEvents(ctx, accountID, events, now)
	return webhook.Result{Applied: r.Applied, Kept: r.Kept, Ignored: r.Ignored, Settled: r.Settled, Exited: r.Exited}, err
}

// SweepWebhookEvents matches kept statuses to their messages.
func (s WebhookStore) SweepWebhookEvents(ctx context.Context, now time.Time, keep time.Duration) (applied, dropped int, err error) {
	return s.DB.SweepWebhookEvents(ctx, now, keep)
}

// ClaimKeptWebhooks claims kept webhooks for applying.
func (s WebhookStore) ClaimKeptWebhooks(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]webhook.Kept, error) {
	rows, err := s.DB.ClaimKeptWebhooks(ctx, now, lease, limit)
	if err != nil {
		return nil, err
	}
	out := make([]webhook.Kept, len(rows))
	for i, k := range rows {
		out[i] = webhook.Kept{ID: k.ID, AccountID: k.AccountID, Payload: k.Payload, Claim: k.Claim}
	}
	return out, nil
}

// ForgetKeptWebhook forgets a kept webhook once applied.
func (s WebhookStore) ForgetKeptWebhook(ctx context.Context, k webhook.Kept) (bool, error) {
	return s.DB.ForgetKeptWebhook(ctx, store.KeptWebhook{ID: k.ID, AccountID: k.AccountID, Payload: k.Payload, Claim: k.Claim})
}
