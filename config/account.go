package config

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// providers maps the accepted provider names to the driver and its default
// base URL. BotSailor's API is sold under other names; those are aliases.
var providers = map[string]struct{ driver, baseURL string }{
	"botsailor": {"botsailor", "https://botsailor.com/api/v1"},
	"wabotick":  {"botsailor", "https://app.wabotick.com/api/v1"},
}

var accountKeys = []string{
	"name", "provider", "base_url", "api_token", "api_token_file",
	"phone_number_id", "whatsapp_bot_id", "rate_per_second",
	"pair_interval", "daily_unique_limit", "portfolio", "timezone",
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
	spec, known := providers[strings.ToLower(prov)]
	switch {
	case !ok:
		// reported
	case prov == "":
		f.problem(line, fld, "is required (botsailor)")
	case !known:
		f.problem(resolve(p.val).Line, fld, "unknown provider %s (known: botsailor, and its alias wabotick)", shown(p.val, prov))
	default:
		a.Provider, a.BaseURL = spec.driver, spec.baseURL
	}

	fld = subfield(field, "base_url")
	if base, _ := f.str(obj["base_url"].val, fld); base != "" {
		if u, err := url.Parse(base); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			f.problem(resolve(obj["base_url"].val).Line, fld, "%s is not an http(s) URL", shown(obj["base_url"].val, base))
		}
		a.BaseURL = strings.TrimRight(base, "/")
	}

	a.TokenRef = f.tokenRef(obj, field, line)

	fld = subfield(field, "phone_number_id")
	p = obj["phone_number_id"]
	switch id, ok := f.str(p.val, fld); {
	case !ok:
		// reported
	case id == "":
		f.problem(line, fld, "is required")
	case strings.Trim(id, "0123456789") != "":
		f.problem(resolve(p.val).Line, fld, "%s must be digits only (the provider's phone number ID, not the phone number)", shown(p.val, id))
	default:
		a.PhoneNumberID = id
	}

	fld = subfield(field, "whatsapp_bot_id")
	p = obj["whatsapp_bot_id"]
	switch id, ok := f.integer(p.val, fld); {
	case !ok:
		// reported
	case isNull(p.val):
		f.problem(line, fld, "is required (the provider's bot ID, used to poll message status)")
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
