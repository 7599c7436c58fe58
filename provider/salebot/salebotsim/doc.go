// Package salebotsim simulates the parts of Salebot's API that the salebot
// driver uses, for tests and the demo, after the seed doc: calls are
// {base}/{api_key}/{action}, by POST (JSON or form body) or GET (query),
// and every message the bot sends is reported by one POST of the project's
// message webhook.
//
// Routes (an optional "/api" prefix is accepted, so BaseURL may be the
// server's URL or its URL plus "/api"):
//
//	/{api_key}/whatsapp_message   {"phone", "message", "whatsapp_bot_id",
//	                               "attachment_type", "attachment_url", "buttons"}
//	/{api_key}/whatsapp_callback  {"phone" (or "client_phone"), "message", "whatsapp_bot_id"}
//	/{api_key}/message            {"client_id", "message", "attachment_type", "attachment_url", "buttons"}
//
// Parameters may be renamed the doc's "universal webhook" way: value_phone=x
// makes the parameter x hold the phone (likewise value_client_id).
//
// The doc shows no answers of these methods. The simulator answers HTTP 200
// {"status":"success"} to an accepted message and {"status":"error",
// "error": "..."} otherwise: HTTP 404 "api key not found" for an unknown key
// (the key is a path segment, so an unknown key is an unknown URL); HTTP 400
// for a missing phone, message or attachment, a bad attachment_type or
// buttons, an unknown whatsapp_bot_id ("whatsapp bot not found") or client
// ("client not found"), and the subscriber limit; HTTP 429 carrying
// "(#130429)" for the rate limit and "(#131056)" for the pair rate; HTTP 503
// (text, Retry-After: 1) for Fail5xxRate. whatsapp_bot_id may be left out
// (the doc's example does) unless Options.WhatsAppBotIDs lists several.
//
// Statuses: for each accepted message, one webhook POST to
// Options.WebhookURL in the doc's shape, with is_input 0 and delivered 1, or
// delivered 0 and error_message "Message undeliverable. (#131026)" for
// FailShare of them, DeliverAfter after it was accepted; "id" is a fresh
// integer, also in Send.ID. Salebot reports neither "sent" nor "read":
// ReadAfter and ReadShare are accepted and ignored. A whatsapp_callback is
// reported like the bot's first message ("Bot launched: <message>"). Reply
// pushes an inbound (is_input 1) message. Pushes run from timers on the
// Options.Now clock; with a fake clock, call DeliverDue or Flush.
//
// Knobs: Latency, Fail5xxRate, DropAfterAcceptRate (the message is recorded
// and reported, the connection closed unanswered), RatePerSecond (token
// bucket per API key), PairInterval, SubscriberLimit, DeliverAfter,
// FailShare, Seed, Now, and for the webhook ManualPushes, WebhookDuplicateRate,
// WebhookReorder (a message's report is swapped with the pending report of
// an earlier message to the same phone: Salebot has one report per message,
// so the hazard is across messages), WebhookEarly (the report is pushed
// before the send is answered), WebhookRetries and WebhookBackoff. Given the
// same Seed and the same sequence of requests, it makes the same decisions.
package salebotsim
