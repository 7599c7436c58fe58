package wire

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/provider"
)

// Events leaves what a webhook parser read storable: Postgres refuses NUL
// bytes and invalid UTF-8 in text, and one such event failed its whole
// webhook's apply.
func TestEvents(t *testing.T) {
	got := Events([]provider.Event{
		{WAMID: "wamid.\x00", Status: provider.StatusFailed, Code: "1\x00", Reason: "r\x00\xff", Text: "line\none\x00", Media: "https://x/\xfe"},
		{WAMID: "wamid.A", Status: provider.StatusRead, Code: "131026", Reason: "Message undeliverable.", Text: "hi"},
	})
	require.Equal(t, []provider.Event{
		{Status: provider.StatusFailed, Reason: "r \uFFFD", Text: "line\none\uFFFD", Media: "https://x/\uFFFD"},
		{WAMID: "wamid.A", Status: provider.StatusRead, Code: "131026", Reason: "Message undeliverable.", Text: "hi"},
	}, got)
}
