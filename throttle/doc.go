// Package throttle paces work by string keys (a phone number id, a
// recipient pair). It knows keys and rates, not campaigns.
//
// Local paces within one process with golang.org/x/time/rate; Fleet paces
// a whole fleet of workers through Redis with the same Wait(ctx, key,
// perSecond): each caller reserves the key's next departure slot with one
// Lua call on Redis's clock and sleeps until it, slots spaced evenly at
// the rate (Reserve takes several at once, WaitAhead returns before the
// slot for callers with work to do before departing, Release hands back
// slots that will not be used). Recipients keeps WhatsApp's per-recipient
// limits (the pair interval and the rolling 24 h unique-recipient budget)
// and Outcomes the error-storm counts, both in Redis. Redis may be one
// server or a Redis Cluster: every script keeps its keys in one hash slot
// (the part of a key in braces).
package throttle
