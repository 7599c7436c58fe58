package delivery

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/wacamp/wacamp/consent"
	"github.com/wacamp/wacamp/provider"
)

// recordInbound records what phone wrote in a conversation the engine read
// from account's provider (store, when it is an InboundStore): their
// latest inbound time, and an opt-out or opt-in keyword, which takes
// effect at once (the claim that follows sees it). A conversation without
// anything from them records nothing and costs nothing.
func recordInbound(ctx context.Context, store any, log *slog.Logger, a Account, phone string, conv []provider.ConversationMessage, now time.Time) error {
	is, ok := store.(InboundStore)
	if !ok {
		return nil
	}
	msgs := InboundOf(phone, conv, now)
	if len(msgs) == 0 {
		return nil
	}
	out, err := is.RecordInbound(ctx, a.ID, msgs, now)
	if err != nil {
		return fmt.Errorf("record what the recipient wrote: %w", err)
	}
	if out.Action != consent.None {
		log.InfoContext(ctx, "delivery: recipient wrote a keyword in the conversation", slog.String("action", out.Action.String()),
			slog.Any("sequences_ended", out.Ended), slog.Int("confirmations_planned", out.Confirmations))
	}
	return nil
}

// InboundOf returns the messages phone wrote in conv (a conversation, newest
// first), oldest first. A message's time is the provider's; a message
// without one is given now, minus a microsecond per newer message, so the
// order stays. Ref is the provider's entry id, else its wamid.
func InboundOf(phone string, conv []provider.ConversationMessage, now time.Time) []consent.Inbound {
	var out []consent.Inbound
	for i, c := range conv {
		if c.FromBot {
			continue
		}
		at := c.Time
		if at.IsZero() {
			at = now.Add(-time.Duration(i) * time.Microsecond)
		}
		ref := c.ID
		if ref == "" {
			ref = c.WAMID
		}
		out = append(out, consent.Inbound{Phone: phone, Text: c.Text, At: at, Ref: ref, FromHistory: true})
	}
	slices.Reverse(out)
	return out
}

// convMemo is a Sender that answers a read of phone's conversation with
// the one the send path made already (up to limit entries), so the reply
// exit and the conversation mark do not read it again.
type convMemo struct {
	Sender
	phone string
	conv  []provider.ConversationMessage
	limit int
}

// Conversation returns the conversation read already, for phone and a limit
// it covers; else it asks the provider.
func (m *convMemo) Conversation(ctx context.Context, phone string, limit int) ([]provider.ConversationMessage, error) {
	if phone != m.phone || limit > m.limit {
		return m.Sender.Conversation(ctx, phone, limit)
	}
	return m.conv[:min(limit, len(m.conv))], nil
}
