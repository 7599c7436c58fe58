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
// The [SendHandler] loads the delivery, checks the deadline, renders the
// message, waits for the number's rate token (waiting is not failing, and a
// waiting send holds no claim), then claims the delivery (queued → sending
// with a lease, in one statement that also checks the broadcast still runs
// or the enrollment is still active: the re-check after every wait, so a
// pause or cancel stops even sends that were waiting), takes the
// recipient's place, calls the provider and records the wamid and sent
// before acknowledging the task. A retried task that finds its delivery sent
// does nothing; one that finds it sending after a crash or a lost answer
// reconciles with the provider's conversation history before it sends
// again, and keeps looking over the settle window (Options.SettleWindow)
// before it concludes the message was not sent: a slow provider may accept
// a request long after the client gave up on it. A sequence step is sent by
// the same handler; where it differs from a broadcast's delivery, the
// handler asks the delivery's owner (a broadcast or an enrollment) and
// never branches on the kind itself.
//
// # Losing Redis
//
// Redis holds only a window of work. When it loses its data (a restart
// without persistence, a flush), the [Feeder] notices at its next tick (a
// [LossDetector]) and re-enqueues every delivery whose task is gone and
// every status poll parked there, at once; the periodic sweep (every
// StaleAfter/5) catches single lost tasks.
//
// # Tracking
//
// Every accepted message is polled for its status on a back-off schedule until
// it is read or failed or its tracking TTL passes. Due polls live in Postgres
// (next_poll_at); the [Feeder] moves a window of them into Redis. Status only
// moves forward: sent < delivered < read, failed only from below delivered.
package campaign
