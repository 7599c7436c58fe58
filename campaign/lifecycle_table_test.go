package campaign_test

import (
	"slices"
	"testing"

	"github.com/wacamp/wacamp/campaign"
	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/provider"
)

// The lifecycle table never leaves a final state (but for retry-failed's
// reopening of a completed broadcast), never moves a state to
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
			if from.Final() && move != campaign.MoveRetryFailed {
				t.Errorf("%s leaves the final state %s", move, from)
			}
			if from == tr.To {
				t.Errorf("%s moves %s to itself", move, from)
			}
		}
	}
}

// A reported status only moves a delivery forward on the ladder sent <
// delivered < read (failed only from sent), and only from an accepted
// state: a duplicate or late report can never move one back.
func TestStatusMovesOnlyForward(t *testing.T) {
	t.Parallel()
	rank := map[delivery.Status]int{delivery.Sent: 1, delivery.Delivered: 2, delivery.Read: 3}
	target := map[provider.Status]delivery.Status{provider.StatusDelivered: delivery.Delivered,
		provider.StatusRead: delivery.Read, provider.StatusFailed: delivery.Failed}
	for st, from := range delivery.StatusMoves {
		to, ok := target[st]
		if !ok {
			t.Errorf("%s: not a status that moves a delivery", st)
		}
		for _, f := range from {
			if !f.Accepted() {
				t.Errorf("%s replaces %s, which the provider never accepted", st, f)
			}
			if to == delivery.Failed && f != delivery.Sent {
				t.Errorf("failed replaces %s: a delivered message cannot fail", f)
			}
			if r, ok := rank[to]; ok && rank[f] >= r {
				t.Errorf("%s moves %s backwards or in place", st, f)
			}
		}
	}
	if _, ok := delivery.StatusMoves[provider.StatusSent]; ok {
		t.Error("a sent report moves a delivery")
	}
}
