package templates

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"
)

// Limits WhatsApp puts on message content, in characters.
const (
	MaxTextLen    = 4096 // text message body
	MaxCaptionLen = 1024 // media caption
)

// MediaTypes are the valid values of Media.Type.
var MediaTypes = []string{"image", "video", "audio", "document"}

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

// Validate reports every problem with m, each as a *[FieldError], joined with
// errors.Join; nil means m is valid. It checks that exactly the content of
// m.Kind is set and complete:
//
//   - text: non-empty, at most [MaxTextLen] characters;
//   - media: an http(s) URL, a type from [MediaTypes], a caption of at most
//     [MaxCaptionLen] characters and none for audio;
//   - template: an id, and variables with a name and an index ≥ 1, each
//     (name, index) pair once;
//   - bot_flow: non-empty;
//
// and that no placeholder is malformed (see [Placeholders]). Length limits
// apply to the text as written; check a rendered message again.
func (m Message) Validate() error {
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)})
	}

	switch m.Kind {
	case KindText, KindMedia, KindTemplate, KindBotFlow:
	case "":
		add("kind", "is empty; one of text, media, template, bot_flow is required")
	default:
		add("kind", "unknown kind %q; one of text, media, template, bot_flow is required", m.Kind)
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
	} {
		if f.set && f.kind != m.Kind && m.Kind != "" {
			add(string(f.kind), "must not be set on a %s message; a message has exactly one kind", m.Kind)
		}
	}

	switch m.Kind {
	case KindText:
		if strings.TrimSpace(m.Text) == "" {
			add("text", "is empty")
		} else if n := utf8.RuneCountInString(m.Text); n > MaxTextLen {
			add("text", "has %d characters; at most %d are allowed", n, MaxTextLen)
		}
	case KindMedia:
		if m.Media == nil {
			add("media", "is required")
			break
		}
		if err := checkURL(m.Media.URL); err != nil {
			add("media.url", "%v", err)
		}
		switch m.Media.Type {
		case "image", "video", "document":
		case "audio":
			if m.Media.Caption != "" {
				add("media.caption", "audio cannot have a caption")
			}
		case "":
			add("media.type", "is required; one of %s", strings.Join(MediaTypes, ", "))
		default:
			add("media.type", "must be one of %s", strings.Join(MediaTypes, ", "))
		}
		if n := utf8.RuneCountInString(m.Media.Caption); n > MaxCaptionLen {
			add("media.caption", "has %d characters; at most %d are allowed", n, MaxCaptionLen)
		}
	case KindTemplate:
		if m.Template == nil {
			add("template", "is required")
			break
		}
		if strings.TrimSpace(m.Template.ID) == "" {
			add("template.id", "is empty")
		}
		seen := make(map[TemplateVar]int, len(m.Template.Vars))
		for i, v := range m.Template.Vars {
			field := fmt.Sprintf("template.vars[%d]", i)
			if v.Name == "" {
				add(field+".name", "is empty")
			}
			if v.Index < 1 {
				add(field+".index", "must be 1 or more, got %d", v.Index)
			}
			key := TemplateVar{Name: v.Name, Index: v.Index}
			if j, dup := seen[key]; dup {
				add(field, "%s-%d is set twice (also template.vars[%d])", v.Name, v.Index, j)
			} else {
				seen[key] = i
			}
		}
	case KindBotFlow:
		if strings.TrimSpace(m.BotFlow) == "" {
			add("bot_flow", "is empty")
		}
	}

	m.eachText(func(field string, s *string) {
		if err := checkPlaceholders(*s); err != nil {
			add(field, "%v", err)
		}
	})
	return errors.Join(errs...)
}

// checkURL checks that s is an absolute http or https URL with a host.
// Placeholders in s stand for one ordinary character each, so
// "https://cdn.example.com/{{code}}.jpg" passes, but the scheme and host
// must be written out.
func checkURL(s string) error {
	if s == "" {
		return errors.New("is required")
	}
	var probe strings.Builder
	for t := range tokens(s) {
		if t.kind == tokenVar {
			probe.WriteByte('x')
		} else {
			probe.WriteString(t.text)
		}
	}
	u, err := url.Parse(probe.String())
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an http(s) URL", s)
	}
	return nil
}
