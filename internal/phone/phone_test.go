package phone

import (
	"testing"

	"github.com/nyaruka/phonenumbers"
	"github.com/stretchr/testify/require"
)

func TestNormalize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		raw     string
		want    string
		wantErr string
	}{
		{"Plain", "4915112345678", "4915112345678", ""},
		{"Plus", "+4915112345678", "4915112345678", ""},
		{"DoubleZero", "004915112345678", "4915112345678", ""},
		{"Separators", " +49 (151) 123-45.678 ", "4915112345678", ""},
		{"Tab", "+49\t151\t12345678", "4915112345678", ""},
		{"TrunkZero", "+49 (0)151 1234 5678", "4915112345678", ""},
		{"US", "+1 (415) 555-0123", "14155550123", ""},
		{"India", "919970123456", "919970123456", ""},
		{"ShortCountryNumber", "+354 555 1234", "3545551234", ""}, // Iceland: 7 national digits
		{"ItalyLandline", "+39 06 6982 1234", "390669821234", ""}, // a national number starting with 0
		{"ItalyMobile", "+39 312 345 6789", "393123456789", ""},
		{"Empty", "", "", "phone number is empty"},
		{"Blank", "   ", "", "phone number is empty"},
		{"TooShort", "12-34", "", `"12-34" has 4 digits; a phone number needs 8–15 digits with country code`},
		{"TwoDigits", "12", "", `"12" has 2 digits; a phone number needs 8–15 digits with country code`},
		{"TooLong", "+1234567890123456", "", `"+1234567890123456" has 16 digits; a phone number needs 8–15 digits with country code`},
		{"OnlySeparators", "+-- ()", "", `"+-- ()" has 0 digits`},
		{"Letters", "49151abc5678", "", `"49151abc5678" contains 'a'; a phone number has only digits`},
		{"Slash", "0151/1234567", "", `"0151/1234567" contains '/'`},
		{"ArabicDigits", "٤٩١٥١١٢٣٤٥٦٧٨", "", `contains '٤'`},
		{"PlusInside", "49+15112345678", "", `"49+15112345678" has a "+" that is not at the start`},
		{"PlusAndDoubleZero", "+004915112345678", "", `"+004915112345678" has no country code (it starts with 0 after any + or 00)`},
		{"NationalFormat", "015112345678", "", `"015112345678" has no country code (it starts with 0 after any + or 00); write it in international form, e.g. +49 151 1234567`},
		// A spreadsheet that kept the column as numbers: the digits after
		// the dot would make it another real number.
		{"SpreadsheetFloat", "4915123456789.0", "", `"4915123456789.0" looks like a number a spreadsheet wrote as a decimal`},
		{"SpreadsheetFloatPlus", "+4915123456789.00", "", `looks like a number a spreadsheet wrote as a decimal`},
		{"SpreadsheetExponent", "4.915123456789E+12", "", `"4.915123456789E+12" looks like a number a spreadsheet wrote as a decimal`},
		// Counted digits pass, libphonenumber knows better.
		{"USLocalOnly", "1 555 0100", "", `"1 555 0100" is too short for a full number with country code +1 (US)`},
		{"USTooShort", "12345678", "", `"12345678" is too short for a full number with country code +1 (US)`},
		{"USTooLong", "123456789012345", "", `"123456789012345" is too long for a number with country code +1 (US)`},
		{"NoSuchCountry", "+999 1234 5678", "", `"+999 1234 5678" starts with no country code in use`},
		{"GermanTooLong", "4915112345678901", "", "has 16 digits"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Normalize(tt.raw)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				require.Empty(t, got)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

// possible builds the number from its digits instead of parsing text; it
// must agree with libphonenumber's own parse.
func TestPossibleAgreesWithParse(t *testing.T) {
	t.Parallel()
	for _, d := range []string{"4915112345678", "491511234", "15550100", "14155550123", "390669821234", "393123456789",
		"3545551234", "447911123456", "4479111234567", "919970123456", "8613800138000", "97150123456", "80012345678",
		"88212345678", "2348031234567", "61412345678", "551198765432", "12345678", "123456789012345", "99912345678"} {
		num, err := phonenumbers.Parse("+"+d, "")
		want := err == nil && phonenumbers.IsPossibleNumberWithReason(num) == phonenumbers.IS_POSSIBLE
		require.Equal(t, want, possible(d) == nil, "%s: %v", d, possible(d))
	}
}
