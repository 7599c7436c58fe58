package spec

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/wacamp/wacamp/localtime"
	"github.com/wacamp/wacamp/sequence"
	"github.com/wacamp/wacamp/templates"
)

// Sequence is a drip sequence: steps sent to each enrolled recipient, each a
// delay after the previous one, inside a weekly send window in the
// recipient's time zone.
type Sequence struct {
	Name    string
	Account string           // an Account's Name
	Window  localtime.Window // the zero Window: any time
	// Timezone is "recipient" (the recipient's zone, from a "timezone"
	// variable or the phone number's country, else UTC) or an IANA zone.
	Timezone string
	ExitOn   []string // "reply", "unsubscribe"
	// Reenter lets someone enroll again once an earlier run has finished.
	Reenter bool
	Steps   []Step
	Pos     Pos
}

// Step is one message of a sequence.
type Step struct {
	// After is the delay after the previous step was sent (after enrolling,
	// for the first step).
	After time.Duration
	// Window overrides the sequence's window for this step when set.
	Window *localtime.Window
	// Deadline: a step not sent within this long of its due time (moved
	// into the window) expires instead of going out late. Default 24 h.
	Deadline time.Duration
	Message  templates.Message
	Pos      Pos
}

// ExitRules are the events that can end an enrollment early.
var ExitRules = []string{"reply", "unsubscribe"}

var sequenceKeys = []string{"name", "account", "window", "timezone", "exit_on", "reenter", "steps"}
var stepKeys = []string{"after", "window", "deadline", "message"}

// sequence decodes sequences[i], reporting its problems, and returns where
// its steps' messages are written.
func (f *fileCtx) sequence(n *yaml.Node, i int) (Sequence, []msgAt) {
	field := index("sequences", i)
	obj, ok := f.object(n, field, sequenceKeys...)
	if !ok {
		return Sequence{}, nil
	}
	line := resolve(n).Line
	sq := Sequence{Pos: Pos{File: f.path, Line: line}, Timezone: "recipient"}

	if name, ok := f.checkName(obj["name"], field, line); ok {
		f.claimName(f.l.sequences, "sequence", name, obj["name"].val, subfield(field, "name"))
		sq.Name = name
	}

	fld := subfield(field, "account")
	switch acct, ok := f.str(obj["account"].val, fld); {
	case !ok:
	case acct == "":
		f.problem(line, fld, "is required")
	default:
		sq.Account = acct
		f.l.refs = append(f.l.refs, accountRef{file: f.path, field: fld, name: acct, line: resolve(obj["account"].val).Line})
	}

	if w := f.window(obj["window"].val, subfield(field, "window")); w != nil {
		sq.Window = *w
	}

	fld = subfield(field, "timezone")
	if tz, _ := f.str(obj["timezone"].val, fld); tz != "" {
		if tz != "recipient" {
			if _, err := time.LoadLocation(tz); err != nil || tz == "Local" {
				f.problem(resolve(obj["timezone"].val).Line, fld, "%s is neither \"recipient\" nor an IANA time zone such as Europe/Berlin", shown(obj["timezone"].val, tz))
			}
		}
		sq.Timezone = tz
	}

	fld = subfield(field, "exit_on")
	for j, e := range f.list(obj["exit_on"].val, fld) {
		efld := index(fld, j)
		v, ok := f.str(e, efld)
		switch v = strings.ToLower(v); {
		case !ok:
		case !slices.Contains(ExitRules, v):
			f.problem(resolve(e).Line, efld, "%s is not an exit rule (%s)", shown(e, v), strings.Join(ExitRules, ", "))
		default:
			sq.ExitOn = append(sq.ExitOn, v)
		}
	}

	fld = subfield(field, "reenter")
	if v, ok := f.str(obj["reenter"].val, fld); ok && v != "" {
		switch strings.ToLower(v) {
		case "true", "yes":
			sq.Reenter = true
		case "false", "no":
		default:
			f.problem(resolve(obj["reenter"].val).Line, fld, "must be true or false, got %s", shown(obj["reenter"].val, v))
		}
	}

	fld = subfield(field, "steps")
	steps := f.list(obj["steps"].val, fld)
	switch n := resolve(obj["steps"].val); {
	case n == nil || isNull(n):
		f.problem(line, fld, "a sequence needs at least one step")
	case n.Kind == yaml.SequenceNode && len(steps) == 0:
		f.problem(n.Line, fld, "a sequence needs at least one step")
	}
	var msgs []msgAt
	for j, s := range steps {
		st, at := f.step(s, index(fld, j))
		sq.Steps = append(sq.Steps, st)
		msgs = append(msgs, at)
		f.warnLikelyTypos(cmp.Or(sq.Name, field), j+1, st.Message, resolve(s).Line)
	}
	return sq, msgs
}

// warnLikelyTypos warns of a step's placeholders that look like a typo of
// one every enrollment has ({{nmae}} for {{name}}): a sequence's other
// placeholders are the enrollments' own variables, which validate cannot
// see, and an enrollment that lacks one is refused when it is enrolled.
func (f *fileCtx) warnLikelyTypos(seq string, step int, m templates.Message, line int) {
	known := []string{"name", "phone"}
	for _, v := range m.Variables() {
		if slices.Contains(known, v) {
			continue
		}
		for _, k := range known {
			if oneSlip(v, k) {
				f.l.bundle.Warnings = append(f.l.bundle.Warnings, fmt.Sprintf(
					"%s:%d: sequence %s, step %d uses {{%s}}, which every enrollment must then give (did you mean {{%s}}?)", f.path, line, seq, step, v, k))
				break
			}
		}
	}
}

// oneSlip reports whether a is b with one letter added, dropped, changed,
// or two neighbours swapped.
func oneSlip(a, b string) bool {
	if editDistance(a, b) == 1 {
		return true
	}
	if len(a) != len(b) {
		return false
	}
	for i := 0; i+1 < len(a); i++ {
		if a[i] != b[i] {
			return a[i] == b[i+1] && a[i+1] == b[i] && a[i+2:] == b[i+2:]
		}
	}
	return false
}

// step decodes one step of a sequence and returns where its message is.
func (f *fileCtx) step(n *yaml.Node, field string) (Step, msgAt) {
	obj, ok := f.object(n, field, stepKeys...)
	if !ok {
		return Step{}, msgAt{}
	}
	line := resolve(n).Line
	st := Step{Pos: Pos{File: f.path, Line: line}, Deadline: DefaultDeadline}
	fld := subfield(field, "after")
	switch d, set := f.duration(obj["after"].val, fld); {
	case !set && isNull(obj["after"].val):
		f.problem(line, fld, "is required (0s for at once)")
	case d < 0:
		f.problem(resolve(obj["after"].val).Line, fld, "must not be negative, got %s", resolve(obj["after"].val).Value)
	default:
		st.After = d
	}
	st.Window = f.window(obj["window"].val, subfield(field, "window"))
	fld = subfield(field, "deadline")
	if d, set := f.duration(obj["deadline"].val, fld); set {
		if d <= 0 {
			f.problem(resolve(obj["deadline"].val).Line, fld, "must be positive, got %s", resolve(obj["deadline"].val).Value)
		}
		st.Deadline = d
	}
	before := f.l.probs.total()
	msg, lines := f.message(obj["message"], subfield(field, "message"), line)
	st.Message = msg
	return st, msgAt{field: subfield(field, "message"), lines: lines, ok: f.l.probs.total() == before}
}

// window decodes {days: [mon, …], from: "09:00", to: "20:00"}; nil when
// absent or wrong (reported).
func (f *fileCtx) window(n *yaml.Node, field string) *localtime.Window {
	if isNull(n) {
		return nil
	}
	obj, ok := f.object(n, field, "days", "from", "to")
	if !ok {
		return nil
	}
	var days []string
	for j, d := range f.list(obj["days"].val, subfield(field, "days")) {
		if v, ok := f.str(d, index(subfield(field, "days"), j)); ok {
			days = append(days, v)
		}
	}
	from, _ := f.str(obj["from"].val, subfield(field, "from"))
	to, _ := f.str(obj["to"].val, subfield(field, "to"))
	if from == "" || to == "" {
		f.problem(resolve(n).Line, field, "needs from and to, e.g. {days: [mon, tue], from: \"09:00\", to: \"20:00\"}")
		return nil
	}
	w, err := localtime.ParseWindow(days, from, to)
	if err != nil {
		f.problem(resolve(n).Line, field, "%v", err)
		return nil
	}
	return &w
}

// Spec is the sequence as it runs, without where it was written.
func (s Sequence) Spec() sequence.Spec {
	sp := sequence.Spec{Window: s.Window, Timezone: s.Timezone, ExitOn: s.ExitOn, Reenter: s.Reenter}
	for _, st := range s.Steps {
		sp.Steps = append(sp.Steps, sequence.Step{After: st.After, Window: st.Window, Deadline: st.Deadline, Message: st.Message})
	}
	return sp
}
