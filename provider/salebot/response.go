package salebot

import (
	"bytes"
	"encoding/json"
	"errors"
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
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil, errors.New("empty body")
	}
	var v any
	if err := wire.DecodeJSON(raw, &v); err != nil {
		return nil, err
	}
	a := &answer{raw: v}
	a.top, _ = v.(map[string]any)
	return a, nil
}

// refused reports whether the answer says the call failed: a "status" (or
// "success", "ok") flag that says so, a non-empty "error" or
// "error_message", or a non-empty "errors" list. A bare JSON false counts
// too; any other non-object answer does not.
func (a *answer) refused() bool {
	if a.top == nil {
		b, ok := a.raw.(bool)
		return ok && !b
	}
	for _, key := range []string{"status", "success", "ok"} {
		switch flag(a.top[key]) {
		case flagFail:
			return true
		case flagOK:
			// With an explicit success only an error that says something
			// counts: the doc's own answers pair "delivered": true with
			// "error_message": "true".
			return hasError(a.top) && !flagOnlyErrors(a.top)
		}
	}
	return hasError(a.top)
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
	if errs, ok := top["errors"].([]any); ok && len(errs) > 0 {
		return true
	}
	return false
}

type flagValue int

const (
	flagUnknown flagValue = iota
	flagOK
	flagFail
)

// flag reads a status flag: "success"/"ok"/true/1/2xx or
// "error"/"failed"/false/0/4xx/5xx.
func flag(v any) flagValue {
	switch v := v.(type) {
	case bool:
		if v {
			return flagOK
		}
		return flagFail
	case json.Number:
		n, err := v.Int64()
		switch {
		case err != nil:
			return flagUnknown
		case n == 1 || (n >= 200 && n <= 299):
			return flagOK
		case n == 0 || n >= 400:
			return flagFail
		}
	case string:
		s := strings.ToLower(strings.TrimSpace(v))
		switch s {
		case "1", "true", "success", "succeeded", "ok", "sent", "accepted", "done":
			return flagOK
		case "0", "false", "error", "failed", "fail", "failure":
			return flagFail
		}
		if n, err := strconv.Atoi(s); err == nil {
			return flag(json.Number(strconv.Itoa(n)))
		}
	}
	return flagUnknown
}

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
		for _, key := range []string{"message", "error_user_msg", "description", "text"} {
			if s := wire.Scalar(e[key]); s != "" {
				return s
			}
		}
	}
	for _, key := range []string{"error_message", "description", "detail", "message", "msg"} {
		if s := wire.Scalar(a.top[key]); s != "" {
			return s
		}
	}
	if errs, ok := a.top["errors"].([]any); ok && len(errs) > 0 {
		if e, ok := errs[0].(map[string]any); ok {
			if s := wire.Scalar(e["message"]); s != "" {
				return s
			}
		}
		if s := wire.Scalar(errs[0]); s != "" {
			return s
		}
	}
	return ""
}

// errorCode returns a Meta error code from the answer's fields: error.code,
// else a top-level error_code or code. A code that looks like an HTTP
// status echo (0, 200–299, or the answer's own HTTP status) is ignored.
func (a *answer) errorCode(httpStatus int) string {
	if a.top == nil {
		return ""
	}
	var candidates []any
	if e, ok := a.top["error"].(map[string]any); ok {
		candidates = append(candidates, e["code"])
	}
	candidates = append(candidates, a.top["error_code"], a.top["code"])
	for _, c := range candidates {
		s := wire.Scalar(c)
		n, err := strconv.Atoi(s)
		if err != nil || n == 0 || (n >= 200 && n <= 299) || n == httpStatus || (httpStatus >= 500 && n >= 100 && n <= 599) {
			// An HTTP-like code under a 5xx is a gateway's, not a refusal:
			// the engine must reconcile, not resend.
			continue
		}
		return s
	}
	return ""
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
