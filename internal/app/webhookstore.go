package app

import (
	"context"
	"time"

	"github.com/wacamp/wacamp/delivery"
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
		out[i] = webhook.Account{ID: a.ID, Name: a.Name, Provider: a.Provider, SecretRef: a.WebhookSecretRef, Keywords: a.Keywords}
	}
	return out, nil
}

// KeepWebhook keeps a webhook's events the queue could not take.
func (s WebhookStore) KeepWebhook(ctx context.Context, accountID int64, payload []byte, now time.Time) error {
	return s.DB.KeepWebhook(ctx, accountID, payload, now)
}

// ApplyWebhookEvents applies one webhook's events, received at received.
func (s WebhookStore) ApplyWebhookEvents(ctx context.Context, accountID int64, events []provider.Event, received, now time.Time) (webhook.Result, error) {
	return s.DB.ApplyReceivedWebhookEvents(ctx, accountID, events, received, now)
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

// PendingWebhooks is the send engine's view of the status webhooks on their
// way to the database (campaign.PendingWebhooks): those the receiver
// recorded in Redis and no worker has applied yet (webhook.Pending), and
// those kept in webhook_inbox because Redis could not take them. The inbox
// is looked at per account, not per phone: it is only used while Redis
// fails, and its rows are applied within seconds. An inbox row older than
// webhook.PendingStale, like a stale recording, holds nothing back.
type PendingWebhooks struct {
	Pending *webhook.Pending
	DB      *store.DB
}

var _ delivery.PendingWebhooks = PendingWebhooks{}

// WebhooksPending reports whether a webhook about phone of the account
// reached the receiver at or after since and is not applied yet.
func (p PendingWebhooks) WebhooksPending(ctx context.Context, accountID int64, phone string, since, now time.Time) (bool, error) {
	if ok, err := p.Pending.Since(ctx, accountID, phone, since, now); err != nil || ok {
		return ok, err
	}
	return p.DB.KeptWebhookSince(ctx, accountID, later(since, now.Add(-webhook.PendingStale)))
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
