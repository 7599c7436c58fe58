package delivery

import (
	"regexp"
	"strings"

	"github.com/wacamp/wacamp/provider"
)

// Why a failed delivery is not sent again by retry-failed
// ([RetryVerdict]); the reason codes campaign.RetryResult groups them by.
const (
	// NotRetriedPermanent: the provider refused the message for a reason
	// that sending it again would meet again (a permanent or halting
	// code or answer, WHATSAPP.md §4).
	NotRetriedPermanent = "permanent"
	// NotRetriedReachedProvider: the provider accepted the message (it
	// has a wamid or a send time) and reported it failed later: sending it
	// again would be a second message, not the first one retried.
	NotRetriedReachedProvider = "reached_provider"
	// NotRetriedOutcomeUnknown: a send of the delivery may have reached
	// the provider (its answer was lost and the outcome was never
	// settled, or was settled by the account's on_unknown_outcome): never
	// resent blindly (DESIGN's "Never twice").
	NotRetriedOutcomeUnknown = "outcome_unknown"
	// NotRetriedUnrenderable: the message could not be rendered for the
	// recipient; it would fail again.
	NotRetriedUnrenderable = "unrenderable"
	// NotRetriedUnclassified: the failure's record says neither that it
	// was transient nor what it was; left alone rather than guessed at.
	NotRetriedUnclassified = "unclassified"
	// NotRetriedDeadlinePassed: the broadcast's deadline has passed; a
	// delivery planned again would only expire.
	NotRetriedDeadlinePassed = "deadline_passed"
)

// NotRetriedWhy explains each NotRetried reason code in a few words.
var NotRetriedWhy = map[string]string{
	NotRetriedPermanent:       "the provider refused it for good",
	NotRetriedReachedProvider: "the provider accepted it before it failed; sending again would be a second message",
	NotRetriedOutcomeUnknown:  "it may have reached the provider; never sent again blindly",
	NotRetriedUnrenderable:    "the message does not render for the recipient",
	NotRetriedUnclassified:    "the failure's record does not say it was transient",
	NotRetriedDeadlinePassed:  "the broadcast's deadline has passed",
}

// FailedDelivery is what [RetryVerdict] reads of a failed delivery: how its
// failure was recorded.
type FailedDelivery struct {
	// Accepted: the delivery has a wamid or a send time, so the provider
	// took it before it failed.
	Accepted bool
	// Code and Error are its error_code and error as recorded.
	Code, Error string
	// Settle is its settle state ("" when its outcome was never unknown).
	Settle string
}

// gaveUp is the handler's record of a delivery that used its attempts
// without an answer to show (send.go): every attempt before it surely did
// not reach the provider (an ambiguous one is reconciled first).
var gaveUp = regexp.MustCompile(`^gave up after \d+ attempts$`)

// RetryVerdict says whether a failed delivery may be planned again: only
// when its failure was transient and it surely never reached the provider.
// Otherwise reason is one of the NotRetried codes. The failure's class is
// read from what the send handler recorded: Meta's code when there was
// one, else the class a *provider.Error names at the end of its text
// ("… (transient)").
func RetryVerdict(f FailedDelivery) (retry bool, reason string) {
	switch {
	case f.Accepted:
		return false, NotRetriedReachedProvider
	case f.Settle != "", strings.HasPrefix(f.Error, "outcome unknown"):
		return false, NotRetriedOutcomeUnknown
	case strings.HasPrefix(f.Error, "render message:"):
		return false, NotRetriedUnrenderable
	}
	if class, ok := provider.CodeClass(f.Code); ok {
		return classVerdict(class)
	}
	for _, c := range []provider.Class{provider.ClassTransient, provider.ClassPermanent, provider.ClassAmbiguous,
		provider.ClassHaltCampaign, provider.ClassHaltAccount} {
		if strings.HasSuffix(f.Error, " ("+c.String()+")") {
			return classVerdict(c)
		}
	}
	if gaveUp.MatchString(f.Error) {
		return true, ""
	}
	return false, NotRetriedUnclassified
}

func classVerdict(c provider.Class) (bool, string) {
	switch c {
	case provider.ClassTransient:
		return true, ""
	case provider.ClassAmbiguous:
		return false, NotRetriedOutcomeUnknown
	}
	return false, NotRetriedPermanent
}
