package spec

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/wacamp/wacamp/consent"
)

var accountKeys = []string{
	"name", "provider", "base_url", "api_token", "api_token_file",
	"api_secret", "api_secret_file", "webhook_secret", "webhook_secret_file",
	"session_id", "phone_number_id", "whatsapp_bot_id", "rate_per_second",
	"pair_interval", "daily_unique_limit", "portfolio", "timezone",
	"on_unknown_outcome", "settle_window", "frequency_cap", "opt_out", "customer_service_window",
}

// account decodes accounts[i], reporting its problems.
func (f *fileCtx) account(n *yaml.Node, field string) Account {
	obj, ok := f.object(n, field, accountKeys...)
	if !ok {
		return Account{}
	}
	line := resolve(n).Line
	a := Account{Pos: Pos{File: f.path, Line: line}, RatePerSecond: DefaultRatePerSecond, PairInterval: DefaultPairInterval}

	if name, ok := f.checkName(obj["name"], field, line); ok {
		f.claimName(f.l.accounts, "account", name, obj["name"].val, subfield(field, "name"))
		a.Name = name
	}

	fld := subfield(field, "provider")
	p := obj["provider"]
	prov, ok := f.str(p.val, fld)
	driver, baseURL, known := f.l.providers.Resolve(strings.ToLower(prov))
	switch {
	case !ok:
		// reported
	case prov == "":
		f.problem(line, fld, "is required (%s)", strings.Join(f.l.providers.Values(), ", "))
	case !known:
		f.problem(resolve(p.val).Line, fld, "unknown provider %s (known: %s)", shown(p.val, prov), strings.Join(f.l.providers.Values(), ", "))
	default:
		a.Provider, a.BaseURL = driver, baseURL
	}

	fld = subfield(field, "base_url")
	if base, ok := f.baseURL(obj["base_url"].val, fld); ok && base != "" {
		a.BaseURL = f.checkBaseURL(obj["base_url"].val, fld, a.Name, base)
	}

	if a.Provider == "waapi" && a.BaseURL == "" {
		f.problem(line, subfield(field, "base_url"), "is required for waapi (the session API has no public default host)")
	}

	a.TokenRef = f.tokenRef(obj, field, line)
	// Sobot authenticates with a key and a secret; the session API may
	// take a Bearer token besides its access token.
	a.SecretRef = f.secretRef(obj, field, line, "api_secret", a.Provider == "sobot")
	if a.SecretRef != "" && a.Provider != "sobot" && a.Provider != "waapi" {
		f.problem(line, subfield(field, "api_secret"), "is only used by sobot (x-api-secret) and waapi (Bearer token)")
	}
	// Providers that push statuses instead of being polled need the
	// webhook: without it no status would ever move past sent.
	caps, _ := f.l.providers.Capabilities(a.Provider)
	pushes := caps.StatusWebhook && !caps.StatusPoll
	a.WebhookSecretRef = f.secretRef(obj, field, line, "webhook_secret", false)
	if pushes && a.WebhookSecretRef == "" && !hasKey(obj, "webhook_secret") && !hasKey(obj, "webhook_secret_file") {
		f.problem(line, subfield(field, "webhook_secret"), "is required for %s (its statuses and replies arrive only by webhook; a ${VAR} reference, or set webhook_secret_file)", a.Provider)
	}

	fld = subfield(field, "session_id")
	p = obj["session_id"]
	switch id, _ := f.setting(p.val, fld); {
	case a.Provider == "waapi" && id == "":
		f.problem(line, fld, "is required for waapi (the session the API sends from)")
	case a.Provider != "waapi" && id != "":
		f.problem(resolve(p.val).Line, fld, "is only used by waapi")
	default:
		a.SessionID = id
	}

	// BotSailor-family accounts are addressed by their phone_number_id;
	// other providers have none, so any id of the number (its digits,
	// say) names its rate limit and budget, else the account name does.
	botsailor := a.Provider == "botsailor" // and its alias wabotick
	fld = subfield(field, "phone_number_id")
	p = obj["phone_number_id"]
	switch id, ok := f.setting(p.val, fld); {
	case !ok:
		// reported
	case id == "" && botsailor:
		f.problem(line, fld, "is required")
	case strings.Trim(id, "0123456789") != "":
		f.problem(resolve(p.val).Line, fld, "%s must be digits only (the provider's phone number ID, not the phone number)", shown(p.val, id))
	default:
		a.PhoneNumberID = id
	}

	fld = subfield(field, "whatsapp_bot_id")
	p = obj["whatsapp_bot_id"]
	raw, ok := f.setting(p.val, fld)
	switch id, ok := f.parseInteger(p.val, fld, raw, ok); {
	case !ok:
		// reported
	case isNull(p.val) && botsailor:
		f.problem(line, fld, "is required (the provider's bot ID, used to poll message status)")
	case isNull(p.val) && a.Provider == "salebot":
		f.problem(line, fld, "is required (the WhatsApp bot that sends, from Salebot's \"Messengers and chats\")")
	case isNull(p.val):
		// not used by this provider
	case id <= 0:
		f.problem(resolve(p.val).Line, fld, "must be positive, got %d", id)
	default:
		a.WhatsAppBotID = id
	}

	fld = subfield(field, "rate_per_second")
	p = obj["rate_per_second"]
	switch rate, ok := f.number(p.val, fld); {
	case !ok, isNull(p.val):
		// reported, or the default
	case rate <= 0 || rate > MaxRatePerSecond:
		f.problem(resolve(p.val).Line, fld, "must be more than 0 and at most %d, got %v", MaxRatePerSecond, rate)
	default:
		a.RatePerSecond = rate
	}

	fld = subfield(field, "pair_interval")
	p = obj["pair_interval"]
	if d, set := f.duration(p.val, fld); set {
		switch {
		case d < 0:
			f.problem(resolve(p.val).Line, fld, "must not be negative, got %s", resolve(p.val).Value)
		case d > time.Hour:
			f.problem(resolve(p.val).Line, fld, "must be at most 1h, got %s", resolve(p.val).Value)
		case d > 0 && d < time.Millisecond:
			f.problem(resolve(p.val).Line, fld, "must be 0s (off) or at least 1ms, got %s", resolve(p.val).Value)
		default:
			a.PairInterval = d
			if d < DefaultPairInterval {
				f.l.bundle.Warnings = append(f.l.bundle.Warnings, fmt.Sprintf(
					"%s:%d: account %s: pair_interval %s is below WhatsApp's pair rate (one message per 6 s to the same user); the provider may answer 131056",
					f.path, resolve(p.val).Line, a.Name, resolve(p.val).Value))
			}
		}
	}

	a.DailyUniqueLimit = f.dailyLimit(obj["daily_unique_limit"].val, subfield(field, "daily_unique_limit"), a.Name, line)

	fld = subfield(field, "portfolio")
	p = obj["portfolio"]
	if name, _ := f.str(p.val, fld); name != "" {
		if !nameRE.MatchString(name) {
			f.problem(resolve(p.val).Line, fld, "%s must be lower case letters, digits, '.', '_' or '-'", shown(p.val, name))
		}
		a.Portfolio = name
	}

	a.OnUnknownOutcome, a.SettleWindow = f.unknownOutcome(obj, field)
	a.FrequencyCap = f.frequencyCap(obj["frequency_cap"].val, subfield(field, "frequency_cap"))

	a.OptOut = f.optOut(obj["opt_out"].val, subfield(field, "opt_out"))

	fld = subfield(field, "customer_service_window")
	p = obj["customer_service_window"]
	switch v, _ := f.str(p.val, fld); strings.ToLower(strings.TrimSpace(v)) {
	case "":
	case WindowEnforced:
		a.ServiceWindow = WindowEnforced
	case WindowNotEnforced:
		a.ServiceWindow = WindowNotEnforced
	default:
		f.problem(resolve(p.val).Line, fld, "%s must be enforced (only templates reach people who have not written in 24 h) or not_enforced (every message is sent as it is); left out, the provider's own rule applies", shown(p.val, v))
	}

	fld = subfield(field, "timezone")
	p = obj["timezone"]
	if tz, _ := f.str(p.val, fld); tz != "" {
		if _, err := time.LoadLocation(tz); err != nil || tz == "Local" {
			f.problem(resolve(p.val).Line, fld, "%s is not an IANA time zone such as Europe/Berlin", shown(p.val, tz))
		} else {
			a.Timezone = tz
		}
	}
	return a
}

// optOut decodes an account's opt_out: its own opt-out keywords
// (keywords) and opt-in keywords (opt_in_keywords), honoured besides the
// defaults (consent.DefaultOptOut, consent.DefaultOptIn). A keyword is
// compared folded (consent.Fold: trimmed, without case and accents), is
// at most consent.MaxKeywordLen characters, and may not be both an
// opt-out and an opt-in keyword. confirmation and opt_in_confirmation are
// the texts sent back when a keyword of either kind is acted on (see
// confirmation).
func (f *fileCtx) optOut(n *yaml.Node, field string) consent.Settings {
	obj, ok := f.object(n, field, "keywords", "opt_in_keywords", "confirmation", "opt_in_confirmation")
	if !ok {
		return consent.Settings{}
	}
	var k consent.Settings
	folded := map[string]string{} // folded keyword -> the list it is in
	for _, w := range consent.DefaultOptOut {
		folded[consent.Fold(w)] = "the default opt-out keywords"
	}
	for _, w := range consent.DefaultOptIn {
		folded[consent.Fold(w)] = "the default opt-in keywords"
	}
	read := func(key string) []string {
		var out []string
		fld := subfield(field, key)
		for i, item := range f.list(obj[key].val, fld) {
			ifld := index(fld, i)
			w, ok := f.str(item, ifld)
			if !ok {
				continue
			}
			line := resolve(item).Line
			fw := consent.Fold(w)
			switch other, dup := folded[fw]; {
			case fw == "":
				f.problem(line, ifld, "is empty: a keyword needs a letter or digit")
			case len([]rune(fw)) > consent.MaxKeywordLen:
				f.problem(line, ifld, "is %d characters; a keyword is a word or two, at most %d", len([]rune(fw)), consent.MaxKeywordLen)
			case dup && other != fld:
				f.problem(line, ifld, "%s is already in %s (keywords are compared without case and accents)", shown(item, w), other)
			case !dup:
				folded[fw] = fld
				out = append(out, strings.TrimSpace(w))
			}
		}
		return out
	}
	k.Keywords.OptOut = read("keywords")
	k.Keywords.OptIn = read("opt_in_keywords")
	k.Confirmations.OptOut = f.confirmation(obj["confirmation"].val, subfield(field, "confirmation"))
	k.Confirmations.OptIn = f.confirmation(obj["opt_in_confirmation"].val, subfield(field, "opt_in_confirmation"))
	return k
}

// MaxConfirmationLen is the longest confirmation text, in characters:
// WhatsApp's limit on a text message's body.
const MaxConfirmationLen = 4096

// confirmation decodes a confirmation text ("" = none, left out): plain
// text, sent as it is (no {{placeholders}}: the person is known by their
// number only), not blank, at most MaxConfirmationLen characters.
func (f *fileCtx) confirmation(n *yaml.Node, field string) string {
	if n == nil {
		return ""
	}
	text, ok := f.str(n, field)
	if !ok {
		return ""
	}
	line := resolve(n).Line
	switch {
	case strings.TrimSpace(text) == "":
		f.problem(line, field, "is empty: write the text sent back (\"You will get no more messages. Reply START to undo.\") or leave it out to send nothing")
	case len([]rune(text)) > MaxConfirmationLen:
		f.problem(line, field, "is %d characters; WhatsApp takes at most %d in a text", len([]rune(text)), MaxConfirmationLen)
	case strings.Contains(text, "{{"):
		f.problem(line, field, "has a {{placeholder}}: a confirmation is sent as written (the person is known by their number only)")
	default:
		return strings.TrimSpace(text)
	}
	return ""
}

// The choices of on_unknown_outcome: what to do with a send whose outcome
// is unknown (request written, answer lost, or a bare HTTP 500) on a
// provider without a conversation history to check it.
const (
	// OutcomeSettle (the default) waits up to settle_window for the
	// provider's status webhooks to show the message, then sends again.
	OutcomeSettle = "settle"
	// OutcomeFail fails the delivery at once: at most once.
	OutcomeFail = "fail"
	// OutcomeResend sends again at once: at least once.
	OutcomeResend = "resend"
)

// unknownOutcome decodes on_unknown_outcome ("" = settle) and
// settle_window (0 = the worker's default, 5 min or WACAMP_SETTLE_WINDOW;
// 5s to 24h).
func (f *fileCtx) unknownOutcome(obj map[string]pair, field string) (string, time.Duration) {
	fld := subfield(field, "on_unknown_outcome")
	p := obj["on_unknown_outcome"]
	choice, _ := f.str(p.val, fld)
	switch choice = strings.ToLower(choice); choice {
	case "", OutcomeSettle, OutcomeFail, OutcomeResend:
	default:
		f.problem(resolve(p.val).Line, fld, "%s must be settle (wait for the provider's webhooks, then send again), fail (at most once) or resend (at least once)", shown(p.val, choice))
		choice = ""
	}
	fld = subfield(field, "settle_window")
	p = obj["settle_window"]
	d, set := f.duration(p.val, fld)
	if !set {
		return choice, 0
	}
	if d < 5*time.Second || d > 24*time.Hour {
		f.problem(resolve(p.val).Line, fld, "must be between 5s and 24h, got %s", resolve(p.val).Value)
		return choice, 0
	}
	return choice, d
}

// frequencyCap decodes frequency_cap: {messages: 2, per: 168h, sequences:
// defer|skip}: messages 1 to MaxCapMessages, per MinCapPer to MaxCapPer,
// sequences defer (default) or skip. Null or absent is no cap.
func (f *fileCtx) frequencyCap(n *yaml.Node, field string) FrequencyCap {
	if isNull(n) {
		return FrequencyCap{}
	}
	obj, ok := f.object(n, field, "messages", "per", "sequences")
	if !ok {
		return FrequencyCap{}
	}
	var c FrequencyCap
	fld := subfield(field, "messages")
	p := obj["messages"]
	switch v, ok := f.integer(p.val, fld); {
	case !ok:
		// reported
	case isNull(p.val):
		f.problem(resolve(n).Line, fld, "is required: how many messages one person may get per window, e.g. {messages: 2, per: 168h}")
	case v < 1 || v > MaxCapMessages:
		f.problem(resolve(p.val).Line, fld, "must be between 1 and %d messages, got %d", MaxCapMessages, v)
	default:
		c.Messages = int(v)
	}
	fld = subfield(field, "per")
	p = obj["per"]
	switch d, set := f.duration(p.val, fld); {
	case !set && isNull(p.val):
		f.problem(resolve(n).Line, fld, "is required: the window the messages are counted over, e.g. 168h for a week")
	case !set:
		// reported
	case d < MinCapPer || d > MaxCapPer:
		f.problem(resolve(p.val).Line, fld, "must be between %s and %s, got %s", ShortDuration(MinCapPer), ShortDuration(MaxCapPer), resolve(p.val).Value)
	default:
		c.Per = d
	}
	fld = subfield(field, "sequences")
	p = obj["sequences"]
	switch v, _ := f.str(p.val, fld); strings.ToLower(v) {
	case "", CapDefer:
	case CapSkip:
		c.Sequences = CapSkip
	default:
		f.problem(resolve(p.val).Line, fld, "%s must be defer (a step over the cap waits for room, within its deadline) or skip (it is skipped; the enrollment goes on)", shown(p.val, v))
	}
	if c.Messages == 0 || c.Per == 0 {
		return FrequencyCap{}
	}
	return c
}

// dailyLimit decodes daily_unique_limit: a positive number of unique
// recipients per rolling 24 h (WhatsApp's tiers are 250, 2000, 10000 and
// 100000) or "unlimited" (0). Leaving it out also means unlimited, with a
// warning: WhatsApp's limit applies whether or not it is written down.
func (f *fileCtx) dailyLimit(n *yaml.Node, field, account string, line int) int {
	s, ok := f.str(n, field)
	switch {
	case !ok:
		return 0
	case s == "":
		f.l.bundle.Warnings = append(f.l.bundle.Warnings, fmt.Sprintf(
			"%s:%d: account %s sets no daily_unique_limit, so no 24 h unique-recipient budget is kept; set your portfolio's messaging limit (%s) or \"unlimited\"",
			f.path, line, account, tiersText()))
		return 0
	case strings.EqualFold(s, "unlimited") || strings.EqualFold(s, "TIER_UNLIMITED"):
		return 0
	}
	v, err := strconv.Atoi(strings.TrimPrefix(strings.ToUpper(s), "TIER_"))
	if err != nil {
		// Meta's own names: TIER_2K, TIER_10K, TIER_100K.
		if k, kerr := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(strings.ToUpper(s), "TIER_"), "K")); kerr == nil && strings.HasSuffix(strings.ToUpper(s), "K") {
			v, err = k*1000, nil
		}
	}
	if err != nil || v <= 0 {
		f.problem(resolve(n).Line, field, "%s must be a positive number of recipients (WhatsApp's tiers: %s) or \"unlimited\"", shown(n, s), tiersText())
		return 0
	}
	return v
}

func tiersText() string {
	parts := make([]string, len(MessagingTiers))
	for i, t := range MessagingTiers {
		parts[i] = strconv.Itoa(t)
	}
	return strings.Join(parts, ", ")
}

// hasKey reports whether obj sets key to something.
func hasKey(obj map[string]pair, key string) bool {
	p, ok := obj[key]
	return ok && !isNull(p.val)
}
