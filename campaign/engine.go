package campaign

import (
	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/sequence"
)

// The delivery engine lives in package delivery; broadcasts are one of its
// owners. These names are the engine's, kept here so that callers written
// against campaign keep working while they move to delivery.
type (
	Ref             = delivery.Ref
	Job             = delivery.Job
	Account         = delivery.Account
	PollTarget      = delivery.PollTarget
	PollRef         = delivery.PollRef
	Row             = delivery.Row
	Sender          = delivery.Sender
	Senders         = delivery.Senders
	Limiter         = delivery.Limiter
	Penalizer       = delivery.Penalizer
	RecipientLimits = delivery.RecipientLimits
	Outcomes        = delivery.Outcomes
	Options         = delivery.Options
	WaitError       = delivery.WaitError
	SendHandler     = delivery.SendHandler
	PollHandler     = delivery.PollHandler
	SendPayload     = delivery.SendPayload
	PollPayload     = delivery.PollPayload
	PollStore       = delivery.PollStore
	SentLookup      = delivery.SentLookup
	EvidenceStore   = delivery.EvidenceStore
	SettleStore     = delivery.SettleStore
	PendingWebhooks = delivery.PendingWebhooks
	DeliveryStatus  = delivery.Status
	StepJob         = sequence.StepJob
)

// Delivery states (see delivery.Status).
const (
	DeliveryPlanned   = delivery.Planned
	DeliveryQueued    = delivery.Queued
	DeliverySending   = delivery.Sending
	DeliverySent      = delivery.Sent
	DeliveryDelivered = delivery.Delivered
	DeliveryRead      = delivery.Read
	DeliveryFailed    = delivery.Failed
	DeliverySkipped   = delivery.Skipped
	DeliveryExpired   = delivery.Expired
)

// The engine's task types, queues and settle states (see package delivery).
const (
	TypeSend            = delivery.TypeSend
	TypePoll            = delivery.TypePoll
	QueueBroadcast      = delivery.QueueBroadcast
	QueueStatus         = delivery.QueueStatus
	SendMaxAttempts     = delivery.SendMaxAttempts
	BudgetWindow        = delivery.BudgetWindow
	OutcomeSettle       = delivery.OutcomeSettle
	OutcomeFail         = delivery.OutcomeFail
	OutcomeResend       = delivery.OutcomeResend
	DefaultSettleWindow = delivery.DefaultSettleWindow
	SettleAwaiting      = delivery.SettleAwaiting
	SettleSettled       = delivery.SettleSettled
	SettleResent        = delivery.SettleResent
	ReasonAwaiting      = delivery.ReasonAwaiting
	ReasonApplying      = delivery.ReasonApplying
	ApplyingWait        = delivery.ApplyingWait
)

// The engine's tables and functions (see package delivery).
var (
	DeliveryStatuses = delivery.Statuses
	StatusMoves      = delivery.StatusMoves
	IsFailure        = delivery.IsFailure
	RetryDelay       = delivery.RetryDelay
	NewSendTask      = delivery.NewSendTask
	NewStepTask      = delivery.NewStepTask
	SendTaskID       = delivery.SendTaskID
	NewPollTask      = delivery.NewPollTask
	PollTaskID       = delivery.PollTaskID
	NewPollHandler   = delivery.NewPollHandler
)

// WorkerStore is what a worker's send handler needs from persistence: the
// delivery engine's store and both owners' (store.DB satisfies it).
type WorkerStore interface {
	delivery.WorkerStore
	OwnerStore
	sequence.StepStore
}

// SendDeps are what the send handler of broadcasts and sequence steps
// works with.
type SendDeps struct {
	Store   WorkerStore
	Senders Senders
	Limiter Limiter
	// Outcomes may be nil, which turns off pausing on error storms.
	Outcomes Outcomes
	// Recipients may be nil, which turns off the pair interval and the
	// unique-recipient budget.
	Recipients RecipientLimits
	// Webhooks may be nil: a send of unknown outcome then sees only the
	// status webhooks already applied when its settle window ends.
	Webhooks PendingWebhooks
}

// NewSendHandler returns the delivery engine's send handler with the
// owners of both kinds of delivery: broadcasts' (BroadcastOwner) and
// sequence steps' (sequence.StepOwner).
func NewSendHandler(d SendDeps, opts Options) *SendHandler {
	return delivery.NewSendHandler(delivery.SendDeps{Store: d.Store, Senders: d.Senders, Limiter: d.Limiter, Recipients: d.Recipients, Webhooks: d.Webhooks,
		Owners: delivery.Owners{
			KindBroadcast:     NewBroadcastOwner(d.Store, d.Outcomes, opts),
			sequence.KindStep: sequence.NewStepOwner(d.Store, opts),
		}}, opts)
}
