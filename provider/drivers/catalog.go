package drivers

import (
	"github.com/wacamp/wacamp/provider"
	"github.com/wacamp/wacamp/templates"
)

// Catalog answers, from the registry, what loading a campaign asks of the
// drivers (spec.Providers): the accepted provider values, each driver's
// capabilities and content check. The commands pass it to spec, which does
// not import this package.
type Catalog struct{}

// Resolve returns the driver the provider value names and its default
// base URL (see [Resolve]).
func (Catalog) Resolve(value string) (driver, baseURL string, ok bool) {
	v, ok := Resolve(value)
	return v.Driver, v.BaseURL, ok
}

// Values lists the accepted provider values (see [Values]).
func (Catalog) Values() []string { return Values() }

// Capabilities returns the capabilities of the driver named driver.
func (Catalog) Capabilities(driver string) (provider.Capabilities, bool) {
	return CapabilitiesOf(driver)
}

// ContentCheck returns [Driver].CheckContent of the driver named driver;
// nil if it has none or is unknown.
func (Catalog) ContentCheck(driver string) func(templates.Message) error {
	return registry[driver].CheckContent
}
