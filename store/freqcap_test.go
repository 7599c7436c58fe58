package store_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/provider"
	"github.com/wacamp/wacamp/sequence"
	"github.com/wacamp/wacamp/spec"
	"github.com/wacamp/wacamp/store"
)

// An account's frequency cap is stored and loaded with every job; a
// delivery skipped over the cap carries the reason code frequency_cap,
// counted by status among the skips by reason and shown by export; Meta's
// 131049, in a send's answer or reported after it (a failed status, here
// one that gives only Meta's title: its code is read from it as a send's
// error's is), is counted beside them.
func TestFrequencyCapStoredAndCounted(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		a := account("main")
		a.FrequencyCap = spec.FrequencyCap{Messages: 2, Per: 168 * time.Hour, Sequences: spec.CapSkip}
		f.apply(&spec.Bundle{Accounts: []spec.Account{a}, Broadcasts: []spec.Broadcast{broadcast("spring", 5)}}, t0)
		b := f.broadcast("spring")
		f.planAll(b.ID, 10)
		f.setStatus(b.ID, "running")
		refs, err := f.db.NextPlanned(f.ctx, b.ID, 10)
		require.NoError(t, err)
		require.Len(t, refs, 5)

		job, err := f.db.Job(f.ctx, refs[0].ID)
		require.NoError(t, err)
		require.Equal(t, delivery.FrequencyCap{Messages: 2, Per: 168 * time.Hour, Sequences: delivery.CapSkip}, job.Account.FrequencyCap)

		finish := func(ref delivery.Ref, to delivery.Status, code, reason string) {
			t.Helper()
			ok, err := f.db.Finish(f.ctx, ref, to, code, reason, at(time.Second))
			require.NoError(t, err)
			require.True(t, ok)
		}
		finish(refs[0], delivery.Skipped, delivery.ReasonFrequencyCap, "frequency cap: reached")
		finish(refs[1], delivery.Skipped, "", "broadcast cancelled")
		finish(refs[2], delivery.Failed, delivery.CodeMarketingCap, "frequency cap: refused under Meta's per-user marketing limit")
		f.claimAndSend(refs[3], "wamid.3", at(time.Second))
		_, err = f.db.ApplyStatus(f.ctx, refs[3].ID, "", provider.StatusReport{Status: provider.StatusFailed,
			Reason: "This message was not delivered to maintain healthy ecosystem engagement."}, at(2*time.Second), nil)
		require.NoError(t, err)
		f.claimAndSend(refs[4], "wamid.4", at(time.Second))
		_, err = f.db.ApplyStatus(f.ctx, refs[4].ID, "", provider.StatusReport{Status: provider.StatusFailed, Code: "131026", Reason: "undeliverable"}, at(2*time.Second), nil)
		require.NoError(t, err)

		skips, err := f.db.SkipCounts(f.ctx, b.ID)
		require.NoError(t, err)
		require.Equal(t, map[string]int{delivery.ReasonFrequencyCap: 1}, skips)
		refused, err := f.db.MarketingCapRefusals(f.ctx, b.ID)
		require.NoError(t, err)
		require.Equal(t, 2, refused)
		codes := map[string]int{}
		for _, r := range f.exportRows(b.ID) {
			codes[string(r.Status)+" "+r.ErrorCode]++
			require.Empty(t, r.Zone, "a broadcast that is not zoned resolves no zone")
		}
		require.Equal(t, map[string]int{"skipped frequency_cap": 1, "skipped ": 1, "failed 131049": 2, "failed 131026": 1}, codes)

		// Accounts of one portfolio share the cap: another size is refused.
		a.Portfolio = "acme"
		f.apply(&spec.Bundle{Accounts: []spec.Account{a}}, t0)
		other := account("other")
		other.Portfolio, other.FrequencyCap = "acme", spec.FrequencyCap{Messages: 3, Per: 168 * time.Hour}
		_, err = f.db.Apply(f.ctx, &spec.Bundle{Accounts: []spec.Account{other}}, t0)
		require.ErrorIs(t, err, store.ErrConflict)
		require.ErrorContains(t, err, `portfolio "acme" already has account "main" with frequency_cap 2 per 168h, not 3 per 168h`)
	})
}

// exportRows exports a broadcast.
func (f *fixture) exportRows(id int64) []delivery.Row {
	f.t.Helper()
	var rows []delivery.Row
	require.NoError(f.t, f.db.Export(f.ctx, id, func(r delivery.Row) error { rows = append(rows, r); return nil }))
	return rows
}

// A step the frequency cap skipped (the account's cap skips sequences) is
// passed over: the next step is planned, its delay after the skip, and the
// last completes the enrollment (also when Meta refused it under its own
// marketing limit); one that expired waiting for room stops it. Status
// counts the skips by reason.
func TestCappedStepIsPassedOver(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		f.apply(withSequences(onboarding(false, "Hi", "Day 2")), t0) // after 0h, 1h
		people := []sequence.Enrollee{{Phone: "4915100000001"}, {Phone: "4915100000002"}}
		_, err := f.db.Enroll(f.ctx, "onboarding", people, t0)
		require.NoError(t, err)
		due := f.dueSteps(t0)
		require.Len(t, due, 2)

		skipped := at(10 * time.Minute)
		ok, err := f.db.Finish(f.ctx, due[0].Ref, delivery.Skipped, delivery.ReasonFrequencyCap, "frequency cap", skipped)
		require.NoError(t, err)
		require.True(t, ok)
		ok, err = f.db.Finish(f.ctx, due[1].Ref, delivery.Expired, delivery.ReasonFrequencyCap, "frequency cap, after its deadline", skipped)
		require.NoError(t, err)
		require.True(t, ok)

		next := f.dueSteps(skipped.Add(time.Hour))
		require.Len(t, next, 1, "only the skipped one's enrollment goes on")
		require.True(t, next[0].DueAt.Equal(skipped.Add(time.Hour)), "due %s", next[0].DueAt)
		counts, err := f.db.EnrollmentCounts(f.ctx, "onboarding")
		require.NoError(t, err)
		require.Equal(t, map[string]int{sequence.EnrollActive: 1, sequence.EnrollStopped: 1}, counts)

		// Meta's 131049 on the last step, in an account that skips: failed,
		// passed over, the enrollment completes.
		ok, err = f.db.Finish(f.ctx, next[0].Ref, delivery.Failed, delivery.CodeMarketingCap, "refused", at(2*time.Hour))
		require.NoError(t, err)
		require.True(t, ok)
		counts, err = f.db.EnrollmentCounts(f.ctx, "onboarding")
		require.NoError(t, err)
		require.Equal(t, map[string]int{sequence.EnrollCompleted: 1, sequence.EnrollStopped: 1}, counts)

		rep, err := f.db.SequenceReport(f.ctx, "onboarding")
		require.NoError(t, err)
		require.Equal(t, map[string]int{"skipped": 1, "expired": 1}, rep.Steps[0].Counts)
		require.Equal(t, map[string]int{delivery.ReasonFrequencyCap: 1}, rep.Steps[0].Skips)
		require.Equal(t, map[string]int{"failed": 1}, rep.Steps[1].Counts)
	})
}
