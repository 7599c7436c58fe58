package sequence

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/internal/testclock"
	"github.com/wacamp/wacamp/localtime"
	"github.com/wacamp/wacamp/templates"
)

func TestScheduleMovesIntoWindowAcrossDST(t *testing.T) {
	berlin := testclock.Zone(t, "Europe/Berlin")
	weekdays, err := localtime.ParseWindow([]string{"mon", "tue", "wed", "thu", "fri"}, "09:00", "20:00")
	require.NoError(t, err)
	daily, err := localtime.ParseWindow([]string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}, "09:00", "20:00")
	require.NoError(t, err)
	msg := templates.Message{Kind: templates.KindText, Text: "x"}
	spec := Spec{Window: weekdays, Steps: []Step{
		{After: 0, Deadline: 24 * time.Hour, Message: msg},
		{After: time.Hour, Message: msg},
		{After: 24 * time.Hour, Window: &daily, Deadline: 2 * time.Hour, Message: msg},
	}}
	local := func(s string) time.Time {
		tm, err := time.ParseInLocation("2006-01-02 15:04", s, berlin)
		require.NoError(t, err)
		return tm
	}
	// Inside the window: due at once; deadline 24 h later.
	due, by := spec.Schedule(0, local("2026-03-27 19:59"), berlin)
	require.True(t, due.Equal(local("2026-03-27 19:59")))
	require.True(t, by.Equal(due.Add(24*time.Hour)))
	// Friday 19:30 + 1 h falls after the window: Monday 09:00; no deadline.
	due, by = spec.Schedule(1, local("2026-03-27 19:30"), berlin)
	require.True(t, due.Equal(local("2026-03-30 09:00")), "got %s", due.In(berlin))
	require.True(t, by.IsZero())
	// Delays are elapsed time: Saturday 08:30 CET + 24 h is Sunday 09:30
	// CEST (the clocks went forward that night), inside the daily window.
	due, by = spec.Schedule(2, local("2026-03-28 08:30"), berlin)
	require.True(t, due.Equal(local("2026-03-29 09:30")), "got %s", due.In(berlin))
	require.True(t, by.Equal(due.Add(2*time.Hour)))
	// Saturday 07:00 + 24 h = Sunday 08:00 CEST: before 09:00, moved to
	// 09:00 wall-clock time on the DST day.
	due, _ = spec.Schedule(2, local("2026-03-28 07:00"), berlin)
	require.True(t, due.Equal(local("2026-03-29 09:00")), "got %s", due.In(berlin))
	require.Equal(t, "2026-03-29T07:00:00Z", due.Format(time.RFC3339), "09:00 CEST is 07:00 UTC")
}
