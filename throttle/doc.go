// Package throttle paces work by string keys (a phone number id, a
// recipient pair). It knows keys and rates, not campaigns.
//
// Local paces within one process with golang.org/x/time/rate; Fleet paces
// a whole fleet of workers through Redis (redis_rate's GCRA) with the same
// Wait(ctx, key, perSecond). Recipients keeps WhatsApp's per-recipient
// limits (the pair interval and the rolling 24 h unique-recipient budget)
// and Outcomes the error-storm counts, both in Redis. Redis may be one
// server or a Redis Cluster: every script keeps its keys in one hash slot
// (the part of a key in braces).
package throttle
