package cli

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/config"
)

// The engine's knobs come from the environment; a bad value is refused,
// naming the variable, before anything starts.
func TestCampaignOptionsFromEnvironment(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	opts := func(env map[string]string) ([]time.Duration, error) {
		cfg, err := settings(IO{Stdout: io.Discard, Stderr: io.Discard, Getenv: func(k string) string { return env[k] }})
		o := campaignOptions(cfg, log)
		return []time.Duration{o.Lease, o.SettleWindow, o.StaleAfter, o.Polls.First, o.FeedAhead, o.QueueLead}, err
	}
	got, err := opts(map[string]string{})
	require.NoError(t, err)
	require.Equal(t, make([]time.Duration, 6), got, "unset means the engine's defaults")
	got, err = opts(map[string]string{"WACAMP_LEASE": "3m", "WACAMP_SETTLE_WINDOW": "10m", "WACAMP_STALE_AFTER": "1m", "WACAMP_FIRST_POLL": "5s",
		"WACAMP_FEED_AHEAD": "30s", "WACAMP_QUEUE_LEAD": "off"})
	require.NoError(t, err)
	require.Equal(t, []time.Duration{3 * time.Minute, 10 * time.Minute, time.Minute, 5 * time.Second, 30 * time.Second, config.QueueLeadOff}, got)
	for name, bad := range map[string]string{"WACAMP_LEASE": "soon", "WACAMP_SETTLE_WINDOW": "-1m", "WACAMP_STALE_AFTER": "1s", "WACAMP_FIRST_POLL": "0.5s",
		"WACAMP_FEED_AHEAD": "100ms", "WACAMP_QUEUE_LEAD": "2h"} {
		_, err := opts(map[string]string{name: bad})
		require.ErrorContains(t, err, name+"=")
	}
}
