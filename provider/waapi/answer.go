package waapi

import (
	"bytes"
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
	m, err := wire.DecodeObject(raw)
	if err != nil {
		return nil, err
	}
	return &answer{top: m}, nil
}

// flagWords is how the API writes its status flag: true/false, 1/0,
// "true"/"false", "success"/"error"; a number in a string is not read.
var flagWords = wire.FlagWords{OK: []string{"true", "1", "success", "ok"}}

// verdict reads the answer's "status" (or "success") flag (flagWords).
// Without a flag, an "error" member that is true, a non-empty string or an
// object means failure.
func (a *answer) verdict() wire.Flag {
	if v := flagWords.First(a.top, "status", "success"); v != wire.FlagUnknown {
		return v
	}
	switch e := a.top["error"].(type) {
	case bool:
		if e {
			return wire.FlagFail
		}
	case string:
		if e != "" {
			return wire.FlagFail
		}
	case map[string]any:
		return wire.FlagFail
	}
	return wire.FlagUnknown
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
			if s := wire.FirstScalar(v, "message", "error", "msg"); s != "" {
				return s
			}
		}
	}
	return wire.Scalar(wire.Field(a.top["data"], "message"))
}

// errorCode returns an error code from the answer's fields (error.code, a
// top-level code or error_code), ignoring one that only echoes an HTTP
// status.
func (a *answer) errorCode(httpStatus int) string {
	return wire.ErrorCode(httpStatus, true, wire.Field(a.top["error"], "code"), a.top["error_code"], a.top["code"])
}

// answerParts are the parts of what was sent that the doc's text answer
// lists under data.
var answerParts = []string{"message", "image", "video", "audio", "document", "location", "contact", "buttons", "list"}

// messageID returns the WhatsApp message id of a send answer: data.key.id
// (the doc's image sample), the key.id of a part under data
// (data.message.key.id: see answerParts), key.id at the top, data.id /
// data.messageId, or
// the id in the deprecated sendText answer's "true_<jid>_<id>" string; ""
// when there is none (the doc's /whatsapp/message sample).
func (a *answer) messageID() string {
	data := a.top["data"]
	if l, ok := data.([]any); ok && len(l) > 0 {
		data = l[0]
	}
	switch d := data.(type) {
	case map[string]any:
		if s := wire.Scalar(wire.Field(d["key"], "id")); s != "" {
			return s
		}
		// The doc's text answer lists each part of what was sent under
		// data (message, image, location, ...), empty in its sample: a
		// part that is a message object names the id in its key.
		for _, part := range answerParts {
			if s := wire.Scalar(wire.Field(wire.Field(d[part], "key"), "id")); s != "" {
				return s
			}
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
	if s := wire.Scalar(wire.Field(a.top["key"], "id")); s != "" {
		return s
	}
	return ""
}

// serializedID returns the id of a serialized message id
// "true_2348179803743@c.us_3EB015715C3A6439227F", or "".
func serializedID(s string) string {
	_, _, id, ok := parseSerialized(s)
	if !ok {
		return ""
	}
	return id
}

// parseSerialized splits a serialized message id (whatsapp-web.js and
// wppconnect write them) "true_2348179803743@c.us_3EB015715C3A6439227F"
// into whether it is our own message, the chat's jid and the message's id.
func parseSerialized(s string) (fromMe bool, remote, id string, ok bool) {
	s = strings.TrimSpace(s)
	me, rest, ok := strings.Cut(s, "_")
	if !ok || (me != "true" && me != "false") {
		return false, "", "", false
	}
	i := strings.LastIndexByte(rest, '_')
	if i < 0 || !strings.Contains(rest[:i], "@") || i == len(rest)-1 {
		return false, "", "", false
	}
	return me == "true", rest[:i], rest[i+1:], true
}
