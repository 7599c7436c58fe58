package sobot

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"

	"github.com/wacamp/wacamp/provider"
	"github.com/wacamp/wacamp/provider/internal/wire"
)

// answer is a parsed JSON answer of the send endpoint. Its fields are read
// tolerantly: numbers may come as strings, optional members may be absent.
type answer struct {
	top map[string]any
}

// parseAnswer decodes a JSON object answer (numbers kept as json.Number).
// A JSON array answer is read as its first object.
func parseAnswer(raw []byte) (*answer, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil, errors.New("empty body")
	}
	var v any
	if err := wire.DecodeJSON(raw, &v); err != nil {
		return nil, err
	}
	obj := asObject(v)
	if obj == nil {
		return nil, errors.New("answer is not a JSON object")
	}
	return &answer{top: obj}, nil
}

// code returns the answer's top-level "code" (200, 400, "429" ...), or 0.
func (a *answer) code() int {
	for _, key := range []string{"code", "status_code", "statusCode"} {
		if n, err := strconv.Atoi(wire.Scalar(a.top[key])); err == nil {
			return n
		}
	}
	return 0
}

// hasError reports whether the answer carries an error member
// ({"error": ...}, {"errors": [...]}, {"success": false},
// {"status": "error"}), the refusal shapes that come without a code.
func (a *answer) hasError() bool {
	switch e := a.top["error"].(type) {
	case nil:
	case bool:
		if e {
			return true
		}
	case string:
		if e != "" {
			return true
		}
	default:
		return true
	}
	if errs, ok := a.top["errors"].([]any); ok && len(errs) > 0 {
		return true
	}
	if b, ok := a.top["success"].(bool); ok && !b {
		return true
	}
	switch strings.ToLower(wire.Scalar(a.top["status"])) {
	case "error", "failed", "fail", "failure", "false", "0":
		return true
	}
	return false
}

// messageText returns the answer's human text: "message" (a string, or an
// object or array as compact JSON), else Meta's error.message, else the
// "error", "detail" or errors[0].message texts.
func (a *answer) messageText() string {
	var structured any
	for _, key := range []string{"message", "msg", "detail"} {
		switch v := a.top[key].(type) {
		case nil:
		case string:
			if strings.TrimSpace(v) != "" {
				return strings.TrimSpace(v)
			}
		case map[string]any, []any:
			if structured == nil {
				structured = v
			}
		default:
			return wire.Scalar(v)
		}
	}
	switch e := a.top["error"].(type) {
	case string:
		if e != "" {
			return e
		}
	case map[string]any:
		for _, key := range []string{"message", "error_user_msg", "error_user_title", "title"} {
			if s := wire.Scalar(e[key]); s != "" {
				return s
			}
		}
	}
	if errs, ok := a.top["errors"].([]any); ok && len(errs) > 0 {
		if e, ok := errs[0].(map[string]any); ok {
			for _, key := range []string{"message", "title", "detail"} {
				if s := wire.Scalar(e[key]); s != "" {
					return s
				}
			}
		}
		if s := wire.Scalar(errs[0]); s != "" {
			return s
		}
	}
	if structured != nil {
		b, _ := json.Marshal(structured)
		return string(b)
	}
	return ""
}

// metaCode returns Meta's error code of a refusal: written in the text
// ("(#131026) ..."), else Meta's error.code or error_code, else a
// top-level code that is not an HTTP status (outside 100–599).
func (a *answer) metaCode(msg string) string {
	if c := provider.ExtractCode(msg); c != "" {
		return c
	}
	if e, ok := a.top["error"].(map[string]any); ok {
		if s := wire.Scalar(e["code"]); s != "" {
			return s
		}
	}
	if errs, ok := a.top["errors"].([]any); ok && len(errs) > 0 {
		if e, ok := errs[0].(map[string]any); ok {
			if s := wire.Scalar(e["code"]); s != "" {
				return s
			}
		}
	}
	if s := wire.Scalar(a.top["error_code"]); s != "" {
		return s
	}
	if n := a.code(); n != 0 && (n < 100 || n > 599) {
		return strconv.Itoa(n)
	}
	return ""
}

// wamid returns the message id of a send answer: data.id as the doc says,
// else the other places a Meta-style answer puts it, or "".
func (a *answer) wamid() string {
	data := asObject(a.top["data"])
	candidates := []any{
		field(data, "id"), field(data, "wamid"), field(data, "message_id"), field(data, "wa_message_id"),
		field(asObject(field(data, "messages")), "id"),
		field(asObject(a.top["messages"]), "id"),
		a.top["wamid"], a.top["message_id"], a.top["wa_message_id"],
	}
	for _, c := range candidates {
		if s := wire.Scalar(c); s != "" {
			return s
		}
	}
	// A top-level "id" counts only when it is plainly a wamid.
	if s := wire.Scalar(a.top["id"]); strings.HasPrefix(s, "wamid.") {
		return s
	}
	return ""
}

// asObject returns v as an object, or the first element of an array.
func asObject(v any) map[string]any {
	switch v := v.(type) {
	case map[string]any:
		return v
	case []any:
		if len(v) > 0 {
			m, _ := v[0].(map[string]any)
			return m
		}
	}
	return nil
}

func field(m map[string]any, key string) any {
	if m == nil {
		return nil
	}
	return m[key]
}
