package spec

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/localtime"
	"github.com/wacamp/wacamp/provider/drivers"
)

const timingAccount = `accounts:
  - name: main
    provider: botsailor
    customer_service_window: not_enforced
    api_token: ${BOTSAILOR_API_TOKEN}
    phone_number_id: "1"
    whatsapp_bot_id: 1
    daily_unique_limit: unlimited
    timezone: America/Sao_Paulo
broadcasts:
`

func loadTiming(t *testing.T, broadcasts string) (*Bundle, string, error) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "c.yaml")
	require.NoError(t, os.WriteFile(path, []byte(timingAccount+broadcasts), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "people.csv"), []byte(
		"phone,timezone\n4915100000001,\n4915100000002,Asia/Tokyo\n12125550123,\n80012345678,\n4915100000003,Mars/Base\n"), 0o600))
	b, err := Load(path, testEnv(map[string]string{"BOTSAILOR_API_TOKEN": "x"}), drivers.Catalog{})
	return b, path, err
}

// Bad local_time, date and window are refused, each with its file, line and
// field, before anything is sent.
func TestLoadRefusesBadLocalTiming(t *testing.T) {
	t.Parallel()
	_, path, err := loadTiming(t, `  - name: bad-clock
    account: main
    local_time: "9am"
    audience: {recipients: [{phone: "4915100000001"}]}
    message: {text: hi}
  - name: midnight-end
    account: main
    local_time: "24:00"
    audience: {recipients: [{phone: "4915100000001"}]}
    message: {text: hi}
  - name: bad-date
    account: main
    local_time: "09:00"
    date: 2027-02-30
    audience: {recipients: [{phone: "4915100000001"}]}
    message: {text: hi}
  - name: date-alone
    account: main
    date: 2027-01-15
    audience: {recipients: [{phone: "4915100000001"}]}
    message: {text: hi}
  - name: recurring-date
    account: main
    cron: "@daily"
    local_time: "09:00"
    date: 2027-01-15
    audience: {recipients: [{phone: "4915100000001"}]}
    message: {text: hi}
  - name: bad-window
    account: main
    window: {from: "20:00", to: "09:00"}
    audience: {recipients: [{phone: "4915100000001"}]}
    message: {text: hi}
  - name: half-window
    account: main
    window: {days: [mon], from: "09:00"}
    audience: {recipients: [{phone: "4915100000001"}]}
    message: {text: hi}
  - name: odd-day
    account: main
    window: {days: [funday], from: "09:00", to: "17:00"}
    audience: {recipients: [{phone: "4915100000001"}]}
    message: {text: hi}
`)
	require.Equal(t, []string{
		path + `:13: broadcasts[0].local_time: "9am" is not a time of day such as 09:00 or 18:30 (24-hour HH:MM, 00:00 to 23:59)`,
		path + `:18: broadcasts[1].local_time: "24:00" is not a time of day such as 09:00 or 18:30 (24-hour HH:MM, 00:00 to 23:59)`,
		path + `:24: broadcasts[2].date: "2027-02-30" is not a date such as 2027-01-15 (YYYY-MM-DD)`,
		path + `:29: broadcasts[3].date: only applies with local_time (the wall-clock time each recipient gets it at on that date)`,
		path + `:36: broadcasts[4].date: a recurring broadcast's occurrences each send on their own day: leave date out (each recipient gets it at local_time on or after the occurrence)`,
		path + `:41: broadcasts[5].window: to 09:00 must be after from 20:00 (windows across midnight are not supported)`,
		path + `:46: broadcasts[6].window: needs from and to, e.g. {days: [mon, tue], from: "09:00", to: "20:00"}`,
		path + `:51: broadcasts[7].window: unknown day "funday" (use mon, tue, wed, thu, fri, sat, sun or daily)`,
	}, problemLines(t, err))
}

// A local-time broadcast counts its audience by zone as it is read (the
// variable, else the number, else the account's zone), takes the longer
// default deadline, and with a date and no start_at starts when the date's
// local time first comes anywhere on Earth.
func TestLoadLocalTimeBroadcast(t *testing.T) {
	t.Parallel()
	b, path, err := loadTiming(t, `  - name: morning
    account: main
    local_time: "9:00"
    date: 2030-03-31
    window: {days: [mon, tue, wed, thu, fri, sat, sun], from: "08:00", to: "20:00"}
    audience: {csv: people.csv}
    message: {text: hi}
  - name: quiet
    account: main
    deadline: 6h
    window: {from: "09:00", to: "20:00"}
    audience: {recipients: [{phone: "4915100000001"}]}
    message: {text: hi}
  - name: plain
    account: main
    audience: {recipients: [{phone: "4915100000001"}]}
    message: {text: hi}
`)
	require.NoError(t, err)
	morning, quiet, plain := b.Broadcasts[0], b.Broadcasts[1], b.Broadcasts[2]
	w, err := localtime.ParseWindow(nil, "08:00", "20:00")
	require.NoError(t, err)
	require.Equal(t, localtime.Timing{LocalTime: "09:00", Date: "2030-03-31", Window: w}, morning.Timing)
	require.Equal(t, DefaultLocalDeadline, morning.Deadline)
	require.Equal(t, time.Date(2030, 3, 30, 19, 0, 0, 0, time.UTC), *morning.StartAt)
	require.Equal(t, "date", morning.StartField)
	require.Equal(t, Pos{File: path, Line: 14}, morning.StartPos)
	require.Equal(t, map[string]int{"Europe/Berlin": 2, "Asia/Tokyo": 1, "America/New_York": 1, "": 1}, morning.Zones)
	require.Equal(t, []string{
		fmt.Sprintf(`morning: 1 recipients have a timezone variable that is not an IANA time zone such as Europe/Berlin (first: "Mars/Base", 4915100000003 (%s:6)); their phone number's zone is used`,
			filepath.Join(filepath.Dir(path), "people.csv")),
	}, b.Warnings)

	require.Equal(t, 6*time.Hour, quiet.Deadline, "a deadline given stays")
	require.Equal(t, map[string]int{"Europe/Berlin": 1}, quiet.Zones)
	require.Nil(t, quiet.StartAt)
	require.False(t, plain.Timing.Zoned())
	require.Nil(t, plain.Zones, "zones are only counted where they matter")
	require.Equal(t, DefaultDeadline, plain.Deadline)

	// The plan validate prints: the account's zone for the unknown number.
	plan, ok := b.ZonePlan(morning, time.Now())
	require.True(t, ok)
	require.Equal(t, time.Date(2030, 3, 30, 19, 0, 0, 0, time.UTC), plan.Start)
	require.Equal(t, plan.Start.Add(48*time.Hour), plan.SendBy)
	require.Equal(t, []localtime.ZoneDue{
		{Zone: "Asia/Tokyo", Due: time.Date(2030, 3, 31, 0, 0, 0, 0, time.UTC), Recipients: 1},
		{Zone: "Europe/Berlin", Due: time.Date(2030, 3, 31, 7, 0, 0, 0, time.UTC), Recipients: 2},
		{Zone: "America/Sao_Paulo", Due: time.Date(2030, 3, 31, 12, 0, 0, 0, time.UTC), Recipients: 1},
		{Zone: "America/New_York", Due: time.Date(2030, 3, 31, 13, 0, 0, 0, time.UTC), Recipients: 1},
	}, plan.Zones)
	_, ok = b.ZonePlan(plain, time.Now())
	require.False(t, ok)
}

// validate warns about zones whose time comes after the deadline (they
// would expire) or, with a date, before the start (they get it late), and
// refuses a date whose every zone's time and deadline have passed.
func TestCheckStartsLocalTime(t *testing.T) {
	t.Parallel()
	now := time.Date(2030, 3, 30, 12, 0, 0, 0, time.UTC)
	b, path, err := loadTiming(t, `  - name: short
    account: main
    local_time: "09:00"
    deadline: 10h
    audience: {csv: people.csv}
    message: {text: hi}
  - name: late-start
    account: main
    local_time: "09:00"
    date: 2030-03-31
    start_at: 2030-03-31T05:00:00Z
    audience: {csv: people.csv}
    message: {text: hi}
  - name: long-gone
    account: main
    local_time: "09:00"
    date: 2030-03-20
    audience: {csv: people.csv}
    message: {text: hi}
`)
	require.NoError(t, err)
	warnings, err := b.CheckStarts(now, nil)
	require.Equal(t, []string{
		path + `:27: broadcasts[2].date: 2030-03-20 at 09:00 has passed everywhere, and the deadline (2d0h) after its first zone ended 2030-03-21T19:00:00Z, 8d17h ago: every delivery would expire at once; choose a later date or lengthen deadline`,
	}, problemLines(t, err))
	require.Equal(t, []string{
		// From 12:00 UTC Saturday (09:00 in São Paulo, 08:00 in New
		// York), with 10 h: those two are in time; Tokyo's next 09:00 (00:00
		// UTC Sunday) and Berlin's are not.
		path + `:11: broadcast short: 3 recipients in 2 zones (first Asia/Tokyo, due 2030-03-31T00:00:00Z) come after the deadline (2030-03-30T22:00:00Z): they would expire; lengthen deadline or start later`,
		// Only Tokyo's 09:00 on the date (00:00 UTC) comes before 05:00 UTC.
		path + `:17: broadcast late-start: 1 recipients in 1 zones (first Asia/Tokyo) are past 09:00 on 2030-03-31 when it starts (2030-03-31T05:00:00Z): they get it at the start, late; choose a later date or an earlier start_at`,
	}, warnings)
}

// A sequence step's placeholder one slip away from name or phone ({{nmae}})
// is warned of at validate: the enrollments' own variables are unknown
// then, and such a step would refuse every enrollment later.
func TestSequencePlaceholderTypoWarns(t *testing.T) {
	for _, c := range []struct {
		v    string
		warn bool
	}{{"nmae", true}, {"nam", true}, {"phnoe", true}, {"name", false}, {"age", false}, {"code", false}, {"plan", false}} {
		if got := oneSlip(c.v, "name") || oneSlip(c.v, "phone"); got != c.warn {
			t.Errorf("%q: warn %v, want %v", c.v, got, c.warn)
		}
	}
}

// validate's warning names the file, the step and the likely placeholder.
func TestSequencePlaceholderTypoWarning(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "seq.yaml")
	require.NoError(t, os.WriteFile(path, []byte(`accounts:
  - name: main
    provider: botsailor
    base_url: https://botsailor.com/api/v1
    api_token: ${BOTSAILOR_API_TOKEN}
    phone_number_id: "119060000040020"
    whatsapp_bot_id: 1
    rate_per_second: 10
    customer_service_window: not_enforced
    daily_unique_limit: unlimited
sequences:
  - name: onboarding
    account: main
    steps:
      - {after: 0s, message: {text: "Hi {{nmae}}, your plan is {{plan}}"}}
`), 0o600))
	b, err := Load(path, testEnv(map[string]string{"BOTSAILOR_API_TOKEN": "x"}), drivers.Catalog{})
	require.NoError(t, err)
	require.Equal(t, []string{path + ":15: sequence onboarding, step 1 uses {{nmae}}, which every enrollment must then give (did you mean {{name}}?)"}, b.Warnings)
}
