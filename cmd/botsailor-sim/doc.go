// Command botsailor-sim serves a simulated BotSailor API (see package
// botsailorsim) for the demo and manual testing.
//
//	botsailor-sim -addr 127.0.0.1:8091 -rate 20 -subscriber-limit 1000 -drop-after-accept-rate 0.01
//
// Point a botsailor driver at http://ADDR/api/v1. Accepted tokens come from
// -tokens or BOTSAILOR_SIM_TOKENS (comma-separated); none means any non-empty
// token is accepted.
package main
