package campaign

import (
	"fmt"

	"github.com/wacamp/wacamp/provider"
)

// LimitWarnings says what a broadcast of n recipients would run into at the
// provider, given the account's plan (from /user/myInfo): more new
// subscribers than the subscriber limit leaves, or more messages than the
// message credits leave. Whether a recipient is already a subscriber is not
// known before sending, so every recipient is counted as possibly new: the
// warning is an upper bound. While sending, the provider's "Subscriber limit
// has been exceeded" answer pauses the broadcast with that reason.
func LimitWarnings(broadcast string, n int, info provider.AccountInfo) []string {
	var out []string
	if info.SubscriberLimit >= 0 {
		left := max(0, info.SubscriberLimit-info.SubscriberCount)
		if int64(n) > left {
			out = append(out, fmt.Sprintf("%s: up to %d recipients may be new subscribers, but the plan has %d left (limit %d, %d used); sending will pause when the provider refuses more",
				broadcast, n, left, info.SubscriberLimit, info.SubscriberCount))
		}
	}
	if info.CreditLimit >= 0 {
		left := max(0, info.CreditLimit-info.CreditUsed)
		if int64(n) > left {
			out = append(out, fmt.Sprintf("%s: %d messages need %d message credits, but the plan has %d left (limit %d, %d used)",
				broadcast, n, n, left, info.CreditLimit, info.CreditUsed))
		}
	}
	return out
}
