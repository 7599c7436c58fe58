package store_test

import (
	"fmt"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/campaign"
	"github.com/wacamp/wacamp/consent"
	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/provider"
)

// markQueued queues refs and returns those it moved, sorted by id.
func (f *fixture) markQueued(refs []delivery.Ref, now time.Time) []delivery.Ref {
	f.t.Helper()
	got, err := f.db.MarkQueued(f.ctx, refs, now)
	require.NoError(f.t, err)
	sort.Slice(got, func(i, j int) bool { return got[i].ID < got[j].ID })
	return got
}

// moveTo takes a planned delivery of a running broadcast to status.
func (f *fixture) moveTo(ref delivery.Ref, status delivery.Status) {
	f.t.Helper()
	ok := true
	var err error
	switch status {
	case delivery.Planned:
	case delivery.Queued:
		require.Equal(f.t, []delivery.Ref{ref}, f.markQueued([]delivery.Ref{ref}, t0))
	case delivery.Sending:
		ok, err = f.db.Claim(f.ctx, ref, t0, at(time.Minute), nil, consent.Check{})
	case delivery.Sent:
		f.claimAndSend(ref, fmt.Sprintf("wamid.%d", ref.ID), t0)
	case delivery.Delivered, delivery.Read:
		f.claimAndSend(ref, fmt.Sprintf("wamid.%d", ref.ID), t0)
		ok, err = f.db.ApplyStatus(f.ctx, ref.ID, "", provider.StatusReport{Status: provider.Status(status)}, at(time.Second), nil)
	case delivery.Failed, delivery.Skipped, delivery.Expired:
		ok, err = f.db.Finish(f.ctx, ref, status, "", "test", t0)
	default:
		f.t.Fatalf("moveTo %s", status)
	}
	require.NoError(f.t, err)
	require.True(f.t, ok, "move %v to %s", ref, status)
	require.Equal(f.t, string(status), f.delivery(ref.ID).Status)
}

func TestClaim(t *testing.T) {
	t.Parallel()
	type tc struct {
		broadcast campaign.Status
		delivery  delivery.Status
		staleGen  bool
		want      bool
	}
	var cases []tc
	for _, bs := range []campaign.Status{campaign.StatusRunning, campaign.StatusScheduled, campaign.StatusPaused,
		campaign.StatusCancelled, campaign.StatusCompleted, campaign.StatusDraft} {
		for _, ds := range []delivery.Status{delivery.Planned, delivery.Queued} {
			cases = append(cases, tc{bs, ds, false, bs == campaign.StatusRunning})
		}
	}
	for _, ds := range []delivery.Status{delivery.Sending, delivery.Sent, delivery.Delivered,
		delivery.Read, delivery.Failed, delivery.Skipped, delivery.Expired} {
		cases = append(cases, tc{campaign.StatusRunning, ds, false, false})
	}
	cases = append(cases,
		tc{campaign.StatusRunning, delivery.Planned, true, false},
		tc{campaign.StatusRunning, delivery.Queued, true, false})

	eachStore(t, func(t *testing.T, f *fixture) {
		for i, c := range cases {
			name := fmt.Sprintf("broadcast %s, delivery %s, stale gen %v", c.broadcast, c.delivery, c.staleGen)
			t.Run(name, func(t *testing.T) {
				f := &fixture{t: t, db: f.db, ctx: f.ctx}
				b, refs := f.planned(fmt.Sprintf("b%d", i), 1, campaign.StatusRunning)
				ref := refs[0]
				f.moveTo(ref, c.delivery)
				if c.broadcast != campaign.StatusRunning {
					ok, err := f.db.SetStatus(f.ctx, b.ID, []campaign.Status{campaign.StatusRunning}, campaign.StatusPaused, "", t0)
					require.NoError(t, err)
					require.True(t, ok)
					if c.broadcast != campaign.StatusPaused {
						ok, err = f.db.SetStatus(f.ctx, b.ID, []campaign.Status{campaign.StatusPaused}, c.broadcast, "", t0)
						require.NoError(t, err)
						require.True(t, ok)
					}
				}
				if c.staleGen {
					_, ok, err := f.db.Regen(f.ctx, ref, t0)
					require.NoError(t, err)
					require.True(t, ok)
				}
				before := f.delivery(ref.ID)
				now := at(10 * time.Second)
				ok, err := f.db.Claim(f.ctx, ref, now, now.Add(time.Minute), nil, consent.Check{})
				require.NoError(t, err)
				require.Equal(t, c.want, ok)
				after := f.delivery(ref.ID)
				if !c.want {
					require.Equal(t, before, after, "a refused claim changes nothing")
					return
				}
				require.Equal(t, "sending", after.Status)
				require.Equal(t, before.Attempts+1, after.Attempts)
				require.Equal(t, ref.Gen, after.Gen)
				requireTime(t, now, after.SendingAt)
				requireTime(t, now.Add(time.Minute), after.LeaseUntil)
				require.True(t, now.Equal(after.UpdatedAt))

				ok, err = f.db.Claim(f.ctx, ref, now, now.Add(time.Minute), nil, consent.Check{})
				require.NoError(t, err)
				require.False(t, ok, "a second claim must fail")
				require.Equal(t, after, f.delivery(ref.ID))
			})
		}
	})
}

// TestClaimRace: of many workers claiming one delivery at once, one wins.
func TestClaimRace(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		_, refs := f.planned("spring", 1, campaign.StatusRunning)
		var wins atomic.Int32
		concurrently(t, 8, func(int) error {
			ok, err := f.db.Claim(f.ctx, refs[0], t0, at(time.Minute), nil, consent.Check{})
			if ok {
				wins.Add(1)
			}
			return err
		})
		require.Equal(t, int32(1), wins.Load())
		require.Equal(t, 1, f.delivery(refs[0].ID).Attempts)
	})
}

func TestMarkSent(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		for _, tc := range []struct {
			name     string
			from     delivery.Status
			staleGen bool
			want     bool
		}{
			{"from sending", delivery.Sending, false, true},
			// The sweep regenerated it after its lease ran out, but the
			// provider did accept it: it must still be recorded.
			{"sending, regenerated by the sweep", delivery.Sending, true, true},
			{"from planned", delivery.Planned, false, false},
			{"from queued", delivery.Queued, false, false},
			{"already sent", delivery.Sent, false, false},
			{"failed", delivery.Failed, false, false},
			{"skipped", delivery.Skipped, false, false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				f := &fixture{t: t, db: f.db, ctx: f.ctx}
				_, refs := f.planned(strings.ReplaceAll(tc.name, " ", "-"), 1, campaign.StatusRunning)
				ref := refs[0]
				f.moveTo(ref, tc.from)
				if tc.staleGen {
					_, ok, err := f.db.Regen(f.ctx, ref, at(2*time.Minute))
					require.NoError(t, err)
					require.True(t, ok)
				}
				before, beforeEvents := f.delivery(ref.ID), f.events(ref.ID)
				now := at(3 * time.Second)
				wamid := "wamid.NEW." + strings.ReplaceAll(tc.name, " ", "-")
				ok, err := f.db.MarkSent(f.ctx, ref, wamid, now, now.Add(5*time.Second), now.Add(30*24*time.Hour))
				require.NoError(t, err)
				require.Equal(t, tc.want, ok)
				if !tc.want {
					require.Equal(t, before, f.delivery(ref.ID))
					require.Equal(t, beforeEvents, f.events(ref.ID))
					return
				}
				d := f.delivery(ref.ID)
				require.Equal(t, "sent", d.Status)
				require.Equal(t, wamid, *d.Wamid)
				requireTime(t, now, d.SentAt)
				requireTime(t, now.Add(5*time.Second), d.NextPollAt)
				requireTime(t, now.Add(30*24*time.Hour), d.TrackUntil)
				require.Nil(t, d.LeaseUntil)
				require.Zero(t, d.PollCount)
				es := f.events(ref.ID)
				require.Len(t, es, 1)
				require.Equal(t, "sent", es[0].Status)
				require.Equal(t, wamid, es[0].Detail)
				require.True(t, now.Equal(es[0].At))

				ok, err = f.db.MarkSent(f.ctx, ref, "wamid.OTHER", at(time.Hour), at(time.Hour), at(time.Hour))
				require.NoError(t, err)
				require.False(t, ok, "marking sent twice must fail")
				require.Equal(t, d, f.delivery(ref.ID))
				require.Len(t, f.events(ref.ID), 1)
			})
		}
	})
}

func TestMarkSentClearsErrorAndAllowsUnknownWAMIDs(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		_, refs := f.planned("spring", 3, campaign.StatusRunning)
		// A retried attempt: the earlier error is cleared on success.
		f.moveTo(refs[0], delivery.Sending)
		ok, err := f.db.Unclaim(f.ctx, refs[0], at(time.Minute), false, "130429", "rate limited", t0)
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, "rate limited", f.delivery(refs[0].ID).Error)
		// Several sends whose answer carried no wamid: NULL, not "", so the
		// unique index does not collide.
		for _, ref := range refs {
			f.claimAndSend(ref, "", at(time.Second))
			d := f.delivery(ref.ID)
			require.Nil(t, d.Wamid)
			require.Empty(t, d.Error)
			require.Empty(t, d.ErrorCode)
		}
		require.Equal(t, 2, f.delivery(refs[0].ID).Attempts)
	})
}

// refsOf returns the refs of queued deliveries.
func refsOf(q []delivery.QueuedRef) []delivery.Ref {
	out := make([]delivery.Ref, len(q))
	for i, r := range q {
		out[i] = r.Ref
	}
	return out
}

// TestBatchRecorded: a delivery queued in a batch send task names its
// batch to the sweep (Stale), to a pause (Unqueue) and to a cancel
// (FinishPending), which delete that task; a new generation has none.
func TestBatchRecorded(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		b, refs := f.planned("spring", 5, campaign.StatusRunning)
		got, err := f.db.MarkBatches(f.ctx, refs[:4], []int64{7, 7, 9, 9}, at(time.Second))
		require.NoError(t, err)
		require.ElementsMatch(t, refs[:4], got)
		got, err = f.db.MarkBatches(f.ctx, refs[4:], []int64{11}, at(time.Second))
		require.NoError(t, err)
		require.Equal(t, refs[4:], got)
		got, err = f.db.MarkBatches(f.ctx, refs[:1], []int64{12}, at(time.Second))
		require.NoError(t, err)
		require.Empty(t, got, "already queued: not moved, its batch kept")

		stale, err := f.db.Stale(f.ctx, at(time.Hour), 0, 10)
		require.NoError(t, err)
		batches := map[int64]int64{}
		for _, j := range stale {
			batches[j.ID] = j.Batch
		}
		require.Equal(t, map[int64]int64{refs[0].ID: 7, refs[1].ID: 7, refs[2].ID: 9, refs[3].ID: 9, refs[4].ID: 11}, batches)

		regen, ok, err := f.db.Regen(f.ctx, refs[4], at(time.Hour))
		require.NoError(t, err)
		require.True(t, ok)
		stale, err = f.db.Stale(f.ctx, at(2*time.Hour), refs[3].ID, 10)
		require.NoError(t, err)
		require.Len(t, stale, 1)
		require.Equal(t, regen, stale[0].Ref)
		require.Zero(t, stale[0].Batch, "a new generation has its own task")

		q, err := f.db.Unqueue(f.ctx, b.ID, at(time.Hour))
		require.NoError(t, err)
		require.ElementsMatch(t, []delivery.QueuedRef{{Ref: refs[0], Batch: 7}, {Ref: refs[1], Batch: 7}, {Ref: refs[2], Batch: 9},
			{Ref: refs[3], Batch: 9}, {Ref: regen}}, q)
	})
}

func TestUnqueue(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		b, refs := f.planned("spring", 6, campaign.StatusRunning)
		_, otherRefs := f.planned("other", 1, campaign.StatusRunning)
		f.moveTo(otherRefs[0], delivery.Queued)
		require.Equal(t, refs[:4], f.markQueued(refs[:4], at(time.Second)))
		f.moveTo(refs[3], delivery.Sending)
		f.moveTo(refs[4], delivery.Sent)
		// refs[0..2] queued, [3] sending, [4] sent, [5] planned.
		before := map[int64]deliveryRow{}
		for _, r := range refs {
			before[r.ID] = f.delivery(r.ID)
		}
		now := at(time.Minute)
		got, err := f.db.Unqueue(f.ctx, b.ID, now)
		require.NoError(t, err)
		require.ElementsMatch(t, refs[:3], refsOf(got), "the old refs of the queued deliveries")

		for _, r := range refs[:3] {
			d := f.delivery(r.ID)
			require.Equal(t, "planned", d.Status)
			require.Equal(t, r.Gen+1, d.Gen)
			require.Nil(t, d.QueuedAt)
			require.True(t, now.Equal(d.UpdatedAt))

			ok, err := f.db.Claim(f.ctx, r, now, now.Add(time.Minute), nil, consent.Check{})
			require.NoError(t, err)
			require.False(t, ok, "the old generation's task must do nothing")
			ok, err = f.db.Claim(f.ctx, delivery.Ref{ID: r.ID, Gen: r.Gen + 1}, now, now.Add(time.Minute), nil, consent.Check{})
			require.NoError(t, err)
			require.True(t, ok, "the new generation claims")
		}
		for _, r := range refs[3:] {
			require.Equal(t, before[r.ID], f.delivery(r.ID), "only queued deliveries are taken back")
		}
		require.Equal(t, "queued", f.delivery(otherRefs[0].ID).Status, "only this broadcast's")

		got, err = f.db.Unqueue(f.ctx, b.ID, now)
		require.NoError(t, err)
		require.Empty(t, got)
	})
}

func TestFinish(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		for _, from := range []delivery.Status{delivery.Planned, delivery.Queued, delivery.Sending,
			delivery.Sent, delivery.Delivered, delivery.Read, delivery.Failed, delivery.Skipped} {
			for _, to := range []delivery.Status{delivery.Failed, delivery.Skipped, delivery.Expired} {
				t.Run(fmt.Sprintf("%s to %s", from, to), func(t *testing.T) {
					f := &fixture{t: t, db: f.db, ctx: f.ctx}
					_, refs := f.planned(fmt.Sprintf("%s-to-%s", from, to), 1, campaign.StatusRunning)
					ref := refs[0]
					f.moveTo(ref, from)
					before, beforeEvents := f.delivery(ref.ID), f.events(ref.ID)
					now := at(time.Minute)
					ok, err := f.db.Finish(f.ctx, ref, to, "131026", "undeliverable", now)
					require.NoError(t, err)
					want := from.Pending()
					require.Equal(t, want, ok)
					if !want {
						require.Equal(t, before, f.delivery(ref.ID), "finish must not touch a %s delivery", from)
						require.Equal(t, beforeEvents, f.events(ref.ID))
						return
					}
					d := f.delivery(ref.ID)
					require.Equal(t, string(to), d.Status)
					require.Equal(t, "131026", d.ErrorCode)
					require.Equal(t, "undeliverable", d.Error)
					require.Nil(t, d.LeaseUntil)
					if to == delivery.Failed {
						requireTime(t, now, d.FailedAt)
					} else {
						require.Nil(t, d.FailedAt)
					}
					es := f.events(ref.ID)
					require.Len(t, es, 1)
					require.Equal(t, event{Status: string(to), At: es[0].At, Detail: "code 131026: undeliverable"}, es[0])
					require.True(t, now.Equal(es[0].At))
				})
			}
		}
	})
}

func TestFinishStaleGeneration(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		_, refs := f.planned("spring", 1, campaign.StatusRunning)
		f.moveTo(refs[0], delivery.Queued)
		newRef, ok, err := f.db.Regen(f.ctx, refs[0], t0)
		require.NoError(t, err)
		require.True(t, ok)
		ok, err = f.db.Finish(f.ctx, refs[0], delivery.Expired, "", "deadline", t0)
		require.NoError(t, err)
		require.False(t, ok)
		ok, err = f.db.Finish(f.ctx, newRef, delivery.Expired, "", "deadline", t0)
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, []event{{Status: "expired", At: f.events(refs[0].ID)[0].At, Detail: "deadline"}}, f.events(refs[0].ID))
	})
}

func TestReclaim(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		_, refs := f.planned("spring", 2, campaign.StatusRunning)
		ref := refs[0]
		lease := at(time.Minute)
		ok, err := f.db.Claim(f.ctx, ref, t0, lease, nil, consent.Check{})
		require.NoError(t, err)
		require.True(t, ok)

		for _, tc := range []struct {
			name string
			ref  delivery.Ref
			now  time.Time
			want bool
		}{
			{"before the lease ends", ref, lease.Add(-time.Microsecond), false},
			{"wrong generation", delivery.Ref{ID: ref.ID, Gen: ref.Gen + 1}, lease.Add(time.Second), false},
			{"not sending", refs[1], lease.Add(time.Second), false},
			{"when the lease ends", ref, lease, true},
			{"again, under the new lease", ref, lease.Add(time.Second), false},
		} {
			before := f.delivery(ref.ID)
			ok, err := f.db.Reclaim(f.ctx, tc.ref, tc.now, tc.now.Add(time.Minute))
			require.NoError(t, err)
			require.Equal(t, tc.want, ok, tc.name)
			d := f.delivery(tc.ref.ID)
			if tc.want {
				requireTime(t, tc.now.Add(time.Minute), d.LeaseUntil, tc.name)
				require.Equal(t, "sending", d.Status)
				require.Equal(t, before.Attempts, d.Attempts, "a reclaim is the same attempt")
			} else if tc.ref.ID == ref.ID {
				require.Equal(t, before, d, tc.name)
			}
		}
		require.Equal(t, "planned", f.delivery(refs[1].ID).Status)

		// A released lease can be reclaimed at once.
		ok, err = f.db.Claim(f.ctx, refs[1], t0, lease, nil, consent.Check{})
		require.NoError(t, err)
		require.True(t, ok)
		require.NoError(t, f.db.ReleaseLease(f.ctx, refs[1], lease, at(time.Second), "ambiguous send", at(time.Second)))
		ok, err = f.db.Reclaim(f.ctx, refs[1], at(time.Second), lease)
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, "ambiguous send", f.delivery(refs[1].ID).Error)
	})
}

func TestUnclaim(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		_, refs := f.planned("spring", 2, campaign.StatusRunning)
		for _, r := range refs {
			f.moveTo(r, delivery.Sending)
		}
		ok, err := f.db.Unclaim(f.ctx, refs[0], at(time.Minute), false, "", "retry", at(time.Second))
		require.NoError(t, err)
		require.True(t, ok)
		d := f.delivery(refs[0].ID)
		require.Equal(t, "queued", d.Status)
		require.Equal(t, refs[0].Gen, d.Gen)
		require.Nil(t, d.LeaseUntil)

		ok, err = f.db.Unclaim(f.ctx, refs[1], at(time.Minute), true, "", "replan", at(time.Second))
		require.NoError(t, err)
		require.True(t, ok)
		d = f.delivery(refs[1].ID)
		require.Equal(t, "planned", d.Status)
		require.Equal(t, refs[1].Gen+1, d.Gen)

		ok, err = f.db.Unclaim(f.ctx, refs[1], at(time.Minute), true, "", "again", at(time.Second))
		require.NoError(t, err)
		require.False(t, ok, "not sending any more")
	})
}

func TestKnownWAMIDs(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		_, refs := f.planned("spring", 3, campaign.StatusRunning)
		f.claimAndSend(refs[0], "wamid.A", t0)
		f.claimAndSend(refs[1], "", t0)
		ok, err := f.db.ApplyStatus(f.ctx, refs[1].ID, "wamid.B", provider.StatusReport{Status: provider.StatusDelivered}, t0, nil)
		require.NoError(t, err)
		require.True(t, ok)

		got, err := f.db.KnownWAMIDs(f.ctx, []string{"wamid.A", "wamid.B", "wamid.C", ""})
		require.NoError(t, err)
		require.Equal(t, map[string]bool{"wamid.A": true, "wamid.B": true}, got)

		got, err = f.db.KnownWAMIDs(f.ctx, nil)
		require.NoError(t, err)
		require.Empty(t, got)
	})
}

// Release hands back a claim that never reached the provider: queued again
// with the attempt not counted, only by the attempt holding the lease; a
// cancelled broadcast's delivery ends skipped.
func TestRelease(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		b, refs := f.planned("rel", 2, campaign.StatusRunning)
		lease := at(time.Minute)
		for _, r := range refs {
			ok, err := f.db.Claim(f.ctx, r, t0, lease, nil, consent.Check{})
			require.NoError(t, err)
			require.True(t, ok)
		}

		ok, err := f.db.Release(f.ctx, refs[0], at(2*time.Minute), "rate wait", at(time.Second))
		require.NoError(t, err)
		require.False(t, ok, "another lease: not this attempt's claim")
		ok, err = f.db.Release(f.ctx, refs[0], lease, "rate wait", at(time.Second))
		require.NoError(t, err)
		require.True(t, ok)
		d := f.delivery(refs[0].ID)
		require.Equal(t, "queued", d.Status)
		require.Zero(t, d.Attempts, "a wait is not an attempt")
		require.Nil(t, d.LeaseUntil)

		ok, err = f.db.SetStatus(f.ctx, b.ID, []campaign.Status{campaign.StatusRunning}, campaign.StatusCancelled, "test", t0)
		require.NoError(t, err)
		require.True(t, ok)
		ok, err = f.db.Release(f.ctx, refs[1], lease, "shutting down", at(time.Second))
		require.NoError(t, err)
		require.True(t, ok)
		d = f.delivery(refs[1].ID)
		require.Equal(t, "skipped", d.Status)
		require.Equal(t, "broadcast cancelled", d.Error, "a skipped delivery says why, as the broadcast's others do")
		last := f.events(refs[1].ID)[len(f.events(refs[1].ID))-1]
		require.Equal(t, "skipped", last.Status)
		require.Equal(t, "broadcast cancelled", last.Detail)
	})
}
