package config

import (
	"cmp"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"gopkg.in/yaml.v3"

	"github.com/wacamp/wacamp/templates"
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
// problems.
func (f *fileCtx) broadcast(n *yaml.Node, i int) Broadcast {
	field := index("broadcasts", i)
	obj, ok := f.object(n, field, broadcastKeys...)
	if !ok {
		return Broadcast{}
	}
	line := resolve(n).Line
	b := Broadcast{Pos: Pos{File: f.path, Line: line}, Deadline: DefaultDeadline}

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
			f.problem(resolve(p.val).Line, fld, "%s is not an RFC 3339 time with offset, e.g. 2026-11-27T09:00:00+01:00", shown(p.val, s))
		}
		b.StartAt = &t
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
	b.Recipients, b.Duplicates = aud.recipients, aud.duplicates
	if aud.duplicates > 0 {
		f.l.bundle.Warnings = append(f.l.bundle.Warnings, fmt.Sprintf(
			"%s: %d duplicate recipients removed (first at %s)", cmp.Or(b.Name, field), aud.duplicates, aud.firstDuplicate))
	}
	if msgOK { // placeholders can only be checked in a valid message
		f.checkVariables(msg, aud, lines, subfield(field, "message"))
	}
	return b
}

var messageKinds = []string{"text", "media", "template", "bot_flow"}

// fieldLines maps message field paths, as in templates.FieldError, to lines.
type fieldLines struct {
	lines map[string]int
	def   int // the message's own line
}

// line returns the line of field or of its nearest parent that has one.
func (fl fieldLines) line(field string) int {
	for ; field != ""; field = parentField(field) {
		if l, ok := fl.lines[field]; ok {
			return l
		}
	}
	return fl.def
}

// message decodes a broadcast's message and validates it, reporting
// problems with their lines.
func (f *fileCtx) message(p pair, field string, broadcastLine int) (templates.Message, fieldLines) {
	fl := fieldLines{lines: make(map[string]int), def: broadcastLine}
	var m templates.Message
	if isNull(p.val) {
		f.problem(broadcastLine, field, "is required: one of %s", strings.Join(messageKinds, ", "))
		return m, fl
	}
	fl.def = resolve(p.val).Line
	obj, ok := f.object(p.val, field, messageKinds...)
	if !ok {
		return m, fl
	}
	var kinds []string
	for _, k := range messageKinds {
		if q, ok := obj[k]; ok && !isNull(q.val) {
			kinds = append(kinds, k)
		}
	}
	switch len(kinds) {
	case 0:
		f.problem(fl.def, field, "needs exactly one of %s", strings.Join(messageKinds, ", "))
		return m, fl
	case 1:
	default:
		f.problem(fl.def, field, "has %s; a message has exactly one of %s", strings.Join(kinds, " and "), strings.Join(messageKinds, ", "))
		return m, fl
	}

	// Fields that could not be decoded are reported already; Validate
	// would only add "is empty" for them.
	failed := make(map[string]bool)
	str := func(n *yaml.Node, path string) string {
		s, ok := f.str(n, subfield(field, path))
		if !ok {
			failed[path] = true
		}
		if n = resolve(n); n != nil {
			fl.lines[path] = n.Line
		}
		return s
	}
	m.Kind = templates.Kind(kinds[0])
	fl.lines[kinds[0]] = obj[kinds[0]].key.Line
	switch m.Kind {
	case templates.KindText:
		m.Text = str(obj["text"].val, "text")
	case templates.KindBotFlow:
		m.BotFlow = str(obj["bot_flow"].val, "bot_flow")
	case templates.KindMedia:
		media, ok := f.object(obj["media"].val, subfield(field, "media"), "url", "type", "caption")
		failed["media"] = !ok
		m.Media = &templates.Media{
			URL:     str(media["url"].val, "media.url"),
			Type:    str(media["type"].val, "media.type"),
			Caption: str(media["caption"].val, "media.caption"),
		}
	case templates.KindTemplate:
		tmpl, ok := f.object(obj["template"].val, subfield(field, "template"), "id", "vars")
		failed["template"] = !ok
		m.Template = &templates.Template{ID: str(tmpl["id"].val, "template.id")}
		m.Template.Vars, ok = f.templateVars(tmpl["vars"].val, subfield(field, "template.vars"), fl)
		failed["template.vars"] = !ok
	}
	if err := m.Validate(); err != nil {
	next:
		for _, fe := range fieldErrors(err) {
			for up := fe.Field; up != ""; up = parentField(up) {
				if failed[up] {
					continue next
				}
			}
			f.problem(fl.line(fe.Field), subfield(field, fe.Field), "%s", fe.Msg)
		}
	}
	return m, fl
}

// parentField returns the field path one level up: "template" for
// "template.vars", "template.vars" for "template.vars[0]".
func parentField(field string) string {
	if i := strings.LastIndexAny(field, ".["); i >= 0 {
		return field[:i]
	}
	return ""
}

// templateVars decodes a template's vars mapping in document order; see
// templates.TemplateVarFromKey for how keys become names and indexes.
// ok is false if a problem was reported.
func (f *fileCtx) templateVars(n *yaml.Node, field string, fl fieldLines) (vars []templates.TemplateVar, ok bool) {
	if isNull(n) {
		return nil, true
	}
	n = resolve(n)
	if n.Kind != yaml.MappingNode {
		f.problem(n.Line, field, "expected a mapping of variable to value, got %s", describe(n))
		return nil, false
	}
	before := f.l.probs.total()
	for i, p := range f.pairs(n, field) {
		val, _ := f.str(p.val, subfield(field, p.key.Value))
		vars = append(vars, templates.TemplateVarFromKey(p.key.Value, i+1, val))
		fl.lines[fmt.Sprintf("template.vars[%d]", i)] = p.key.Line
	}
	return vars, f.l.probs.total() == before
}

// fieldErrors unpacks the *templates.FieldError values that
// Message.Validate joined.
func fieldErrors(err error) []*templates.FieldError {
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	out := make([]*templates.FieldError, 0, len(errs))
	for _, e := range errs {
		fe, ok := e.(*templates.FieldError)
		if !ok {
			fe = &templates.FieldError{Msg: e.Error()}
		}
		out = append(out, fe)
	}
	return out
}
