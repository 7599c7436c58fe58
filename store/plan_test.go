package store_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/campaign"
	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/provider"
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

// TestPlanNextPlansAsTheWindowNeeds: a running broadcast's deliveries are
// created a window at a time, in audience order, each recipient once; a
// broadcast that is not running gets none.
func TestPlanNextPlansAsTheWindowNeeds(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		const n = 25
		f.apply(bundle(broadcast("spring", n)), t0)
		b := f.broadcast("spring")
		refs, err := f.db.PlanNext(f.ctx, b.ID, 10, t0)
		require.NoError(t, err)
		require.Empty(t, refs, "a scheduled broadcast is not planned")
		require.Zero(t, f.count("deliveries", ""))

		f.setStatus(b.ID, campaign.StatusRunning)
		inflight, more, err := f.db.Window(f.ctx, b.ID)
		require.NoError(t, err)
		require.Zero(t, inflight)
		require.True(t, more, "recipients without a delivery are more to send")
		first, err := f.db.PlanNext(f.ctx, b.ID, 10, t0)
		require.NoError(t, err)
		require.Len(t, first, 10)
		rest, err := f.db.PlanNext(f.ctx, b.ID, 100, t0)
		require.NoError(t, err)
		require.Len(t, rest, n-10)
		refs = append(first, rest...)
		for i, r := range refs {
			d := f.delivery(r.ID)
			require.Equal(t, "planned", d.Status)
			require.Equal(t, recipients(i, 1)[0].Phone, d.Phone, "delivery %d follows the audience's order", i)
			if i > 0 {
				require.Greater(t, r.ID, refs[i-1].ID, "in id order")
			}
		}
		none, err := f.db.PlanNext(f.ctx, b.ID, 10, t0)
		require.NoError(t, err)
		require.Empty(t, none, "every recipient is planned")
		require.Equal(t, refs, f.markQueued(refs, at(time.Minute)))
		inflight, more, err = f.db.Window(f.ctx, b.ID)
		require.NoError(t, err)
		require.Equal(t, n, inflight)
		require.False(t, more, "nothing left to plan or feed")
	})
}

// TestPlanNextConcurrentPlanners: schedulers planning the same broadcast
// at once still give each recipient one delivery.
func TestPlanNextConcurrentPlanners(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		const n = 300
		f.apply(bundle(broadcast("spring", n)), t0)
		id := f.broadcast("spring").ID
		f.setStatus(id, campaign.StatusRunning)
		var mu sync.Mutex
		got := map[int64]bool{}
		concurrently(t, 4, func(i int) error {
			for {
				refs, err := f.db.PlanNext(f.ctx, id, 7+i*5, t0)
				if err != nil || len(refs) == 0 {
					return err
				}
				mu.Lock()
				for _, r := range refs {
					if got[r.ID] {
						mu.Unlock()
						return fmt.Errorf("delivery %d returned twice", r.ID)
					}
					got[r.ID] = true
				}
				mu.Unlock()
			}
		})
		require.Len(t, got, n)
		require.Equal(t, int64(n), f.count("deliveries", "broadcast_id = ?", id))
		require.Equal(t, int64(n), f.count("(SELECT DISTINCT recipient_id FROM deliveries) t", ""))
	})
}

// TestFinishPendingEndsRecipientsNeverPlanned: cancelling (or expiring) a
// broadcast the feeder reached only part of ends every recipient, with an
// event each, and the broadcast has nothing more to send.
func TestFinishPendingEndsRecipientsNeverPlanned(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		const n = 50*testBatch*2 + 7 // three statements' worth of recipients never planned
		f.apply(bundle(broadcast("spring", n)), t0)
		b := f.broadcast("spring")
		f.setStatus(b.ID, campaign.StatusRunning)
		refs, err := f.db.PlanNext(f.ctx, b.ID, 3, t0)
		require.NoError(t, err)
		require.Equal(t, refs[:1], f.markQueued(refs[:1], at(time.Second)))

		queued, err := f.db.FinishPending(f.ctx, b.ID, delivery.Skipped, "broadcast cancelled", at(time.Minute))
		require.NoError(t, err)
		require.Len(t, queued, 1, "the queued delivery's task is returned to be deleted")
		require.Equal(t, refs[0], queued[0].Ref)
		require.Equal(t, int64(n), f.count("deliveries", "broadcast_id = ? AND status = 'skipped' AND error = 'broadcast cancelled'", b.ID))
		require.Equal(t, int64(n), f.count("delivery_events", "status = 'skipped'"), "one event per recipient")
		counts, err := f.db.CountByStatus(f.ctx, b.ID)
		require.NoError(t, err)
		require.Equal(t, map[delivery.Status]int{delivery.Skipped: n}, counts)
		inflight, more, err := f.db.Window(f.ctx, b.ID)
		require.NoError(t, err)
		require.Zero(t, inflight)
		require.False(t, more)
		again, err := f.db.FinishPending(f.ctx, b.ID, delivery.Skipped, "broadcast cancelled", at(time.Hour))
		require.NoError(t, err)
		require.Empty(t, again)
		require.Equal(t, int64(n), f.count("delivery_events", ""), "finishing again adds nothing")
	})
}

// TestCountByStatusFollowsEveryChange: the kept counts equal a count of
// the rows through inserts, moves, deletes and folds, for each broadcast
// apart.
func TestCountByStatusFollowsEveryChange(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		b, refs := f.planned("spring", 8, campaign.StatusRunning)
		other, _ := f.planned("other", 3, campaign.StatusScheduled)
		requireCounts := func(what string) {
			t.Helper()
			for _, id := range []int64{b.ID, other.ID} {
				var rows []struct {
					Status string
					N      int
				}
				require.NoError(t, f.db.Gorm().Raw(`SELECT status, COUNT(*) AS n FROM deliveries WHERE broadcast_id = ? GROUP BY status`, id).Scan(&rows).Error)
				want := map[delivery.Status]int{}
				for _, r := range rows {
					want[delivery.Status(r.Status)] = r.N
				}
				got, err := f.db.CountByStatus(f.ctx, id)
				require.NoError(t, err)
				require.Equal(t, want, got, "%s: broadcast %d", what, id)
			}
		}
		requireCounts("planned")
		f.markQueued(refs[:4], at(time.Second))
		f.claimAndSend(refs[0], "wamid.A", at(2*time.Second))
		_, err := f.db.Finish(f.ctx, refs[1], delivery.Failed, "131026", "not on WhatsApp", at(3*time.Second))
		require.NoError(t, err)
		requireCounts("sending")
		require.NoError(t, f.db.FoldCounts(f.ctx))
		require.Zero(t, f.count("delivery_count_changes", ""), "folded")
		requireCounts("folded")
		_, err = f.db.ApplyStatus(f.ctx, refs[0].ID, "", provider.StatusReport{Status: provider.StatusDelivered, At: at(4 * time.Second)}, at(4*time.Second), nil)
		require.NoError(t, err)
		_, err = f.db.Unqueue(f.ctx, b.ID, at(5*time.Second))
		require.NoError(t, err)
		requireCounts("delivered and unqueued")
		// A new audience for the scheduled broadcast drops its plan.
		edited := broadcast("other", 5)
		edited.Recipients = recipients(100, 5)
		f.apply(bundle(broadcast("spring", 8), edited), t0)
		requireCounts("replanned")
		require.NoError(t, f.db.FoldCounts(f.ctx))
		require.NoError(t, f.db.FoldCounts(f.ctx))
		requireCounts("folded twice")
	})
}

// TestExportListsRecipientsNotPlannedYet: export shows the whole audience
// in its order while the feeder has planned only part of it.
func TestExportListsRecipientsNotPlannedYet(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		const n = testBatch*2 + 3
		f.apply(bundle(broadcast("spring", n)), t0)
		b := f.broadcast("spring")
		f.setStatus(b.ID, campaign.StatusRunning)
		refs, err := f.db.PlanNext(f.ctx, b.ID, testBatch+1, t0)
		require.NoError(t, err)
		f.claimAndSend(refs[0], "wamid.A", at(time.Second))
		b = f.broadcast("spring")
		var rows []delivery.Row
		require.NoError(t, f.db.Export(f.ctx, b.ID, func(r delivery.Row) error {
			rows = append(rows, r)
			return nil
		}))
		require.Len(t, rows, n)
		for i, r := range rows {
			require.Equal(t, recipients(i, 1)[0].Phone, r.Phone, "row %d in audience order", i)
			require.Equal(t, fmt.Sprintf("Person %d", i), r.Name)
			switch {
			case i == 0:
				require.Equal(t, refs[0].ID, r.ID)
				require.Equal(t, delivery.Sent, r.Status)
				require.Equal(t, "wamid.A", r.WAMID)
			case i < len(refs):
				require.Equal(t, refs[i].ID, r.ID)
				require.Equal(t, delivery.Planned, r.Status)
			default:
				require.Zero(t, r.ID, "row %d: not planned yet, no delivery", i)
				require.Equal(t, delivery.Planned, r.Status)
				require.True(t, b.UpdatedAt.Equal(r.UpdatedAt), "row %d: updated when the broadcast was", i)
			}
		}
	})
}
