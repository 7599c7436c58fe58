package campaign

import (
	"time"

	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/localtime"
	"github.com/wacamp/wacamp/templates"
)

// Broadcast is a broadcast as the engine sees it.
type Broadcast struct {
	ID             int64
	Name           string
	AccountID      int64
	Status         Status
	Reason         string // why it is paused, failed or cancelled
	StartAt        time.Time
	Deadline       time.Duration // after StartAt; 0 = none
	Message        templates.Message
	RecipientCount int
	Duplicates     int
	// StormShare and StormWindow: the broadcast pauses itself when more
	// than StormShare of its last StormWindow sends failed (0 = defaults).
	StormShare  float64
	StormWindow int
	StartedAt   *time.Time
	FinishedAt  *time.Time
	UpdatedAt   time.Time
	// Cron and Timezone: the schedule of a recurring broadcast (robfig/cron
	// standard spec, read in Timezone, "" = UTC); LastOccurrence is the
	// latest occurrence planned or skipped.
	Cron           string
	Timezone       string
	LastOccurrence *time.Time
	// Timing is when each recipient gets the message in their own time
	// zone (a local time, a window); the zero Timing sends to everyone
	// from StartAt. A zoned broadcast's audience is planned zone by zone
	// as each zone's time comes.
	Timing localtime.Timing
}

// SendBy is the time after which unsent deliveries expire; zero = never.
func (b Broadcast) SendBy() time.Time {
	if b.Deadline <= 0 {
		return time.Time{}
	}
	return b.StartAt.Add(b.Deadline)
}

// DueStep is a planned sequence step, when it falls due, its sequence,
// and the account that sends it with that account's rate per second.
type DueStep struct {
	delivery.Ref
	DueAt      time.Time
	SequenceID int64
	AccountID  int64
	Rate       float64
}

// StepLane is a sequence as the step release sees it: its account and the
// account's rate per second, whether it has planned steps due (Due), and
// how many of its steps are in flight: queued, or sending and not awaiting
// a settle.
type StepLane struct {
	SequenceID int64
	AccountID  int64
	Rate       float64
	Due        bool
	InFlight   int
}
