// Package provider holds what every WhatsApp provider driver shares: the
// message status ladder, send and status results, and the typed error that
// carries the provider's answer and Meta's error code together with the policy
// class (retry, give up, halt) that the WhatsApp error table assigns to it.
//
// Client is what every driver builds for one account (provider/drivers
// knows them all). Drivers live in sub-packages (provider/botsailor, ...)
// and share one HTTP kernel (provider/internal/httpapi); their simulators
// share one simulated number (provider/sim). This package
// imports no HTTP code so domain packages can depend on it.
package provider
