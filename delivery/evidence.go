package delivery

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"

	"github.com/wacamp/wacamp/provider"
)

// A template or bot-flow send's answer names no wamid, and the provider may
// list the message in the conversation before it has learned Meta's wamid
// (or never list it). The conversation entry's own id is then the evidence
// that the send happened: the mark taken before the send records entry ids
// as well as wamids, so an entry from the business that is not in the mark
// is newer than it and, if no other delivery has taken it, ours. Such a
// delivery is recorded sent with the entry's id, and its status is read from
// that entry until the wamid shows, then by the wamid.

// EvidenceStore records conversation entries that prove a send happened
// while their wamid is unknown. Keys are entryScope.key values.
type EvidenceStore interface {
	// KnownEntries returns which of the entry keys are recorded on some
	// delivery.
	KnownEntries(ctx context.Context, keys []string) (map[string]bool, error)
	// RecordEntry records key on delivery id; false if the delivery already
	// has another entry or another delivery has this one.
	RecordEntry(ctx context.Context, id int64, key string) (bool, error)
	// ConvEntry returns the entry key recorded on delivery id ("" = none);
	// ErrNotFound if there is no such delivery.
	ConvEntry(ctx context.Context, id int64) (string, error)
}

// entryMarkPrefix marks an entry id among the wamids of a conversation mark.
const entryMarkPrefix = "#"

// entryID is c's provider entry id as the mark and the store keep it, or ""
// when it has none or one that cannot be kept in a mark (a comma separates
// a mark's items).
func entryID(c provider.ConversationMessage) string {
	if c.ID == "" || strings.Contains(c.ID, ",") {
		return ""
	}
	return c.ID
}

// markItems are the mark's items for one conversation entry: its wamid and
// its entry id, whichever it has.
func markItems(c provider.ConversationMessage) []string {
	var items []string
	if c.WAMID != "" {
		items = append(items, c.WAMID)
	}
	if id := entryID(c); id != "" {
		items = append(items, entryMarkPrefix+id)
	}
	return items
}

// convMark is a decoded conversation mark: what the conversation held
// before a send.
type convMark struct {
	items map[string]bool
	// byEntry: the mark records entry ids, so an entry without a wamid can
	// be told apart from those before the send. Marks recorded before entry
	// ids were (wamids only) cannot: such entries are never taken as ours.
	byEntry bool
}

func readMark(mark []string) convMark {
	mark = slices.DeleteFunc(slices.Clone(mark), func(it string) bool { return it == markOutsideWindow })
	m := convMark{items: make(map[string]bool, len(mark)), byEntry: len(mark) == 0}
	for _, it := range mark {
		m.items[it] = true
		m.byEntry = m.byEntry || strings.HasPrefix(it, entryMarkPrefix)
	}
	return m
}

// before reports whether c was in the conversation when the mark was taken.
func (m convMark) before(c provider.ConversationMessage) bool {
	for _, it := range markItems(c) {
		if m.items[it] {
			return true
		}
	}
	return false
}

// entryScope names one conversation (an account's number and a recipient),
// in which the provider's entry ids are unique.
type entryScope struct {
	account int64
	phone   string
}

func scopeOf(a Account, phone string) entryScope { return entryScope{account: a.ID, phone: phone} }

// key is how an entry id of this conversation is recorded on a delivery.
func (s entryScope) key(id string) string {
	return strconv.FormatInt(s.account, 10) + "/" + s.phone + "/" + id
}

// taken returns the keys of the conversation's entries without a wamid that
// a delivery has already recorded.
func (s entryScope) taken(ctx context.Context, store EvidenceStore, conv []provider.ConversationMessage) (map[string]bool, error) {
	var keys []string
	for _, c := range conv {
		if id := entryID(c); c.FromBot && id != "" {
			keys = append(keys, s.key(id))
		}
	}
	known, err := store.KnownEntries(ctx, keys)
	if err != nil {
		return nil, fmt.Errorf("look up conversation entries: %w", err)
	}
	return known, nil
}

// recordEntry records entry c, which has no wamid, as delivery id's proof
// of sending. Another delivery holding it already is an error: the caller
// must then neither resend nor mark sent.
func recordEntry(ctx context.Context, store EvidenceStore, id int64, s entryScope, c provider.ConversationMessage) error {
	key := s.key(entryID(c))
	ok, err := store.RecordEntry(ctx, id, key)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("delivery %d: conversation entry %s is another delivery's", id, entryID(c))
	}
	return nil
}

// findEntry returns the entry recorded as key in conv.
func findEntry(conv []provider.ConversationMessage, s entryScope, key string) (provider.ConversationMessage, bool) {
	for _, c := range conv {
		if id := entryID(c); id != "" && s.key(id) == key {
			return c, true
		}
	}
	return provider.ConversationMessage{}, false
}

// fromConversation is a status poll of a delivery sent without a known
// wamid: it finds the message in the conversation (by the entry recorded
// for it, or as matchSent does, recording the entry it finds) and returns
// its wamid if the conversation lists one, else the status the entry shows.
// Nothing found is a zero answer: poll again later.
func (h *PollHandler) fromConversation(ctx context.Context, s Sender, t PollTarget) (string, provider.StatusReport) {
	log := h.opts.Logger.With(slog.Int64("delivery_id", t.DeliveryID))
	key, err := h.store.ConvEntry(ctx, t.DeliveryID)
	if err != nil {
		log.DebugContext(ctx, "delivery: status poll: cannot load conversation entry", slog.String("error", err.Error()))
		return "", provider.StatusReport{}
	}
	conv, err := s.Conversation(ctx, t.Phone, h.opts.ConversationLimit)
	if err != nil {
		log.DebugContext(ctx, "delivery: status poll: cannot read conversation", slog.String("error", err.Error()))
		return "", provider.StatusReport{}
	}
	// What the recipient wrote back is recorded from any read (an opt-out
	// keyword included); a failure to record it holds up no status.
	if err := recordInbound(ctx, h.store, log, t.Account, t.Phone, conv, h.opts.Now()); err != nil {
		log.WarnContext(ctx, "delivery: status poll: cannot record what the recipient wrote", slog.String("error", err.Error()))
	}
	scope := scopeOf(t.Account, t.Phone)
	var c provider.ConversationMessage
	if key != "" {
		var ok bool
		if c, ok = findEntry(conv, scope, key); !ok {
			return "", provider.StatusReport{} // beyond the page read, or not listed for now
		}
	} else {
		msg, err := t.Message.Render(t.Vars)
		if err != nil {
			return "", provider.StatusReport{}
		}
		msg = sentAs(msg, t.ConvMark)
		var ok bool
		if c, ok, err = matchSent(ctx, h.store, conv, msg, t.ConvMark, scope); err != nil || !ok {
			return "", provider.StatusReport{}
		}
		if c.WAMID == "" {
			if err := recordEntry(ctx, h.store, t.DeliveryID, scope, c); err != nil {
				log.WarnContext(ctx, "delivery: status poll: cannot record conversation entry", slog.String("error", err.Error()))
				return "", provider.StatusReport{}
			}
		}
	}
	if c.WAMID != "" {
		return c.WAMID, provider.StatusReport{}
	}
	return "", provider.StatusReport{Status: c.Status, At: c.StatusAt, Reason: c.Reason}
}
