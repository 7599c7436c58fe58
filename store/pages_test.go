package store_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/consent"
	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/sequence"
	"github.com/wacamp/wacamp/store"
)

// The suppression list's keyset pages: pages of one walk every entry of
// the lists asked, in (list, phone, scope) order, and end.
func TestSuppressionPage(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		f.suppress(mainList, consent.ScopeAll, consent.SourceCLI, "4915100000002", "4915100000001")
		f.suppress(mainList, consent.ScopeMarketing, consent.SourceCLI, "4915100000001")
		f.suppress("portfolio:acme", consent.ScopeAll, consent.SourceCLI, "4915100000003")
		want := f.entries(mainList)
		require.Len(t, want, 3)
		var got []consent.Entry
		var after *consent.Entry
		for range 10 {
			page, err := f.db.SuppressionPage(f.ctx, []string{mainList}, after, 1)
			require.NoError(t, err)
			if len(page) == 0 {
				break
			}
			require.Len(t, page, 1)
			got = append(got, page[0])
			after = &page[0]
		}
		require.Equal(t, want, got)
		all, err := f.db.SuppressionPage(f.ctx, nil, nil, 10)
		require.NoError(t, err)
		require.Len(t, all, 4, "every list")
	})
}

// A sequence's deliveries page: pages of two walk the sequence's planned
// steps in (enrollment, step) order, never another sequence's, and the
// phone and state filters narrow them.
func TestSequenceDeliveriesPage(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		other := onboarding(false, "Yo")
		other.Name = "other"
		f.apply(withSequences(onboarding(false, "Hi", "Day two"), other), t0)
		others := []string{"4915100000007", "4915100000008", "4915100000009"}
		for i, p := range []string{"4915100000001", "4915100000002", "4915100000003"} { // interleaved ids
			_, err := f.db.Enroll(f.ctx, "onboarding", []sequence.Enrollee{{Phone: p}}, t0)
			require.NoError(t, err)
			_, err = f.db.Enroll(f.ctx, "other", []sequence.Enrollee{{Phone: others[i]}}, t0)
			require.NoError(t, err)
		}
		id, _, _, err := f.db.SequenceSpec(f.ctx, "onboarding")
		require.NoError(t, err)
		all, err := f.db.SequenceDeliveries(f.ctx, id, store.DeliveryFilter{}, store.StepCursor{}, 1000)
		require.NoError(t, err)
		require.GreaterOrEqual(t, len(all), 3, "each enrollment's first step is planned")
		var got []store.StepDelivery
		var after store.StepCursor
		for range 20 {
			page, err := f.db.SequenceDeliveries(f.ctx, id, store.DeliveryFilter{}, after, 2)
			require.NoError(t, err)
			got = append(got, page...)
			if len(page) < 2 {
				break
			}
			last := page[len(page)-1]
			after = store.StepCursor{Enrollment: last.Enrollment, Step: last.Step}
		}
		require.Equal(t, all, got)
		for i, d := range all {
			require.Contains(t, []string{"4915100000001", "4915100000002", "4915100000003"}, d.Phone, "another sequence's row")
			require.Equal(t, delivery.Planned, d.Status)
			if i > 0 {
				prev := all[i-1]
				require.True(t, prev.Enrollment < d.Enrollment || prev.Enrollment == d.Enrollment && prev.Step < d.Step, "order")
			}
		}
		one, err := f.db.SequenceDeliveries(f.ctx, id, store.DeliveryFilter{Phone: "4915100000002"}, store.StepCursor{}, 10)
		require.NoError(t, err)
		require.NotEmpty(t, one)
		for _, d := range one {
			require.Equal(t, "4915100000002", d.Phone)
		}
		none, err := f.db.SequenceDeliveries(f.ctx, id, store.DeliveryFilter{Status: delivery.Sent}, store.StepCursor{}, 10)
		require.NoError(t, err)
		require.Empty(t, none)
	})
}
