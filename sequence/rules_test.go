package sequence

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/wacamp/wacamp/delivery"
)

// TestRules: a sent step plans the next one (its delay after the send),
// the last completes the enrollment, a failed or expired one stops it and
// a skipped one changes nothing; one the frequency cap skipped (or Meta's
// marketing limit refused) is passed over, and one that expired waiting for
// the cap stops it.
func TestRules(t *testing.T) {
	spec := Spec{Steps: []Step{{}, {After: time.Hour, Deadline: 2 * time.Hour}, {After: 24 * time.Hour}}}
	at := time.Now().UTC().Truncate(time.Second)

	require.Equal(t, Plan{Action: Continue, Step: 0, Due: at}, spec.Start(at, time.UTC))
	require.Equal(t, Plan{Action: Continue, Step: 1, Due: at.Add(time.Hour), SendBy: at.Add(3 * time.Hour)}, spec.Sent(0, at, time.UTC))
	require.Equal(t, Plan{Action: Continue, Step: 2, Due: at.Add(24 * time.Hour)}, spec.Sent(1, at, time.UTC))
	require.Equal(t, Plan{Action: Complete}, spec.Sent(2, at, time.UTC))

	for _, end := range []delivery.Status{delivery.Failed, delivery.Expired} {
		p, ok := Ended(end, "", "131026: undeliverable")
		require.True(t, ok, end)
		require.Equal(t, Plan{Action: Stop, Reason: "a step " + string(end) + ": 131026: undeliverable"}, p)
	}
	_, ok := Ended(delivery.Skipped, "", "enrollment exited")
	require.False(t, ok)
	for end, code := range map[delivery.Status]string{delivery.Skipped: delivery.ReasonFrequencyCap, delivery.Failed: delivery.CodeMarketingCap} {
		p, ok := Ended(end, code, "frequency cap")
		require.True(t, ok, end)
		require.Equal(t, Plan{Action: Pass}, p)
	}
	for _, code := range []string{delivery.ReasonFrequencyCap, delivery.CodeMarketingCap} {
		p, ok := Ended(delivery.Expired, code, "frequency cap, after its deadline")
		require.True(t, ok)
		require.Equal(t, Plan{Action: Stop, Reason: "a step expired: frequency cap, after its deadline"}, p)
	}
}
