package delivery

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/provider"
	"github.com/wacamp/wacamp/templates"
)

// knownStore answers matchSent's look-ups from fixed sets.
type knownStore struct {
	WorkerStore
	wamids, entries map[string]bool
}

func (k knownStore) KnownWAMIDs(_ context.Context, ids []string) (map[string]bool, error) {
	return pick(k.wamids, ids), nil
}

func (k knownStore) KnownEntries(_ context.Context, keys []string) (map[string]bool, error) {
	return pick(k.entries, keys), nil
}

func pick(set map[string]bool, keys []string) map[string]bool {
	out := map[string]bool{}
	for _, k := range keys {
		if set[k] {
			out[k] = true
		}
	}
	return out
}

// TestMatchSentByEntry: a template entry without a wamid is ours when it is
// newer than the mark (by entry id), from the business, of the right kind
// and nobody else's; a mark of wamids only (taken before entry ids were
// recorded) never lets an id-only entry pass.
func TestMatchSentByEntry(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tpl := templates.Message{Kind: templates.KindTemplate, Template: &templates.Template{ID: "313823"}}
	scope := entryScope{account: 1, phone: "4915100000001"}
	content := `{"type":"template","template":{"name":"313823"}}`
	old := provider.ConversationMessage{ID: "10", FromBot: true, Content: content}              // before the send, no wamid
	oldW := provider.ConversationMessage{ID: "11", WAMID: "wamid.old", FromBot: true}           // before the send
	reply := provider.ConversationMessage{ID: "12", FromBot: false, Content: `{"type":"text"}`} // the subscriber
	chat := provider.ConversationMessage{ID: "13", FromBot: true, Content: `{"type":"text"}`}   // a chatbot answer
	ours := provider.ConversationMessage{ID: "14", FromBot: true, Content: content, Status: provider.StatusDelivered}
	conv := []provider.ConversationMessage{ours, chat, reply, oldW, old} // newest first
	mark := append(markItems(old), markItems(oldW)...)
	require.Equal(t, []string{"#10", "wamid.old", "#11"}, mark)

	got, ok, err := matchSent(ctx, knownStore{}, conv, tpl, mark, scope)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, ours, got)

	// The entry listed with its wamid meanwhile: still before the send.
	oldNow := old
	oldNow.WAMID = "wamid.10"
	_, ok, err = matchSent(ctx, knownStore{}, []provider.ConversationMessage{oldNow}, tpl, mark, scope)
	require.NoError(t, err)
	require.False(t, ok)

	_, ok, err = matchSent(ctx, knownStore{entries: map[string]bool{scope.key("14"): true}}, conv, tpl, mark, scope)
	require.NoError(t, err)
	require.False(t, ok, "another delivery took the entry")

	_, ok, err = matchSent(ctx, knownStore{}, conv, tpl, []string{"wamid.old"}, scope)
	require.NoError(t, err)
	require.False(t, ok, "a mark of wamids only cannot order entries without one")

	_, ok, err = matchSent(ctx, knownStore{}, conv, tpl, nil, scope)
	require.NoError(t, err)
	require.False(t, ok, "without a mark nothing is guessed")

	got, ok, err = matchSent(ctx, knownStore{}, conv, tpl, []string{}, scope)
	require.NoError(t, err)
	require.True(t, ok, "an empty conversation before the send")
	require.Equal(t, old, got, "the oldest new entry")
}
