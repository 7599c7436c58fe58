package store_test

import (
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/campaign"
	"github.com/wacamp/wacamp/consent"
	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/provider"
)

func TestExportEveryDeliveryInIDOrder(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		const n = testBatch*2 + testBatch/2 // three keyset batches
		f.apply(bundle(broadcast("other", 3)), t0)
		f.planAll(f.broadcast("other").ID, 1000)
		b, refs := f.planned("spring", n, campaign.StatusRunning)

		sent, failed, read, skipped := refs[0], refs[1], refs[n/2], refs[n-1]
		f.claimAndSend(sent, "wamid.SENT", at(time.Second))
		ok, err := f.db.Claim(f.ctx, failed, at(2*time.Second), at(time.Minute), nil, consent.Check{})
		require.NoError(t, err)
		require.True(t, ok)
		ok, err = f.db.Finish(f.ctx, failed, delivery.Failed, "131026", "not on WhatsApp", at(3*time.Second))
		require.NoError(t, err)
		require.True(t, ok)
		f.claimAndSend(read, "wamid.READ", at(4*time.Second))
		ok, err = f.db.ApplyStatus(f.ctx, read.ID, "", provider.StatusReport{Status: provider.StatusRead, At: at(5 * time.Second)}, at(6*time.Second), nil)
		require.NoError(t, err)
		require.True(t, ok)
		ok, err = f.db.Finish(f.ctx, skipped, delivery.Skipped, "", "broadcast cancelled", at(7*time.Second))
		require.NoError(t, err)
		require.True(t, ok)

		var rows []delivery.Row
		require.NoError(t, f.db.Export(f.ctx, b.ID, func(r delivery.Row) error {
			rows = append(rows, r)
			return nil
		}))
		require.Len(t, rows, n)
		phones := map[string]bool{}
		for i, r := range rows {
			require.Equal(t, refs[i].ID, r.ID, "row %d: id order", i)
			require.False(t, phones[r.Phone], "phone %s exported twice", r.Phone)
			phones[r.Phone] = true
			num, err := strconv.Atoi(r.Phone[len("49151"):])
			require.NoError(t, err)
			require.Equal(t, fmt.Sprintf("Person %d", num), r.Name, "row %d: the recipient's name", i)
			require.Less(t, num, n)
		}

		ts := func(d time.Duration) *time.Time { tm := at(d); return &tm }
		for _, c := range []struct {
			ref  delivery.Ref
			want delivery.Row
		}{
			{sent, delivery.Row{Status: delivery.Sent, WAMID: "wamid.SENT", Attempts: 1, SentAt: ts(time.Second), UpdatedAt: at(time.Second)}},
			{failed, delivery.Row{Status: delivery.Failed, ErrorCode: "131026", Error: "not on WhatsApp", Attempts: 1, UpdatedAt: at(3 * time.Second)}},
			{read, delivery.Row{Status: delivery.Read, WAMID: "wamid.READ", Attempts: 1, SentAt: ts(4 * time.Second), UpdatedAt: at(6 * time.Second)}},
			{skipped, delivery.Row{Status: delivery.Skipped, Error: "broadcast cancelled", UpdatedAt: at(7 * time.Second)}},
			{refs[testBatch], delivery.Row{Status: delivery.Planned, UpdatedAt: t0}},
		} {
			i := 0
			for rows[i].ID != c.ref.ID {
				i++
			}
			got := rows[i]
			require.Equal(t, f.delivery(c.ref.ID).Phone, got.Phone)
			want := c.want
			want.ID, want.Phone, want.Name = got.ID, got.Phone, got.Name
			require.True(t, want.UpdatedAt.Equal(got.UpdatedAt), "%s: updated_at %s, want %s", want.Status, got.UpdatedAt, want.UpdatedAt)
			if want.SentAt != nil {
				requireTime(t, *want.SentAt, got.SentAt, "sent_at")
			}
			want.UpdatedAt, want.SentAt = got.UpdatedAt, got.SentAt
			require.Equal(t, want, got)
			require.Equal(t, time.UTC, got.UpdatedAt.Location())
		}

		var others int
		require.NoError(t, f.db.Export(f.ctx, f.broadcast("other").ID, func(delivery.Row) error { others++; return nil }))
		require.Equal(t, 3, others, "only the broadcast's own deliveries")

		// fn's error stops the export and comes back.
		stop := errors.New("stop")
		calls := 0
		err = f.db.Export(f.ctx, b.ID, func(delivery.Row) error {
			calls++
			if calls == n/2+1 {
				return stop
			}
			return nil
		})
		require.ErrorIs(t, err, stop)
		require.Equal(t, n/2+1, calls)
	})
}

func TestWindowAndSentSince(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		f.apply(bundle(broadcast("spring", 5)), t0)
		b := f.broadcast("spring")
		window := func(wantInflight int, wantMore bool) {
			t.Helper()
			inflight, more, err := f.db.Window(f.ctx, b.ID)
			require.NoError(t, err)
			require.Equal(t, wantInflight, inflight, "inflight")
			require.Equal(t, wantMore, more, "more planned")
		}
		window(0, true) // recipients without a delivery yet are more to send
		f.planAll(b.ID, 2)
		f.setStatus(b.ID, campaign.StatusRunning)
		window(0, true)

		refs, err := f.db.NextPlanned(f.ctx, b.ID, 3)
		require.NoError(t, err)
		require.Len(t, refs, 3)
		require.Equal(t, refs, f.markQueued(refs, at(time.Second)))
		window(3, true)
		ok, err := f.db.Claim(f.ctx, refs[0], at(2*time.Second), at(time.Minute), nil, consent.Check{})
		require.NoError(t, err)
		require.True(t, ok)
		window(3, true) // queued + sending
		ok, err = f.db.MarkSent(f.ctx, refs[0], "wamid.0", at(3*time.Second), at(time.Minute), at(time.Hour))
		require.NoError(t, err)
		require.True(t, ok)
		window(2, true)

		rest, err := f.db.NextPlanned(f.ctx, b.ID, 10)
		require.NoError(t, err)
		require.Len(t, rest, 2, "queued deliveries are no longer planned")
		require.Equal(t, rest, f.markQueued(rest, at(4*time.Second)))
		window(4, false)
		f.claimAndSend(rest[0], "wamid.1", at(5*time.Second))
		window(3, false)
		// A send awaiting the provider's confirmation of a lost answer may
		// wait minutes: it does not hold up the feed, but the broadcast is
		// not over while it waits.
		ok, err = f.db.Claim(f.ctx, rest[1], at(6*time.Second), at(time.Minute), nil, consent.Check{})
		require.NoError(t, err)
		require.True(t, ok)
		ok, err = f.db.AwaitSettle(f.ctx, rest[1], at(time.Minute), at(5*time.Minute), delivery.ReasonAwaiting, at(7*time.Second))
		require.NoError(t, err)
		require.True(t, ok)
		window(2, true)

		for _, c := range []struct {
			since time.Duration
			want  int
		}{{0, 2}, {3 * time.Second, 2}, {4 * time.Second, 1}, {5 * time.Second, 1}, {6 * time.Second, 0}} {
			got, err := f.db.SentSince(f.ctx, b.ID, at(c.since))
			require.NoError(t, err)
			require.Equal(t, c.want, got, "sent since t0+%s", c.since)
		}
	})
}

func TestMarkQueued(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		_, refs := f.planned("spring", 3, campaign.StatusRunning)
		f.moveTo(refs[1], delivery.Sent)
		stale := refs[2]
		_, ok, err := f.db.Regen(f.ctx, stale, t0)
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, refs[:1], f.markQueued(refs, at(time.Minute)), "only planned deliveries of the ref's generation")
		d := f.delivery(refs[0].ID)
		require.Equal(t, "queued", d.Status)
		requireTime(t, at(time.Minute), d.QueuedAt)
		require.Equal(t, "sent", f.delivery(refs[1].ID).Status)
		require.Equal(t, "planned", f.delivery(refs[2].ID).Status, "a stale generation is not queued")
		require.Empty(t, f.markQueued(refs[:1], at(time.Hour)), "queued already")
		requireTime(t, at(time.Minute), f.delivery(refs[0].ID).QueuedAt)
		require.Empty(t, f.markQueued(nil, at(time.Hour)))

		for _, st := range []campaign.Status{campaign.StatusScheduled, campaign.StatusPaused, campaign.StatusCancelled} {
			b, refs := f.planned("b-"+string(st), 2, st)
			require.Empty(t, f.markQueued(refs, at(time.Minute)), "a %s broadcast feeds nothing", st)
			counts, err := f.db.CountByStatus(f.ctx, b.ID)
			require.NoError(t, err)
			require.Equal(t, map[delivery.Status]int{delivery.Planned: 2}, counts)
		}
	})
}

func TestFinishPending(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		b, refs := f.planned("spring", 6, campaign.StatusRunning)
		_, otherRefs := f.planned("other", 1, campaign.StatusRunning)
		require.Equal(t, refs[:3], f.markQueued(refs[:3], at(time.Second)))
		f.moveTo(refs[2], delivery.Sending)
		f.moveTo(refs[3], delivery.Sent)
		// refs[0,1] queued, [2] sending, [3] sent, [4,5] planned.
		untouched := []deliveryRow{f.delivery(refs[2].ID), f.delivery(refs[3].ID), f.delivery(otherRefs[0].ID)}

		now := at(time.Minute).Add(789 * time.Nanosecond) // as from time.Now(): finer than Postgres keeps
		got, err := f.db.FinishPending(f.ctx, b.ID, delivery.Skipped, "broadcast cancelled", now)
		require.NoError(t, err)
		require.ElementsMatch(t, refs[:2], refsOf(got), "the queued ones, to delete their tasks")
		for _, r := range []delivery.Ref{refs[0], refs[1], refs[4], refs[5]} {
			d := f.delivery(r.ID)
			require.Equal(t, "skipped", d.Status)
			require.Equal(t, "broadcast cancelled", d.Error)
			es := f.events(r.ID)
			require.Equal(t, []string{"skipped"}, eventStatuses(es), "delivery %d: one event per finished delivery", r.ID)
			require.Equal(t, "broadcast cancelled", es[0].Detail)
		}
		require.Equal(t, untouched, []deliveryRow{f.delivery(refs[2].ID), f.delivery(refs[3].ID), f.delivery(otherRefs[0].ID)})
		require.Equal(t, int64(4), f.count("delivery_events", "status = 'skipped'"))

		got, err = f.db.FinishPending(f.ctx, b.ID, delivery.Skipped, "again", at(time.Hour))
		require.NoError(t, err)
		require.Empty(t, got)
		require.Equal(t, int64(4), f.count("delivery_events", "status = 'skipped'"))
	})
}

func TestStale(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		_, refs := f.planned("spring", 5, campaign.StatusRunning)
		paused, pausedRefs := f.planned("paused", 1, campaign.StatusRunning)
		require.Equal(t, refs[:1], f.markQueued(refs[:1], t0))                           // queued long ago
		require.Equal(t, refs[1:2], f.markQueued(refs[1:2], at(10*time.Minute)))         // queued recently
		require.Equal(t, pausedRefs, f.markQueued(pausedRefs, t0))                       // its broadcast is paused
		ok, err := f.db.Claim(f.ctx, refs[2], t0, at(time.Minute), nil, consent.Check{}) // lease ended
		require.NoError(t, err)
		require.True(t, ok)
		ok, err = f.db.Claim(f.ctx, refs[3], t0, at(time.Hour), nil, consent.Check{}) // lease running
		require.NoError(t, err)
		require.True(t, ok)
		f.setStatusFrom(paused.ID, campaign.StatusRunning, campaign.StatusPaused)

		jobs, err := f.db.Stale(f.ctx, at(5*time.Minute), 0, 10)
		require.NoError(t, err)
		var ids []int64
		for _, j := range jobs {
			ids = append(ids, j.ID)
		}
		require.Equal(t, []int64{refs[0].ID, refs[2].ID}, ids)
		require.Equal(t, delivery.Queued, jobs[0].Status)
		require.Equal(t, delivery.Sending, jobs[1].Status)

		jobs, err = f.db.Stale(f.ctx, at(5*time.Minute), 0, 1)
		require.NoError(t, err)
		require.Len(t, jobs, 1)
	})
}

func (f *fixture) setStatusFrom(id int64, from, to campaign.Status) {
	f.t.Helper()
	ok, err := f.db.SetStatus(f.ctx, id, []campaign.Status{from}, to, "test", t0)
	require.NoError(f.t, err)
	require.True(f.t, ok)
}

func TestJobAndPollTarget(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		b, refs := f.planned("spring", 2, campaign.StatusRunning)
		j, err := f.db.Job(f.ctx, refs[1].ID)
		require.NoError(t, err)
		d := f.delivery(refs[1].ID)
		require.Equal(t, refs[1], j.Ref)
		require.Equal(t, delivery.Planned, j.Status)
		require.Equal(t, d.Phone, j.Phone)
		num, err := strconv.Atoi(d.Phone[len("49151"):])
		require.NoError(t, err)
		require.Equal(t, fmt.Sprintf("Person %d", num), j.Name)
		require.Equal(t, map[string]string{"code": fmt.Sprintf("C%d", num)}, j.Vars)
		jb, ok := campaign.BroadcastOf(j)
		require.True(t, ok)
		require.Equal(t, b.ID, jb.ID)
		require.Equal(t, broadcast("spring", 0).Message, jb.Message)
		require.Equal(t, "main", j.Account.Name)
		require.Equal(t, "env:TOKEN_MAIN", j.Account.TokenRef)

		f.claimAndSend(refs[1], "wamid.X", at(time.Second))
		pt, err := f.db.PollTarget(f.ctx, refs[1].ID)
		require.NoError(t, err)
		require.Equal(t, "wamid.X", pt.WAMID)
		require.Equal(t, delivery.Sent, pt.Status)
		require.True(t, at(time.Second).Equal(pt.SentAt))
		require.True(t, at(time.Second+30*24*time.Hour).Equal(pt.TrackUntil))
		require.Equal(t, d.Phone, pt.Vars["phone"])

		_, err = f.db.Job(f.ctx, 1_000_000)
		require.ErrorIs(t, err, campaign.ErrNotFound)
		_, err = f.db.BroadcastByName(f.ctx, "nope")
		require.ErrorIs(t, err, campaign.ErrNotFound)
		_, err = f.db.Account(f.ctx, 1_000_000)
		require.ErrorIs(t, err, campaign.ErrNotFound)
	})
}

func TestSetStatusAndPauseAccount(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		f.apply(bundle(broadcast("a", 1), broadcast("b", 1), broadcast("c", 1)), t0)
		a, bb, c := f.broadcast("a"), f.broadcast("b"), f.broadcast("c")

		ok, err := f.db.SetStatus(f.ctx, a.ID, []campaign.Status{campaign.StatusPaused}, campaign.StatusRunning, "", at(time.Second))
		require.NoError(t, err)
		require.False(t, ok, "from a state it is not in")
		f.setStatusFrom(a.ID, campaign.StatusScheduled, campaign.StatusRunning)
		ok, err = f.db.SetStatus(f.ctx, a.ID, []campaign.Status{campaign.StatusRunning}, campaign.StatusPaused, "operator", at(time.Minute))
		require.NoError(t, err)
		require.True(t, ok)
		ok, err = f.db.SetStatus(f.ctx, a.ID, []campaign.Status{campaign.StatusPaused}, campaign.StatusRunning, "", at(time.Hour))
		require.NoError(t, err)
		require.True(t, ok)
		got := f.broadcast("a")
		requireTime(t, t0, got.StartedAt, "started_at is set once")
		require.Nil(t, got.FinishedAt)
		f.setStatusFrom(c.ID, campaign.StatusScheduled, campaign.StatusCancelled)
		cancelled := f.broadcast("c")
		requireTime(t, t0, cancelled.FinishedAt)
		require.Equal(t, "test", cancelled.Reason)

		ids, err := f.db.PauseAccount(f.ctx, a.AccountID, "subscriber limit", at(2*time.Hour))
		require.NoError(t, err)
		require.ElementsMatch(t, []int64{a.ID, bb.ID}, ids)
		for _, name := range []string{"a", "b"} {
			got := f.broadcast(name)
			require.Equal(t, campaign.StatusPaused, got.Status)
			require.Equal(t, "subscriber limit", got.Reason)
		}
		require.Equal(t, campaign.StatusCancelled, f.broadcast("c").Status)

		list, err := f.db.BroadcastsIn(f.ctx, campaign.StatusPaused, campaign.StatusCancelled)
		require.NoError(t, err)
		require.Len(t, list, 3)
		require.Equal(t, []string{"a", "b", "c"}, []string{list[0].Name, list[1].Name, list[2].Name})
	})
}
