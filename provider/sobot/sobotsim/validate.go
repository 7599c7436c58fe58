package sobotsim

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/wacamp/wacamp/provider/internal/wire"
	"github.com/wacamp/wacamp/provider/sim"
)

// parseSend checks a /message/ body against the doc's parameter tables and
// returns the send it describes, or the refusal text.
func parseSend(body map[string]any) (Send, string) {
	for _, f := range []string{"customer_number", "customer_name"} {
		if wire.Scalar(body[f]) == "" {
			return Send{}, f + " is required"
		}
	}
	snd := Send{Phone: wire.Scalar(body["customer_number"]), Name: wire.Scalar(body["customer_name"]), Body: body}
	if !sim.ValidPhone(snd.Phone) {
		return Send{}, msgInvalidMobile
	}
	kind := strings.ToLower(wire.Scalar(body["type"]))
	if kind == "" || kind == "template" {
		if wire.Scalar(body["template_name"]) == "" && kind == "" {
			return Send{}, "type is required"
		}
		return parseTemplate(snd, body)
	}
	snd.Kind = kind
	need := func(fields ...string) string {
		for _, f := range fields {
			if wire.Scalar(body[f]) == "" {
				return f + " is required"
			}
		}
		return ""
	}
	switch kind {
	case "text":
		if p := need("message"); p != "" {
			return Send{}, p
		}
		snd.Text = wire.Scalar(body["message"])
	case "image", "video", "sticker", "document":
		fields := []string{"url", "mime_type"}
		if kind == "document" {
			fields = append(fields, "filename")
		}
		if p := need(fields...); p != "" {
			return Send{}, p
		}
		snd.URL, snd.MimeType, snd.Filename = wire.Scalar(body["url"]), wire.Scalar(body["mime_type"]), wire.Scalar(body["filename"])
		snd.Text = wire.Scalar(body["caption"])
	case "location":
		if p := need("latitude", "longitude"); p != "" {
			return Send{}, p
		}
		for _, f := range []string{"latitude", "longitude"} {
			if _, err := strconv.ParseFloat(wire.Scalar(body[f]), 64); err != nil {
				return Send{}, f + " must be a number"
			}
		}
		snd.Text = wire.Scalar(body["location_name"])
	case "quick_reply", "list":
		if p := need("message"); p != "" {
			return Send{}, p
		}
		snd.Text = wire.Scalar(body["message"])
		if body["list_obj"] != nil || kind == "list" {
			snd.Kind = "list"
			if p := checkList(body["list_obj"]); p != "" {
				return Send{}, p
			}
			break
		}
		titles, p := checkButtons(body["buttons"])
		if p != "" {
			return Send{}, p
		}
		snd.Buttons = titles
	case "product":
		if p := need("message"); p != "" {
			return Send{}, p
		}
		if _, ok := body["product_list"].(map[string]any); !ok {
			return Send{}, "product_list is required"
		}
		snd.Text = wire.Scalar(body["message"])
	default:
		return Send{}, "Invalid message type"
	}
	return snd, ""
}

// parseTemplate checks a template send: template_name, template_lang and,
// if present, params as an array of {type: header|body|button, parameters}.
func parseTemplate(snd Send, body map[string]any) (Send, string) {
	for _, f := range []string{"template_name", "template_lang"} {
		if wire.Scalar(body[f]) == "" {
			return Send{}, f + " is required"
		}
	}
	snd.Kind, snd.Template, snd.Lang = "template", wire.Scalar(body["template_name"]), wire.Scalar(body["template_lang"])
	snd.Text = snd.Template
	if raw, ok := body["params"]; ok && raw != nil {
		params, ok := raw.([]any)
		if !ok {
			return Send{}, "params must be an array"
		}
		for _, el := range params {
			p, ok := el.(map[string]any)
			if !ok {
				return Send{}, "params must be an array of objects"
			}
			switch wire.Scalar(p["type"]) {
			case "header", "body":
			case "button":
				if wire.Scalar(p["sub_type"]) == "" {
					return Send{}, "sub_type is required for button params"
				}
				if _, err := strconv.Atoi(wire.Scalar(p["index"])); err != nil {
					return Send{}, "index is required for button params"
				}
			default:
				return Send{}, "params type must be header, body or button"
			}
			if ps, ok := p["parameters"].([]any); !ok || len(ps) == 0 {
				return Send{}, "parameters is required in params"
			}
		}
		snd.Params, _ = json.Marshal(params)
	}
	return snd, ""
}

// checkButtons checks a quick_reply's buttons: 1–3 unique, non-empty
// titles of at most 20 characters.
func checkButtons(v any) ([]string, string) {
	list, ok := v.([]any)
	if !ok || len(list) == 0 {
		return nil, "buttons is required"
	}
	if len(list) > 3 {
		return nil, "You can have up to 3 buttons"
	}
	titles := make([]string, 0, len(list))
	for _, b := range list {
		t, ok := b.(string)
		if !ok || strings.TrimSpace(t) == "" {
			return nil, "button title cannot be empty"
		}
		if len([]rune(t)) > 20 {
			return nil, "button title is longer than 20 characters"
		}
		for _, seen := range titles {
			if seen == t {
				return nil, "button titles must be unique"
			}
		}
		titles = append(titles, t)
	}
	return titles, ""
}

// checkList checks a list_obj: a button text and 1–10 sections with 1–10
// rows in all, each with an id and a title.
func checkList(v any) string {
	obj, ok := v.(map[string]any)
	if !ok {
		return "list_obj is required"
	}
	if wire.Scalar(obj["button"]) == "" {
		return "list_obj.button is required"
	}
	sections, ok := obj["sections"].([]any)
	if !ok || len(sections) == 0 || len(sections) > 10 {
		return "list_obj.sections must hold 1 to 10 sections"
	}
	rows := 0
	for _, sv := range sections {
		sec, ok := sv.(map[string]any)
		if !ok {
			return "list_obj.sections must hold objects"
		}
		rs, _ := sec["rows"].([]any)
		for _, rv := range rs {
			row, ok := rv.(map[string]any)
			if !ok || wire.Scalar(row["id"]) == "" || wire.Scalar(row["title"]) == "" {
				return "every row needs an id and a title"
			}
			rows++
		}
	}
	if rows == 0 || rows > 10 {
		return "a list holds 1 to 10 rows"
	}
	return ""
}
