// Package botsailorsim simulates the BotSailor API family (the paths under
// /api/v1/ that the botsailor driver calls) for tests and the demo.
//
// It answers with the seed docs' response shapes, records every accepted
// message in a per-recipient conversation with a fresh wamid, and moves each
// message through sent → delivered → read (or failed) on a clock. Knobs
// inject the faults a campaign engine must survive: latency, HTTP 503 before
// accepting, sends accepted only long after the client gave up, connections
// dropped after accepting, Meta's throughput limit
// (130429), the plan's subscriber limit, a conversation that lists
// templates without their wamid, and a history that lags the sends. Given the same Seed and the same
// sequence of requests, it makes the same decisions.
//
// Options.Shape picks the reseller whose answers it gives: BotSailor (seed
// 000, the default) or Wabotick (seed 001), which answers a template send
// {"status":"success","message":…,"data":{"message_id":"wamid…"}} where
// BotSailor names no wamid. See Options.Shape for every difference.
//
// Routes (GET query or POST form, apiToken in either):
//
//	/api/v1/whatsapp/send               text message
//	/api/v1/whatsapp/send/file          media by URL
//	/api/v1/whatsapp/send/template      approved template
//	/api/v1/whatsapp/trigger-bot        bot flow
//	/api/v1/whatsapp/get/conversation   newest first, limit and 0-based offset
//	/api/v1/whatsapp/get/message-status status of one wamid
//	/api/v1/user/myInfo                 plan limits and usage
package botsailorsim
