package provider

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestClassify(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name    string
		status  int
		code    string
		message string
		want    Class
	}{
		// Meta codes, every row of WHATSAPP.md §4.
		{"Code130429Throughput", 200, "130429", "Rate limit hit", ClassTransient},
		{"Code131056PairRate", 200, "131056", "", ClassTransient},
		{"Code131057Maintenance", 200, "131057", "", ClassTransient},
		{"Code4APILimit", 200, "4", "", ClassTransient},
		{"Code80007WABALimit", 200, "80007", "", ClassTransient},
		{"Code1Server", 500, "1", "", ClassTransient},
		{"Code2Server", 200, "2", "", ClassTransient},
		{"Code131016Server", 200, "131016", "", ClassTransient},
		{"Code133004Server", 200, "133004", "", ClassTransient},
		{"Code131000Unknown", 200, "131000", "", ClassTransient},
		{"Code131026Undeliverable", 200, "131026", "", ClassPermanent},
		{"Code131047Window", 200, "131047", "", ClassPermanent},
		{"Code131049MarketingCap", 200, "131049", "", ClassPermanent},
		{"Code131050StoppedMarketing", 200, "131050", "", ClassPermanent},
		{"Code130403", 200, "130403", "", ClassPermanent},
		{"Code130472", 200, "130472", "", ClassPermanent},
		{"Code130497", 200, "130497", "", ClassPermanent},
		{"Code131021", 200, "131021", "", ClassPermanent},
		{"Code100BadParam", 200, "100", "", ClassPermanent},
		{"Code131008", 200, "131008", "", ClassPermanent},
		{"Code131009", 200, "131009", "", ClassPermanent},
		{"Code131051", 200, "131051", "", ClassPermanent},
		{"Code131053", 200, "131053", "", ClassPermanent},
		{"Code135000", 200, "135000", "", ClassPermanent},
		{"Code132000", 200, "132000", "", ClassHaltCampaign},
		{"Code132001", 200, "132001", "", ClassHaltCampaign},
		{"Code132005", 200, "132005", "", ClassHaltCampaign},
		{"Code132007", 200, "132007", "", ClassHaltCampaign},
		{"Code132012", 200, "132012", "", ClassHaltCampaign},
		{"Code132015Paused", 200, "132015", "", ClassHaltCampaign},
		{"Code132016Disabled", 200, "132016", "", ClassHaltCampaign},
		{"Code131048Spam", 200, "131048", "Spam rate limit hit", ClassHaltAccount},
		{"Code131064", 200, "131064", "", ClassHaltAccount},
		{"Code131042Payment", 200, "131042", "", ClassHaltAccount},
		{"Code131063", 200, "131063", "", ClassHaltAccount},
		{"Code131045NotRegistered", 200, "131045", "", ClassHaltAccount},
		{"Code133010NotRegistered", 200, "133010", "", ClassHaltAccount},
		{"Code131031Locked", 200, "131031", "", ClassHaltAccount},
		{"Code368Restricted", 200, "368", "", ClassHaltAccount},
		{"Code0Auth", 200, "0", "", ClassHaltAccount},
		{"Code190Token", 200, "190", "", ClassHaltAccount},
		{"Code3Capability", 200, "3", "", ClassHaltAccount},
		{"Code10Permission", 200, "10", "", ClassHaltAccount},
		{"Code131005Access", 200, "131005", "", ClassHaltAccount},
		{"Code200Permission", 200, "200", "", ClassHaltAccount},
		{"Code299Permission", 200, "299", "", ClassHaltAccount},
		{"CodeWinsOverHTTPStatus", 503, "131026", "", ClassPermanent},
		{"CodeWinsOverText", 200, "131048", "try again later", ClassHaltAccount},
		{"CodeWithSpaces", 200, " 131056 ", "", ClassTransient},
		{"UnknownCodeFallsThroughToStatus", 503, "999999", "", ClassTransient},
		{"UnknownCodeFallsThroughToText", 200, "300", "Invalid API token.", ClassHaltAccount},

		// HTTP status, no code, no recognised text.
		{"HTTP500", 500, "", "", ClassAmbiguous},
		{"HTTP504", 504, "", "Gateway Timeout", ClassAmbiguous},
		{"HTTP500TryAgain", 500, "", "Internal error, please try again", ClassAmbiguous},
		{"HTTP503TryAgain", 503, "", "Service unavailable, please try again", ClassTransient},
		{"HTTP502", 502, "", "Bad Gateway", ClassTransient},
		{"HTTP503", 503, "", "", ClassTransient},
		{"HTTP429", 429, "", "", ClassTransient},
		{"HTTP408", 408, "", "", ClassTransient},
		{"HTTP401", 401, "", "", ClassHaltAccount},
		{"HTTP403", 403, "", "Forbidden", ClassHaltAccount},
		{"HTTP400", 400, "", "bad request", ClassPermanent},
		{"HTTP404", 404, "", "", ClassPermanent},
		{"HTTP422", 422, "", "", ClassPermanent},

		// Provider texts (the seed docs' answers and likely variants).
		{"SubscriberLimit", 200, "", "Subscriber limit has been exceeded. You cannot have more subscribers.", ClassHaltAccount},
		{"SubscriberLimitOverHTTP400", 400, "", "Subscriber limit has been exceeded.", ClassHaltAccount},
		{"MessageCredit", 200, "", "You do not have enough message credit.", ClassHaltAccount},
		{"LimitExceeded", 200, "", "Your monthly limit has been exceeded.", ClassHaltAccount},
		{"RateLimitExceededIsTransient", 200, "", "Rate limit has been exceeded.", ClassTransient},
		{"InvalidToken", 200, "", "Invalid API token.", ClassHaltAccount},
		{"ExpiredToken", 200, "", "API Token has expired", ClassHaltAccount},
		{"TokenRequired", 200, "", "apiToken is required.", ClassHaltAccount},
		{"FieldRequired", 200, "", "message is required.", ClassHaltCampaign},
		{"UnknownParameter", 400, "", "Unknown parameter: attachment_url", ClassHaltCampaign},
		{"PhoneRequired", 400, "", "phone is required", ClassPermanent},
		{"Unauthorized", 200, "", "Unauthorized", ClassHaltAccount},
		{"AccountNotFound", 200, "", "WhatsApp account not found.", ClassHaltAccount},
		{"NotConnected", 200, "", "WhatsApp account is not connected.", ClassHaltAccount},
		{"TemplateNotFound", 200, "", "Template not found.", ClassHaltCampaign},
		{"TemplateNotApproved", 200, "", "This template is not approved yet", ClassHaltCampaign},
		{"TemplatePaused", 200, "", "Template has been PAUSED by Meta", ClassHaltCampaign},
		{"TemplateDisabled", 200, "", "template disabled", ClassHaltCampaign},
		{"TemplateRejected", 200, "", "Template was rejected", ClassHaltCampaign},
		{"TemplateTextOverHTTP404", 404, "", "Template not found.", ClassHaltCampaign},
		{"InvalidPhone", 200, "", "Invalid phone number.", ClassPermanent},
		{"NotAValidNumber", 200, "", "This is not a valid number", ClassPermanent},
		{"NotOnWhatsApp", 200, "", "Recipient is not on WhatsApp", ClassPermanent},
		{"NotAWhatsAppNumber", 200, "", "not a whatsapp user", ClassPermanent},
		{"InvalidPhoneTryAgain", 200, "", "Invalid phone number, please try again", ClassPermanent},
		{"RateLimitText", 200, "", "Rate limit hit", ClassTransient},
		{"TooManyRequests", 200, "", "Too Many Requests", ClassTransient},
		{"TryAgain", 200, "", "Something went wrong, please try again later.", ClassTransient},
		{"TextWinsOverHTTPStatus", 400, "", "Too many requests", ClassTransient},

		// Nothing recognised.
		{"UnknownStatus0Answer", 200, "", "Something went wrong or subscriber already exist.", ClassPermanent},
		{"Empty", 200, "", "", ClassPermanent},
		{"NoAnswer", 0, "", "", ClassPermanent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := Classify(tt.status, tt.code, tt.message)
			require.Equal(t, tt.want, got, "Classify(%d, %q, %q) = %s", tt.status, tt.code, tt.message, got)
		})
	}
}

func TestExtractCode(t *testing.T) {
	t.Parallel()

	tests := []struct {
		message string
		want    string
	}{
		{"(#131056) (Business Account, Consumer Account) pair rate limit hit", "131056"},
		{"(#4) Application request limit reached", "4"},
		{"(#130429) Rate limit hit", "130429"},
		{"Message failed: #131026 undeliverable", "131026"},
		{"code: 131056", "131056"},
		{"Error code 131047: Re-engagement message", "131047"},
		{"error code 131056", "131056"},
		{"policy restriction, code 368", "368"},
		{"Code=190 token expired", "190"},
		{`{"error_code":131026,"message":"x"}`, "131026"},
		{`{"code": "132015"}`, "132015"},
		{"[131026] Message undeliverable.", "131026"},
		{"Message undeliverable (131026)", "131026"},
		{"country code 44 is not supported", ""},
		{"HTTP status code 200", ""},
		{"status_code: 403", ""},
		{"Subscriber limit has been exceeded. You cannot have more subscribers.", ""},
		{"Message sent to 8801723309003", ""},
		{"This message was not delivered to maintain healthy ecosystem engagement.", "131049"},
		{"(#131026) Message undeliverable: maintain healthy ecosystem engagement", "131026"},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.message, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, ExtractCode(tt.message))
		})
	}
}

func TestIsSubscriberLimit(t *testing.T) {
	t.Parallel()

	limit := &Error{Provider: "botsailor", Op: "send", Message: "Subscriber limit has been exceeded. You cannot have more subscribers.", Class: ClassHaltAccount}
	require.True(t, IsSubscriberLimit(limit))
	require.True(t, IsSubscriberLimit(fmt.Errorf("delivery 7: %w", limit)))
	require.False(t, IsSubscriberLimit(&Error{Message: "Invalid API token."}))
	require.False(t, IsSubscriberLimit(errors.New("Subscriber limit has been exceeded")))
	require.False(t, IsSubscriberLimit(nil))
}
