package sobot

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/provider"
)

// An impossible timestamp (microseconds, nanoseconds, 1e300, a year past
// 9999) leaves that event's time unknown; the body's events all stay, and
// all can be queued (JSON cannot hold a year past 9999).
func TestParseWebhookImpossibleTimes(t *testing.T) {
	t.Parallel()
	body := `[
		{"id":"wamid.OK","status":"delivered","timestamp":"1692947520"},
		{"id":"wamid.US","status":"delivered","timestamp":1692947520000000},
		{"id":"wamid.NS","status":"delivered","timestamp":"1692947520000000000"},
		{"id":"wamid.BIG","status":"read","timestamp":1e300},
		{"id":"wamid.RFC","status":"read","timestamp":"9999-12-31T23:00:00-02:00"}]`
	got, err := ParseWebhook([]byte(body))
	require.NoError(t, err)
	require.Equal(t, []provider.Event{
		{WAMID: "wamid.OK", Status: provider.StatusDelivered, At: time.Unix(1692947520, 0).UTC()},
		{WAMID: "wamid.US", Status: provider.StatusDelivered},
		{WAMID: "wamid.NS", Status: provider.StatusDelivered},
		{WAMID: "wamid.BIG", Status: provider.StatusRead},
		{WAMID: "wamid.RFC", Status: provider.StatusRead},
	}, got)
	_, err = json.Marshal(got)
	require.NoError(t, err)
}
