package spec

import (
	"cmp"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"gopkg.in/yaml.v3"

	"github.com/wacamp/wacamp/localtime"
)

var broadcastKeys = []string{"name", "account", "start_at", "cron", "timezone", "local_time", "date", "window", "deadline", "error_storm", "audience", "message"}

// errorStorm decodes a broadcast's error_storm: {share: 0.2, window: 200}:
// pause when more than share of the last window sends failed.
func (f *fileCtx) errorStorm(n *yaml.Node, field string) (share float64, window int) {
	share, window = DefaultStormShare, DefaultStormWindow
	if isNull(n) {
		return share, window
	}
	obj, ok := f.object(n, field, "share", "window")
	if !ok {
		return share, window
	}
	fld := subfield(field, "share")
	switch v, ok := f.number(obj["share"].val, fld); {
	case !ok || isNull(obj["share"].val):
	case v <= 0 || v > 1:
		f.problem(resolve(obj["share"].val).Line, fld, "must be more than 0 and at most 1 (1 never pauses), got %v", v)
	default:
		share = v
	}
	fld = subfield(field, "window")
	switch v, ok := f.integer(obj["window"].val, fld); {
	case !ok || isNull(obj["window"].val):
	case v < 10 || v > 100000:
		f.problem(resolve(obj["window"].val).Line, fld, "must be between 10 and 100000 sends, got %d", v)
	default:
		window = int(v)
	}
	return share, window
}

// broadcast decodes broadcasts[i], its audience included, reporting its
// problems, and returns where its message and recipients are written.
func (f *fileCtx) broadcast(n *yaml.Node, i int) (Broadcast, audienceAt) {
	field := index("broadcasts", i)
	obj, ok := f.object(n, field, broadcastKeys...)
	if !ok {
		return Broadcast{}, audienceAt{}
	}
	line := resolve(n).Line
	b := Broadcast{Pos: Pos{File: f.path, Line: line}, Field: field, Deadline: DefaultDeadline}

	if name, ok := f.checkName(obj["name"], field, line); ok {
		f.claimName(f.l.broadcasts, "broadcast", name, obj["name"].val, subfield(field, "name"))
		b.Name = name
	}

	fld := subfield(field, "account")
	p := obj["account"]
	switch acct, ok := f.str(p.val, fld); {
	case !ok:
		// reported
	case acct == "":
		f.problem(line, fld, "is required")
	default:
		b.Account = acct
		f.l.refs = append(f.l.refs, accountRef{file: f.path, field: fld, name: acct, line: resolve(p.val).Line})
	}

	fld = subfield(field, "start_at")
	p = obj["start_at"]
	if s, _ := f.str(p.val, fld); s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			f.problem(resolve(p.val).Line, fld, "%s is not an RFC 3339 time with offset, e.g. 2027-11-26T09:00:00+01:00", shown(p.val, s))
		}
		b.StartAt = &t
		b.StartPos, b.StartField = Pos{File: f.path, Line: resolve(p.val).Line}, "start_at"
	}

	fld = subfield(field, "cron")
	p = obj["cron"]
	if s, _ := f.str(p.val, fld); s != "" {
		if strings.HasPrefix(strings.TrimSpace(s), "@every") || strings.Contains(s, "TZ=") {
			f.problem(resolve(p.val).Line, fld, "%s: use a five-field spec or @hourly, @daily, @weekly, @monthly (occurrences are per minute; the zone goes in timezone:)", shown(p.val, s))
		} else if _, err := cron.ParseStandard(s); err != nil {
			f.problem(resolve(p.val).Line, fld, "%s is not a cron schedule (minute hour day-of-month month day-of-week, or @daily, @weekly…): %v", shown(p.val, s), err)
		}
		if b.StartAt != nil {
			f.problem(resolve(p.val).Line, fld, "a broadcast has either start_at (once) or cron (recurring), not both")
		}
		b.Cron = s
	}
	fld = subfield(field, "timezone")
	p = obj["timezone"]
	if tz, _ := f.str(p.val, fld); tz != "" {
		switch _, err := time.LoadLocation(tz); {
		case err != nil || tz == "Local":
			f.problem(resolve(p.val).Line, fld, "%s is not an IANA time zone such as Europe/Berlin", shown(p.val, tz))
		case b.Cron == "":
			f.problem(resolve(p.val).Line, fld, "only applies with cron")
		}
		b.Timezone = tz
	}

	f.timing(obj, field, &b)

	fld = subfield(field, "deadline")
	p = obj["deadline"]
	if d, set := f.duration(p.val, fld); set {
		if d <= 0 {
			f.problem(resolve(p.val).Line, fld, "must be positive, got %s", resolve(p.val).Value)
		}
		b.Deadline = d
	} else if b.Timing.LocalTime != "" {
		b.Deadline = DefaultLocalDeadline
	}

	b.StormShare, b.StormWindow = f.errorStorm(obj["error_storm"].val, subfield(field, "error_storm"))

	before := f.l.probs.total()
	msg, lines := f.message(obj["message"], subfield(field, "message"), line)
	msgOK := f.l.probs.total() == before
	b.Message = msg

	aud := f.audience(obj["audience"], field, b.Name, line)
	at := audienceAt{msg: msgAt{field: subfield(field, "message"), lines: lines, ok: msgOK}}
	var vars *varCheck
	if msgOK { // placeholders can only be checked in a valid message
		vars = newVarCheck(msg)
	}
	at.content = f.l.contentChecks(b.Account, msg, msgOK)
	var zones *zoneTally
	if b.Timing.Zoned() {
		zones = &zoneTally{counts: map[string]int{}}
	}
	var check func(Recipient, func() string)
	if vars != nil || !at.content.empty() || zones != nil {
		check = func(r Recipient, who func() string) {
			if vars != nil {
				vars.observe(r, who)
			}
			if at.content != nil {
				at.content.observe(r, who)
			}
			if zones != nil {
				zones.observe(r, who)
			}
		}
	}
	f.l.dedupe(aud, check)
	if zones != nil {
		b.Zones = zones.counts
		if zones.bad > 0 {
			f.l.bundle.Warnings = append(f.l.bundle.Warnings, fmt.Sprintf(
				"%s: %d recipients have a timezone variable that is not an IANA time zone such as Europe/Berlin (first: %q, %s); their phone number's zone is used",
				cmp.Or(b.Name, field), zones.bad, zones.firstBad, zones.firstBadAt))
		}
	}
	b.Recipients, b.CSV, b.Duplicates = aud.inline, aud.csv, aud.duplicates
	at.lines = aud.lines
	if aud.duplicates > 0 {
		f.l.bundle.Warnings = append(f.l.bundle.Warnings, fmt.Sprintf(
			"%s: %d duplicate recipients removed (first at %s)", cmp.Or(b.Name, field), aud.duplicates, aud.firstDuplicate))
	}
	if vars != nil {
		vars.report(f, lines, subfield(field, "message"))
	}
	return b, at
}

// timing decodes a broadcast's local_time, date and window (after its
// start_at and cron): when each recipient gets it in their own zone. A
// date without a start_at sets the start: when local_time first comes
// on that date anywhere on Earth.
func (f *fileCtx) timing(obj map[string]pair, field string, b *Broadcast) {
	fld := subfield(field, "local_time")
	p := obj["local_time"]
	if s, _ := f.str(p.val, fld); s != "" {
		switch m, err := localtime.ParseClock(s); {
		case err != nil || m >= 24*60:
			f.problem(resolve(p.val).Line, fld, "%s is not a time of day such as 09:00 or 18:30 (24-hour HH:MM, 00:00 to 23:59)", shown(p.val, s))
		default:
			b.Timing.LocalTime = fmt.Sprintf("%02d:%02d", m/60, m%60)
		}
	}
	fld = subfield(field, "date")
	p = obj["date"]
	if s, _ := f.str(p.val, fld); s != "" {
		line := resolve(p.val).Line
		d, err := localtime.ParseDate(s)
		switch {
		case err != nil:
			f.problem(line, fld, "%s is not a date such as 2027-01-15 (YYYY-MM-DD)", shown(p.val, s))
		case b.Cron != "":
			f.problem(line, fld, "a recurring broadcast's occurrences each send on their own day: leave date out (each recipient gets it at local_time on or after the occurrence)")
		case b.Timing.LocalTime == "" && isNull(obj["local_time"].val):
			f.problem(line, fld, "only applies with local_time (the wall-clock time each recipient gets it at on that date)")
		default:
			b.Timing.Date = d.Format(localtime.DateLayout)
			if start, ok := b.Timing.DefaultStart(); ok && b.StartAt == nil {
				b.StartAt, b.StartPos, b.StartField = &start, Pos{File: f.path, Line: line}, "date"
			}
		}
	}
	if w := f.window(obj["window"].val, subfield(field, "window")); w != nil {
		b.Timing.Window = *w
	}
}

// zoneTally counts an audience by its recipients' time zones as it is
// read, and the recipients whose timezone variable names no zone.
type zoneTally struct {
	counts     map[string]int
	bad        int
	firstBad   string
	firstBadAt string
}

func (z *zoneTally) observe(r Recipient, who func() string) {
	name, ok := localtime.RecipientZone(r.Phone, r.Vars)
	if !ok {
		name = ""
	}
	z.counts[name]++
	if tz := r.Vars["timezone"]; tz != "" && name != tz {
		if z.bad == 0 {
			z.firstBad, z.firstBadAt = tz, who()
		}
		z.bad++
	}
}
