package phone

import (
	"testing"

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
		{"Min", "12345678", "12345678", ""},
		{"Max", "123456789012345", "123456789012345", ""},
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
