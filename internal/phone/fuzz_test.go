package phone

import (
	"strings"
	"testing"
)

// FuzzNormalize: whatever the input, an accepted number is 8–15 ASCII
// digits not starting with 0, and normalising it again (with or without a
// leading "+") gives it back unchanged.
func FuzzNormalize(f *testing.F) {
	for _, raw := range []string{
		"4915112345678", "+4915112345678", "004915112345678", " +49 (151) 123-45.678 ", "+49\t151\t12345678",
		"+49 (0)151 1234 5678", "+1 (415) 555-0123", "+354 555 1234", "+39 06 6982 1234", "+39 312 345 6789",
		"", "   ", "12-34", "+1234567890123456", "+-- ()", "49151abc5678", "0151/1234567", "٤٩١٥١١٢٣٤٥٦٧٨",
		"49+15112345678", "+004915112345678", "015112345678", "4915123456789.0", "4.915123456789E+12", "1 555 0100",
		"+999 1234 5678", "4915112345678901", "49151\x0012345678", "49151\xff12345678", "+49\u00a0151\u200b12345678",
		"(((0)))4915112345678", "+(0)49 151 12345678", "0000004915112345678", "+39 000 0000 0000",
		strings.Repeat("9", 300), strings.Repeat("(0)", 100) + "4915112345678",
	} {
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got, err := Normalize(raw)
		if err != nil {
			if got != "" {
				t.Fatalf("Normalize(%q) = %q with error %v", raw, got, err)
			}
			return
		}
		if n := len(got); n < MinDigits || n > MaxDigits || strings.Trim(got, "0123456789") != "" || got[0] == '0' {
			t.Fatalf("Normalize(%q) = %q: not 8–15 digits with a country code", raw, got)
		}
		for _, again := range []string{got, "+" + got} {
			if back, err := Normalize(again); err != nil || back != got {
				t.Fatalf("Normalize(%q) = %q, %v; want %q (Normalize(%q) gave it)", again, back, err, got, raw)
			}
		}
	})
}
