// Package simnum is the simulated WhatsApp number the providers'
// simulators share: the limits Meta puts on a number (a token bucket of
// sends per second, one message per pair interval to the same recipient,
// a subscriber limit) and a message's lifecycle (sent → delivered → read,
// or failed), as a provider's simulator enforces and reports them. Each
// simulator (provider/*/…sim) is a wire-format adapter around it: it reads
// its provider's requests, asks the Number, and answers and pushes in its
// provider's shapes.
//
// Nothing here is safe for concurrent use: a simulator calls it under its
// own lock.
package simnum
