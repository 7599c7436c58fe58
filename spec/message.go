package spec

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/wacamp/wacamp/templates"
)

// A message, in a broadcast or a sequence step, has exactly one of these
// keys. Every string a person writes may hold {{placeholders}}; ids, types
// and MIME types may not. templates.Message.Validate has the rules and
// limits.
//
//	message:
//	  text: "Hi {{name}}"
//	  bot_flow: "FLOW-UNIQUE-ID"
//	  media:
//	    url: https://cdn.example.com/{{code}}.jpg
//	    type: image              # image, video, audio, document or sticker
//	    caption: "For {{name}}"  # not for audio or sticker
//	    mime_type: image/jpeg    # optional; image/webp for a sticker
//	    filename: "Invoice {{code}}.pdf"   # documents only
//	  location:
//	    latitude: 52.52          # -90..90, a YAML number (or a string holding one)
//	    longitude: 13.405        # -180..180
//	    name: Office             # optional
//	    address: "Street 1"      # optional
//	  buttons:
//	    text: "Hi {{name}}, coming?"
//	    header: "Party"          # optional, at most 60 characters
//	    footer: "Reply below"    # optional, at most 60 characters
//	    buttons:                 # 1 to 3, titles unique and at most 20 characters
//	      - {type: reply, title: "Yes"}
//	      - {type: url, title: Shop, payload: "https://shop.example.com/{{code}}"}
//	      - {type: call, title: Call, payload: "+4930123"}
//	  list:
//	    text: "What would you like?"
//	    button: Menu             # opens the list; at most 20 characters
//	    header: "Cakes"          # optional
//	    footer: "Fresh daily"    # optional
//	    sections:                # 1 to 10; at most 10 rows in all
//	      - title: Cakes         # required with more than one section
//	        rows:
//	          - {id: c1, title: Cheesecake, description: "With berries"}
//	  template:
//	    id: "313823"             # BotSailor family; or else:
//	    name: order_update       # Sobot: name and language
//	    language: en_US
//	    category: utility        # marketing (the default), utility or authentication
//	    vars: {1: "{{order}}", 2: Approved}   # see templates.TemplateVarFromKey
//	    header: {type: image, url: https://cdn.example.com/h.jpg}   # image, video or document; mime_type, filename
//	    buttons:                 # parameters of dynamic template buttons
//	      - {index: 0, sub_type: url, value: "{{order}}"}   # index 0-9, sub_type url or quick_reply
//
// A free-form message (every kind but template) may say what happens to a
// recipient outside the 24-hour customer-service window, on an account
// that enforces it:
//
//	outside_window: skip       # the delivery is skipped (outside_window)
//	outside_window:            # or: send this template instead
//	  template: {id: "313823", vars: {1: "{{name}}"}}   # same shape as template above
var messageKinds = []string{"text", "media", "template", "bot_flow", "location", "buttons", "list"}

// The keys of the mappings inside a message.
var (
	mediaKeys          = []string{"url", "type", "caption", "mime_type", "filename"}
	templateKeys       = []string{"id", "name", "language", "category", "vars", "header", "buttons"}
	templateHeaderKeys = []string{"url", "type", "mime_type", "filename"}
	templateButtonKeys = []string{"index", "sub_type", "value"}
	locationKeys       = []string{"latitude", "longitude", "name", "address"}
	buttonsKeys        = []string{"text", "header", "footer", "buttons"}
	buttonKeys         = []string{"type", "title", "payload"}
	listKeys           = []string{"text", "header", "footer", "button", "sections"}
	sectionKeys        = []string{"title", "rows"}
	rowKeys            = []string{"id", "title", "description"}
)

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

// message decodes a broadcast's or step's message and validates it,
// reporting problems with their lines. ownerLine is the line of the
// broadcast or step, for a missing message.
func (f *fileCtx) message(p pair, field string, ownerLine int) (templates.Message, fieldLines) {
	fl := fieldLines{lines: make(map[string]int), def: ownerLine}
	var m templates.Message
	if isNull(p.val) {
		f.problem(ownerLine, field, "is required: one of %s", strings.Join(messageKinds, ", "))
		return m, fl
	}
	fl.def = resolve(p.val).Line
	obj, ok := f.object(p.val, field, append(slices.Clone(messageKinds), "outside_window")...)
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

	d := &msgDecoder{f: f, field: field, fl: fl, failed: make(map[string]bool)}
	kind := kinds[0]
	m.Kind = templates.Kind(kind)
	fl.lines[kind] = obj[kind].key.Line
	val := obj[kind].val
	switch m.Kind {
	case templates.KindText:
		m.Text = d.str(val, "text")
	case templates.KindBotFlow:
		m.BotFlow = d.str(val, "bot_flow")
	case templates.KindMedia:
		m.Media = d.media(val, "media", mediaKeys)
	case templates.KindTemplate:
		m.Template = d.template(val, "template")
	case templates.KindLocation:
		m.Location = d.location(val)
	case templates.KindButtons:
		m.Buttons = d.buttons(val)
	case templates.KindList:
		m.List = d.list(val)
	}
	if ow, ok := obj["outside_window"]; ok && !isNull(ow.val) {
		fl.lines["outside_window"] = ow.key.Line
		m.OutsideWindow = d.outsideWindow(ow.val)
	}
	if err := m.Validate(); err != nil {
	next:
		for _, fe := range fieldErrors(err) {
			for up := fe.Field; up != ""; up = parentField(up) {
				if d.failed[up] {
					continue next
				}
			}
			f.problem(fl.line(fe.Field), subfield(field, fe.Field), "%s", fe.Msg)
		}
	}
	return m, fl
}

// msgDecoder decodes the fields of one message. Paths are relative to the
// message, as in templates.FieldError.
type msgDecoder struct {
	f     *fileCtx
	field string // the message's own field path, e.g. "broadcasts[0].message"
	fl    fieldLines
	// failed marks fields whose problems were reported while decoding;
	// Validate's complaints about them and their children (an "is empty"
	// for a value that could not be read) are dropped.
	failed map[string]bool
}

// at records the line of path's value node n, unless path has one already.
func (d *msgDecoder) at(n *yaml.Node, path string) {
	if n = resolve(n); n == nil {
		return
	}
	if _, ok := d.fl.lines[path]; !ok {
		d.fl.lines[path] = n.Line
	}
}

// str decodes the string at path.
func (d *msgDecoder) str(n *yaml.Node, path string) string {
	s, ok := d.f.str(n, subfield(d.field, path))
	if !ok {
		d.failed[path] = true
	}
	d.at(n, path)
	return s
}

// object decodes the mapping at path, reporting keys not in allowed.
func (d *msgDecoder) object(n *yaml.Node, path string, allowed []string) map[string]pair {
	obj, ok := d.f.object(n, subfield(d.field, path), allowed...)
	if !ok {
		d.failed[path] = true
	}
	d.at(n, path)
	return obj
}

// items decodes the list at path; p's key line is the list's line.
func (d *msgDecoder) items(p pair, path string) []*yaml.Node {
	if p.key != nil {
		d.fl.lines[path] = p.key.Line
	}
	n := resolve(p.val)
	if !isNull(n) && n.Kind != yaml.SequenceNode {
		d.failed[path] = true
	}
	return d.f.list(n, subfield(d.field, path))
}

// number decodes the required number at path: a YAML int or float, or a
// string holding one. example shows a valid value in messages.
func (d *msgDecoder) number(p pair, path, example string) float64 {
	fld := subfield(d.field, path)
	n := resolve(p.val)
	switch {
	case isNull(n):
		d.f.problem(d.fl.line(parentField(path)), fld, "is required, e.g. %s", example)
		d.failed[path] = true
		return 0
	case n.Kind != yaml.ScalarNode:
		d.f.problem(n.Line, fld, "expected a number such as %s, got %s", example, describe(n))
		d.failed[path] = true
		return 0
	}
	d.at(n, path)
	s, ok := d.f.str(n, fld)
	if !ok {
		d.failed[path] = true
		return 0
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		d.f.problem(n.Line, fld, "must be a number such as %s, got %s", example, shown(n, s))
		d.failed[path] = true
		return 0
	}
	return v
}

// media decodes a Media at path with the given keys.
func (d *msgDecoder) media(n *yaml.Node, path string, keys []string) *templates.Media {
	obj := d.object(n, path, keys)
	return &templates.Media{
		URL:      d.str(obj["url"].val, path+".url"),
		Type:     d.str(obj["type"].val, path+".type"),
		Caption:  d.str(obj["caption"].val, path+".caption"),
		MimeType: d.str(obj["mime_type"].val, path+".mime_type"),
		Filename: d.str(obj["filename"].val, path+".filename"),
	}
}

// outsideWindow decodes a free-form message's outside_window: skip, or
// {template: {...}}.
func (d *msgDecoder) outsideWindow(n *yaml.Node) *templates.OutsideWindow {
	const path = "outside_window"
	fld := subfield(d.field, path)
	if r := resolve(n); r.Kind == yaml.ScalarNode {
		s, _ := d.f.str(n, fld)
		if strings.ToLower(strings.TrimSpace(s)) != "skip" {
			d.f.problem(r.Line, fld, "%s must be skip (the delivery is skipped) or {template: {...}} (a template sent instead)", shown(n, s))
			d.failed[path] = true
			return nil
		}
		return &templates.OutsideWindow{Skip: true}
	}
	obj := d.object(n, path, []string{"template"})
	if d.failed[path] {
		return nil
	}
	t := obj["template"]
	if isNull(t.val) {
		d.f.problem(d.fl.line(path), fld, "must be skip or {template: {...}} (a template sent instead)")
		d.failed[path] = true
		return nil
	}
	d.fl.lines[path+".template"] = t.key.Line
	return &templates.OutsideWindow{Template: d.template(t.val, path+".template")}
}

// template decodes the template at path ("template", or a fallback's
// "outside_window.template").
func (d *msgDecoder) template(n *yaml.Node, path string) *templates.Template {
	obj := d.object(n, path, templateKeys)
	t := &templates.Template{
		ID:       d.str(obj["id"].val, path+".id"),
		Name:     d.str(obj["name"].val, path+".name"),
		Language: d.str(obj["language"].val, path+".language"),
		Category: strings.ToLower(strings.TrimSpace(d.str(obj["category"].val, path+".category"))),
	}
	var ok bool
	t.Vars, ok = d.f.templateVars(obj["vars"].val, subfield(d.field, path+".vars"), d.fl, path+".vars")
	d.failed[path+".vars"] = !ok
	if h := obj["header"]; !isNull(h.val) {
		d.fl.lines[path+".header"] = h.key.Line
		t.Header = d.media(h.val, path+".header", templateHeaderKeys)
	}
	for i, item := range d.items(obj["buttons"], path+".buttons") {
		path := fmt.Sprintf("%s.buttons[%d]", path, i)
		b := d.object(item, path, templateButtonKeys)
		tb := templates.TemplateButton{
			Index:   -1, // when missing or unreadable: out of range, so not a duplicate of another
			SubType: d.str(b["sub_type"].val, path+".sub_type"),
			Value:   d.str(b["value"].val, path+".value"),
		}
		fld := subfield(d.field, path+".index")
		switch v, ok := d.f.integer(b["index"].val, fld); {
		case !ok:
			d.failed[path+".index"] = true
		case isNull(b["index"].val):
			if !d.failed[path] {
				d.f.problem(d.fl.line(path), fld, "is required: the button's position among the template's buttons, from 0")
			}
			d.failed[path+".index"] = true
		default:
			d.at(b["index"].val, path+".index")
			tb.Index = int(v)
		}
		t.Buttons = append(t.Buttons, tb)
	}
	return t
}

func (d *msgDecoder) location(n *yaml.Node) *templates.Location {
	obj := d.object(n, "location", locationKeys)
	loc := &templates.Location{
		Name:    d.str(obj["name"].val, "location.name"),
		Address: d.str(obj["address"].val, "location.address"),
	}
	if d.failed["location"] {
		return loc
	}
	loc.Latitude = d.number(obj["latitude"], "location.latitude", "52.52")
	loc.Longitude = d.number(obj["longitude"], "location.longitude", "13.405")
	return loc
}

func (d *msgDecoder) buttons(n *yaml.Node) *templates.Buttons {
	obj := d.object(n, "buttons", buttonsKeys)
	b := &templates.Buttons{
		Text:   d.str(obj["text"].val, "buttons.text"),
		Header: d.str(obj["header"].val, "buttons.header"),
		Footer: d.str(obj["footer"].val, "buttons.footer"),
	}
	for i, item := range d.items(obj["buttons"], "buttons.buttons") {
		path := fmt.Sprintf("buttons.buttons[%d]", i)
		btn := d.object(item, path, buttonKeys)
		b.Buttons = append(b.Buttons, templates.Button{
			Type:    d.str(btn["type"].val, path+".type"),
			Title:   d.str(btn["title"].val, path+".title"),
			Payload: d.str(btn["payload"].val, path+".payload"),
		})
	}
	return b
}

func (d *msgDecoder) list(n *yaml.Node) *templates.List {
	obj := d.object(n, "list", listKeys)
	l := &templates.List{
		Text:   d.str(obj["text"].val, "list.text"),
		Header: d.str(obj["header"].val, "list.header"),
		Footer: d.str(obj["footer"].val, "list.footer"),
		Button: d.str(obj["button"].val, "list.button"),
	}
	for i, item := range d.items(obj["sections"], "list.sections") {
		path := fmt.Sprintf("list.sections[%d]", i)
		sec := d.object(item, path, sectionKeys)
		s := templates.ListSection{Title: d.str(sec["title"].val, path+".title")}
		for j, r := range d.items(sec["rows"], path+".rows") {
			rpath := fmt.Sprintf("%s.rows[%d]", path, j)
			row := d.object(r, rpath, rowKeys)
			s.Rows = append(s.Rows, templates.ListRow{
				ID:          d.str(row["id"].val, rpath+".id"),
				Title:       d.str(row["title"].val, rpath+".title"),
				Description: d.str(row["description"].val, rpath+".description"),
			})
		}
		l.Sections = append(l.Sections, s)
	}
	return l
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
// ok is false if a problem was reported. at is the vars' path in the
// message, for their lines.
func (f *fileCtx) templateVars(n *yaml.Node, field string, fl fieldLines, at string) (vars []templates.TemplateVar, ok bool) {
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
		fl.lines[fmt.Sprintf("%s[%d]", at, i)] = p.key.Line
	}
	return vars, f.l.probs.total() == before
}

// fieldErrors unpacks the *templates.FieldError values that
// Message.Validate joined.
func fieldErrors(err error) []*templates.FieldError {
	if err == nil {
		return nil
	}
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
