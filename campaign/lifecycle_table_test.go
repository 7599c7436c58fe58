package campaign_test

import (
	"slices"
	"testing"

	"github.com/wacamp/wacamp/campaign"
)

// The lifecycle table never leaves a final state, never moves a state to
// itself, and every move ends where a broadcast can be.
func TestLifecycleTable(t *testing.T) {
	t.Parallel()
	known := []campaign.Status{campaign.StatusDraft, campaign.StatusScheduled, campaign.StatusRunning, campaign.StatusPaused,
		campaign.StatusCompleted, campaign.StatusCancelled, campaign.StatusFailed, campaign.StatusRecurring}
	for move, tr := range campaign.Lifecycle {
		if len(tr.From) == 0 || !slices.Contains(known, tr.To) {
			t.Errorf("%s: %v → %s", move, tr.From, tr.To)
		}
		for _, from := range tr.From {
			if from.Final() {
				t.Errorf("%s leaves the final state %s", move, from)
			}
			if from == tr.To {
				t.Errorf("%s moves %s to itself", move, from)
			}
		}
	}
}
