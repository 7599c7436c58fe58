package provider

import (
	"context"
	"time"

	"github.com/wacamp/wacamp/templates"
)

// Client is a provider driver's client of one account: what every driver
// builds (provider/drivers) and the engine sends through.
type Client interface {
	// Send sends one rendered message. Errors are *Error values whose
	// Class says whether to retry, fail, reconcile or halt.
	Send(ctx context.Context, to string, m templates.Message) (SendResult, error)
	// Conversation returns the newest messages exchanged with phone
	// (ErrUnsupported where the API keeps no history).
	Conversation(ctx context.Context, phone string, limit int) ([]ConversationMessage, error)
	// MessageStatus returns the current status of a sent message
	// (ErrUnsupported where statuses come only by webhook).
	MessageStatus(ctx context.Context, wamid string) (StatusReport, error)
	// Capabilities is what the driver's API can do.
	Capabilities() Capabilities
}

// Status is a message's delivery status as reported by the provider.
type Status string

// The statuses, in the order a message moves through them. Failed ranks
// between sent and delivered: it may replace sent but never delivered or read.
const (
	StatusUnknown   Status = ""
	StatusSent      Status = "sent"
	StatusDelivered Status = "delivered"
	StatusRead      Status = "read"
	StatusFailed    Status = "failed"
)

// SendResult is a provider's answer to an accepted send.
type SendResult struct {
	// WAMID is the WhatsApp message id (or the provider's own message id);
	// empty when the provider's answer carries none (BotSailor's template
	// send and trigger-bot, Salebot's sends).
	WAMID string
}

// StatusReport is one status observation for a message.
type StatusReport struct {
	Status Status
	// At is when the provider says the status changed; zero if unknown.
	At time.Time
	// Code is Meta's error code for failed messages, if the provider passes one.
	Code string
	// Reason is the provider's failure text, if any.
	Reason string
}

// ConversationMessage is one entry of a subscriber's conversation history, as
// used to find the wamid of a send whose answer carried none or was lost,
// and to track the status of a message whose wamid is still unknown.
type ConversationMessage struct {
	// ID is the provider's own id of the entry (BotSailor's "id"), which it
	// has even while the wamid is missing; empty if the answer has none.
	ID      string
	WAMID   string    // empty while the provider has not learned it
	FromBot bool      // sent by the business (bot, agent or API), not the subscriber
	Time    time.Time // provider-local wall clock; zone unknown; zero if absent
	Content string    // raw message content (Meta message JSON for BotSailor)
	Text    string    // the text body or caption when Content carries one
	Status  Status
	// StatusAt is when the status last changed (provider-local wall clock,
	// like Time); zero if absent.
	StatusAt time.Time
	// Reason is the provider's failure text of a failed message.
	Reason string
}

// AccountInfo is what a provider tells about the account's plan limits,
// and the phone numbers its credentials reach.
type AccountInfo struct {
	SubscriberLimit int64 // -1 = unlimited
	SubscriberCount int64
	CreditLimit     int64 // -1 = unlimited
	CreditUsed      int64
	// PhoneNumberIDs are the phone_number_ids the provider lists for the
	// credentials; nil when it lists none, or lists any of them masked.
	PhoneNumberIDs []string
}
