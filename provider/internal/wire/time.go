package wire

import (
	"math"
	"time"
)

// latestEventTime is the latest time an event may carry: a queued event is
// JSON, and JSON cannot hold a year past 9999.
var latestEventTime = time.Date(9999, 12, 31, 23, 59, 59, 999_999_999, time.UTC)

// EventTime returns t in UTC if an event can carry it (after 1970 and no
// later than year 9999); ok is false otherwise. A webhook parser keeps an
// event whose time is impossible, with its time unknown (zero), so that one
// bad field does not make the whole body unqueueable.
func EventTime(t time.Time) (_ time.Time, ok bool) {
	if t.Unix() <= 0 || t.After(latestEventTime) {
		return time.Time{}, false
	}
	return t.UTC(), true
}

// UnixTime reads a provider's Unix timestamp: seconds, or milliseconds
// when above 1e12. ok is false for a value no event can carry (zero or
// negative, NaN, microseconds or nanoseconds that land past year 9999,
// 1e300); see [EventTime].
func UnixTime(f float64) (_ time.Time, ok bool) {
	if !(f > 0) || f > float64(latestEventTime.UnixMilli()) || math.IsInf(f, 0) {
		return time.Time{}, false
	}
	if f > 1e12 {
		return EventTime(time.UnixMilli(int64(f)))
	}
	return EventTime(time.Unix(int64(f), 0))
}
