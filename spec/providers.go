package spec

import (
	"github.com/wacamp/wacamp/provider"
	"github.com/wacamp/wacamp/templates"
)

// Providers is what loading a campaign asks of the provider drivers: which
// `provider:` values there are, what each driver can send and what content
// it refuses. spec declares it and does not import the drivers, so that
// whatever imports spec (the store, say) does not link every provider's
// HTTP client; provider/drivers.Catalog implements it, and the commands
// pass it in.
type Providers interface {
	// Resolve returns the driver a `provider:` value (in lower case)
	// names and that provider's default base URL ("": none, base_url is
	// required).
	Resolve(value string) (driver, baseURL string, ok bool)
	// Values lists the accepted `provider:` values, in the order
	// messages list them.
	Values() []string
	// Capabilities returns what the driver named driver can send.
	Capabilities(driver string) (provider.Capabilities, bool)
	// ContentCheck returns what the driver named driver checks in a
	// rendered message's content beyond templates.Message.Validate, as
	// *templates.FieldError values (errors.Join); nil if it checks
	// nothing more or is unknown.
	ContentCheck(driver string) func(templates.Message) error
}
