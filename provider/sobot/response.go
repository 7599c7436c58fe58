package sobot

import (
	"errors"
	"slices"
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
	v, err := wire.DecodeAnswer(raw)
	if err != nil {
		return nil, err
	}
	obj := wire.Object(v)
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
	if wire.HasError(a.top) {
		return true
	}
	if b, ok := a.top["success"].(bool); ok && !b {
		return true
	}
	return slices.Contains(wire.FailWords, strings.ToLower(wire.Scalar(a.top["status"])))
}

// messageText returns the answer's human text: "message" (a string, or an
// object or array as compact JSON), else Meta's error.message, else the
// "error", "detail" or errors[0].message texts.
func (a *answer) messageText() string {
	return wire.MessageText(a.top, true, []string{"message", "msg", "detail"},
		[]string{"message", "error_user_msg", "error_user_title", "title"}, []string{"message", "title", "detail"})
}

// metaCode returns Meta's error code of a refusal: written in the text
// ("(#131026) ..."), else Meta's error.code or error_code, else a
// top-level code that is not an HTTP status (outside 100–599).
func (a *answer) metaCode(msg string) string {
	if c := provider.ExtractCode(msg); c != "" {
		return c
	}
	for _, c := range []any{wire.Field(a.top["error"], "code"), wire.Field(wire.FirstError(a.top), "code"), a.top["error_code"]} {
		if s := wire.Scalar(c); s != "" {
			return s
		}
	}
	if n := a.code(); n != 0 && (n < 100 || n > 599) {
		return strconv.Itoa(n)
	}
	return ""
}

// wamid returns the message id of a send answer: data.id as the doc says,
// else the other places a Meta-style answer puts it, or "".
func (a *answer) wamid() string {
	data := wire.Object(a.top["data"])
	candidates := []any{
		wire.Field(data, "id"), wire.Field(data, "wamid"), wire.Field(data, "message_id"), wire.Field(data, "wa_message_id"),
		wire.Field(wire.Object(wire.Field(data, "messages")), "id"),
		wire.Field(wire.Object(a.top["messages"]), "id"),
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
