package wire

import (
	"strings"

	"github.com/wacamp/wacamp/provider"
)

// Events returns the events a webhook parser read as they can be queued
// and stored: an id kept only if it can be one (see Scrubber.ID), a code
// only if it is one (Scrubber.Code), the reason cleaned like an answer's
// message (Scrubber.Message), and the text and media URL with NUL bytes and
// invalid UTF-8 replaced by U+FFFD (Postgres refuses both in text, and one
// such event made its whole webhook fail to apply, again and again). The
// text is not cut: it is matched against what was sent.
func Events(events []provider.Event) []provider.Event {
	var sc Scrubber
	for i := range events {
		ev := &events[i]
		ev.WAMID = sc.ID(ev.WAMID)
		ev.Code = sc.Code(ev.Code)
		ev.Reason = sc.Message(ev.Reason)
		ev.Text, ev.Media = storable(ev.Text), storable(ev.Media)
	}
	return events
}

// storable returns s with NUL bytes and invalid UTF-8 replaced by U+FFFD.
func storable(s string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}
