package drivers

import (
	"log/slog"
	"net/http"
	"slices"

	"github.com/wacamp/wacamp/provider"
	"github.com/wacamp/wacamp/provider/botsailor"
	"github.com/wacamp/wacamp/provider/salebot"
	"github.com/wacamp/wacamp/provider/sobot"
	"github.com/wacamp/wacamp/provider/waapi"
	"github.com/wacamp/wacamp/templates"
)

// Settings is what building a client takes: an account's settings with
// its secrets resolved.
type Settings struct {
	BaseURL       string
	Token         string // api_token: BotSailor apiToken, Sobot x-api-key, Salebot API key, waapi access_token
	Secret        string // api_secret: Sobot x-api-secret, waapi Bearer token
	PhoneNumberID string
	WhatsAppBotID int64
	SessionID     string
	HTTPClient    *http.Client
	Logger        *slog.Logger
}

// Driver is one provider API.
type Driver struct {
	Capabilities provider.Capabilities
	// New builds a client of one account.
	New func(Settings) (provider.Client, error)
	// ParseWebhook reads one webhook body; nil when the provider pushes
	// nothing we use.
	ParseWebhook func([]byte) ([]provider.Event, error)
	// CheckContent, when set, reports what in a rendered message's
	// content the API's doc refuses beyond WhatsApp's own rules
	// (templates.Message.Validate): MIME types, button indexes, required
	// titles, as *templates.FieldError values (errors.Join) so `scheduler
	// validate` can name the line. Validate runs it for each recipient and
	// enroll for each person, before anything is sent; the driver's Send
	// refuses the same.
	CheckContent func(templates.Message) error
}

var registry = map[string]Driver{
	"botsailor": {Capabilities: botsailor.Capabilities, New: newBotSailor},
	"sobot":     {Capabilities: sobot.Capabilities, New: newSobot, ParseWebhook: sobot.ParseWebhook, CheckContent: sobot.CheckMessage},
	"salebot":   {Capabilities: salebot.Capabilities, New: newSalebot, ParseWebhook: salebot.ParseWebhook},
	"waapi":     {Capabilities: waapi.Capabilities, New: newWaapi, ParseWebhook: waapi.ParseWebhook},
}

// Value is an accepted `provider:` value of an account: the driver it
// names and that provider's default base URL ("" = none, base_url is
// required). BotSailor's API is sold under other names; those are aliases.
type Value struct {
	Name, Driver, BaseURL string
}

// values are the accepted provider values, in the order messages list them.
var values = []Value{
	{"botsailor", "botsailor", "https://botsailor.com/api/v1"},
	{"wabotick", "botsailor", "https://app.wabotick.com/api/v1"},
	{"sobot", "sobot", sobot.DefaultBaseURL},
	{"salebot", "salebot", salebot.DefaultBaseURL},
	{"waapi", "waapi", ""},
}

// Resolve returns the accepted provider value name.
func Resolve(name string) (Value, bool) {
	for _, v := range values {
		if v.Name == name {
			return v, true
		}
	}
	return Value{}, false
}

// Values lists the accepted provider values.
func Values() []string {
	out := make([]string, len(values))
	for i, v := range values {
		out[i] = v.Name
	}
	return out
}

// Lookup returns the driver named name (a normalised provider value).
func Lookup(name string) (Driver, bool) {
	d, ok := registry[name]
	return d, ok
}

// Names lists the drivers, sorted.
func Names() []string {
	var out []string
	for n := range registry {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// CapabilitiesOf returns the capabilities of the driver named name.
func CapabilitiesOf(name string) (provider.Capabilities, bool) {
	d, ok := registry[name]
	return d.Capabilities, ok
}

func newBotSailor(s Settings) (provider.Client, error) {
	return botsailor.New(botsailor.Config{BaseURL: s.BaseURL, Token: s.Token, PhoneNumberID: s.PhoneNumberID,
		WhatsAppBotID: s.WhatsAppBotID, HTTPClient: s.HTTPClient, Logger: s.Logger}), nil
}

func newSobot(s Settings) (provider.Client, error) {
	cfg := sobot.Config{BaseURL: s.BaseURL, APIKey: s.Token, APISecret: s.Secret, HTTPClient: s.HTTPClient, Logger: s.Logger}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return sobot.New(cfg), nil
}

func newSalebot(s Settings) (provider.Client, error) {
	cfg := salebot.Config{BaseURL: s.BaseURL, APIKey: s.Token, WhatsAppBotID: s.WhatsAppBotID, HTTPClient: s.HTTPClient, Logger: s.Logger}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return salebot.New(cfg), nil
}

func newWaapi(s Settings) (provider.Client, error) {
	cfg := waapi.Config{BaseURL: s.BaseURL, SessionID: s.SessionID, AccessToken: s.Token, BearerToken: s.Secret,
		HTTPClient: s.HTTPClient, Logger: s.Logger}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return waapi.New(cfg), nil
}
