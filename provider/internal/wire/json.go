package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
)

// DecodeJSON decodes exactly one JSON value from raw into v, numbers as
// json.Number; anything after the value is an error.
func DecodeJSON(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after JSON value")
	}
	return nil
}

// Scalar returns a decoded JSON string (trimmed) or number as a string,
// and "" for anything else.
func Scalar(v any) string {
	switch v := v.(type) {
	case string:
		return strings.TrimSpace(v)
	case json.Number:
		return v.String()
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return ""
}

// DecodeAnswer decodes an answer that must not be empty: raw, its
// surrounding white space trimmed, as one JSON value (DecodeJSON).
func DecodeAnswer(raw []byte) (any, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil, errors.New("empty body")
	}
	var v any
	if err := DecodeJSON(raw, &v); err != nil {
		return nil, err
	}
	return v, nil
}

// DecodeObject decodes raw as one JSON object (DecodeJSON); any other
// value is an error.
func DecodeObject(raw []byte) (map[string]any, error) {
	var v any
	if err := DecodeJSON(raw, &v); err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("answer is not a JSON object")
	}
	return m, nil
}
