package delivery

import (
	"context"
	"log/slog"
	"slices"
	"time"

	"github.com/wacamp/wacamp/provider"
	"github.com/wacamp/wacamp/templates"
)

// ServiceWindow is how long WhatsApp's customer-service window stays open
// after a person's latest message to the number (WHATSAPP.md §5): inside
// it any message may be sent, outside it only approved templates.
const ServiceWindow = 24 * time.Hour

// HistorySkew bounds how far a conversation history's times may be from
// UTC: the providers give them on their own wall clock, in a zone they do
// not name (provider.ConversationMessage.Time). A time read there counts
// as this much older than it reads, so a window it opened is never taken
// for open when it may have closed (UTC+14 is the farthest zone ahead).
const HistorySkew = 14 * time.Hour

// ReasonOutsideWindow is the error code (a reason code of wacamp's) of a
// delivery skipped because its recipient was outside the 24-hour window
// and its message says outside_window: skip. Status counts skipped
// deliveries by such codes.
const ReasonOutsideWindow = "outside_window"

// The choices of an account's customer_service_window (provider's).
const (
	WindowEnforced    = provider.WindowEnforced
	WindowNotEnforced = provider.WindowNotEnforced
)

// EnforcesWindow reports whether the account's free-form messages reach
// only people inside their 24-hour window: its customer_service_window,
// else its provider's rule (provider.Capabilities.EnforcesWindow).
func (a Account) EnforcesWindow(caps provider.Capabilities) bool {
	return caps.EnforcesWindow(a.ServiceWindow)
}

// WindowOpen reports whether a window opened by a message at last (nil:
// the person never wrote, as far as wacamp knows) is still open at t.
func WindowOpen(last *time.Time, t time.Time) bool {
	return last != nil && last.After(t.Add(-ServiceWindow))
}

// markOutsideWindow is the item a send's conversation mark carries when the
// send was its message's fallback template (the recipient was outside the
// window), so that its reconciliation and status polls look for the
// template that went, not the free-form message. It can be no wamid nor
// entry id (markItems).
const markOutsideWindow = "~outside_window"

// fellBack reports whether a claim's mark says its send was the fallback
// template.
func fellBack(mark []string) bool { return slices.Contains(mark, markOutsideWindow) }

// sentAs returns what the claim that recorded mark sent of msg (rendered):
// msg, or its fallback template.
func sentAs(msg templates.Message, mark []string) templates.Message {
	if fb, ok := msg.Fallback(); ok && fellBack(mark) {
		return fb
	}
	return msg
}

// windowVerdict is what a send does about the recipient's window.
type windowVerdict int

const (
	windowSend     windowVerdict = iota // send the message as it is
	windowFallback                      // send its fallback template
	windowSkip                          // skip the delivery (ReasonOutsideWindow)
)

// windowAhead is how far ahead of now a send checks its recipient's window:
// the request leaves after the rate wait and the claim (at most two thirds
// of the lease each), so a window that closes before then counts as
// closed already.
func (h *SendHandler) windowAhead() time.Duration { return 2 * h.opts.Lease }

// window decides what a send of job's message does about its recipient's
// 24-hour window, at now: only a free-form message that says what happens
// outside it (outside_window), on an account that enforces it, is ever
// changed. The window is open when the person's latest inbound message
// (job.LastInbound, loaded with the job from what webhooks and history
// reads recorded) is younger than ServiceWindow still windowAhead from now.
// On a provider with a conversation history, a window not known to be open
// is looked up there (readConv: one read, which records what it finds): it
// also holds what the person wrote that wacamp has not seen yet. Such times, and any recorded time on such a
// provider, count HistorySkew older. Never having written is outside.
func (h *SendHandler) window(ctx context.Context, readConv func() ([]provider.ConversationMessage, error), caps provider.Capabilities, job Job, now time.Time) (windowVerdict, error) {
	m := job.Message
	if !m.Restricted() || m.OutsideWindow == nil || !job.Account.EnforcesWindow(caps) {
		return windowSend, nil
	}
	at := now.Add(h.windowAhead())
	skew := time.Duration(0)
	if caps.History {
		skew = HistorySkew
	}
	open := func(last *time.Time) bool {
		if last == nil {
			return false
		}
		t := last.Add(-skew)
		return WindowOpen(&t, at)
	}
	if !open(job.LastInbound) && caps.History {
		conv, err := readConv()
		if err != nil {
			return windowSend, err
		}
		if last := latestInbound(conv); last != nil && open(last) {
			return windowSend, nil
		}
	}
	switch {
	case open(job.LastInbound):
		return windowSend, nil
	case m.OutsideWindow.Skip:
		return windowSkip, nil
	default:
		return windowFallback, nil
	}
}

// latestInbound returns the newest time a person wrote in conv (nil:
// none with a time).
func latestInbound(conv []provider.ConversationMessage) *time.Time {
	var last *time.Time
	for _, c := range conv {
		if !c.FromBot && !c.Time.IsZero() && (last == nil || c.Time.After(*last)) {
			t := c.Time
			last = &t
		}
	}
	return last
}

// skipOutsideWindow ends a delivery whose recipient is outside the window
// and whose message says outside_window: skip.
func (h *SendHandler) skipOutsideWindow(ctx context.Context, log *slog.Logger, job Job, now time.Time) error {
	const text = "outside the 24-hour customer-service window: the person has not written to the number in the last 24 h, and the message says outside_window: skip"
	_, err := h.store.Finish(ctx, job.Ref, Skipped, ReasonOutsideWindow, text, now)
	if err == nil {
		log.DebugContext(ctx, "delivery: skipped outside the 24-hour window")
	}
	return err
}
