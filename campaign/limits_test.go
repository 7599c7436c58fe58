package campaign_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/campaign"
	"github.com/wacamp/wacamp/provider"
)

func TestLimitWarnings(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		n    int
		info provider.AccountInfo
		want int
	}{
		{"unlimited", 1_000_000, provider.AccountInfo{SubscriberLimit: -1, CreditLimit: -1}, 0},
		{"fits exactly", 100, provider.AccountInfo{SubscriberLimit: 150, SubscriberCount: 50, CreditLimit: -1}, 0},
		{"one too many subscribers", 101, provider.AccountInfo{SubscriberLimit: 150, SubscriberCount: 50, CreditLimit: -1}, 1},
		{"credits short", 10, provider.AccountInfo{SubscriberLimit: -1, CreditLimit: 100, CreditUsed: 95}, 1},
		{"both short, overdrawn plan", 10, provider.AccountInfo{SubscriberLimit: 5, SubscriberCount: 9, CreditLimit: 1, CreditUsed: 3}, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := campaign.LimitWarnings("bf", c.n, c.info)
			require.Len(t, got, c.want, "%v", got)
			for _, w := range got {
				require.Contains(t, w, "bf: ")
			}
		})
	}
}
