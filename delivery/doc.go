// Package delivery is wacamp's one delivery engine: what happens to one
// message to one recipient, whoever planned it — a broadcast
// (campaign.BroadcastOwner) or a sequence enrollment's step
// (sequence.StepOwner).
//
// # The ladder
//
// A delivery moves planned → queued → sending → sent → delivered → read,
// or ends failed, skipped or expired ([Status]). Sending is held by a lease;
// what a provider reports, by poll or by webhook alike, moves an accepted
// delivery only forward ([StatusMoves]), so duplicated, late or reordered
// reports change nothing.
//
// # Sending one delivery
//
// The [SendHandler] runs one send task (TypeSend, TaskID
// send:<delivery>:<gen>): it loads the [Job], asks its [Owner] whether the
// owner runs and whether the delivery is ready, checks the deadline and the
// attempts, renders the message, applies the recipient limits (pair
// interval, daily unique budget), waits for the number's rate token holding
// nothing, then claims the delivery (queued → sending with a lease, in one
// statement that re-checks its owner still runs, so a pause or cancel stops
// even sends that were waiting), calls the provider and records the wamid
// through the owner (a step's record plans the next step in the same
// transaction). A [WaitError] brings a task back later without counting a
// failure. Errors are classified by the provider package: transient ones
// retry with back-off up to [SendMaxAttempts], permanent ones fail the
// delivery, halting ones are the owner's to apply, and an unknown outcome (a
// lost answer, a bare 500, a worker that died mid-request) is reconciled:
// from the conversation history where the provider has one, else settled
// from its status webhooks within the settle window ([SettleStore]), never
// sent twice on a guess.
//
// # Tracking
//
// The [PollHandler] polls an accepted message's status, on providers that
// do not push it, at most [MaxPolls] times as the [PollPlan] says
// (Options.Polls): a minute after the send, a day after it if still only
// sent, once 48 h after it was found delivered, so that a read within 48 h
// of delivery is recorded. It applies what it finds through
// [PollStore.ApplyStatus], the same forward-only apply the webhook path
// uses.
//
// The engine declares what it consumes: [WorkerStore] and [PollStore]
// (store.DB), [Senders] and [Sender] (provider drivers), [Limiter]
// (throttle.Fleet), [RecipientLimits] (throttle.Recipients) and the
// [Owners]. It imports neither campaign nor sequence.
package delivery
