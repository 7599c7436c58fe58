package salebot

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/wacamp/wacamp/provider/internal/wire"
)

// answer is a parsed JSON answer. Salebot's doc shows no send answer, so
// only loose conventions are relied on: {"status":"success"|"error"},
// "error"/"error_message" texts.
type answer struct {
	top map[string]any // nil when the JSON is not an object
	raw any
}

// parseAnswer decodes a JSON answer (numbers kept as json.Number).
func parseAnswer(raw []byte) (*answer, error) {
	v, err := wire.DecodeAnswer(raw)
	if err != nil {
		return nil, err
	}
	a := &answer{raw: v}
	a.top, _ = v.(map[string]any)
	return a, nil
}

// refused reports whether the answer says the call failed: a "status" (or
// "success", "ok", "result") flag that says so, a non-empty "error" or
// "error_message", or a non-empty "errors" list. A bare JSON false counts
// too; any other non-object answer does not.
func (a *answer) refused() bool {
	if a.top == nil {
		b, ok := a.raw.(bool)
		return ok && !b
	}
	for _, key := range []string{"status", "success", "ok", "result"} {
		switch flagWords.Read(a.top[key]) {
		case wire.FlagFail:
			return true
		case wire.FlagOK:
			// With an explicit success only an error that says something
			// counts: the doc's own answers pair "delivered": true with
			// "error_message": "true".
			return hasError(a.top) && !flagOnlyErrors(a.top)
		}
	}
	return hasError(a.top) || a.bodyStatus() != 0
}

// bodyStatus is an HTTP-like status of 400 to 599 that an answer's
// top-level "code" carries ({"message":"Something went wrong","code":500}
// under HTTP 200: a failure, however the HTTP status reads), else 0.
func (a *answer) bodyStatus() int {
	if a.top == nil {
		return 0
	}
	n, err := strconv.Atoi(wire.Scalar(a.top["code"]))
	if err != nil || n < 400 || n > 599 {
		return 0
	}
	return n
}

// flagOnlyErrors reports whether every error member set is the bare word
// "true" (a flag, not a reason).
func flagOnlyErrors(top map[string]any) bool {
	for _, key := range []string{"error", "error_message"} {
		switch e := top[key].(type) {
		case nil:
		case string:
			if s := strings.ToLower(strings.TrimSpace(e)); s != "true" && s != "" && s != "false" && s != "0" && s != "null" {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// hasError reports whether the answer carries an error member.
func hasError(top map[string]any) bool {
	for _, key := range []string{"error", "error_message"} {
		switch e := top[key].(type) {
		case nil:
		case bool:
			if e {
				return true
			}
		case string:
			if s := strings.ToLower(strings.TrimSpace(e)); s != "" && s != "false" && s != "0" && s != "null" {
				return true
			}
		case json.Number:
			if e.String() != "0" {
				return true
			}
		case map[string]any:
			if len(e) > 0 {
				return true
			}
		case []any:
			if len(e) > 0 {
				return true
			}
		}
	}
	return wire.FirstError(top) != nil
}

// flagWords is how Salebot's answers write a status flag:
// "success"/"ok"/"done"/true/1/2xx or "error"/"failed"/false/0/4xx/5xx,
// and numbers in strings.
var flagWords = wire.FlagWords{OK: []string{"1", "true", "success", "succeeded", "ok", "sent", "accepted", "done"}, Numeric: true}

// messageText returns the answer's error text: "error" (a string, or the
// message of an error object), "error_message", "description", "detail",
// then "message".
func (a *answer) messageText() string {
	if a.top == nil {
		return ""
	}
	switch e := a.top["error"].(type) {
	case string:
		if s := strings.TrimSpace(e); s != "" && s != "true" {
			return s
		}
	case map[string]any:
		if s := wire.FirstScalar(e, "message", "error_user_msg", "description", "text"); s != "" {
			return s
		}
	}
	if s := wire.FirstScalar(a.top, "error_message", "description", "detail", "message", "msg"); s != "" {
		return s
	}
	return wire.ErrorsText(a.top, "message")
}

// errorCode returns a Meta error code from the answer's fields: error.code,
// else a top-level error_code or code. A code that looks like an HTTP
// status echo (0, 200–299, or the answer's own HTTP status), or any
// HTTP-like code under a 5xx (a gateway's), is ignored (wire.ErrorCode).
func (a *answer) errorCode(httpStatus int) string {
	if a.top == nil {
		return ""
	}
	return wire.ErrorCode(httpStatus, true, wire.Field(a.top["error"], "code"), a.top["error_code"], a.top["code"])
}

// wamid returns an explicit WhatsApp message id of a send answer, or "".
// "message_id" is not one: in Salebot's webhook it is the bot block's id.
// Only "wamid" and "wa_message_id" (top level or under "data"/"result"), or
// an "id" that plainly is a wamid ("wamid.…"), count.
func (a *answer) wamid() string {
	if a.top == nil {
		return ""
	}
	objs := []map[string]any{a.top}
	for _, key := range []string{"data", "result"} {
		if m, ok := a.top[key].(map[string]any); ok {
			objs = append(objs, m)
		}
	}
	for _, o := range objs {
		for _, key := range []string{"wamid", "wa_message_id"} {
			if s := wire.Scalar(o[key]); s != "" {
				return s
			}
		}
	}
	for _, o := range objs {
		if s := wire.Scalar(o["id"]); strings.HasPrefix(s, "wamid.") {
			return s
		}
	}
	return ""
}
