package campaign

import (
	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/sequence"
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
	Senders delivery.Senders
	Limiter delivery.Limiter
	// Outcomes may be nil, which turns off pausing on error storms.
	Outcomes delivery.Outcomes
	// Recipients may be nil, which turns off the pair interval and the
	// unique-recipient budget.
	Recipients delivery.RecipientLimits
	// Webhooks may be nil: a send of unknown outcome then sees only the
	// status webhooks already applied when its settle window ends.
	Webhooks delivery.PendingWebhooks
	// Queue takes the send tasks a batch send task hands its deliveries to
	// when they must be tried again later (*asynq.Client).
	Queue delivery.Enqueuer
}

// NewSendHandler returns the delivery engine's send handler with the
// owners of both kinds of delivery: broadcasts' (BroadcastOwner) and
// sequence steps' (sequence.StepOwner).
func NewSendHandler(d SendDeps, opts delivery.Options) *delivery.SendHandler {
	return delivery.NewSendHandler(delivery.SendDeps{Store: d.Store, Senders: d.Senders, Limiter: d.Limiter, Recipients: d.Recipients, Webhooks: d.Webhooks, Queue: d.Queue,
		Owners: delivery.Owners{
			KindBroadcast:     NewBroadcastOwner(d.Store, d.Outcomes, opts),
			sequence.KindStep: sequence.NewStepOwner(d.Store, opts),
		}}, opts)
}
