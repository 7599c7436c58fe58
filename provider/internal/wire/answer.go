package wire

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"

	"github.com/wacamp/wacamp/provider"
)

// The helpers below read a provider's JSON answer decoded with DecodeJSON
// (objects as map[string]any, numbers as json.Number). What differs from
// one provider to another (which words a flag uses, where an error's text
// and code live) is passed in; each driver's doc comments say which.

// Flag is what an answer's status flag says about the call.
type Flag int

// The readings of a status flag.
const (
	FlagUnknown Flag = iota // no flag, or one that says nothing
	FlagOK                  // the call worked
	FlagFail                // the call failed
)

// FailWords are the (lower-case) words every provider's status flag uses
// for a failed call.
var FailWords = []string{"0", "false", "error", "failed", "fail", "failure"}

// FlagWords is how one provider writes its status flag. True and false,
// the numbers 1 and 2xx (OK) and 0 and 4xx or 5xx (failed), and FailWords
// are read the same by every provider.
type FlagWords struct {
	// OK are the (lower-case) words that say the call worked.
	OK []string
	// Numeric reads a string that holds a whole number ("200", " 1 ") as
	// that number; without it, such a string says nothing unless it is
	// among the words.
	Numeric bool
}

// Read returns what the flag v says.
func (w FlagWords) Read(v any) Flag {
	switch v := v.(type) {
	case bool:
		if v {
			return FlagOK
		}
		return FlagFail
	case json.Number:
		n, err := v.Int64()
		switch {
		case err != nil:
		case n == 1 || (n >= 200 && n <= 299):
			return FlagOK
		case n == 0 || n >= 400:
			return FlagFail
		}
	case string:
		s := strings.ToLower(strings.TrimSpace(v))
		switch {
		case slices.Contains(w.OK, s):
			return FlagOK
		case slices.Contains(FailWords, s):
			return FlagFail
		}
		if n, err := strconv.Atoi(s); err == nil && w.Numeric {
			return w.Read(json.Number(strconv.Itoa(n)))
		}
	}
	return FlagUnknown
}

// First returns the first flag among top's keys that says something.
func (w FlagWords) First(top map[string]any, keys ...string) Flag {
	for _, key := range keys {
		if f := w.Read(top[key]); f != FlagUnknown {
			return f
		}
	}
	return FlagUnknown
}

// HasError reports whether top carries an error member: an "error" that is
// true, a non-empty string or any other value but null and false (an
// object, a list, a number), or a non-empty "errors" list.
func HasError(top map[string]any) bool {
	switch e := top["error"].(type) {
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
	return FirstError(top) != nil
}

// FirstError returns the first element of top's "errors" list, or nil.
func FirstError(top map[string]any) any {
	if errs, ok := top["errors"].([]any); ok && len(errs) > 0 {
		return errs[0]
	}
	return nil
}

// ErrorText returns the text of an "error" member e: e itself when it is
// a non-empty string, else the first of keys of an error object that is a
// string or number.
func ErrorText(e any, keys ...string) string {
	switch e := e.(type) {
	case string:
		return e
	case map[string]any:
		return FirstScalar(e, keys...)
	}
	return ""
}

// ErrorsText returns the text of top's "errors" list: the first of keys of
// its first element when that is an object, or that element itself when it
// is a string or number.
func ErrorsText(top map[string]any, keys ...string) string {
	first := FirstError(top)
	if e, ok := first.(map[string]any); ok {
		if s := FirstScalar(e, keys...); s != "" {
			return s
		}
	}
	return Scalar(first)
}

// MessageText returns an answer's human text as BotSailor's and Sobot's
// answers carry it: the first of the top-level keys that is a string (kept
// as is if trim is false, else trimmed) or a number; else the text of the
// "error" member (ErrorText with errorKeys) and of the "errors" list
// (ErrorsText with errorsKeys); else the first of the top-level keys that
// held an object or list, as compact JSON.
func MessageText(top map[string]any, trim bool, keys, errorKeys, errorsKeys []string) string {
	var structured any
	for _, key := range keys {
		switch v := top[key].(type) {
		case nil:
		case string:
			if trim {
				v = strings.TrimSpace(v)
			}
			if v != "" {
				return v
			}
		case map[string]any, []any:
			if structured == nil {
				structured = v
			}
		default:
			return Scalar(v)
		}
	}
	if s := ErrorText(top["error"], errorKeys...); s != "" {
		return s
	}
	if s := ErrorsText(top, errorsKeys...); s != "" {
		return s
	}
	if structured != nil {
		b, _ := json.Marshal(structured)
		return string(b)
	}
	return ""
}

// ErrorCode returns the first of candidates that is an error code and not
// an echo of the HTTP status: a number other than 0, 200–299 and
// httpStatus. With gateway, a code of 100–599 under a 5xx is passed over
// too: it is a gateway's status, not a refusal, and the engine must
// reconcile, not resend.
func ErrorCode(httpStatus int, gateway bool, candidates ...any) string {
	for _, c := range candidates {
		s := Scalar(c)
		n, err := strconv.Atoi(s)
		if err != nil || n == 0 || (n >= 200 && n <= 299) || n == httpStatus ||
			(gateway && httpStatus >= 500 && n >= 100 && n <= 599) {
			continue
		}
		return s
	}
	return ""
}

// Object returns v as an object, or the first element of a list when that
// is one; nil otherwise.
func Object(v any) map[string]any {
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

// Field returns m[key] when m is an object, else nil.
func Field(m any, key string) any {
	if o, ok := m.(map[string]any); ok {
		return o[key]
	}
	return nil
}

// FirstScalar returns the first of m's keys that is a string or number
// (see Scalar), or "".
func FirstScalar(m map[string]any, keys ...string) string {
	for _, key := range keys {
		if s := Scalar(m[key]); s != "" {
			return s
		}
	}
	return ""
}

// StatusWords maps a provider's (lower-case) status words to the ladder.
type StatusWords map[string]provider.Status

// Map returns the status of word (case and surrounding space ignored);
// StatusUnknown for a word not listed.
func (w StatusWords) Map(word string) provider.Status {
	return w[strings.ToLower(strings.TrimSpace(word))]
}

// MediaKind is the WhatsApp media kind of a file by its lower-case
// extension: image, video, audio, else document.
func MediaKind(ext string) string {
	switch ext {
	case "jpg", "jpeg", "png", "webp", "gif":
		return "image"
	case "mp4", "3gp", "mov":
		return "video"
	case "mp3", "ogg", "aac", "amr", "m4a", "opus":
		return "audio"
	}
	return "document"
}
