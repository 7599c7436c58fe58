package store_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/store"
)

// An Idempotency-Key is claimed once per owner, answers what was recorded,
// is forgotten when released or after its time, and test sends are
// recorded apart from any campaign: on Postgres and on SQLite.
func TestIdempotencyKeysAndTestSends(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		claimed, _, err := f.db.ClaimIdempotencyKey(f.ctx, "crm", "k1", "h1", time.Hour, at(0))
		require.NoError(t, err)
		require.True(t, claimed)
		claimed, rec, err := f.db.ClaimIdempotencyKey(f.ctx, "crm", "k1", "h1", time.Hour, at(time.Second))
		require.NoError(t, err)
		require.False(t, claimed, "claimed twice")
		require.Equal(t, "h1", rec.RequestHash)
		require.Zero(t, rec.Status, "still being answered")
		claimed, _, err = f.db.ClaimIdempotencyKey(f.ctx, "other", "k1", "h2", time.Hour, at(time.Second))
		require.NoError(t, err)
		require.True(t, claimed, "keys belong to their owner")

		require.NoError(t, f.db.FinishIdempotencyKey(f.ctx, "crm", "k1", 200, "application/json", []byte(`{"ok":true}`)))
		_, rec, err = f.db.ClaimIdempotencyKey(f.ctx, "crm", "k1", "h1", time.Hour, at(2*time.Second))
		require.NoError(t, err)
		require.Equal(t, 200, rec.Status)
		require.JSONEq(t, `{"ok":true}`, string(rec.Body))
		require.NoError(t, f.db.ReleaseIdempotencyKey(f.ctx, "crm", "k1"), "an answered key stays")
		_, err = f.db.IdempotencyKey(f.ctx, "crm", "k1")
		require.NoError(t, err)
		require.NoError(t, f.db.ReleaseIdempotencyKey(f.ctx, "other", "k1"))
		_, err = f.db.IdempotencyKey(f.ctx, "other", "k1")
		require.ErrorIs(t, err, delivery.ErrNotFound, "a released key is forgotten")
		claimed, _, err = f.db.ClaimIdempotencyKey(f.ctx, "crm", "k1", "h3", time.Hour, at(2*time.Hour))
		require.NoError(t, err)
		require.True(t, claimed, "an old key is forgotten")

		ts := store.TestSend{AccountID: 1, Campaign: "promo", Kind: "broadcast", Phone: "4915100000001", Status: "sending",
			CreatedAt: at(0), UpdatedAt: at(0)}
		require.NoError(t, f.db.CreateTestSend(f.ctx, &ts))
		require.Positive(t, ts.ID)
		ts.Status, ts.WAMID, ts.UpdatedAt = "sent", "wamid.T", at(time.Second)
		require.NoError(t, f.db.FinishTestSend(f.ctx, ts))
		require.Equal(t, int64(1), f.count("test_sends", "status = ? AND wamid = ?", "sent", "wamid.T"))
		require.Zero(t, f.count("deliveries", ""), "a test send is no delivery")
	})
}
