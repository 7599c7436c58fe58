// Package campaign runs broadcasts: one message to every recipient of an
// audience, at a scheduled time, through one provider account.
//
// # Lifecycle
//
// A broadcast is created by `scheduler apply` in state scheduled (or draft).
// When its start_at passes, the scheduler plans it: the audience is expanded in
// keyset batches into one delivery row per recipient, unique on (broadcast,
// recipient), so planning twice changes nothing. Then it is running:
//
//	draft ─▶ scheduled ─▶ running ─▶ completed
//	                        │  ▲
//	                        ▼  │
//	                       paused ─▶ cancelled
//
// # Feeding
//
// Redis holds a window of work, not the audience. Each scheduler tick the
// [Feeder] tops up every running broadcast's window: it picks the next planned
// deliveries by id, enqueues one send task each with the deterministic TaskID
// send:<delivery>:<gen>, and marks them queued. Pausing bumps the generation of
// queued deliveries and deletes their tasks, so a stale task that still runs
// finds a generation mismatch and does nothing.
//
// # Sending
//
// The [SendHandler] loads the delivery, checks the deadline, waits for a rate
// token (waiting is not failing), claims the delivery (queued → sending, only
// while the broadcast runs), renders the message, calls the provider and
// records the wamid and sent before acknowledging the task. A retried task
// that finds its delivery sent does nothing; one that finds it sending after a
// crash or a lost answer reconciles with the provider's conversation history
// before it sends again.
//
// # Tracking
//
// Every accepted message is polled for its status on a back-off schedule until
// it is read or failed or its tracking TTL passes. Due polls live in Postgres
// (next_poll_at); the [Feeder] moves a window of them into Redis. Status only
// moves forward: sent < delivered < read, failed only from below delivered.
package campaign
