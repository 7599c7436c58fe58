// Package sobotsim simulates Sobot's send API and its status webhooks for
// tests and the demo, after the seed doc (api.sobot.in).
//
// Route:
//
//	POST /message/   (also /message) every message kind, JSON body,
//	                 auth by the x-api-key and x-api-secret headers
//
// The body is checked against the doc's parameter tables: customer_number
// and customer_name always; by "type": text → message; image, video,
// sticker → url, mime_type; document → url, mime_type, filename; location →
// latitude, longitude; quick_reply → message, buttons (1–3 unique titles);
// list (or quick_reply with list_obj) → message, list_obj.button,
// list_obj.sections; product → message, product_list; no type and a
// template_name → template_name, template_lang. A missing field is answered
// HTTP 400 {"message":"<field> is required","code":400}; a bad number
// {"message":"Invalid mobile number","code":400} (the doc's text). Accepted
// sends are answered with the doc's success shape
// {"data":{"id":"wamid.…","status":"submitted"},"message":"Message sent
// successfully.","code":200}.
//
// The doc documents no authentication error; wrong or missing keys are
// answered HTTP 401 {"message":"Invalid API credentials","code":401}.
//
// Each accepted message then moves sent → delivered → read (or failed with
// 131026 "Message undeliverable.") on the Options.Now clock, and, when
// Options.WebhookURL is set, each status is POSTed there in the doc's bare
// {"id","status","timestamp"} shape (or Meta's value.statuses shape with
// Options.WebhookMetaStyle). Pushes run on timers scheduled at the computed
// times; DeliverDue and Flush push what is due at once, for tests with a
// fake clock. Reply pushes an inbound message in the doc's shape.
//
// Knobs (Options): Credentials, Latency, Fail5xxRate, DropAfterAcceptRate,
// RatePerSecond (130429), PairInterval (131056), SubscriberLimit,
// Templates, ErrorsHTTP200, DeliverAfter, ReadAfter, ReadShare, FailShare,
// Seed, Now, and for webhooks WebhookURL, WebhookMetaStyle,
// WebhookDuplicateRate, WebhookReorder, WebhookEarly, WebhookAttempts,
// WebhookBackoff, WebhookClient. Given the same Seed and the same sequence
// of requests, it makes the same decisions.
package sobotsim
