package store_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/sequence"
	"github.com/wacamp/wacamp/spec"
)

// validate's estimate: the recipients who already had the cap's number of
// messages accepted within its window, from the accounts of the ledger
// (broadcasts and sequence steps alike), in one statement per chunk.
func TestAtCapCountsTheHistory(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		main, other := account("main"), account("other")
		other.PhoneNumberID = "999"
		f.apply(&spec.Bundle{Accounts: []spec.Account{main, other}, Sequences: []spec.Sequence{onboarding(false, "Hi")}}, t0)
		f.apply(bundle(broadcast("b1", 3), broadcast("b2", 3)), t0)
		// b1 and b2 went to phones 0–2 (main); phone 0 also got a step.
		for _, name := range []string{"b1", "b2"} {
			b := f.broadcast(name)
			f.planAll(b.ID, 10)
			f.setStatus(b.ID, "running")
			refs, err := f.db.NextPlanned(f.ctx, b.ID, 10)
			require.NoError(t, err)
			f.claimAndSend(refs[0], name+".0", at(time.Minute))
			f.claimAndSend(refs[1], name+".1", at(-200*time.Hour)) // long ago
			if name == "b2" {
				f.claimAndSend(refs[2], name+".2", at(time.Minute))
			}
		}
		_, err := f.db.Enroll(f.ctx, "onboarding", []sequence.Enrollee{{Phone: recipients(2, 1)[0].Phone}}, t0)
		require.NoError(t, err)
		due := f.dueSteps(t0)
		require.Len(t, due, 1)
		f.sendStep(due[0].Ref, "step.0", at(time.Minute))

		ids, err := f.db.LedgerAccounts(f.ctx, "number:119060000040020")
		require.NoError(t, err)
		require.Len(t, ids, 1, "other has its own number")
		phones := []string{recipients(0, 1)[0].Phone, recipients(1, 1)[0].Phone, recipients(2, 1)[0].Phone, "4915199999999"}
		since := at(-168 * time.Hour)
		for _, tc := range []struct{ messages, want int }{{1, 2}, {2, 2}, {3, 0}} {
			n, err := f.db.AtCap(f.ctx, ids, phones, since, tc.messages)
			require.NoError(t, err)
			require.Equal(t, tc.want, n, "cap of %d", tc.messages)
		}
		otherIDs, err := f.db.LedgerAccounts(f.ctx, "number:999")
		require.NoError(t, err)
		n, err := f.db.AtCap(f.ctx, otherIDs, phones, since, 1)
		require.NoError(t, err)
		require.Zero(t, n, "another number's cap counts its own sends")
		n, err = f.db.AtCap(f.ctx, ids, phones, at(-300*time.Hour), 2)
		require.NoError(t, err)
		require.Equal(t, 3, n, "a longer window reaches the old sends: %s", fmt.Sprint(phones))
	})
}
