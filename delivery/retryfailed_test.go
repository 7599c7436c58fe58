package delivery_test

import (
	"testing"

	"github.com/wacamp/wacamp/delivery"
)

// RetryVerdict retries only a failure recorded as transient that never
// reached the provider, whatever else the record says.
func TestRetryVerdict(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		f      delivery.FailedDelivery
		retry  bool
		reason string
	}{
		{delivery.FailedDelivery{Code: "131016", Error: "gave up after 5 attempts: x send: code 131016: down (transient)"}, true, ""},
		{delivery.FailedDelivery{Code: "130429", Error: "anything"}, true, ""},
		{delivery.FailedDelivery{Error: "gave up after 10 attempts: x send: http 503: busy (transient)"}, true, ""},
		{delivery.FailedDelivery{Error: "gave up after 10 attempts"}, true, ""},
		{delivery.FailedDelivery{Code: "131026", Error: "x send: code 131026: undeliverable (permanent)"}, false, delivery.NotRetriedPermanent},
		{delivery.FailedDelivery{Code: "131049", Error: "marketing cap"}, false, delivery.NotRetriedPermanent},
		{delivery.FailedDelivery{Code: "132015", Error: "paused template"}, false, delivery.NotRetriedPermanent},
		{delivery.FailedDelivery{Error: "x send: http 401: no (halt-account)"}, false, delivery.NotRetriedPermanent},
		{delivery.FailedDelivery{Error: "x send: http 500 (ambiguous)"}, false, delivery.NotRetriedOutcomeUnknown},
		{delivery.FailedDelivery{Code: "130429", Error: "gave up (transient)", Settle: "resent"}, false, delivery.NotRetriedOutcomeUnknown},
		{delivery.FailedDelivery{Error: "outcome unknown: not sent again"}, false, delivery.NotRetriedOutcomeUnknown},
		{delivery.FailedDelivery{Accepted: true, Code: "131000", Error: "failed after sent"}, false, delivery.NotRetriedReachedProvider},
		{delivery.FailedDelivery{Error: "render message: {{code}} has no value"}, false, delivery.NotRetriedUnrenderable},
		{delivery.FailedDelivery{Error: "gave up after 10 attempts: resolve token: no such file"}, false, delivery.NotRetriedUnclassified},
		{delivery.FailedDelivery{}, false, delivery.NotRetriedUnclassified},
	} {
		retry, reason := delivery.RetryVerdict(tc.f)
		if retry != tc.retry || reason != tc.reason {
			t.Errorf("%+v: got (%v, %q), want (%v, %q)", tc.f, retry, reason, tc.retry, tc.reason)
		}
		if reason != "" && delivery.NotRetriedWhy[reason] == "" {
			t.Errorf("reason %q is not explained", reason)
		}
	}
}
