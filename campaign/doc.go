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
// Sending is the delivery engine's (package delivery): its send handler
// claims, waits, re-checks, sends and records every delivery the same way,
// and asks the delivery's owner wherever broadcasts and sequence steps
// differ. [BroadcastOwner] is a broadcast's: a running broadcast's
// deliveries go out, a paused one's wait to be fed again, a cancelled one's
// are skipped, a halting provider error or an error storm pauses it.
// [NewSendHandler] wires the engine with both owners (this one and
// sequence.StepOwner).
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
// An accepted message on a provider that does not push statuses is polled
// for its status (delivery.PollHandler) at most delivery.MaxPolls times, as
// delivery.PollPlan says: a minute after the send, a day after it if still
// only sent, and once 48 h after it was found delivered.
// Due polls live in Postgres (next_poll_at); the [Feeder] moves a window of
// them into Redis. Status only moves forward: sent < delivered < read, failed
// only from sent (delivery.StatusMoves).
package campaign
