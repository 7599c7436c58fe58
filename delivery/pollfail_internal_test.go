package delivery

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/provider"
)

// Polls that are all refused warn after failStreak in a row (at once when
// the provider refuses the account), then at most every failWarnEvery; one
// answered poll ends the run; accounts are counted apart.
func TestFailingPollsWarnOnARun(t *testing.T) {
	t.Parallel()
	var f failing
	now := time.Now()
	refused := errors.New("botsailor message-status: Bot not found (permanent)")
	for i := 1; i < failStreak; i++ {
		n, warn := f.note("main", refused, now)
		require.Equal(t, i, n)
		require.False(t, warn, "poll %d", i)
	}
	_, warn := f.note("other", refused, now)
	require.False(t, warn, "another account's run is its own")
	n, warn := f.note("main", refused, now)
	require.True(t, warn)
	require.Equal(t, failStreak, n)
	_, warn = f.note("main", refused, now.Add(failWarnEvery-time.Second))
	require.False(t, warn, "warned a moment ago")
	_, warn = f.note("main", refused, now.Add(failWarnEvery))
	require.True(t, warn, "the run lasts: warn again")

	f.note("main", nil, now)
	for i := 1; i < failStreak; i++ {
		_, warn := f.note("main", refused, now.Add(failWarnEvery))
		require.False(t, warn, "an answered poll ended the run: poll %d", i)
	}

	// A refusal of the account (a wrong whatsapp_bot_id) warns at once.
	halted := &provider.Error{Provider: "botsailor", Op: "message-status", Message: "WhatsApp account not found.", Class: provider.ClassHaltAccount}
	n, warn = f.note("badbot", halted, now)
	require.True(t, warn)
	require.Equal(t, 1, n)
	_, warn = f.note("badbot", halted, now.Add(time.Minute))
	require.False(t, warn, "at most every failWarnEvery")
}
