package delivery

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/wacamp/wacamp/throttle"
)

// CodeMarketingCap is Meta's error for its own per-user limit on marketing
// messages (WHATSAPP.md §4): the message was refused to keep the user's
// engagement healthy. It is treated as the frequency cap: the delivery
// ends with ReasonFrequencyCap, or a sequence step that defers waits.
const CodeMarketingCap = "131049"

// MarketingCapWait is how long a sequence step refused with
// CodeMarketingCap waits before it is sent again: Meta advises at least
// 24 h before sending that user marketing again.
const MarketingCapWait = 24 * time.Hour

// capText says why a send is held by the account's frequency cap.
func capText(c FrequencyCap, room time.Duration) string {
	per := c.Per.String()
	if strings.HasSuffix(per, "h0m0s") {
		per = strings.TrimSuffix(per, "0m0s") // 168h, not 168h0m0s
	}
	return fmt.Sprintf("frequency cap: this person had %d message(s) in the last %s; room in %s",
		c.Messages, per, room.Round(time.Second))
}

// overCap settles a send whose recipient has had the account's frequency
// cap of messages (room: until the oldest of them leaves the window). lease
// is the send's claim (nil: not claimed yet). As its owner says:
//   - CapSkip (every broadcast; steps of accounts whose cap says
//     sequences: skip): the delivery ends skipped;
//   - CapDefer: it waits for room, as a send held by the budget does, and
//     expires now if room comes after its deadline.
//
// Either end carries the code ReasonFrequencyCap.
func (h *SendHandler) overCap(ctx context.Context, log *slog.Logger, own Owner, job Job, room time.Duration, lease *time.Time) error {
	text := capText(job.Account.FrequencyCap, room)
	if ended, err := h.capEnded(ctx, own, job, room, Skipped, ReasonFrequencyCap, text, ", after its deadline"); ended {
		return err
	}
	log.DebugContext(ctx, "delivery: deferred by the frequency cap", slog.Duration("room_in", room))
	wait := &WaitError{After: budgetDelay(room, h.opts.CapRecheck, rand.Float64()), Ends: room, Kind: WaitCap, Reason: text}
	if lease != nil {
		return h.release(ctx, job.Ref, *lease, wait)
	}
	return wait
}

// marketingCapped applies Meta's own per-user marketing limit (131049) to
// a refused send, the way the frequency cap is applied: a broadcast's
// delivery (or a step of an account whose cap skips sequences) ends, and a
// step that defers is put back and sent again MarketingCapWait later (and
// up to a quarter more, spread, but not past its deadline), within its
// deadline (else it expires). It ends failed, not skipped: the
// provider refused the message (skipped is for what wacamp chose not to
// send); its code stays 131049, which status counts beside the cap's
// skips, and a step so failed is passed over as a skipped one is. It is no
// error storm: it says nothing of the list or the number.
func (h *SendHandler) marketingCapped(ctx context.Context, log *slog.Logger, job Job, code, text string) error {
	text = "frequency cap: refused under Meta's per-user marketing limit: " + text
	if ended, err := h.capEnded(ctx, h.ownerOf(job), job, MarketingCapWait, Failed, code, text, "; its deadline comes before it may be sent again"); ended {
		return err
	}
	wait := jitter(MarketingCapWait)
	if !job.SendBy.IsZero() {
		wait = max(MarketingCapWait, min(wait, job.SendBy.Sub(h.opts.Now())))
	}
	log.InfoContext(ctx, "delivery: refused by Meta's per-user marketing limit; sending again later", slog.Duration("in", wait))
	h.unclaim(ctx, job, code, text)
	return &WaitError{After: wait, Kind: WaitCap, Reason: text}
}

// capEnded ends a delivery held by the frequency cap (ours, or Meta's)
// where it does not wait: when its owner skips it (to skipTo), or when
// waiting wait would pass its deadline (expired, text + late). ended is
// false when it is to wait.
func (h *SendHandler) capEnded(ctx context.Context, own Owner, job Job, wait time.Duration, skipTo Status, code, text, late string) (ended bool, err error) {
	now := h.opts.Now()
	if own.OverCap(job) == CapSkip {
		_, err := h.store.Finish(ctx, job.Ref, skipTo, code, text, now)
		return true, err
	}
	if sb := job.SendBy; !sb.IsZero() && now.Add(wait).After(sb) {
		_, err := h.store.Finish(ctx, job.Ref, Expired, code, text+late, now)
		return true, err
	}
	return false, nil
}

// refund hands back what this attempt's Admit took (took: job's place in
// the frequency cap, the pair interval it started) when the send was surely
// not made. A refund that fails leaves them taken: the cap errs on the
// safe side, and the recipient's next send waits out the interval.
func (h *SendHandler) refund(ctx context.Context, log *slog.Logger, job Job, took throttle.Verdict) {
	r, ok := h.recipients.(Refunder)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := r.Refund(ctx, gate(job), took); err != nil {
		log.WarnContext(ctx, "delivery: cannot hand back a send's places (frequency cap, pair interval); they stay taken", slog.String("error", err.Error()))
	}
}
