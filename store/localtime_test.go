package store_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/campaign"
	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/localtime"
	"github.com/wacamp/wacamp/spec"
)

// The instants of these tests are fixed: the store reads no clock, every
// "now" is passed in. 2030-03-31 is the day Europe's clocks go forward.
var (
	dstDay   = time.Date(2030, 3, 31, 0, 0, 0, 0, time.UTC)
	tokyo9   = time.Date(2030, 3, 31, 0, 0, 0, 0, time.UTC)  // 09:00 JST
	berlin9  = time.Date(2030, 3, 31, 7, 0, 0, 0, time.UTC)  // 09:00 CEST, the first summer-time morning
	saoPaulo = time.Date(2030, 3, 31, 12, 0, 0, 0, time.UTC) // 09:00 BRT
	newYork9 = time.Date(2030, 3, 31, 13, 0, 0, 0, time.UTC) // 09:00 EDT
)

// zonedAudience is 3 recipients in Tokyo (by their variable), 5 in Berlin
// and 2 in New York (by their numbers) and 1 whose number has no zone (the
// account's, São Paulo), interleaved.
func zonedAudience() []spec.Recipient {
	var rs []spec.Recipient
	for i := range 11 {
		r := spec.Recipient{Phone: fmt.Sprintf("49151%08d", i), Name: fmt.Sprintf("P%d", i), Vars: map[string]string{}}
		switch {
		case i%4 == 1:
			r.Vars["timezone"] = "Asia/Tokyo" // i = 1, 5, 9
		case i == 2 || i == 6:
			r.Phone = fmt.Sprintf("1212555%04d", i)
		case i == 10:
			r.Phone = "80012345678"
		}
		rs = append(rs, r)
	}
	return rs
}

func localBundle(bs ...spec.Broadcast) *spec.Bundle {
	a := account("main")
	a.Timezone = "America/Sao_Paulo"
	return &spec.Bundle{Accounts: []spec.Account{a}, Broadcasts: bs}
}

// morning is a broadcast at 09:00 on dstDay in each recipient's zone,
// starting when that first comes on Earth, with a 48 h deadline.
func morning(name string) spec.Broadcast {
	b := broadcast(name, 0)
	b.Recipients = zonedAudience()
	b.Timing = localtime.Timing{LocalTime: "09:00", Date: dstDay.Format(localtime.DateLayout)}
	start, _ := b.Timing.DefaultStart()
	b.StartAt, b.Deadline = &start, 48*time.Hour
	b.Message.Text = "Good morning {{name}}"
	return b
}

func (f *fixture) planNext(id int64, limit int, now time.Time) []delivery.Ref {
	f.t.Helper()
	refs, err := f.db.PlanNext(f.ctx, id, limit, now)
	require.NoError(f.t, err)
	return refs
}

// zoneOf returns the zones of deliveries by id: IANA name and due_at.
func (f *fixture) zoneOf(refs []delivery.Ref) map[string][]time.Time {
	f.t.Helper()
	out := map[string][]time.Time{}
	for _, r := range refs {
		var row struct {
			Name  string
			DueAt time.Time
		}
		require.NoError(f.t, f.db.Gorm().Raw(`SELECT z.name, d.due_at FROM deliveries d
			JOIN broadcast_zones z ON z.broadcast_id = d.broadcast_id AND z.zone = d.zone WHERE d.id = ?`, r.ID).Scan(&row).Error)
		out[row.Name] = append(out[row.Name], row.DueAt.UTC())
	}
	return out
}

// A local-time broadcast's audience is planned zone by zone as each zone's
// 09:00 comes (earliest first), each delivery due at its zone's time; the
// broadcast has more to send until every zone is planned.
func TestZonedBroadcastPlansEachZoneWhenItsTimeComes(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		f.apply(localBundle(morning("morning")), t0)
		b := f.broadcast("morning")
		require.Equal(t, localtime.Timing{LocalTime: "09:00", Date: "2030-03-31"}, b.Timing)
		zones, err := f.db.Zones(f.ctx, b.ID)
		require.NoError(t, err)
		byName := map[string]int{}
		for _, z := range zones {
			byName[z.Name] = z.Recipients
		}
		require.Equal(t, map[string]int{"Asia/Tokyo": 3, "Europe/Berlin": 5, "America/New_York": 2, "America/Sao_Paulo": 1}, byName)
		require.Zero(t, f.count("recipients", "broadcast_id = ? AND zone IS NULL", b.ID), "every recipient has its zone")

		f.setStatus(b.ID, campaign.StatusRunning)
		require.Empty(t, f.planNext(b.ID, 100, tokyo9.Add(-time.Second)), "no zone's time has come")
		_, more, err := f.db.Window(f.ctx, b.ID)
		require.NoError(t, err)
		require.True(t, more, "the zones are still to come")

		first := f.planNext(b.ID, 2, tokyo9)
		require.Equal(t, map[string][]time.Time{"Asia/Tokyo": {tokyo9, tokyo9}}, f.zoneOf(first))
		// export names each recipient's zone, planned or not yet.
		exported := map[string]int{}
		for _, r := range f.exportRows(b.ID) {
			exported[r.Zone]++
		}
		require.Equal(t, map[string]int{"Asia/Tokyo": 3, "Europe/Berlin": 5, "America/New_York": 2, "America/Sao_Paulo": 1}, exported)
		rest := f.planNext(b.ID, 100, berlin9.Add(-time.Minute))
		require.Equal(t, map[string][]time.Time{"Asia/Tokyo": {tokyo9}}, f.zoneOf(rest), "Berlin's 09:00 has not come")
		due, err := f.db.NextDue(f.ctx, b.ID, 100, tokyo9)
		require.NoError(t, err)
		require.Equal(t, append(first, rest...), due)

		berlin := f.planNext(b.ID, 100, berlin9)
		require.Len(t, berlin, 5)
		require.Equal(t, map[string][]time.Time{"Europe/Berlin": {berlin9, berlin9, berlin9, berlin9, berlin9}}, f.zoneOf(berlin))

		// São Paulo's 09:00 came before New York's: it goes first.
		late := f.planNext(b.ID, 2, newYork9.Add(time.Hour))
		require.Equal(t, map[string][]time.Time{"America/Sao_Paulo": {saoPaulo}, "America/New_York": {newYork9}}, f.zoneOf(late))
		require.Len(t, f.planNext(b.ID, 100, newYork9.Add(time.Hour)), 1)
		require.Empty(t, f.planNext(b.ID, 100, newYork9.Add(time.Hour)), "everyone planned once")
		require.Equal(t, int64(11), f.count("deliveries", "broadcast_id = ?", b.ID))

		zones, err = f.db.Zones(f.ctx, b.ID)
		require.NoError(t, err)
		for _, z := range zones {
			require.Equal(t, z.Recipients, z.Planned, z.Name)
			require.Equal(t, map[delivery.Status]int{delivery.Planned: z.Recipients}, z.Counts, z.Name)
		}
		counts, err := f.db.CountByStatus(f.ctx, b.ID)
		require.NoError(t, err)
		require.Equal(t, map[delivery.Status]int{delivery.Planned: 11}, counts)
		require.NoError(t, f.db.FoldCounts(f.ctx))
		zones, err = f.db.Zones(f.ctx, b.ID)
		require.NoError(t, err)
		require.Equal(t, "Europe/Berlin", zones[0].Name, "zones are numbered as they first appear")
		require.Equal(t, 5, zones[0].Counts[delivery.Planned], "the same once folded")
	})
}

// A zone whose time has come waits while its window is closed, and is
// planned when it opens; a zone whose window opens again only after the
// deadline is left for the deadline's expiry.
func TestZonedBroadcastWaitsForTheWindow(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		b := broadcast("quiet", 0)
		b.Recipients = zonedAudience()[:2] // Berlin, Tokyo
		w, err := localtime.ParseWindow(nil, "10:00", "18:00")
		require.NoError(t, err)
		b.Timing = localtime.Timing{Window: w}
		start := time.Date(2030, 3, 31, 7, 0, 0, 0, time.UTC) // 09:00 Berlin, 16:00 Tokyo
		b.StartAt, b.Deadline = &start, 3*time.Hour+30*time.Minute
		f.apply(localBundle(b), t0)
		id := f.broadcast("quiet").ID
		f.setStatus(id, campaign.StatusRunning)

		tokyo := f.planNext(id, 10, start)
		require.Equal(t, map[string][]time.Time{"Asia/Tokyo": {start}}, f.zoneOf(tokyo), "Tokyo's window is open; Berlin's opens at 10:00")
		// Tokyo's window closes at 18:00 (09:00 UTC); Berlin's opened at
		// 08:00 UTC.
		require.Len(t, f.planNext(id, 10, start.Add(time.Hour)), 1)

		// A third zone whose window would open only after the deadline.
		other := broadcast("late", 0)
		other.Recipients = []spec.Recipient{{Phone: "12125550001"}} // New York: 10:00 EDT is 14:00 UTC
		other.Timing, other.StartAt, other.Deadline = b.Timing, &start, 3*time.Hour
		f.apply(localBundle(other), t0)
		late := f.broadcast("late").ID
		f.setStatus(late, campaign.StatusRunning)
		require.Empty(t, f.planNext(late, 10, start.Add(2*time.Hour)))
		_, more, err := f.db.Window(f.ctx, late)
		require.NoError(t, err)
		require.True(t, more)
		refs, err := f.db.FinishPending(f.ctx, late, delivery.Expired, "deadline passed before the message could be sent", start.Add(3*time.Hour+time.Second))
		require.NoError(t, err)
		require.Empty(t, refs, "nothing was queued")
		_, more, err = f.db.Window(f.ctx, late)
		require.NoError(t, err)
		require.False(t, more, "the zone expired at the deadline")
		zones, err := f.db.Zones(f.ctx, late)
		require.NoError(t, err)
		require.Equal(t, []campaign.Zone{{Name: "America/New_York", Recipients: 1, Planned: 1, Counts: map[delivery.Status]int{delivery.Expired: 1}}}, zones)
	})
}

// Cancelling a zoned broadcast ends every recipient of every zone, planned
// or not, each delivery in its zone with its event; then nothing is left.
func TestZonedBroadcastCancel(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		f.apply(localBundle(morning("morning")), t0)
		id := f.broadcast("morning").ID
		f.setStatus(id, campaign.StatusRunning)
		tokyo := f.planNext(id, 100, tokyo9)
		require.Len(t, tokyo, 3)
		require.Len(t, f.markQueued(tokyo[:1], tokyo9), 1)

		refs, err := f.db.FinishPending(f.ctx, id, delivery.Skipped, "broadcast cancelled", tokyo9.Add(time.Minute))
		require.NoError(t, err)
		require.Len(t, refs, 1, "the queued one, to delete its task")
		require.Equal(t, int64(11), f.count("deliveries", "broadcast_id = ? AND status = 'skipped' AND zone IS NOT NULL", id))
		require.Equal(t, int64(11), f.count("delivery_events", "delivery_id IN (SELECT id FROM deliveries WHERE broadcast_id = ?) AND status = 'skipped'", id))
		_, more, err := f.db.Window(f.ctx, id)
		require.NoError(t, err)
		require.False(t, more)
		zones, err := f.db.Zones(f.ctx, id)
		require.NoError(t, err)
		for _, z := range zones {
			require.Equal(t, map[delivery.Status]int{delivery.Skipped: z.Recipients}, z.Counts, z.Name)
		}
		require.Empty(t, f.planNext(id, 100, newYork9))
	})
}

// Defer puts a queued delivery back to planned, under a new generation, due
// later: NextDue leaves it out until then.
func TestDeferHoldsADeliveryUntilItIsDue(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		b, refs := f.planned("spring", 2, campaign.StatusRunning)
		queued := f.markQueued(refs, at(time.Second))
		later := at(13 * time.Hour)
		ok, err := f.db.Defer(f.ctx, queued[0], later, "outside the window", at(2*time.Second))
		require.NoError(t, err)
		require.True(t, ok)
		ok, err = f.db.Defer(f.ctx, queued[0], later, "again", at(2*time.Second))
		require.NoError(t, err)
		require.False(t, ok, "its old generation moves nothing")

		d := f.delivery(queued[0].ID)
		require.Equal(t, "planned", d.Status)
		require.Equal(t, queued[0].Gen+1, d.Gen)
		require.Nil(t, d.QueuedAt)
		require.Equal(t, "outside the window", d.Error)
		require.Equal(t, []string{"planned"}, eventStatuses(f.events(d.ID)))
		due, err := f.db.NextDue(f.ctx, b.ID, 10, later.Add(-time.Second))
		require.NoError(t, err)
		require.Empty(t, due)
		due, err = f.db.NextDue(f.ctx, b.ID, 10, later)
		require.NoError(t, err)
		require.Equal(t, []delivery.Ref{{ID: d.ID, Gen: d.Gen}}, due)
		job, err := f.db.Job(f.ctx, d.ID)
		require.NoError(t, err)
		require.True(t, later.Equal(job.DueAt))
	})
}

// Applying again: the same timing changes nothing; a broadcast that stops
// being zoned gets its audience written again without zones; a recurring
// local-time broadcast's occurrence copies the zones.
func TestApplyZonedBroadcast(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		m := morning("morning")
		f.apply(localBundle(m), t0)
		require.Equal(t, "unchanged", f.apply(localBundle(m), t0)[1].Action)

		plain := m
		plain.Timing = localtime.Timing{}
		ch := f.apply(localBundle(plain), t0)
		require.Equal(t, "updated", ch[1].Action)
		require.Contains(t, ch[1].Detail, "local_time")
		id := f.broadcast("morning").ID
		require.Equal(t, int64(11), f.count("recipients", "broadcast_id = ? AND zone IS NULL", id))
		require.Zero(t, f.count("broadcast_zones", "broadcast_id = ?", id))

		weekly := m
		weekly.Name, weekly.StartAt, weekly.Cron, weekly.Timing.Date = "weekly", ptrTime(t0), "0 0 * * MON", ""
		f.apply(localBundle(weekly), t0)
		parent := f.broadcast("weekly")
		name, created, err := f.db.CreateOccurrence(f.ctx, parent.ID, dstDay, t0)
		require.NoError(t, err)
		require.True(t, created)
		occ := f.broadcast(name)
		require.Equal(t, localtime.Timing{LocalTime: "09:00"}, occ.Timing)
		zones, err := f.db.Zones(f.ctx, occ.ID)
		require.NoError(t, err)
		require.Len(t, zones, 4)
		require.Equal(t, int64(11), f.count("recipients", "broadcast_id = ? AND zone IS NOT NULL", occ.ID))
	})
}

func ptrTime(t time.Time) *time.Time { return &t }
