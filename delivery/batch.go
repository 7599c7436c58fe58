package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/hibiken/asynq"
)

// Enqueuer adds tasks to Redis (*asynq.Client satisfies it).
type Enqueuer interface {
	EnqueueContext(ctx context.Context, task *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error)
}

// BatchStore loads the deliveries of a batch send task at once.
type BatchStore interface {
	// Jobs loads deliveries with what sending them needs; ids that do not
	// exist (their broadcast or enrollment was deleted) are left out.
	Jobs(ctx context.Context, ids []int64) (map[int64]Job, error)
}

// ProcessBatch is the asynq handler of TypeSendBatch tasks: it sends the
// deliveries the task carries, Options.BatchParallel at a time in their
// order, each exactly as a TypeSend task would (its own rate token, its
// claim with a lease right before its request, the re-check, the
// idempotent record), after loading them all in one query. Sends that run
// at once share their claims' and records' statements (the store
// group-commits them). A delivery that must be tried again later (a wait,
// a transient error) is handed to a send task of its own, so the rest of
// the batch goes on and the batch itself is never retried for one
// delivery. The batch returns an error (and runs again: deliveries already
// settled are no-ops then) only when it could not go through its
// deliveries: a failed load, a failed hand-off, or the worker shutting
// down.
func (h *SendHandler) ProcessBatch(ctx context.Context, t *asynq.Task) error {
	var p BatchPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil {
		return fmt.Errorf("decode batch payload: %v: %w", err, asynq.SkipRetry)
	}
	bs, ok := h.store.(BatchStore)
	if !ok || h.queue == nil {
		return fmt.Errorf("batch send tasks need a store that loads batches and a queue: %w", asynq.SkipRetry)
	}
	refs := make([]Ref, len(p.Refs))
	ids := make([]int64, len(p.Refs))
	for i, r := range p.Refs {
		refs[i], ids[i] = Ref{ID: r[0], Gen: int(r[1])}, r[0]
	}
	jobs, err := bs.Jobs(ctx, ids)
	if err != nil {
		return err
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		fails []error
	)
	fail := func(err error) {
		mu.Lock()
		fails = append(fails, err)
		mu.Unlock()
	}
	slots := make(chan struct{}, h.opts.BatchParallel)
	start := time.Now()
	for i, ref := range refs {
		job, ok := jobs[ref.ID]
		if !ok {
			continue // deleted with its broadcast or enrollment
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
		}
		if h.stopping() || ctx.Err() != nil {
			// Shutting down: nothing new may start. The whole batch runs
			// again elsewhere; what this run settled is a no-op then.
			fail(&WaitError{After: time.Second, Kind: WaitShutdown, Reason: "worker shutting down"})
			break
		}
		if time.Since(start) > h.opts.TaskTimeout {
			// Slow going (rate waits): the rest goes on in tasks of its
			// own, so the batch keeps within its deadline.
			if err := h.handOff(ctx, refs[i:], nil); err != nil {
				fail(err)
			}
			break
		}
		wg.Go(func() {
			defer func() { <-slots }()
			dctx, cancel := context.WithTimeout(ctx, h.opts.TaskTimeout)
			defer cancel()
			err := h.send(dctx, ref, job)
			switch {
			case err == nil:
			case ctx.Err() != nil || h.stopping():
				fail(&WaitError{After: time.Second, Kind: WaitShutdown, Reason: "worker shutting down"})
			default:
				if err := h.handOff(ctx, []Ref{ref}, err); err != nil {
					fail(err)
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(fails...)
}

// stopping reports whether the worker's shutdown has begun.
func (h *SendHandler) stopping() bool { return h.opts.Stop != nil && h.opts.Stop.Err() != nil }

// handOff gives each of refs a send task of its own: after why's wait (a
// *WaitError's, a provider's Retry-After, else the first back-off), or at
// once when why is nil. A task already there for a ref (an earlier run of
// the batch handed it off) is that ref's.
func (h *SendHandler) handOff(ctx context.Context, refs []Ref, why error) error {
	var after time.Duration
	if why != nil {
		after = RetryDelay(0, why, nil)
		var w *WaitError
		if !errors.As(why, &w) {
			// A transient refusal (a 503, a timeout before the request)
			// is routine and retried: info, not a warning; what keeps
			// failing ends failed, or pauses its broadcast in a storm.
			h.opts.Logger.InfoContext(ctx, "delivery: send failed; retrying in a task of its own",
				slog.Int64("delivery_id", refs[0].ID), slog.Duration("in", after), slog.String("error", why.Error()))
		}
	}
	for _, ref := range refs {
		_, err := h.queue.EnqueueContext(ctx, NewSendTask(ref, h.opts.TaskTimeout), asynq.ProcessIn(after))
		if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
			return fmt.Errorf("delivery %d: hand off to its own task: %w", ref.ID, err)
		}
	}
	return nil
}
