package provider

import (
	"errors"
	"regexp"
	"strconv"
	"strings"
)

// metaCodeClass maps Meta's WhatsApp error codes to their policy class, after
// WHATSAPP.md §4. Codes 200–299 (permission errors) are handled by range in
// classOfCode.
var metaCodeClass = map[string]Class{
	// Throughput, pair rate, maintenance, API-call limits, server errors.
	"130429": ClassTransient,
	"131056": ClassTransient,
	"131057": ClassTransient,
	"4":      ClassTransient,
	"80007":  ClassTransient,
	"1":      ClassTransient,
	"2":      ClassTransient,
	"131016": ClassTransient,
	"133004": ClassTransient,
	"131000": ClassTransient,

	// This message cannot be sent.
	"131026": ClassPermanent,
	"131047": ClassPermanent,
	"131049": ClassPermanent,
	"131050": ClassPermanent,
	"130403": ClassPermanent,
	"130472": ClassPermanent,
	"130497": ClassPermanent,
	"131021": ClassPermanent,
	"100":    ClassPermanent,
	"131008": ClassPermanent,
	"131009": ClassPermanent,
	"131051": ClassPermanent,
	"131053": ClassPermanent,
	"135000": ClassPermanent,

	// Template parameters, missing, not approved, paused or disabled.
	"132000": ClassHaltCampaign,
	"132001": ClassHaltCampaign,
	"132005": ClassHaltCampaign,
	"132007": ClassHaltCampaign,
	"132012": ClassHaltCampaign,
	"132015": ClassHaltCampaign,
	"132016": ClassHaltCampaign,

	// Spam limit, enforcement, payment, number not registered, account
	// locked, token or permission.
	"131048": ClassHaltAccount,
	"131064": ClassHaltAccount,
	"131042": ClassHaltAccount,
	"131063": ClassHaltAccount,
	"131045": ClassHaltAccount,
	"133010": ClassHaltAccount,
	"131031": ClassHaltAccount,
	"368":    ClassHaltAccount,
	"0":      ClassHaltAccount,
	"190":    ClassHaltAccount,
	"3":      ClassHaltAccount,
	"10":     ClassHaltAccount,
	"131005": ClassHaltAccount,
}

// recipientRefusals are Meta's error codes that say the recipient refuses
// the business's messages, not just this one (WHATSAPP.md §4, §7): the
// message fails (ClassPermanent) and sending that person more of the same
// would fail again. marketing: only marketing messages are refused.
var recipientRefusals = map[string]struct {
	marketing bool
	reason    string
}{
	"131050": {true, "the user stopped marketing messages from the business"},
	"130403": {false, "the user blocked the business"},
}

// RecipientRefusal reports whether Meta's error code means the recipient
// refuses the business's messages (131050: marketing ones; 130403: all),
// and why. A refusal is remembered on the suppression list (package
// consent), so the person is not sent what they refuse again.
func RecipientRefusal(code string) (marketing bool, reason string, ok bool) {
	r, ok := recipientRefusals[strings.TrimSpace(code)]
	return r.marketing, r.reason, ok
}

// Classify returns the policy class of a failed provider call (WHATSAPP.md
// §4) from the HTTP status of the answer (0 if none), Meta's error code
// (empty if the provider passed none) and the provider's message text.
//
// The evidence is weighed most specific first:
//
//  1. a known Meta code decides alone;
//  2. else a recognised message text: subscriber limit, message credit, bad
//     or expired token, account not found or not connected → halt-account;
//     a template not found, not approved, paused, disabled or rejected, or
//     a request the provider calls malformed ("message is required",
//     "unknown parameter": not about the recipient's number) →
//     halt-campaign; an invalid phone or a number not on WhatsApp →
//     permanent; a rate limit or "try again" → transient, except under a
//     500, a 504 or another 5xx that may come after the server acted
//     (BareServerErrorClass): ambiguous;
//  3. else the HTTP status: a 5xx as BareServerErrorClass says (a 500 or a
//     504 may come after the server acted: ambiguous; a gateway's 502 or
//     503: transient), 429 and 408 → transient; 401 and 403 →
//     halt-account; any other 4xx → permanent;
//  4. else permanent: a provider that refused the call ({"status":"0"}) for
//     a reason we do not know will refuse it again.
//
// Message text outranks the HTTP status because it is the more specific of
// the two: a "Subscriber limit has been exceeded" answered with HTTP 400 must
// halt the account rather than fail one message after another.
func Classify(httpStatus int, code string, message string) Class {
	if c, ok := classOfCode(strings.TrimSpace(code)); ok {
		return c
	}
	if c, ok := classOfMessage(message); ok {
		if c == ClassTransient && httpStatus >= 500 && httpStatus <= 599 && BareServerErrorClass(httpStatus) == ClassAmbiguous {
			// "Internal error, please try again" under a 500 is a
			// framework's wording, not proof that nothing went out.
			return ClassAmbiguous
		}
		return c
	}
	if c, ok := classOfHTTPStatus(httpStatus); ok {
		return c
	}
	return ClassPermanent
}

// CodeClass returns the policy class of Meta's error code (WHATSAPP.md §4)
// and whether the code is one the table knows.
func CodeClass(code string) (Class, bool) { return classOfCode(strings.TrimSpace(code)) }

// classOfCode looks a Meta error code up in the §4 table.
func classOfCode(code string) (Class, bool) {
	if code == "" {
		return 0, false
	}
	if c, ok := metaCodeClass[code]; ok {
		return c, true
	}
	if n, err := strconv.Atoi(code); err == nil && n >= 200 && n <= 299 {
		return ClassHaltAccount, true
	}
	return 0, false
}

// HTTP statuses this package classifies, named here so that the package
// stays free of net/http (it describes outcomes, not transports).
const (
	statusRequestTimeout          = 408
	statusTooManyRequests         = 429
	statusUnauthorized            = 401
	statusForbidden               = 403
	statusNotImplemented          = 501
	statusBadGateway              = 502
	statusServiceUnavailable      = 503
	statusHTTPVersionNotSupported = 505
)

// classOfHTTPStatus classifies a non-2xx HTTP status.
func classOfHTTPStatus(status int) (Class, bool) {
	switch {
	case status >= 500 && status <= 599:
		return BareServerErrorClass(status), true
	case status == statusTooManyRequests, status == statusRequestTimeout:
		return ClassTransient, true
	case status == statusUnauthorized, status == statusForbidden:
		return ClassHaltAccount, true
	case status >= 400 && status <= 499:
		return ClassPermanent, true
	}
	return 0, false
}

// classOfMessage recognises the provider texts that carry a policy meaning.
func classOfMessage(message string) (Class, bool) {
	m := strings.ToLower(message)
	if strings.TrimSpace(m) == "" {
		return 0, false
	}
	switch {
	case isAccountHaltText(m):
		return ClassHaltAccount, true
	case isCampaignHaltText(m):
		return ClassHaltCampaign, true
	case containsAny(m, "invalid phone", "not a valid", "not on whatsapp", "not a whatsapp"):
		return ClassPermanent, true
	case containsAny(m, "rate limit", "too many requests", "try again"):
		return ClassTransient, true
	}
	return 0, false
}

func isAccountHaltText(m string) bool {
	if containsAny(m, "subscriber limit", "message credit", "unauthorized", "unauthenticated",
		"account not found", "not connected") {
		return true
	}
	// "Rate limit has been exceeded" is a throttle, not the plan's limit.
	if strings.Contains(m, "limit has been exceeded") && !strings.Contains(m, "rate limit") {
		return true
	}
	// "Invalid API token.", "apiToken is required", "access token has expired".
	return containsAny(m, "token", "api key", "apikey") &&
		containsAny(m, "invalid", "expired", "revoked", "required", "missing")
}

func isCampaignHaltText(m string) bool {
	if strings.Contains(m, "template") &&
		containsAny(m, "not found", "not approved", "paused", "disabled", "rejected", "does not exist") {
		return true
	}
	return isRequestShapeText(m)
}

// isRequestShapeText reports a refusal of the request's shape ("message is
// required", "unknown parameter attachment_url"): the driver and the
// provider disagree on a field, which every other send of the campaign
// would meet too, so it pauses the campaign (a broadcast keeps its
// recipients, to resume once fixed) rather than fail one recipient after
// another until the error storm. A refusal that names the recipient's
// number stays that recipient's.
func isRequestShapeText(m string) bool {
	return containsAny(m, "is required", "are required", "required field", "required parameter", "missing parameter",
		"missing required", "unknown parameter", "unknown field", "unrecognized parameter", "unrecognized field",
		"unexpected parameter", "unexpected field", "invalid parameter") &&
		!containsAny(m, "phone", "number", "recipient", "mobile", "msisdn", "contact")
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// codePatterns find a Meta error code in a provider's message text, most
// explicit form first.
var codePatterns = []*regexp.Regexp{
	// "(#131056) ...", "(#4) Application request limit reached"
	regexp.MustCompile(`\(#(\d{1,6})\)`),
	// "#131056" anywhere
	regexp.MustCompile(`#(\d{5,6})\b`),
	// "code: 131056", "error code 131056", "code 368", `"error_code":131026`
	regexp.MustCompile(`(?i)(?:^|[^a-z])code["']?\s*[:=#]?\s*["']?(\d{1,6})\b`),
	// "[131026] Message undeliverable", "(131026)"
	regexp.MustCompile(`[\[(](\d{5,6})[\])]`),
}

// codeTitles are Meta error titles that name their code on their own, for
// providers that pass the title without the number (WHATSAPP.md §4): a
// failed status "This message was not delivered to maintain healthy
// ecosystem engagement." is 131049 as surely as "(#131049) …" is.
var codeTitles = []struct{ title, code string }{
	{"maintain healthy ecosystem engagement", "131049"},
}

// ExtractCode returns the Meta error code written in a provider's message
// text, or "" if it carries none. It recognises "(#131056) ...", "#131056",
// "code: 131056", "error code 131056", "code 368", "[131026]" and "(131026)";
// small codes (4, 368, ...) only in the "(#4)" and "code 368" forms, where they
// cannot be mistaken for other numbers; and, without a number, the titles
// of codeTitles (131049's).
func ExtractCode(message string) string {
	if code := codeInNumbers(message); code != "" {
		return code
	}
	m := strings.ToLower(message)
	for _, t := range codeTitles {
		if strings.Contains(m, t.title) {
			return t.code
		}
	}
	return ""
}

// codeInNumbers is ExtractCode's reading of a number in message.
func codeInNumbers(message string) string {
	for i, re := range codePatterns {
		for _, loc := range re.FindAllStringSubmatchIndex(message, -1) {
			code := message[loc[2]:loc[3]]
			// "HTTP status code 200" is no Meta code.
			before := strings.ToLower(strings.TrimRight(message[:loc[0]+1], " :_-"))
			if strings.HasSuffix(before, "status") || strings.HasSuffix(before, "http") {
				continue
			}
			// Outside "(#4)", a short number counts only when it is a Meta
			// code: "country code 44" is no error code.
			if i > 0 && len(code) < 5 {
				if _, known := classOfCode(code); !known {
					continue
				}
			}
			return code
		}
	}
	return ""
}

// IsSubscriberLimit reports whether err is (or wraps) a provider *Error
// saying the account's subscriber limit is reached ("Subscriber limit has
// been exceeded. You cannot have more subscribers."). Sends to recipients who
// are not yet subscribers must wait until the plan allows more.
func IsSubscriberLimit(err error) bool {
	var pe *Error
	if !errors.As(err, &pe) {
		return false
	}
	m := strings.ToLower(pe.Message)
	return strings.Contains(m, "subscriber limit") || strings.Contains(m, "cannot have more subscribers")
}

// BareServerErrorClass is the class of a send answered with a 5xx status,
// from the status alone: whether the body is not the provider's own answer
// (an HTML error page, a proxy's text, an empty or unreadable body), or is
// one whose code and text say nothing more (Classify).
//
//   - 502 and 503 (a gateway or load balancer answering for a server it
//     could not reach or that was not ready), 501 and 505 (the request was
//     not understood) and Cloudflare's 521–523 (origin down or unreachable)
//     say the request was not served: ClassTransient, retry with back-off.
//   - 500, 504 (a gateway that gave up waiting for a server that had the
//     request and may still act on it) and every other 5xx may come from a
//     server that acted (the message may have gone out): ClassAmbiguous.
func BareServerErrorClass(status int) Class {
	switch status {
	case statusNotImplemented, statusBadGateway, statusServiceUnavailable,
		statusHTTPVersionNotSupported, 521, 522, 523:
		return ClassTransient
	}
	return ClassAmbiguous
}
