// Package waapi is the driver of the session-based WhatsApp bots API (seed
// 002): a WhatsApp Web session addressed by session_id and access_token
// query parameters plus a Bearer token. Text goes to /whatsapp/message,
// files by URL to /whatsapp/message/fileurl, buttons and lists to their
// own paths; the message id is data.key.id. Statuses arrive on the webhook
// set with /whatsapp/setWebhook, see ParseWebhook.
//
// Because access_token travels in the query string, request URLs are
// secret: they are never logged and are stripped from transport errors.
// Answers are parsed tolerantly ("status" as a boolean, number or string;
// the id in data.key.id, key.id or the deprecated "true_<jid>_<id>" string;
// extra and missing fields). A send whose answer is lost after the request
// was written, or whose 2xx answer cannot be read, is ClassAmbiguous. The
// API has no conversation history and no status poll: Conversation and
// MessageStatus return errors wrapping provider.ErrUnsupported.
package waapi
