package waapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"

	"github.com/wacamp/wacamp/provider/internal/wire"
)

// answer is a provider answer decoded leniently into generic JSON values
// (numbers as json.Number).
type answer struct {
	top map[string]any
}

// parseAnswer decodes a JSON object answer (a UTF-8 BOM and surrounding
// white space are tolerated).
func parseAnswer(raw []byte) (*answer, error) {
	raw = bytes.TrimSpace(bytes.TrimPrefix(raw, []byte("\xef\xbb\xbf")))
	var v any
	if err := wire.DecodeJSON(raw, &v); err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("answer is not a JSON object")
	}
	return &answer{top: m}, nil
}

// verdict is what an answer says about the call.
type verdict int

const (
	verdictUnknown verdict = iota
	verdictOK
	verdictFail
)

// verdict reads the answer's "status" (or "success") flag: true/false,
// 1/0, "true"/"false", "success"/"error". Without a flag, an "error" member
// that is true, a non-empty string or an object means failure.
func (a *answer) verdict() verdict {
	for _, key := range []string{"status", "success"} {
		if v := flagVerdict(a.top[key]); v != verdictUnknown {
			return v
		}
	}
	switch e := a.top["error"].(type) {
	case bool:
		if e {
			return verdictFail
		}
	case string:
		if e != "" {
			return verdictFail
		}
	case map[string]any:
		return verdictFail
	}
	return verdictUnknown
}

func flagVerdict(v any) verdict {
	switch v := v.(type) {
	case bool:
		if v {
			return verdictOK
		}
		return verdictFail
	case json.Number:
		n, err := v.Int64()
		switch {
		case err != nil:
		case n == 1 || (n >= 200 && n <= 299):
			return verdictOK
		case n == 0 || n >= 400:
			return verdictFail
		}
	case string:
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "true", "1", "success", "ok":
			return verdictOK
		case "false", "0", "error", "failed", "fail", "failure":
			return verdictFail
		}
	}
	return verdictUnknown
}

// messageText returns the answer's human text: "message" (a string, or the
// message of an object), else "error" (string or object with a message).
func (a *answer) messageText() string {
	for _, key := range []string{"message", "error", "msg"} {
		switch v := a.top[key].(type) {
		case string:
			if s := strings.TrimSpace(v); s != "" {
				return s
			}
		case map[string]any:
			for _, k := range []string{"message", "error", "msg"} {
				if s := wire.Scalar(v[k]); s != "" {
					return s
				}
			}
		}
	}
	if d, ok := a.top["data"].(map[string]any); ok {
		if s := wire.Scalar(d["message"]); s != "" {
			return s
		}
	}
	return ""
}

// errorCode returns an error code from the answer's fields (error.code, a
// top-level code or error_code), ignoring one that only echoes an HTTP
// status.
func (a *answer) errorCode(httpStatus int) string {
	cands := []any{a.top["error_code"], a.top["code"]}
	if e, ok := a.top["error"].(map[string]any); ok {
		cands = append([]any{e["code"]}, cands...)
	}
	for _, v := range cands {
		s := wire.Scalar(v)
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

// messageID returns the WhatsApp message id of a send answer: data.key.id
// (the doc's image sample), key.id at the top, data.id / data.messageId, or
// the id in the deprecated sendText answer's "true_<jid>_<id>" string; ""
// when there is none (the doc's /whatsapp/message sample).
func (a *answer) messageID() string {
	data := a.top["data"]
	if l, ok := data.([]any); ok && len(l) > 0 {
		data = l[0]
	}
	switch d := data.(type) {
	case map[string]any:
		if s := wire.Scalar(field(d["key"], "id")); s != "" {
			return s
		}
		for _, k := range []string{"id", "messageId", "message_id"} {
			if s := wire.Scalar(d[k]); s != "" {
				return s
			}
		}
	case string:
		if id := serializedID(d); id != "" {
			return id
		}
	}
	if s := wire.Scalar(field(a.top["key"], "id")); s != "" {
		return s
	}
	return ""
}

// serializedID returns the id of a serialized message id
// "true_2348179803743@c.us_3EB015715C3A6439227F", or "".
func serializedID(s string) string {
	s = strings.TrimSpace(s)
	fromMe, rest, ok := strings.Cut(s, "_")
	if !ok || (fromMe != "true" && fromMe != "false") {
		return ""
	}
	i := strings.LastIndexByte(rest, '_')
	if i < 0 || !strings.Contains(rest[:i], "@") {
		return ""
	}
	return rest[i+1:]
}

// field returns m[key] when m is an object, else nil.
func field(m any, key string) any {
	if o, ok := m.(map[string]any); ok {
		return o[key]
	}
	return nil
}
