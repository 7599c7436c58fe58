package throttle

import (
	"context"
	"time"
)

// SlotMicros is s on Redis's clock (µs), for tests that check the slots
// the script handed out without the noise of converting them to this
// process's clock.
func SlotMicros(s Slot) int64 { return s.us }

// SetSleep puts sleep in place of SleepUntil in f, so that a test can make
// its callers wake late, as a stalled process does.
func SetSleep(f *Fleet, sleep func(ctx context.Context, t time.Time) error) { f.sleep = sleep }

// LateTries and LateWait are lateTries and lateWait.
const (
	LateTries = lateTries
	LateWait  = lateWait
	MaxLead   = maxLead
)
