package store_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/campaign"
	"github.com/wacamp/wacamp/consent"
	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/sequence"
	"github.com/wacamp/wacamp/store"
)

// The console's reads: sends counted per time bucket of one broadcast
// only, its failures grouped by state and code, and its recipients paged
// in audience order and found by part of their number.
func TestConsoleReads(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		_, other := f.planned("other", 2, campaign.StatusRunning)
		f.claimAndSend(other[0], "wamid.OTHER", at(time.Second))
		b, refs := f.planned("spring", 12, campaign.StatusRunning)

		for i, d := range []time.Duration{time.Second, 2 * time.Second, 2500 * time.Millisecond, 10 * time.Second, 59 * time.Second} {
			f.claimAndSend(refs[i], "wamid."+string(rune('A'+i)), at(d))
		}
		end := func(ref delivery.Ref, st delivery.Status, code, msg string) {
			ok, err := f.db.Claim(f.ctx, ref, at(time.Second), at(time.Minute), nil, consent.Check{})
			require.NoError(t, err)
			require.True(t, ok)
			ok, err = f.db.Finish(f.ctx, ref, st, code, msg, at(2*time.Second))
			require.NoError(t, err)
			require.True(t, ok)
		}
		end(refs[5], delivery.Failed, "131026", "not on WhatsApp")
		end(refs[6], delivery.Failed, "131026", "not on WhatsApp")
		end(refs[7], delivery.Skipped, delivery.ReasonFrequencyCap, "frequency cap")

		got, err := f.db.SendsOverTime(f.ctx, b.ID, t0, at(time.Minute), 6)
		require.NoError(t, err)
		require.Equal(t, []int{3, 1, 0, 0, 0, 1}, got)
		got, err = f.db.SendsOverTime(f.ctx, b.ID, at(time.Minute), t0, 4)
		require.NoError(t, err)
		require.Equal(t, []int{0, 0, 0, 0}, got, "an empty span")
		got, err = f.db.SendsOverTime(f.ctx, b.ID, t0, at(time.Minute), 10*store.MaxSendBuckets)
		require.NoError(t, err)
		require.Len(t, got, store.MaxSendBuckets)

		groups, err := f.db.ErrorGroups(f.ctx, b.ID, 10)
		require.NoError(t, err)
		require.Equal(t, []store.ErrorGroup{
			{Status: delivery.Failed, Code: "131026", Example: "not on WhatsApp", N: 2},
			{Status: delivery.Skipped, Code: delivery.ReasonFrequencyCap, Example: "frequency cap", N: 1},
		}, groups)

		var phones []string
		var after int64
		for range 5 {
			page, err := f.db.Recipients(f.ctx, b.ID, after, 5, store.RecipientFilter{})
			require.NoError(t, err)
			if len(page) == 0 {
				break
			}
			for _, r := range page {
				phones = append(phones, r.Phone)
			}
			after = page[len(page)-1].RecipientID
		}
		require.Len(t, phones, 12)
		for i, p := range phones {
			require.Equal(t, recipients(i, 1)[0].Phone, p, "row %d", i)
		}
		found, err := f.db.Recipients(f.ctx, b.ID, 0, 50, store.RecipientFilter{Phone: "+49 151 0000 0005"})
		require.NoError(t, err)
		require.Len(t, found, 1)
		require.Equal(t, delivery.Failed, found[0].Status)
		require.Equal(t, "131026", found[0].ErrorCode)
		found, err = f.db.Recipients(f.ctx, b.ID, 0, 50, store.RecipientFilter{Phone: "no digits"})
		require.NoError(t, err)
		require.Empty(t, found)

		// By state: a page holds only that state, still in audience order.
		for st, want := range map[delivery.Status][]int{delivery.Sent: {0, 1, 2, 3, 4}, delivery.Failed: {5, 6},
			delivery.Skipped: {7}, delivery.Planned: {8, 9, 10, 11}, delivery.Read: nil} {
			var got []int
			after = 0
			for range 10 {
				page, err := f.db.Recipients(f.ctx, b.ID, after, 2, store.RecipientFilter{Status: st})
				require.NoError(t, err)
				if len(page) == 0 {
					break
				}
				for _, r := range page {
					require.Equal(t, st, r.Status)
					for i := range 12 {
						if recipients(i, 1)[0].Phone == r.Phone {
							got = append(got, i)
						}
					}
				}
				after = page[len(page)-1].RecipientID
			}
			require.Equal(t, want, got, st)
		}
		found, err = f.db.Recipients(f.ctx, b.ID, 0, 50, store.RecipientFilter{Phone: "0000006", Status: delivery.Failed})
		require.NoError(t, err)
		require.Len(t, found, 1)
		found, err = f.db.Recipients(f.ctx, b.ID, 0, 50, store.RecipientFilter{Phone: "0000006", Status: delivery.Sent})
		require.NoError(t, err)
		require.Empty(t, found)
		rows, err := f.db.Deliveries(f.ctx, b.ID, store.DeliveryFilter{Contains: "+49 151 0000 0006"}, 0, 50)
		require.NoError(t, err)
		require.Len(t, rows, 1)
		require.Equal(t, delivery.Failed, rows[0].Status)
	})
}

// The console's reads of a sequence: its step sends per time bucket (not
// another sequence's), its failures grouped by step, state and code, and
// its step deliveries paged in (phone, run, step) order, found by part of
// the number and by state.
func TestConsoleSequenceReads(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		other := onboarding(false, "Other")
		other.Name = "other"
		f.apply(withSequences(onboarding(false, "Hi", "Day 2"), other), t0)
		var people []sequence.Enrollee
		for i := 1; i <= 5; i++ {
			people = append(people, sequence.Enrollee{Phone: fmt.Sprintf("491510000000%d", i), Name: fmt.Sprint("P", i)})
		}
		_, err := f.db.Enroll(f.ctx, "onboarding", people, t0)
		require.NoError(t, err)
		_, err = f.db.Enroll(f.ctx, "other", people[:1], t0)
		require.NoError(t, err)
		seq, err := f.db.SequenceByName(f.ctx, "onboarding")
		require.NoError(t, err)
		_, err = f.db.SequenceByName(f.ctx, "nope")
		require.ErrorIs(t, err, campaign.ErrNotFound)

		// Step 1: sent to persons 1-3 (at 1 s, 2 s, 30 s), failed for 4,
		// planned for 5; the other sequence's step is sent at 1 s.
		byPhone := map[string]delivery.Ref{}
		for _, d := range f.dueSteps(t0) {
			job, err := f.db.Job(f.ctx, d.ID)
			require.NoError(t, err)
			if st, _ := sequence.StepOf(job); st.Sequence == "other" {
				f.sendStep(d.Ref, "wamid.other", at(time.Second))
				continue
			}
			byPhone[job.Phone] = d.Ref
		}
		require.Len(t, byPhone, 5)
		for i, d := range []time.Duration{time.Second, 2 * time.Second, 30 * time.Second} {
			f.sendStep(byPhone[people[i].Phone], fmt.Sprint("wamid.", i), at(d))
		}
		ok, err := f.db.Claim(f.ctx, byPhone[people[3].Phone], at(time.Second), at(time.Minute), nil, consent.Check{})
		require.NoError(t, err)
		require.True(t, ok)
		ok, err = f.db.Finish(f.ctx, byPhone[people[3].Phone], delivery.Failed, "131026", "not on WhatsApp", at(3*time.Second))
		require.NoError(t, err)
		require.True(t, ok)
		// Step 2 of person 1, at 45 s.
		var step2 delivery.Ref
		for _, d := range f.dueSteps(at(2 * time.Hour)) {
			job, err := f.db.Job(f.ctx, d.ID)
			require.NoError(t, err)
			if st, _ := sequence.StepOf(job); job.Phone == people[0].Phone && st.Step == 1 {
				step2 = d.Ref
			}
		}
		require.NotZero(t, step2.ID)
		f.sendStep(step2, "wamid.p1s2", at(45*time.Second))

		got, err := f.db.StepSendsOverTime(f.ctx, seq.ID, t0, at(time.Minute), 6)
		require.NoError(t, err)
		require.Equal(t, []int{2, 0, 0, 1, 1, 0}, got)

		groups, err := f.db.SequenceErrorGroups(f.ctx, seq.ID, 10)
		require.NoError(t, err)
		require.Equal(t, []store.ErrorGroup{{Step: 1, Status: delivery.Failed, Code: "131026", Example: "not on WhatsApp", N: 1}}, groups)

		// Part of the number (the console's search), alone and with a state.
		found, err := f.db.SequenceDeliveries(f.ctx, seq.ID, store.DeliveryFilter{Contains: "+49 151 0000 0001"}, store.StepCursor{}, 50)
		require.NoError(t, err)
		require.Len(t, found, 2)
		require.Equal(t, "wamid.p1s2", found[1].WAMID)
		require.Equal(t, "P1", found[1].Name)
		found, err = f.db.SequenceDeliveries(f.ctx, seq.ID, store.DeliveryFilter{Contains: "00003", Status: delivery.Sent}, store.StepCursor{}, 50)
		require.NoError(t, err)
		require.Len(t, found, 1)
		require.Equal(t, people[2].Phone, found[0].Phone)
		require.Equal(t, 1, found[0].Step)
		found, err = f.db.SequenceDeliveries(f.ctx, seq.ID, store.DeliveryFilter{Contains: "none"}, store.StepCursor{}, 50)
		require.NoError(t, err)
		require.Empty(t, found, "no digits: no number contains it")
	})
}
