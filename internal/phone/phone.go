// Package phone normalises phone numbers to the form WhatsApp providers take:
// E.164 digits with country code and without the leading "+".
package phone

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
)

// Lengths of an E.164 number without "+", country code included.
const (
	MinDigits = 8
	MaxDigits = 15
)

// Normalize returns raw as 8–15 digits with country code and no "+", as in
// "4915112345678".
//
// It drops spaces, dashes, dots and parentheses, a leading "+" or "00"
// (the international call prefix), and a "(0)" trunk prefix as in
// "+49 (0)151 1234 5678". It refuses letters and other characters, a "+"
// anywhere but at the start, a number that still starts with 0 (a national
// number without country code) and a wrong number of digits. The error
// quotes raw and says why.
func Normalize(raw string) (string, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", errors.New("phone number is empty")
	}
	plus := strings.HasPrefix(s, "+")
	if plus {
		s = s[1:]
	}
	s = strings.ReplaceAll(s, "(0)", "")

	digits := make([]byte, 0, len(s))
	for _, c := range s {
		switch {
		case '0' <= c && c <= '9':
			digits = append(digits, byte(c))
		case c == '-' || c == '.' || c == '(' || c == ')' || unicode.IsSpace(c):
		case c == '+':
			return "", fmt.Errorf(`%q has a "+" that is not at the start`, raw)
		default:
			return "", fmt.Errorf("%q contains %q; a phone number has only digits, spaces, dashes, dots, parentheses and a leading + or 00", raw, c)
		}
	}
	if !plus && len(digits) >= 2 && digits[0] == '0' && digits[1] == '0' {
		digits = digits[2:]
	}
	if len(digits) > 0 && digits[0] == '0' {
		return "", fmt.Errorf("%q has no country code (it starts with 0 after any + or 00); write it in international form, e.g. +49 151 1234567", raw)
	}
	if n := len(digits); n < MinDigits || n > MaxDigits {
		return "", fmt.Errorf("%q has %d digits; a phone number needs %d–%d digits with country code", raw, n, MinDigits, MaxDigits)
	}
	return string(digits), nil
}
