package sobot

import (
	"cmp"
	"fmt"
	"github.com/wacamp/wacamp/provider/internal/wire"
	"mime"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/wacamp/wacamp/provider"
	"github.com/wacamp/wacamp/templates"
)

// maxPhoneDigits is the longest customer_number the doc allows (15
// characters including the country code).
const maxPhoneDigits = 15

// maxButtons is how many reply buttons a quick_reply message may carry.
const maxButtons = 3

// buildSendBody maps a rendered message to the recipient to, called name
// ("" = unknown), onto the JSON body of POST /message/, after the doc's
// parameter tables, or refuses a message Sobot cannot send
// (ClassPermanent).
func buildSendBody(to, name string, m templates.Message) (map[string]any, error) {
	phone, ok := normalizePhone(to)
	if !ok {
		return nil, refuse(provider.ClassPermanent, fmt.Sprintf("invalid phone number %q", wire.MaskPhone(to)))
	}
	if err := CheckMessage(m); err != nil {
		return nil, refuse(provider.ClassPermanent, strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	body := map[string]any{
		"customer_number": phone,
		// The doc requires the customer's name "for future reference";
		// validate and enroll make sure there is one, so the number only
		// stands in for recipients loaded before that check.
		"customer_name": cmp.Or(strings.TrimSpace(name), phone),
	}
	var err error
	switch m.Kind {
	case templates.KindText:
		err = textBody(body, m.Text)
	case templates.KindMedia:
		err = mediaBody(body, m.Media)
	case templates.KindLocation:
		err = locationBody(body, m.Location)
	case templates.KindButtons:
		err = buttonsBody(body, m.Buttons)
	case templates.KindList:
		err = listBody(body, m.List)
	case templates.KindTemplate:
		err = templateBody(body, m.Template)
	case templates.KindBotFlow:
		err = refuse(provider.ClassPermanent, "sobot cannot trigger bot flows")
	default:
		err = refuse(provider.ClassPermanent, fmt.Sprintf("unsupported message kind %q", m.Kind))
	}
	if err != nil {
		return nil, err
	}
	return body, nil
}

func textBody(body map[string]any, text string) error {
	if strings.TrimSpace(text) == "" {
		return refuse(provider.ClassPermanent, "text message has no text")
	}
	body["type"] = "text"
	body["message"] = text
	return nil
}

// mediaBody fills a media message: type, url and mime_type (required by
// the doc), caption (image, video and document only) and filename
// (documents, required).
func mediaBody(body map[string]any, md *templates.Media) error {
	if md == nil || strings.TrimSpace(md.URL) == "" {
		return refuse(provider.ClassPermanent, "media message has no media URL")
	}
	kind := strings.ToLower(strings.TrimSpace(md.Type))
	switch kind {
	case "image", "video", "document", "sticker":
	case "":
		return refuse(provider.ClassPermanent, "media message has no media type")
	default:
		return refuse(provider.ClassPermanent, fmt.Sprintf("sobot cannot send %s media (it can send: image, video, document, sticker)", kind))
	}
	mimeType := mimeTypeOf(md)
	if mimeType == "" {
		return refuse(provider.ClassPermanent, fmt.Sprintf("cannot tell the MIME type of the %s at %q: set media.mime_type", kind, md.URL))
	}
	body["type"] = kind
	body["url"] = md.URL
	body["mime_type"] = mimeType
	if md.Caption != "" && kind != "sticker" {
		body["caption"] = md.Caption
	}
	if kind == "document" {
		name := cmp.Or(strings.TrimSpace(md.Filename), urlFilename(md.URL))
		if name == "" {
			return refuse(provider.ClassPermanent, fmt.Sprintf("cannot tell the file name of the document at %q: set media.filename", md.URL))
		}
		body["filename"] = name
	}
	return nil
}

// extMIME are the MIME types of the doc's supported media, by extension,
// spelled as the doc spells them ("video/3gp").
var extMIME = map[string]string{
	".jpg":  "image/jpeg",
	".jpeg": "image/jpeg",
	".png":  "image/png",
	".webp": "image/webp",
	".mp4":  "video/mp4",
	".3gp":  "video/3gp",
	".txt":  "text/plain",
	".pdf":  "application/pdf",
	".ppt":  "application/vnd.ms-powerpoint",
	".doc":  "application/msword",
	".xls":  "application/vnd.ms-excel",
	".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
	".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
	".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}

// mimeTypeOf returns the media's MIME type: Media.MimeType, else the one of
// its URL's extension (the doc's table first, then the system's), else "".
func mimeTypeOf(md *templates.Media) string {
	if t := strings.TrimSpace(md.MimeType); t != "" {
		return t
	}
	ext := strings.ToLower(path.Ext(urlPath(md.URL)))
	if ext == "" {
		ext = strings.ToLower(path.Ext(md.Filename))
	}
	if ext == "" {
		return ""
	}
	if t, ok := extMIME[ext]; ok {
		return t
	}
	if t := mime.TypeByExtension(ext); t != "" {
		mt, _, err := mime.ParseMediaType(t)
		if err == nil {
			return mt
		}
	}
	return ""
}

// urlPath returns the path of a URL, without query and fragment.
func urlPath(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Path
	}
	if i := strings.IndexAny(raw, "?#"); i >= 0 {
		return raw[:i]
	}
	return raw
}

// urlFilename returns the last path segment of a URL, or "".
func urlFilename(raw string) string {
	p := strings.TrimRight(urlPath(raw), "/")
	name := path.Base(p)
	if name == "." || name == "/" || name == "" {
		return ""
	}
	if un, err := url.PathUnescape(name); err == nil {
		return un
	}
	return name
}

// locationBody fills a location message. The doc's sample sends latitude
// and longitude as strings, and names the pin location_name.
func locationBody(body map[string]any, loc *templates.Location) error {
	if loc == nil {
		return refuse(provider.ClassPermanent, "location message has no location")
	}
	body["type"] = "location"
	body["latitude"] = strconv.FormatFloat(loc.Latitude, 'f', -1, 64)
	body["longitude"] = strconv.FormatFloat(loc.Longitude, 'f', -1, 64)
	if loc.Name != "" {
		// The doc's table says name, its sample location_name: send both.
		body["location_name"] = loc.Name
		body["name"] = loc.Name
	}
	if loc.Address != "" {
		body["address"] = loc.Address
	}
	return nil
}

// buttonsBody fills a button message: type quick_reply with up to three
// reply button titles; the footer goes in caption.
func buttonsBody(body map[string]any, b *templates.Buttons) error {
	if b == nil || len(b.Buttons) == 0 {
		return refuse(provider.ClassPermanent, "buttons message has no buttons")
	}
	if strings.TrimSpace(b.Text) == "" {
		return refuse(provider.ClassPermanent, "buttons message has no text")
	}
	if len(b.Buttons) > maxButtons {
		return refuse(provider.ClassPermanent, fmt.Sprintf("sobot cannot send more than %d buttons (the message has %d)", maxButtons, len(b.Buttons)))
	}
	titles := make([]string, 0, len(b.Buttons))
	for _, btn := range b.Buttons {
		if t := strings.ToLower(strings.TrimSpace(btn.Type)); t != "" && t != "reply" {
			return refuse(provider.ClassPermanent, fmt.Sprintf("sobot cannot send %s buttons (it can send: reply)", btn.Type))
		}
		if strings.TrimSpace(btn.Title) == "" {
			return refuse(provider.ClassPermanent, "buttons message has a button without a title")
		}
		if slices.Contains(titles, btn.Title) {
			return refuse(provider.ClassPermanent, fmt.Sprintf("button title %q is used twice", btn.Title))
		}
		titles = append(titles, btn.Title)
	}
	body["type"] = "quick_reply"
	body["message"] = b.Text
	body["buttons"] = titles
	if b.Header != "" {
		body["header"] = b.Header
	}
	if b.Footer != "" {
		body["caption"] = b.Footer
	}
	return nil
}

// listBody fills a list message. The doc's parameter table and cURL sample
// say type "list" (its Python and PHP samples say "quick_reply"); the table
// is followed.
func listBody(body map[string]any, l *templates.List) error {
	if l == nil || len(l.Sections) == 0 {
		return refuse(provider.ClassPermanent, "list message has no sections")
	}
	if strings.TrimSpace(l.Text) == "" {
		return refuse(provider.ClassPermanent, "list message has no text")
	}
	if strings.TrimSpace(l.Button) == "" {
		return refuse(provider.ClassPermanent, "list message has no button text")
	}
	sections := make([]map[string]any, 0, len(l.Sections))
	for _, s := range l.Sections {
		rows := make([]map[string]string, 0, len(s.Rows))
		for _, r := range s.Rows {
			row := map[string]string{"id": r.ID, "title": r.Title}
			if r.Description != "" {
				row["description"] = r.Description
			}
			rows = append(rows, row)
		}
		sections = append(sections, map[string]any{"title": s.Title, "rows": rows})
	}
	body["type"] = "list"
	body["message"] = l.Text
	body["list_obj"] = map[string]any{"button": l.Button, "sections": sections}
	if l.Header != "" {
		body["header"] = l.Header
	}
	if l.Footer != "" {
		body["caption"] = l.Footer
	}
	return nil
}

// templateBody fills a template message: template_name, template_lang and,
// when there are any, params in Meta's component order: the media header,
// the body variables (ordered by Index), the dynamic buttons. The doc's
// template samples carry no "type" field.
func templateBody(body map[string]any, t *templates.Template) error {
	if t == nil || strings.TrimSpace(t.Name) == "" {
		return refuse(provider.ClassPermanent, "template message has no template name")
	}
	if strings.TrimSpace(t.Language) == "" {
		return refuse(provider.ClassPermanent, "template message has no template language")
	}
	body["template_name"] = t.Name
	body["template_lang"] = t.Language
	var params []map[string]any
	if h := t.Header; h != nil {
		kind := strings.ToLower(strings.TrimSpace(h.Type))
		if strings.TrimSpace(h.URL) == "" {
			return refuse(provider.ClassPermanent, "template header has no media URL")
		}
		media := map[string]any{"link": h.URL}
		switch kind {
		case "image", "video":
		case "document":
			if name := cmp.Or(strings.TrimSpace(h.Filename), urlFilename(h.URL)); name != "" {
				media["filename"] = name
			}
		default:
			return refuse(provider.ClassPermanent, fmt.Sprintf("sobot cannot send a template header of type %q (it can send: image, video, document)", h.Type))
		}
		params = append(params, map[string]any{
			"type":       "header",
			"parameters": []map[string]any{{"type": kind, kind: media}},
		})
	}
	if len(t.Vars) > 0 {
		vars := slices.Clone(t.Vars)
		slices.SortStableFunc(vars, func(a, b templates.TemplateVar) int { return cmp.Compare(a.Index, b.Index) })
		ps := make([]map[string]any, 0, len(vars))
		for _, v := range vars {
			ps = append(ps, map[string]any{"type": "text", "text": v.Value})
		}
		params = append(params, map[string]any{"type": "body", "parameters": ps})
	}
	buttons := slices.Clone(t.Buttons)
	slices.SortStableFunc(buttons, func(a, b templates.TemplateButton) int { return cmp.Compare(a.Index, b.Index) })
	for _, b := range buttons {
		var p map[string]any
		switch sub := strings.ToLower(strings.TrimSpace(b.SubType)); sub {
		case "url":
			p = map[string]any{"type": "text", "text": b.Value}
		case "quick_reply":
			p = map[string]any{"type": "payload", "payload": b.Value}
		default:
			return refuse(provider.ClassPermanent, fmt.Sprintf("sobot cannot send template buttons of sub_type %q (it can send: url, quick_reply)", b.SubType))
		}
		if b.Index < 0 {
			return refuse(provider.ClassPermanent, fmt.Sprintf("template button index %d is negative", b.Index))
		}
		params = append(params, map[string]any{
			"type":       "button",
			"sub_type":   strings.ToLower(strings.TrimSpace(b.SubType)),
			"index":      b.Index,
			"parameters": []map[string]any{p},
		})
	}
	if len(params) > 0 {
		body["params"] = params
	}
	return nil
}

// normalizePhone strips "+", spaces and punctuation from a phone number and
// reports whether what is left is 1–15 digits, as the API requires.
func normalizePhone(s string) (string, bool) {
	p, ok := wire.NormalizePhone(s)
	if !ok || len(p) > maxPhoneDigits {
		return "", false
	}
	return p, true
}
