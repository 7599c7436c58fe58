package phone

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"unicode"

	"github.com/nyaruka/phonenumbers"
)

// Lengths of an E.164 number without "+", country code included.
const (
	MinDigits = 8
	MaxDigits = 15
)

// spreadsheetRE matches what a spreadsheet makes of a phone number stored
// as a number: "4915123456789.0" or "4.915123456789E+12".
var spreadsheetRE = regexp.MustCompile(`^\+?\d+\.0+$|^\+?\d(\.\d+)?[eE]\+?\d+$`)

// Normalize returns raw as 8–15 digits with country code and no "+", as in
// "4915112345678".
//
// It drops spaces, dashes, dots and parentheses, a leading "+" or "00"
// (the international call prefix), and a "(0)" trunk prefix as in
// "+49 (0)151 1234 5678". It refuses letters and other characters, a "+"
// anywhere but at the start, a number that still starts with 0 (a national
// number without country code), a wrong number of digits, a number a
// spreadsheet wrote as a decimal ("4915123456789.0", "4.9151E+12": the
// digits would name another number), and, by libphonenumber's metadata, a
// number whose country code does not exist or whose length is impossible
// in that country ("1 555 0100" is a local US number, not a full one). The
// error quotes raw and says why.
func Normalize(raw string) (string, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", errors.New("phone number is empty")
	}
	if strings.ContainsAny(s, ".eE") && spreadsheetRE.MatchString(s) { // the check first: it is a tenth of the time
		return "", fmt.Errorf("%q looks like a number a spreadsheet wrote as a decimal, which changes its digits; format the phone column as text and export again", raw)
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
	if err := possible(string(digits)); err != nil {
		return "", fmt.Errorf("%q %w", raw, err)
	}
	return string(digits), nil
}

// possible checks digits (country code first) against libphonenumber's
// metadata: the country code must exist and the rest must have a length a
// full number of that country can have. It builds the number directly
// rather than parsing text (the digits are clean already): a tenth of
// phonenumbers.Parse's time, which counts for audiences of millions.
func possible(digits string) error {
	cc, rest := splitCountryCode(digits)
	if cc == 0 {
		return errors.New("starts with no country code in use; write the number with its country code")
	}
	national, err := strconv.ParseUint(rest, 10, 64)
	if err != nil {
		return fmt.Errorf("is not a phone number: %w", err)
	}
	// libphonenumber's verdict depends on the country code and the
	// national significant number's length only: ask once per pair.
	nsnLen := len(rest)
	if national == 0 {
		nsnLen = 1 // "0"
	}
	slot := &possibleVerdicts[cc*16+min(nsnLen, 15)]
	verdict := phonenumbers.ValidationResult(slot.Load() - 1)
	if verdict < 0 {
		code := int32(cc) // #nosec G115 -- a country code has at most 3 digits
		num := &phonenumbers.PhoneNumber{CountryCode: &code, NationalNumber: &national}
		if zeros := int32(len(rest) - len(strings.TrimLeft(rest, "0"))); zeros > 0 && national > 0 { // #nosec G115 -- at most 15 digits
			leading := true // Italy and others: national numbers that start with 0
			num.ItalianLeadingZero, num.NumberOfLeadingZeros = &leading, &zeros
		}
		verdict = phonenumbers.IsPossibleNumberWithReason(num)
		slot.Store(int32(verdict) + 1) // #nosec G115 -- one of a handful of verdicts
	}
	where := func() string {
		w := fmt.Sprintf("country code +%d", cc)
		if region := phonenumbers.GetRegionCodeForCountryCode(cc); region != phonenumbers.UNKNOWN_REGION && region != "001" {
			w += " (" + region + ")"
		}
		return w
	}
	switch verdict {
	case phonenumbers.IS_POSSIBLE:
		return nil
	case phonenumbers.INVALID_COUNTRY_CODE:
		return errors.New("starts with no country code in use; write the number with its country code")
	case phonenumbers.TOO_SHORT, phonenumbers.IS_POSSIBLE_LOCAL_ONLY:
		return fmt.Errorf("is too short for a full number with %s", where())
	case phonenumbers.TOO_LONG:
		return fmt.Errorf("is too long for a number with %s", where())
	default:
		return fmt.Errorf("has a length no number with %s has", where())
	}
}

// possibleVerdicts caches libphonenumber's IsPossibleNumberWithReason by
// country code (below 1000) and national number length (below 16): the
// verdict plus one, 0 until known.
var possibleVerdicts [1000 * 16]atomic.Int32

// splitCountryCode splits digits into its country calling code (one to
// three digits; E.164 codes are prefix-free) and the national number; 0 if
// no code in use starts digits.
func splitCountryCode(digits string) (int, string) {
	codes := phonenumbers.GetSupportedCallingCodes()
	for l := 1; l <= 3 && l < len(digits); l++ {
		if cc, err := strconv.Atoi(digits[:l]); err == nil && codes[cc] {
			return cc, digits[l:]
		}
	}
	return 0, digits
}

// Mask shows only a number's last four digits ("*********5678"), for what
// people read: logs and commands' human output.
func Mask(p string) string {
	if len(p) <= 4 {
		return strings.Repeat("*", len(p))
	}
	return strings.Repeat("*", len(p)-4) + p[len(p)-4:]
}
