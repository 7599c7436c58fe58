package templates

import (
	"errors"
	"fmt"
	"mime"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"
)

// Limits WhatsApp puts on message content, in characters (rows and
// sections: in items).
const (
	MaxTextLen    = 4096 // text message body
	MaxCaptionLen = 1024 // media caption

	MaxInteractiveTextLen = 1024 // body of a buttons or list message
	MaxHeaderLen          = 60   // text header of a buttons or list message
	MaxFooterLen          = 60   // footer of a buttons or list message
	MaxButtons            = 3    // buttons of a buttons message
	MaxButtonTitleLen     = 20   // title of a button, and a list's button
	MaxListSections       = 10   // sections of a list
	MaxListRows           = 10   // rows of a list, all sections together
	MaxSectionTitleLen    = 24   // title of a list section
	MaxRowTitleLen        = 24   // title of a list row
	MaxRowDescriptionLen  = 72   // description of a list row
	MaxRowIDLen           = 200  // id of a list row
	MaxTemplateButtons    = 10   // template buttons have index 0 to MaxTemplateButtons-1
	// MaxTemplateVars bounds a template's variables: a template body holds
	// at most 1,024 characters, so no approved template takes more than
	// about 200 parameters; more is a mistake (or an attack on validation
	// time), refused before any per-variable work.
	MaxTemplateVars = 250
	// MaxVariables bounds the different placeholders of one message, so
	// checking an audience against it (each recipient needs a value for
	// each) is bounded too; as many as a template's variables.
	MaxVariables = 250
)

// Kinds are the valid values of Message.Kind, in the order error messages
// list them.
var Kinds = []Kind{KindText, KindMedia, KindTemplate, KindBotFlow, KindLocation, KindButtons, KindList}

// MediaTypes are the valid values of Media.Type.
var MediaTypes = []string{"image", "video", "audio", "document", "sticker"}

// TemplateHeaderTypes are the valid values of a template header's
// Media.Type.
var TemplateHeaderTypes = []string{"image", "video", "document"}

// ButtonTypes are the valid values of Button.Type.
var ButtonTypes = []string{"reply", "url", "call"}

// TemplateButtonSubTypes are the valid values of TemplateButton.SubType.
var TemplateButtonSubTypes = []string{"url", "quick_reply"}

// FieldError is one problem [Message.Validate] found. Field is the path of
// the offending field relative to the message, e.g. "media.type" or
// "template.vars[1].index"; it is empty for a problem with the message as a
// whole.
type FieldError struct {
	Field string
	Msg   string
}

// Error implements error.
func (e *FieldError) Error() string {
	if e.Field == "" {
		return e.Msg
	}
	return e.Field + ": " + e.Msg
}

// kindList is Kinds as "text, media, …" for error messages.
func kindList() string {
	s := make([]string, len(Kinds))
	for i, k := range Kinds {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

// problems collects FieldErrors.
type problems []error

func (p *problems) add(field, format string, args ...any) {
	*p = append(*p, &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)})
}

// maxLen reports s when it has more than limit characters.
func (p *problems) maxLen(field, s string, limit int) {
	if n := utf8.RuneCountInString(s); n > limit {
		p.add(field, "has %d characters; at most %d are allowed", n, limit)
	}
}

// required reports s when it is empty or blank, else checks its length.
func (p *problems) required(field, s string, limit int) {
	if strings.TrimSpace(s) == "" {
		p.add(field, "is empty")
		return
	}
	p.maxLen(field, s, limit)
}

// Validate reports every problem with m, each as a *[FieldError], joined with
// errors.Join; nil means m is valid. It checks that exactly the content of
// m.Kind is set and complete:
//
//   - text: non-empty, at most [MaxTextLen] characters;
//   - media: an http(s) URL, a type from [MediaTypes], a caption of at most
//     [MaxCaptionLen] characters and none for audio or sticker, a mime_type
//     (if given) of the form type/subtype that fits the type (image/webp for
//     a sticker), and a filename only for a document;
//   - template: either an id (BotSailor family) or a name and a language
//     such as en or en_US (Sobot), not both; variables with a name and an
//     index ≥ 1, each (name, index) pair once; a header (if given) of a type
//     from [TemplateHeaderTypes] with an http(s) URL and no caption; buttons
//     with an index from 0 to 9 (each once), a sub_type from
//     [TemplateButtonSubTypes] and a non-empty value;
//   - bot_flow: non-empty;
//   - location: a latitude from -90 to 90 and a longitude from -180 to 180;
//     name and address are optional;
//   - buttons: a text of at most [MaxInteractiveTextLen] characters, a header
//     and a footer of at most [MaxHeaderLen] and [MaxFooterLen], and 1 to
//     [MaxButtons] buttons, each with a type from [ButtonTypes] and a
//     non-empty title of at most [MaxButtonTitleLen] characters, titles
//     unique; a url button's payload is an http(s) URL, a call button's a
//     phone number (digits, optional leading +), a reply button has none;
//   - list: a text as for buttons, header and footer as for buttons, a
//     button label of at most [MaxButtonTitleLen] characters, and 1 to
//     [MaxListSections] sections with at least one row each and at most
//     [MaxListRows] rows in all; section titles of at most
//     [MaxSectionTitleLen] characters, required when there is more than one
//     section; row ids non-empty, unique and at most [MaxRowIDLen]
//     characters; row titles non-empty and at most [MaxRowTitleLen],
//     descriptions at most [MaxRowDescriptionLen] characters;
//
// and that outside_window, when set, is on a free-form message (every kind
// but template) and is either skip or a template valid as above; and that
// no placeholder is malformed (see [Placeholders]) and there are
// at most [MaxVariables] different ones. Length limits apply to the text as
// written; check a rendered message again.
func (m Message) Validate() error {
	var p problems

	switch m.Kind {
	case KindText, KindMedia, KindTemplate, KindBotFlow, KindLocation, KindButtons, KindList:
	case "":
		p.add("kind", "is empty; one of %s is required", kindList())
	default:
		p.add("kind", "unknown kind %q; one of %s is required", m.Kind, kindList())
	}
	// Content of another kind must not be set.
	for _, f := range []struct {
		kind Kind
		set  bool
	}{
		{KindText, m.Text != ""},
		{KindMedia, m.Media != nil},
		{KindTemplate, m.Template != nil},
		{KindBotFlow, m.BotFlow != ""},
		{KindLocation, m.Location != nil},
		{KindButtons, m.Buttons != nil},
		{KindList, m.List != nil},
	} {
		if f.set && f.kind != m.Kind && m.Kind != "" {
			p.add(string(f.kind), "must not be set on a %s message; a message has exactly one kind", m.Kind)
		}
	}

	switch m.Kind {
	case KindText:
		if strings.TrimSpace(m.Text) == "" {
			p.add("text", "is empty")
		} else {
			p.maxLen("text", m.Text, MaxTextLen)
		}
	case KindMedia:
		if m.Media == nil {
			p.add("media", "is required")
			break
		}
		p.media(*m.Media)
	case KindTemplate:
		if m.Template == nil {
			p.add("template", "is required")
			break
		}
		p.template(*m.Template)
	case KindBotFlow:
		if strings.TrimSpace(m.BotFlow) == "" {
			p.add("bot_flow", "is empty")
		}
	case KindLocation:
		if m.Location == nil {
			p.add("location", "is required")
			break
		}
		p.location(*m.Location)
	case KindButtons:
		if m.Buttons == nil {
			p.add("buttons", "is required")
			break
		}
		p.buttons(*m.Buttons)
	case KindList:
		if m.List == nil {
			p.add("list", "is required")
			break
		}
		p.list(*m.List)
	}
	p.outsideWindow(m)

	m.eachText(func(field string, s *string) {
		if err := checkPlaceholders(*s); err != nil {
			p.add(field, "%v", err)
		}
	})
	if n := len(m.Variables()); n > MaxVariables {
		p.add("", "uses %d different placeholders; a message takes at most %d", n, MaxVariables)
	}
	return errors.Join(p...)
}

// outsideWindow checks m's outside_window: only on a free-form message,
// either skip or a valid template.
func (p *problems) outsideWindow(m Message) {
	ow := m.OutsideWindow
	switch {
	case ow == nil:
	case !m.Restricted():
		p.add("outside_window", "is only for free-form messages; a template is never restricted by the 24-hour window, so remove it")
	case ow.Skip == (ow.Template != nil):
		p.add("outside_window", "must be either skip or {template: {...}} (the template to send instead)")
	case ow.Template != nil:
		var tp problems
		tp.template(*ow.Template)
		for _, e := range tp {
			if fe, ok := e.(*FieldError); ok {
				p.add("outside_window."+fe.Field, "%s", fe.Msg)
			}
		}
	}
}

func (p *problems) media(md Media) {
	if err := checkURL(md.URL); err != nil {
		p.add("media.url", "%v", err)
	}
	switch md.Type {
	case "image", "video", "document":
	case "audio", "sticker":
		if md.Caption != "" {
			p.add("media.caption", "%s cannot have a caption", md.Type)
		}
	case "":
		p.add("media.type", "is required; one of %s", strings.Join(MediaTypes, ", "))
	default:
		p.add("media.type", "must be one of %s", strings.Join(MediaTypes, ", "))
	}
	p.maxLen("media.caption", md.Caption, MaxCaptionLen)
	if md.MimeType != "" {
		if err := checkMimeType(md.MimeType, md.Type); err != nil {
			p.add("media.mime_type", "%v", err)
		}
	}
	if md.Filename != "" && md.Type != "document" {
		p.add("media.filename", "only a document has a filename")
	}
}

// checkMimeType checks that s is a MIME type "type/subtype" (parameters
// allowed) that fits the media type mediaType: image/… for an image, and
// so on; image/webp for a sticker; anything for a document.
func checkMimeType(s, mediaType string) error {
	mt, _, err := mime.ParseMediaType(s)
	top, sub, ok := strings.Cut(mt, "/")
	if err != nil || !ok || top == "" || sub == "" || strings.Contains(sub, "/") {
		return fmt.Errorf("%q is not a MIME type such as image/jpeg", s)
	}
	switch mediaType {
	case "image", "video", "audio":
		if top != mediaType {
			return fmt.Errorf("%q does not fit type %s; use %s/…", s, mediaType, mediaType)
		}
	case "sticker":
		if mt != "image/webp" {
			return fmt.Errorf("%q does not fit type sticker; stickers are image/webp", s)
		}
	}
	return nil
}

// languageRE matches WhatsApp template language codes: en, en_US, zh_HK.
var languageRE = regexp.MustCompile(`^[a-z]{2,3}(_[A-Za-z]{2,4})?$`)

func (p *problems) template(t Template) {
	hasID := strings.TrimSpace(t.ID) != ""
	hasName := strings.TrimSpace(t.Name) != ""
	switch {
	case hasID && hasName:
		p.add("template.name", "a template has either an id (BotSailor family) or a name and language (Sobot), not both")
	case hasID:
		if t.Language != "" {
			p.add("template.language", "only goes with name; a template with an id has no language")
		}
	case hasName:
		if strings.TrimSpace(t.Language) == "" {
			p.add("template.language", "is required with name, e.g. en or en_US")
		}
	default:
		p.add("template.id", "is empty; set id (BotSailor family), or name and language (Sobot)")
	}
	if strings.TrimSpace(t.Language) != "" && !languageRE.MatchString(t.Language) {
		p.add("template.language", "%q is not a language code such as en or en_US", t.Language)
	}
	if t.Category != "" && !slices.Contains(TemplateCategories, t.Category) {
		p.add("template.category", "%q must be one of %s (Meta's category of the template; left out, it counts as marketing for opt-outs)",
			t.Category, strings.Join(TemplateCategories, ", "))
	}

	if len(t.Vars) > MaxTemplateVars {
		p.add("template.vars", "has %d variables; a template takes at most %d", len(t.Vars), MaxTemplateVars)
		return
	}
	seen := make(map[TemplateVar]int, len(t.Vars))
	for i, v := range t.Vars {
		field := fmt.Sprintf("template.vars[%d]", i)
		if v.Name == "" {
			p.add(field+".name", "is empty")
		}
		if v.Index < 1 {
			p.add(field+".index", "must be 1 or more, got %d", v.Index)
		}
		key := TemplateVar{Name: v.Name, Index: v.Index}
		if j, dup := seen[key]; dup {
			p.add(field, "%s-%d is set twice (also template.vars[%d])", v.Name, v.Index, j)
		} else {
			seen[key] = i
		}
	}

	if h := t.Header; h != nil {
		if err := checkURL(h.URL); err != nil {
			p.add("template.header.url", "%v", err)
		}
		switch h.Type {
		case "image", "video", "document":
		case "":
			p.add("template.header.type", "is required; one of %s", strings.Join(TemplateHeaderTypes, ", "))
		default:
			p.add("template.header.type", "must be one of %s", strings.Join(TemplateHeaderTypes, ", "))
		}
		if h.Caption != "" {
			p.add("template.header.caption", "a template header has no caption")
		}
		if h.MimeType != "" {
			if err := checkMimeType(h.MimeType, h.Type); err != nil {
				p.add("template.header.mime_type", "%v", err)
			}
		}
		if h.Filename != "" && h.Type != "document" {
			p.add("template.header.filename", "only a document has a filename")
		}
	}

	indexes := make(map[int]int, len(t.Buttons))
	for i, b := range t.Buttons {
		field := fmt.Sprintf("template.buttons[%d]", i)
		if b.Index < 0 || b.Index >= MaxTemplateButtons {
			p.add(field+".index", "must be from 0 to %d (the button's position in the template), got %d", MaxTemplateButtons-1, b.Index)
		} else if j, dup := indexes[b.Index]; dup {
			p.add(field+".index", "button %d is set twice (also template.buttons[%d])", b.Index, j)
		} else {
			indexes[b.Index] = i
		}
		switch b.SubType {
		case "url", "quick_reply":
		case "":
			p.add(field+".sub_type", "is required; one of %s", strings.Join(TemplateButtonSubTypes, ", "))
		default:
			p.add(field+".sub_type", "%q must be one of %s", b.SubType, strings.Join(TemplateButtonSubTypes, ", "))
		}
		if strings.TrimSpace(b.Value) == "" {
			p.add(field+".value", "is empty")
		}
	}
}

func (p *problems) location(l Location) {
	// The negated comparisons also catch NaN.
	if !(l.Latitude >= -90 && l.Latitude <= 90) {
		p.add("location.latitude", "must be from -90 to 90, got %v", l.Latitude)
	}
	if !(l.Longitude >= -180 && l.Longitude <= 180) {
		p.add("location.longitude", "must be from -180 to 180, got %v", l.Longitude)
	}
}

func (p *problems) buttons(b Buttons) {
	p.required("buttons.text", b.Text, MaxInteractiveTextLen)
	p.maxLen("buttons.header", b.Header, MaxHeaderLen)
	p.maxLen("buttons.footer", b.Footer, MaxFooterLen)
	if n := len(b.Buttons); n < 1 || n > MaxButtons {
		p.add("buttons.buttons", "has %d buttons; 1 to %d are allowed", n, MaxButtons)
	}
	titles := make(map[string]int, len(b.Buttons))
	for i, btn := range b.Buttons {
		field := fmt.Sprintf("buttons.buttons[%d]", i)
		p.required(field+".title", btn.Title, MaxButtonTitleLen)
		if title := strings.TrimSpace(btn.Title); title != "" {
			if j, dup := titles[title]; dup {
				p.add(field+".title", "%q is used twice (also buttons.buttons[%d]); titles must be unique", btn.Title, j)
			} else {
				titles[title] = i
			}
		}
		switch btn.Type {
		case "reply":
			if btn.Payload != "" {
				p.add(field+".payload", "a reply button has no payload")
			}
		case "url":
			if err := checkURL(btn.Payload); err != nil {
				p.add(field+".payload", "%v", err)
			}
		case "call":
			if err := checkPhone(btn.Payload); err != nil {
				p.add(field+".payload", "%v", err)
			}
		case "":
			p.add(field+".type", "is required; one of %s", strings.Join(ButtonTypes, ", "))
		default:
			p.add(field+".type", "%q must be one of %s", btn.Type, strings.Join(ButtonTypes, ", "))
		}
	}
}

func (p *problems) list(l List) {
	p.required("list.text", l.Text, MaxInteractiveTextLen)
	p.maxLen("list.header", l.Header, MaxHeaderLen)
	p.maxLen("list.footer", l.Footer, MaxFooterLen)
	p.required("list.button", l.Button, MaxButtonTitleLen)
	if n := len(l.Sections); n < 1 || n > MaxListSections {
		p.add("list.sections", "has %d sections; 1 to %d are allowed", n, MaxListSections)
	}
	rows := 0
	ids := make(map[string]string)
	for i, s := range l.Sections {
		field := fmt.Sprintf("list.sections[%d]", i)
		if len(l.Sections) > 1 && strings.TrimSpace(s.Title) == "" {
			p.add(field+".title", "is required when a list has more than one section")
		} else {
			p.maxLen(field+".title", s.Title, MaxSectionTitleLen)
		}
		if len(s.Rows) == 0 {
			p.add(field+".rows", "a section needs at least one row")
		}
		rows += len(s.Rows)
		for j, r := range s.Rows {
			rf := fmt.Sprintf("%s.rows[%d]", field, j)
			p.required(rf+".id", r.ID, MaxRowIDLen)
			if id := strings.TrimSpace(r.ID); id != "" {
				if other, dup := ids[id]; dup {
					p.add(rf+".id", "%q is used twice (also %s); row ids must be unique", r.ID, other)
				} else {
					ids[id] = rf
				}
			}
			p.required(rf+".title", r.Title, MaxRowTitleLen)
			p.maxLen(rf+".description", r.Description, MaxRowDescriptionLen)
		}
	}
	if rows > MaxListRows {
		p.add("list.sections", "have %d rows in all; at most %d are allowed", rows, MaxListRows)
	}
}

// checkURL checks that s is an absolute http or https URL with a host.
// Placeholders in s stand for one ordinary character each, so
// "https://cdn.example.com/{{code}}.jpg" passes, but the scheme and host
// must be written out.
func checkURL(s string) error {
	if s == "" {
		return errors.New("is required")
	}
	u, err := url.Parse(probe(s, 'x'))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an http(s) URL", s)
	}
	return nil
}

// checkPhone checks that s is a phone number: digits with an optional
// leading +. A placeholder stands for one digit, so "+{{phone}}" passes.
func checkPhone(s string) error {
	if s == "" {
		return errors.New("is required (the phone number to call)")
	}
	digits := strings.TrimPrefix(probe(s, '1'), "+")
	ok := digits != ""
	for i := 0; i < len(digits); i++ {
		ok = ok && '0' <= digits[i] && digits[i] <= '9'
	}
	if !ok {
		return fmt.Errorf("%q is not a phone number: only digits with an optional leading +", s)
	}
	return nil
}

// probe returns s with every well-formed placeholder replaced by c, for
// checking the form of a value that is only complete once rendered.
func probe(s string, c byte) string {
	var b strings.Builder
	for t := range tokens(s) {
		if t.kind == tokenVar {
			b.WriteByte(c)
		} else {
			b.WriteString(t.text)
		}
	}
	return b.String()
}
