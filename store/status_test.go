package store_test

import (
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/campaign"
	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/provider"
	"github.com/wacamp/wacamp/store"
)

func TestApplyStatusMovesOnlyForward(t *testing.T) {
	t.Parallel()
	type step struct {
		status       provider.Status
		at           time.Duration // report time after t0; 0 = unknown (the store uses now)
		code, reason string
		changed      bool
	}
	// Step i is observed at now = t0 + (i+1) minutes.
	nowOf := func(i int) time.Time { return at(time.Duration(i+1) * time.Minute) }
	const never = time.Duration(-1)
	cases := []struct {
		name                    string
		steps                   []step
		final                   delivery.Status
		delivered, read, failed time.Duration // after t0, or never
		code, reason            string
	}{
		{name: "sent, delivered, read",
			steps: []step{{provider.StatusDelivered, 2 * time.Second, "", "", true}, {provider.StatusRead, 5 * time.Second, "", "", true}},
			final: delivery.Read, delivered: 2 * time.Second, read: 5 * time.Second, failed: never},
		{name: "read then a late delivered",
			steps: []step{{provider.StatusRead, 5 * time.Second, "", "", true}, {provider.StatusDelivered, 2 * time.Second, "", "", false}},
			final: delivery.Read, delivered: 5 * time.Second, read: 5 * time.Second, failed: never},
		{name: "read directly from sent sets delivered too",
			steps: []step{{provider.StatusRead, 4 * time.Second, "", "", true}},
			final: delivery.Read, delivered: 4 * time.Second, read: 4 * time.Second, failed: never},
		{name: "failed from sent",
			steps: []step{{provider.StatusFailed, 3 * time.Second, "131049", "ecosystem engagement", true}},
			final: delivery.Failed, delivered: never, read: never, failed: 3 * time.Second,
			code: "131049", reason: "ecosystem engagement"},
		{name: "failed after delivered is ignored",
			steps: []step{{provider.StatusDelivered, 2 * time.Second, "", "", true}, {provider.StatusFailed, 3 * time.Second, "131026", "undeliverable", false}},
			final: delivery.Delivered, delivered: 2 * time.Second, read: never, failed: never},
		{name: "failed after read is ignored",
			steps: []step{{provider.StatusRead, 2 * time.Second, "", "", true}, {provider.StatusFailed, 3 * time.Second, "131026", "undeliverable", false}},
			final: delivery.Read, delivered: 2 * time.Second, read: 2 * time.Second, failed: never},
		{name: "nothing moves a failed message",
			steps: []step{{provider.StatusFailed, 3 * time.Second, "131049", "x", true},
				{provider.StatusDelivered, 4 * time.Second, "", "", false}, {provider.StatusRead, 5 * time.Second, "", "", false}},
			final: delivery.Failed, delivered: never, read: never, failed: 3 * time.Second, code: "131049", reason: "x"},
		{name: "duplicates",
			steps: []step{{provider.StatusDelivered, 2 * time.Second, "", "", true}, {provider.StatusDelivered, 2 * time.Second, "", "", false},
				{provider.StatusRead, 4 * time.Second, "", "", true}, {provider.StatusRead, 4 * time.Second, "", "", false},
				{provider.StatusDelivered, 2 * time.Second, "", "", false}, {provider.StatusSent, time.Second, "", "", false}},
			final: delivery.Read, delivered: 2 * time.Second, read: 4 * time.Second, failed: never},
		{name: "still sent",
			steps: []step{{provider.StatusSent, 0, "", "", false}, {provider.StatusUnknown, 0, "", "", false}},
			final: delivery.Sent, delivered: never, read: never, failed: never},
		{name: "time unknown: the observation's now",
			steps: []step{{provider.StatusSent, 0, "", "", false}, {provider.StatusDelivered, 0, "", "", true}},
			final: delivery.Delivered, delivered: 2 * time.Minute, read: never, failed: never},
	}
	eachStore(t, func(t *testing.T, f *fixture) {
		_, refs := f.planned("spring", len(cases), campaign.StatusRunning)
		for i, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				f := &fixture{t: t, db: f.db, ctx: f.ctx}
				id := refs[i].ID
				f.claimAndSend(refs[i], "", t0)
				wantEvents := []string{"sent"}
				for j, s := range tc.steps {
					var reportAt time.Time
					if s.at != 0 {
						reportAt = at(s.at)
					}
					next := nowOf(j).Add(time.Hour)
					changed, err := f.db.ApplyStatus(f.ctx, id, "", provider.StatusReport{Status: s.status, At: reportAt, Code: s.code, Reason: s.reason}, nowOf(j), &next)
					require.NoError(t, err)
					require.Equal(t, s.changed, changed, "step %d: %s", j, s.status)
					if changed {
						wantEvents = append(wantEvents, string(s.status))
					}
					d := f.delivery(id)
					require.Equal(t, j+1, d.PollCount, "every observation counts as a poll")
					requireTime(t, next, d.NextPollAt, "next poll")
				}
				d := f.delivery(id)
				require.Equal(t, string(tc.final), d.Status)
				for _, c := range []struct {
					name string
					want time.Duration
					got  *time.Time
				}{{"delivered_at", tc.delivered, d.DeliveredAt}, {"read_at", tc.read, d.ReadAt}, {"failed_at", tc.failed, d.FailedAt}} {
					if c.want == never {
						require.Nil(t, c.got, c.name)
					} else {
						requireTime(t, at(c.want), c.got, c.name)
					}
				}
				require.Equal(t, tc.code, d.ErrorCode)
				require.Equal(t, tc.reason, d.Error)
				requireTime(t, t0, d.SentAt, "sent_at never moves")

				es := f.events(id)
				require.Equal(t, wantEvents, eventStatuses(es), "exactly one event per change")
				if tc.final == delivery.Failed {
					require.Equal(t, "code "+tc.code+": "+tc.reason, es[1].Detail)
					require.True(t, at(tc.failed).Equal(es[1].At))
				}
			})
		}
	})
}

func TestApplyStatusRecordsUnknownWAMID(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		_, refs := f.planned("spring", 2, campaign.StatusRunning)
		f.claimAndSend(refs[0], "", t0)
		f.claimAndSend(refs[1], "", t0)

		// With a status change.
		changed, err := f.db.ApplyStatus(f.ctx, refs[0].ID, "wamid.A", provider.StatusReport{Status: provider.StatusDelivered}, t0, nil)
		require.NoError(t, err)
		require.True(t, changed)
		require.Equal(t, "wamid.A", *f.delivery(refs[0].ID).Wamid)
		// Without one.
		changed, err = f.db.ApplyStatus(f.ctx, refs[1].ID, "wamid.B", provider.StatusReport{Status: provider.StatusSent}, t0, nil)
		require.NoError(t, err)
		require.False(t, changed)
		require.Equal(t, "wamid.B", *f.delivery(refs[1].ID).Wamid)

		// A known wamid is never replaced.
		for _, s := range []provider.Status{provider.StatusSent, provider.StatusRead} {
			_, err = f.db.ApplyStatus(f.ctx, refs[0].ID, "wamid.OTHER", provider.StatusReport{Status: s}, t0, nil)
			require.NoError(t, err)
			require.Equal(t, "wamid.A", *f.delivery(refs[0].ID).Wamid)
		}
		// No wamid given keeps it too.
		_, err = f.db.ApplyStatus(f.ctx, refs[1].ID, "", provider.StatusReport{Status: provider.StatusRead}, t0, nil)
		require.NoError(t, err)
		require.Equal(t, "wamid.B", *f.delivery(refs[1].ID).Wamid)
	})
}

// TestApplyStatusConcurrentDuplicates: a webhook and a poll reporting the
// same status at once record it once.
func TestApplyStatusConcurrentDuplicates(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		_, refs := f.planned("spring", 1, campaign.StatusRunning)
		f.claimAndSend(refs[0], "wamid.A", t0)
		var changes atomic.Int32
		concurrently(t, 8, func(int) error {
			ok, err := f.db.ApplyStatus(f.ctx, refs[0].ID, "wamid.A", provider.StatusReport{Status: provider.StatusDelivered, At: at(time.Second)}, at(time.Second), nil)
			if ok {
				changes.Add(1)
			}
			return err
		})
		require.Equal(t, int32(1), changes.Load())
		require.Equal(t, []string{"sent", "delivered"}, eventStatuses(f.events(refs[0].ID)))
		require.Equal(t, 8, f.delivery(refs[0].ID).PollCount)
	})
}

func pollIDs(ps []delivery.PollRef) []int64 {
	out := make([]int64, len(ps))
	for i, p := range ps {
		out[i] = p.DeliveryID
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func TestLeaseDuePolls(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		_, refs := f.planned("spring", 4, campaign.StatusRunning)
		// claimAndSend schedules the first poll 5 s after the send.
		f.claimAndSend(refs[0], "wamid.0", t0)                // due t0+5s
		f.claimAndSend(refs[1], "wamid.1", at(5*time.Second)) // due t0+10s
		f.claimAndSend(refs[2], "wamid.2", at(time.Hour))     // due t0+1h+5s
		f.claimAndSend(refs[3], "wamid.3", t0)                // due t0+5s, then tracking stops
		changed, err := f.db.ApplyStatus(f.ctx, refs[3].ID, "", provider.StatusReport{Status: provider.StatusRead}, at(time.Second), nil)
		require.NoError(t, err)
		require.True(t, changed)
		require.Nil(t, f.delivery(refs[3].ID).NextPollAt, "nil next poll stops tracking")

		lease := func(now, until time.Duration, limit int) []delivery.PollRef {
			t.Helper()
			ps, err := f.db.LeaseDuePolls(f.ctx, at(now), at(until), limit)
			require.NoError(t, err)
			return ps
		}
		require.Empty(t, lease(4*time.Second, time.Minute, 10), "nothing due yet")

		ps := lease(10*time.Second, 70*time.Second, 10)
		require.Equal(t, []int64{refs[0].ID, refs[1].ID}, pollIDs(ps), "the due polls, the just-due one included")
		for _, p := range ps {
			require.Zero(t, p.PollCount)
			requireTime(t, at(70*time.Second), f.delivery(p.DeliveryID).NextPollAt, "leased")
		}
		require.Empty(t, lease(10*time.Second, 70*time.Second, 10), "a second call before the lease ends gets none")
		require.Empty(t, lease(69*time.Second, 2*time.Minute, 10), "still leased")

		// The lease ends; the earliest due comes first under a limit.
		ps = lease(70*time.Second, 3*time.Minute, 1)
		require.Len(t, ps, 1)
		ps = append(ps, lease(70*time.Second, 3*time.Minute, 1)...)
		require.Equal(t, []int64{refs[0].ID, refs[1].ID}, pollIDs(ps))

		// A poll result reschedules; its count shows in the next lease.
		next := at(4 * time.Minute)
		_, err = f.db.ApplyStatus(f.ctx, refs[0].ID, "", provider.StatusReport{Status: provider.StatusSent}, at(2*time.Minute), &next)
		require.NoError(t, err)
		ps = lease(24*time.Hour, 25*time.Hour, 10)
		require.Equal(t, []int64{refs[0].ID, refs[1].ID, refs[2].ID}, pollIDs(ps), "the stopped delivery never comes back")
		for _, p := range ps {
			want := 0
			if p.DeliveryID == refs[0].ID {
				want = 1
			}
			require.Equal(t, want, p.PollCount)
		}
	})
}

// TestLeaseDuePollsConcurrent: schedulers leasing at once never get the same
// poll twice.
func TestLeaseDuePollsConcurrent(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		const n = 60
		_, refs := f.planned("spring", n, campaign.StatusRunning)
		for i, r := range refs {
			f.claimAndSend(r, fmt.Sprintf("wamid.%d", i), t0)
		}
		var mu sync.Mutex
		seen := map[int64]int{}
		concurrently(t, 6, func(int) error {
			for {
				ps, err := f.db.LeaseDuePolls(f.ctx, at(time.Minute), at(time.Hour), 7)
				if err != nil || len(ps) == 0 {
					return err
				}
				mu.Lock()
				for _, p := range ps {
					seen[p.DeliveryID]++
				}
				mu.Unlock()
			}
		})
		// Each leaser stops when it finds none, possibly while others still
		// hold locked rows; whatever was handed out was handed out once.
		for id, k := range seen {
			require.Equal(t, 1, k, "delivery %d leased %d times", id, k)
		}
		rest, err := f.db.LeaseDuePolls(f.ctx, at(time.Minute), at(time.Hour), n)
		require.NoError(t, err)
		require.Len(t, seen, n-len(rest))
		for _, p := range rest {
			require.NotContains(t, seen, p.DeliveryID)
		}
	})
}

// PollSummary counts the accepted messages' polls: in all, the most for
// one, and how many messages are still to be polled; unsent deliveries are
// not messages.
func TestPollSummary(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		_, refs := f.planned("spring", 4, campaign.StatusRunning)
		s, err := f.db.PollSummary(f.ctx)
		require.NoError(t, err)
		require.Equal(t, store.PollSummary{}, s, "nothing sent")

		for i, r := range refs[:3] {
			f.claimAndSend(r, fmt.Sprintf("wamid.%d", i), t0) // each with its first poll due
		}
		next := at(time.Hour)
		for i, polls := range []int{3, 1} { // refs[0] polled three times, the last ending tracking; refs[1] once
			for p := range polls {
				np := &next
				if i == 0 && p == polls-1 {
					np = nil
				}
				_, err := f.db.ApplyStatus(f.ctx, refs[i].ID, "", provider.StatusReport{Status: provider.StatusSent}, at(time.Minute), np)
				require.NoError(t, err)
			}
		}
		s, err = f.db.PollSummary(f.ctx)
		require.NoError(t, err)
		require.Equal(t, store.PollSummary{Messages: 3, Polls: 4, Most: 3, Pending: 2}, s)
	})
}
