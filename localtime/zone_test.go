package localtime

import (
	"fmt"
	"strings"
	"testing"

	"github.com/nyaruka/phonenumbers"
	"github.com/stretchr/testify/require"
)

func TestLocation(t *testing.T) {
	t.Parallel()
	ny := mustLoad(t, "America/New_York")
	for _, c := range []struct {
		name, setting, phone string
		vars                 map[string]string
		want                 string
	}{
		{"German mobile", "recipient", "4915112345678", nil, "Europe/Berlin"},
		{"New York area code", "recipient", "12125550123", nil, "America/New_York"},
		{"Los Angeles area code", "recipient", "13105550123", nil, "America/Los_Angeles"},
		{"Japanese mobile", "recipient", "819012345678", nil, "Asia/Tokyo"},
		{"the recipient's timezone variable wins", "recipient", "4915112345678", map[string]string{"timezone": "Asia/Tokyo"}, "Asia/Tokyo"},
		{"a bad variable is ignored", "recipient", "4915112345678", map[string]string{"timezone": "Mars/Base"}, "Europe/Berlin"},
		{"the host's zone is no recipient's", "recipient", "4915112345678", map[string]string{"timezone": "Local"}, "Europe/Berlin"},
		{"an IANA setting wins", "Asia/Kolkata", "4915112345678", map[string]string{"timezone": "Asia/Tokyo"}, "Asia/Kolkata"},
		{"unknown number: the fallback", "recipient", "99912345", nil, "America/New_York"},
		{"not digits: the fallback", "", "49x", nil, "America/New_York"},
	} {
		require.Equal(t, c.want, Location(c.setting, c.phone, c.vars, ny).String(), c.name)
	}
	require.Equal(t, "UTC", Location("recipient", "99912345", nil, nil).String(), "no fallback is UTC")
	require.Equal(t, "UTC", AccountZone("").String())
	require.Equal(t, "UTC", AccountZone("Mars/Base").String())
}

// RecipientZone looks a number up by its digits instead of parsing it
// (a hundred times faster): for every region's example numbers, fixed line
// and mobile, the answer is the one the parsed number gets.
func TestRecipientZoneMatchesParsedNumbers(t *testing.T) {
	t.Parallel()
	n := 0
	for region := range phonenumbers.GetSupportedRegions() {
		for _, kind := range []phonenumbers.PhoneNumberType{phonenumbers.FIXED_LINE, phonenumbers.MOBILE} {
			ex := phonenumbers.GetExampleNumberForType(region, kind)
			if ex == nil {
				continue
			}
			digits := strings.TrimPrefix(phonenumbers.Format(ex, phonenumbers.E164), "+")
			parsed, err := phonenumbers.Parse("+"+digits, "")
			require.NoError(t, err, digits)
			want, err := phonenumbers.GetTimezonesForNumber(parsed)
			require.NoError(t, err, digits)
			got, err := phonenumbers.GetTimezonesForPrefix(digits)
			require.NoError(t, err, digits)
			require.Equal(t, fmt.Sprint(want), fmt.Sprint(got), "%s %s", region, digits)
			n++
		}
	}
	require.Greater(t, n, 400, "example numbers checked")
}

func BenchmarkRecipientZone(b *testing.B) {
	phones := []string{"4915112345678", "12125550123", "819012345678", "5511912345678", "79161234567"}
	for i := 0; b.Loop(); i++ {
		RecipientZone(phones[i%len(phones)], nil)
	}
}
