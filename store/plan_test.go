package store_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/campaign"
	"github.com/wacamp/wacamp/delivery"
)

func TestPlanBatchCoversEveryRecipientOnce(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name         string
		n, batch     int
		wantBatches  int
		otherPlanned bool
	}{
		{"uneven batches", 123, 10, 13, false},
		{"exact batches", 30, 10, 3, false},
		{"one batch", 7, 1000, 1, false},
		{"batch of one", 5, 1, 5, false},
		{"another broadcast shares phones", 25, 6, 5, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			eachStore(t, func(t *testing.T, f *fixture) {
				// "other" has the same phones; its recipients interleave nothing
				// but must never be planned into this broadcast.
				f.apply(bundle(broadcast("other", tc.n), broadcast("spring", tc.n)), t0)
				other, b := f.broadcast("other"), f.broadcast("spring")
				if tc.otherPlanned {
					f.planAll(other.ID, 1000)
				}

				require.Equal(t, tc.wantBatches, f.planAll(b.ID, tc.batch))
				require.Equal(t, int64(tc.n), f.count("deliveries", "broadcast_id = ?", b.ID))
				var missing, doubled int64
				require.NoError(t, f.db.Gorm().Raw(`SELECT COUNT(*) FROM recipients r WHERE r.broadcast_id = ? AND NOT EXISTS
					(SELECT 1 FROM deliveries d WHERE d.broadcast_id = r.broadcast_id AND d.recipient_id = r.id)`, b.ID).Scan(&missing).Error)
				require.Zero(t, missing, "recipients without a delivery")
				require.NoError(t, f.db.Gorm().Raw(`SELECT COUNT(*) FROM (SELECT recipient_id FROM deliveries
					WHERE broadcast_id = ? GROUP BY recipient_id HAVING COUNT(*) > 1) t`, b.ID).Scan(&doubled).Error)
				require.Zero(t, doubled, "recipients with more than one delivery")
				require.Zero(t, f.count("deliveries d", "d.broadcast_id = ? AND NOT EXISTS (SELECT 1 FROM recipients r WHERE r.id = d.recipient_id AND r.broadcast_id = d.broadcast_id AND r.phone = d.phone)", b.ID),
					"deliveries must point at this broadcast's recipient with its phone")
				require.Equal(t, int64(tc.n), f.count("deliveries", "broadcast_id = ? AND status = 'planned' AND gen = 0 AND attempts = 0", b.ID))
				if !tc.otherPlanned {
					require.Zero(t, f.count("deliveries", "broadcast_id = ?", other.ID))
				}
				counts, err := f.db.CountByStatus(f.ctx, b.ID)
				require.NoError(t, err)
				require.Equal(t, map[delivery.Status]int{delivery.Planned: tc.n}, counts)

				// Planning again, in other batch sizes, inserts nothing and
				// touches nothing, even after deliveries moved on.
				f.setStatus(b.ID, campaign.StatusRunning)
				refs, err := f.db.NextPlanned(f.ctx, b.ID, 2)
				require.NoError(t, err)
				require.Equal(t, refs, f.markQueued(refs, at(time.Minute)))
				before := f.dump("deliveries")
				for _, batch := range []int{tc.batch, 1000, 7} {
					f.planAll(b.ID, batch)
					require.Equal(t, before, f.dump("deliveries"), "replanning in batches of %d changed deliveries", batch)
				}
			})
		})
	}
}

func TestPlanBatchEmptyAndExhausted(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		f.apply(bundle(broadcast("spring", 3)), t0)
		b := f.broadcast("spring")
		last, n, err := f.db.PlanBatch(f.ctx, b.ID, 0, 2, t0)
		require.NoError(t, err)
		require.Equal(t, 2, n)
		last2, n, err := f.db.PlanBatch(f.ctx, b.ID, last, 2, t0)
		require.NoError(t, err)
		require.Equal(t, 1, n)
		require.Greater(t, last2, last)
		last3, n, err := f.db.PlanBatch(f.ctx, b.ID, last2, 2, t0)
		require.NoError(t, err)
		require.Zero(t, n)
		require.Equal(t, last2, last3, "an exhausted keyset returns where it was")

		_, n, err = f.db.PlanBatch(f.ctx, b.ID+1000, 0, 10, t0)
		require.NoError(t, err)
		require.Zero(t, n, "an unknown broadcast has no recipients")
		require.Equal(t, int64(3), f.count("deliveries", ""))
	})
}

// TestPlanBatchConcurrentPlanners: several scheduler replicas planning the
// same broadcast at once still give each recipient one delivery.
func TestPlanBatchConcurrentPlanners(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		const n = 600
		f.apply(bundle(broadcast("spring", n)), t0)
		id := f.broadcast("spring").ID
		concurrently(t, 4, func(i int) error {
			var after int64
			for {
				last, got, err := f.db.PlanBatch(f.ctx, id, after, 50+i*37, t0)
				if err != nil || got == 0 {
					return err
				}
				after = last
			}
		})
		require.Equal(t, int64(n), f.count("deliveries", "broadcast_id = ?", id))
	})
}

func TestDeliveriesAreUniquePerBroadcastAndRecipient(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		b, refs := f.planned("spring", 2, campaign.StatusScheduled)
		d := f.delivery(refs[0].ID)
		err := f.db.Gorm().Exec(`INSERT INTO deliveries (broadcast_id, recipient_id, phone, status, updated_at) VALUES (?, ?, ?, 'planned', ?)`,
			b.ID, d.RecipientID, d.Phone, t0).Error
		require.Error(t, err, "a second delivery for the same recipient must be refused by the schema")
		require.Equal(t, int64(2), f.count("deliveries", ""))
	})
}
