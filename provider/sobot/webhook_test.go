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

// A webhook's error code is kept only if it is one (a short token): a
// status echoing something else there (a token, a sentence) keeps its
// reason but no code, so nothing unvetted reaches deliveries.error_code.
func TestParseWebhookKeepsOnlyRealCodes(t *testing.T) {
	t.Parallel()
	body := `[
		{"id":"wamid.A","status":"failed","errors":[{"code":131026,"title":"Message undeliverable"}]},
		{"id":"wamid.B","status":"failed","errors":[{"code":"apiToken=sk_live_0123456789 leaked","title":"Bad"}]}]`
	got, err := ParseWebhook([]byte(body))
	require.NoError(t, err)
	require.Len(t, got, 2)
	require.Equal(t, "131026", got[0].Code)
	require.Empty(t, got[1].Code)
	require.Contains(t, got[1].Reason, "Bad")
}

// TestPhoneOfWAMID: the recipient is read from a wamid in Meta's format
// (the doc's samples, padded or not, and the simulator's), and from
// nothing else.
func TestPhoneOfWAMID(t *testing.T) {
	for _, c := range []struct{ id, want string }{
		{"wamid.HBgMOTE5NTYxODc4MDgwFQIAERgSRTUzMjRGMDc2OTIzNjBDRkZGAA==", "919561878080"},
		{"wamid.HBgMOTE5OTcwNTg1NTU2FQIAERgSQjhGRDQ2REFBQjAxMjJBM0Q1AA==", "919970585556"},
		{"wamid.HBgMOTE4NDQ2NjAwMjYwFQIAEhggNEIxNkNCRDQzQzUzMDBBQzNFQjQ5RTY3MjFFQkUzRUEA", "918446600260"},
		{"HBgMOTE5NTYxODc4MDgwFQIAERgSRTUzMjRGMDc2OTIzNjBDRkZGAA==", ""}, // no "wamid."
		{"wamid.", ""},
		{"wamid.not base64!", ""},
		{"wamid.aGVsbG8gd29ybGQ=", ""},       // base64, not Meta's struct
		{"wamid.HBgDMTIzFQIAERgS", ""},       // too short a number
		{"wamid.HBgMOTE5NTYxODc4MGFiFQ", ""}, // not all digits
		{"3EB015715C3A6439227F", ""},
	} {
		if got := phoneOfWAMID(c.id); got != c.want {
			t.Errorf("phoneOfWAMID(%q) = %q, want %q", c.id, got, c.want)
		}
	}
}
