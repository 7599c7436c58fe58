package campaign_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/provider/botsailor/botsailorsim"
	"github.com/wacamp/wacamp/provider/sim"
)

// TestLostTemplateAnswersListedWithoutWAMID: 5% of template answers are
// dropped after the provider accepted the send, and the conversation lists
// a share of the templates without a wamid (for good, or for a second). A
// newer template entry in the conversation is the proof the send happened:
// no template is sent twice, none is lost, and every delivery's status is
// tracked to delivered, from the entry while its wamid is missing and by
// the wamid once it shows. In ListedLate the history lags the sends, so the
// entry is found by the status poller rather than right after the send.
func TestLostTemplateAnswersListedWithoutWAMID(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		n          int
		drop       float64
		noWAMID    float64
		wamidAfter time.Duration
		listAfter  time.Duration
	}{
		{name: "WAMIDNeverListed", n: 400, drop: 0.05, noWAMID: 0.5},
		{name: "WAMIDListedLater", n: 200, drop: 0.05, noWAMID: 0.5, wamidAfter: time.Second},
		{name: "ListedLate", n: 100, noWAMID: 1, listAfter: 500 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := newBench(t, botsailorsim.Options{
				Knobs: sim.Knobs{DropAfterAcceptRate: tc.drop, DeliverAfter: 200 * time.Millisecond, ReadAfter: -1, Seed: 21, RatePerSecond: 250}, ConvNoWAMIDRate: tc.noWAMID, ConvWAMIDAfter: tc.wamidAfter, ListAfter: tc.listAfter,
			})
			b.apply(b.writeCampaign("tpl", tc.n, 250, `      template: {id: "313823", vars: {name: "{{name}}"}}`))
			b.startWorker(20)
			b.startWorker(20)
			b.startScheduler()
			b.waitFor(90*time.Second, "every template delivered and so recorded", func() bool {
				return b.counts("tpl")[string(delivery.Delivered)] == tc.n
			})
			if tc.wamidAfter > 0 {
				// Tracking switches to the wamid once it shows.
				b.waitFor(30*time.Second, "every wamid recorded once listed", func() bool {
					for _, r := range b.export("tpl") {
						if r.WAMID == "" {
							return false
						}
					}
					return true
				})
			}
			st := b.sim.Stats()
			require.GreaterOrEqual(t, float64(st.Dropped), float64(tc.n)*tc.drop/2, "the simulator should have dropped answers")
			rows := b.export("tpl")
			require.Len(t, rows, tc.n)
			b.requireOncePerPhone(rows)
			require.Equal(t, tc.n, st.Accepted)

			byPhone := map[string]botsailorsim.Send{}
			for _, s := range b.sim.Sends() {
				byPhone[s.Phone] = s
			}
			withID := 0
			for _, r := range rows {
				require.Equal(t, delivery.Delivered, r.Status, "delivery %d", r.ID)
				if r.WAMID != "" {
					withID++
					require.Equal(t, byPhone[r.Phone].WAMID, r.WAMID, "the wamid of %s is its own message's", r.Phone)
				}
			}
			switch {
			case tc.wamidAfter > 0:
				require.Equal(t, tc.n, withID)
			case tc.noWAMID == 1:
				require.Zero(t, withID, "no template was ever listed with a wamid")
			default:
				require.Less(t, withID, tc.n*3/4, "about half the templates were never listed with a wamid")
			}
			t.Logf("%d templates, %d answers dropped, %d recorded with a wamid", tc.n, st.Dropped, withID)
		})
	}
}
