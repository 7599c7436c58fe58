// Package salebot is the driver of Salebot's API: POST
// {base}/{api_key}/{action} with JSON bodies. WhatsApp messages go by phone
// through whatsapp_message (with whatsapp_bot_id), bot launches through
// whatsapp_callback; delivery reports arrive on the project's message
// webhook ("delivered", "error_message"), see ParseWebhook.
//
// The API key is a path segment, so every request URL is a secret: it never
// appears in errors (transport errors are stripped of their URL) or logs.
// Salebot's send answers carry no WhatsApp message id and the API has no
// status poll nor a history keyed by phone: sends return an empty WAMID,
// webhook statuses are matched by phone (provider.Event.MatchByPhone), and
// Conversation and MessageStatus return provider.ErrUnsupported.
package salebot
