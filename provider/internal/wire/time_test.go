package wire

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestUnixTime(t *testing.T) {
	t.Parallel()
	sec := time.Unix(1692947519, 0).UTC()
	for _, tt := range []struct {
		f    float64
		want time.Time // zero: refused
	}{
		{1692947519, sec},
		{1692947519000, sec},            // milliseconds
		{1692947519000000, time.Time{}}, // microseconds: year 55000
		{1692947519000000000, time.Time{}},
		{1e300, time.Time{}},
		{math.Inf(1), time.Time{}},
		{math.NaN(), time.Time{}},
		{0, time.Time{}},
		{-5, time.Time{}},
		{253402300799999, time.Date(9999, 12, 31, 23, 59, 59, 999e6, time.UTC)}, // the last millisecond JSON can hold
		{253402300800000, time.Time{}},
	} {
		got, ok := UnixTime(tt.f)
		require.Equal(t, !tt.want.IsZero(), ok, "%v", tt.f)
		require.Equal(t, tt.want, got, "%v", tt.f)
		_, err := json.Marshal(got)
		require.NoError(t, err, "%v", tt.f)
	}
}

func TestEventTime(t *testing.T) {
	t.Parallel()
	late := time.Date(9999, 12, 31, 23, 0, 0, 0, time.FixedZone("", -2*3600)) // year 10000 in UTC
	_, ok := EventTime(late)
	require.False(t, ok)
	got, ok := EventTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("", 3600)))
	require.True(t, ok)
	require.Equal(t, time.Date(2026, 1, 2, 2, 4, 5, 0, time.UTC), got)
}
