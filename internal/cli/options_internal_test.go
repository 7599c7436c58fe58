package cli

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The engine's knobs come from the environment; a bad value is refused,
// naming the variable, before anything starts.
func TestCampaignOptionsFromEnvironment(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	opts := func(env map[string]string) (time.Duration, time.Duration, time.Duration, error) {
		cfg, err := settings(IO{Stdout: io.Discard, Stderr: io.Discard, Getenv: func(k string) string { return env[k] }})
		o := campaignOptions(cfg, log)
		return o.Lease, o.SettleWindow, o.StaleAfter, err
	}
	lease, settle, stale, err := opts(map[string]string{})
	require.NoError(t, err)
	require.Zero(t, lease+settle+stale, "unset means the engine's defaults")
	lease, settle, stale, err = opts(map[string]string{"WACAMP_LEASE": "3m", "WACAMP_SETTLE_WINDOW": "10m", "WACAMP_STALE_AFTER": "1m"})
	require.NoError(t, err)
	require.Equal(t, []time.Duration{3 * time.Minute, 10 * time.Minute, time.Minute}, []time.Duration{lease, settle, stale})
	for name, bad := range map[string]string{"WACAMP_LEASE": "soon", "WACAMP_SETTLE_WINDOW": "-1m", "WACAMP_STALE_AFTER": "1s"} {
		_, _, _, err := opts(map[string]string{name: bad})
		require.ErrorContains(t, err, name+"=")
	}
}
