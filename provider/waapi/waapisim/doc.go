// Package waapisim simulates the session-based WhatsApp bots API (seed 002)
// that the waapi driver calls, for tests and the demo.
//
// It checks credentials as the doc describes, answers with the doc's
// shapes, records every accepted message with a fresh Baileys-style id and
// pushes its statuses (sent, then delivered or failed, then read) to the
// session's webhook. Knobs inject the faults a campaign engine must survive.
// Given the same Seed and the same sequence of requests it makes the same
// decisions.
//
// Routes (the part from "/whatsapp" on is matched, so any BaseURL prefix
// works):
//
//	POST /whatsapp/message            JSON {chatId, message[, location{name,lat,lng}]}
//	POST /whatsapp/message/fileurl    multipart form chatId, url, type, mimetype[, caption, filename]
//	POST /whatsapp/message/button     JSON {chatId, btndata{text, buttons[{type,title,payload}], footerText}}
//	POST /whatsapp/message/list       JSON {chatId, msgdata{buttonText, text, title, description, sections, listType}}
//	POST /whatsapp/message/sendText   deprecated, JSON {to, message} (also /whatsapp/sendText, as the doc's curl)
//	PUT  /whatsapp/setWebhook         JSON {session_id, access_token, webhook_url, events, requestConfig}
//
// Auth: every call needs "Authorization: Bearer <token>" with a token of
// Options.BearerTokens (any non-empty one when that is empty), and a
// session_id plus access_token (query string, JSON body or form) naming a
// session of Options.Sessions (any non-empty pair when that is empty). A
// missing or wrong credential is answered HTTP 401 {"status": false,
// "message": "Unauthorized"} (bearer) or {"status": false, "message":
// "Invalid session_id or access_token"} (session).
//
// Answers: every accepted send is answered with the doc's image-message
// sample shape, {"status": true, "message": "Message sent successfully",
// "data": {"key": {"remoteJid", "fromMe": true, "id"}, "status": "PENDING",
// "message": {...}, "messageTimestamp": "<unix seconds>"}}, so ids can be
// tracked (the doc's /whatsapp/message sample carries no id; the driver
// handles both). The deprecated sendText is answered as the doc shows:
// "data": "true_<phone>@c.us_<id>". Refusals are {"status": false,
// "message": ...}: HTTP 400 for a missing field or an invalid number, 429
// "(#130429) Rate limit hit" and "(#131056) ... pair rate limit hit", 403
// "Subscriber limit has been exceeded. You cannot have more subscribers.",
// and a plain-text HTTP 503 (Retry-After: 1) for Fail5xxRate.
//
// Webhooks (our chosen shape; the doc shows none): statuses are pushed as
// {"event": "onMessageUpdate", "session_id", "data": [{"key": {"remoteJid":
// "<phone>@s.whatsapp.net", "fromMe": true, "id"}, "update": {"status":
// "SERVER_ACK"|"DELIVERY_ACK"|"READ"|"ERROR"[, "error": {"code": "131026",
// "message": "Message undeliverable."}]}, "messageTimestamp": <unix
// seconds>}]}, and Reply pushes {"event": "onMessage", "session_id",
// "data": {"key": {..., "fromMe": false, "id"}, "message": {"conversation":
// text}, "messageTimestamp": <unix seconds>, "pushName"}}. The push URL is
// the session's setWebhook URL, else Options.WebhookURL; the events list is
// recorded (Webhook) but does not filter pushes. Pushes are POSTed from a
// background goroutine at their due time on the Options.Now clock (timers
// make them happen in real time; with a fake clock call Flush after
// advancing it). A push answered non-2xx or not at all is retried
// WebhookRetries times, WebhookRetryDelay apart, then dropped.
package waapisim
