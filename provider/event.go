package provider

import (
	"errors"
	"time"
)

// ErrUnsupported is wrapped by a driver's answer to a call its API does
// not offer (a conversation history, a status poll, account limits). The
// engine then relies on the provider's webhooks instead.
var ErrUnsupported = errors.New("not offered by this provider's API")

// Event is one notification a provider pushed to our webhook: a status
// change of a message we sent, or a message the subscriber sent us.
type Event struct {
	// WAMID is the id of the message the event is about: ours for a
	// status, theirs for an inbound message. Empty when the provider
	// passes none.
	WAMID string
	// Status is the new status of one of our messages; empty for inbound
	// messages.
	Status Status
	// At is when the provider says it happened; zero if unknown.
	At time.Time
	// Code and Reason explain a failed status, when the provider does.
	Code   string
	Reason string
	// Phone is the subscriber's number (digits only): the recipient of a
	// status, the sender of an inbound message. Empty if not given.
	Phone string
	// Inbound marks a message from the subscriber (a reply).
	Inbound bool
	// Text is the message text (or a media caption), when the provider
	// passes it: for a status, the text of our message, which matches the
	// status to its send when the send's answer named no id.
	Text string
	// Media is the URL of the message's media, when the provider passes it.
	Media string
	// MatchByPhone says the provider's send answers carry no id, so the
	// status belongs to a recent accepted message to Phone that has none
	// recorded yet: the one whose content is Text (or Media), else the
	// oldest (Salebot's message webhook, waapi's text sends).
	MatchByPhone bool
}
