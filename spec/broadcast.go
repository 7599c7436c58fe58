package spec

import (
	"cmp"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"gopkg.in/yaml.v3"
)

var broadcastKeys = []string{"name", "account", "start_at", "cron", "timezone", "deadline", "error_storm", "audience", "message"}

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
		b.StartPos = Pos{File: f.path, Line: resolve(p.val).Line}
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

	fld = subfield(field, "deadline")
	p = obj["deadline"]
	if d, set := f.duration(p.val, fld); set {
		if d <= 0 {
			f.problem(resolve(p.val).Line, fld, "must be positive, got %s", resolve(p.val).Value)
		}
		b.Deadline = d
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
	var check func(Recipient, func() string)
	if vars != nil || !at.content.empty() {
		check = func(r Recipient, who func() string) {
			if vars != nil {
				vars.observe(r, who)
			}
			if at.content != nil {
				at.content.observe(r, who)
			}
		}
	}
	f.l.dedupe(aud, check)
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
