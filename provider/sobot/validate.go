package sobot

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/wacamp/wacamp/templates"
)

// mediaMIME are the MIME types the doc's "Supported Media Types" tables
// allow for each media type.
var mediaMIME = map[string][]string{
	"image":   {"image/jpeg", "image/png"},
	"sticker": {"image/webp"},
	"video":   {"video/mp4", "video/3gp"},
	"document": {"text/plain", "application/pdf", "application/vnd.ms-powerpoint", "application/msword",
		"application/vnd.ms-excel",
		"application/vnd.openxmlformats-officedocument.wordprocessingml.document",
		"application/vnd.openxmlformats-officedocument.presentationml.presentation",
		"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
}

// maxTemplateButtonIndex is the highest template button index: the doc's
// Call-to-Action parameters take "0 or 1".
const maxTemplateButtonIndex = 1

// CheckMessage reports what in m Sobot's API would refuse beyond
// templates.Message.Validate's WhatsApp-wide rules, after the doc's
// limits, each as a *templates.FieldError (errors.Join), or nil:
//
//   - media: a MIME type (media.mime_type, else the URL's or the file
//     name's extension) from the doc's table for the media type, e.g.
//     image/jpeg or image/png for an image; a document needs a file name
//     (media.filename, else the URL's last segment);
//   - template buttons: index 0 or 1;
//   - list sections: each with a title (the doc makes it required, even
//     for a single section).
//
// `scheduler validate` runs it on every message for a Sobot account (on
// each recipient's rendered message when it has placeholders), and the
// send path refuses what it reports, so nothing is found per recipient at
// send time.
func CheckMessage(m templates.Message) error {
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, &templates.FieldError{Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	switch {
	case m.Kind == templates.KindMedia && m.Media != nil:
		md := m.Media
		kind := strings.ToLower(strings.TrimSpace(md.Type))
		allowed, known := mediaMIME[kind]
		if !known {
			break // a type Sobot cannot send: the capabilities say so
		}
		switch mt := mimeTypeOf(md); {
		case mt == "":
			add("media.url", "cannot tell the MIME type of %q from its extension; set media.mime_type (sobot requires one: %s)", md.URL, strings.Join(allowed, ", "))
		case !slices.Contains(allowed, strings.ToLower(mt)):
			field := "media.mime_type"
			if strings.TrimSpace(md.MimeType) == "" {
				field = "media.url"
			}
			add(field, "sobot sends %s only as %s, not %s", kind, strings.Join(allowed, ", "), mt)
		}
		if kind == "document" && strings.TrimSpace(md.Filename) == "" && urlFilename(md.URL) == "" {
			add("media.filename", "is required: sobot needs a document's file name and %q has none", md.URL)
		}
	case m.Kind == templates.KindTemplate && m.Template != nil:
		for i, b := range m.Template.Buttons {
			if b.Index < 0 || b.Index > maxTemplateButtonIndex {
				add(fmt.Sprintf("template.buttons[%d].index", i), "must be 0 or 1 for sobot (the button's position among the template's two call-to-action buttons), got %d", b.Index)
			}
		}
	case m.Kind == templates.KindList && m.List != nil:
		for i, s := range m.List.Sections {
			if strings.TrimSpace(s.Title) == "" {
				add(fmt.Sprintf("list.sections[%d].title", i), "is required by sobot, even for a single section")
			}
		}
	}
	return errors.Join(errs...)
}
