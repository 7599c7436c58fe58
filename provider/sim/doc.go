// Package sim is what the providers' simulators share: one simulated
// WhatsApp number and its HTTP and webhook plumbing. Each simulator
// (provider/*/…sim) is a thin wire-format adapter around it: it reads its
// provider's requests as the provider's doc describes them, asks the
// Number, and answers and pushes in its provider's shapes.
//
// The Number holds the limits Meta puts on a number (a token bucket of
// sends per second, one message per pair interval to the same recipient,
// a subscriber limit) and a message's Lifecycle (sent → delivered → read,
// or failed). It is not safe for concurrent use: a simulator calls it
// under its own lock.
//
// Verdict.Message and the Msg constants are Meta's texts of a refused or
// failed message, which every simulator answers in its provider's shape.
//
// Knobs are the knobs every simulator's Options embed (faults, limits,
// lifecycle, seed, clock); Sent, embedded in every simulator's Server, is
// its log of accepted sends (Sends, SendCount).
//
// The Pusher is a simulator's webhook queue (due times on the simulator's
// clock, duplicates, retries with back-off, Close); WriteJSON, Delay,
// HangUp, Unavailable and ServerError are the answers and faults a
// simulator's handler gives.
package sim
