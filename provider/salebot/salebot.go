// Package salebot is the driver of Salebot's API: POST
// {base}/{api_key}/{action} with JSON bodies. WhatsApp messages go by phone
// through whatsapp_message (with whatsapp_bot_id), bot launches through
// whatsapp_callback; delivery reports arrive on the project's message
// webhook ("delivered", "error_message"), see ParseWebhook.
package salebot

import "github.com/wacamp/wacamp/provider"

// Capabilities is what Salebot's API can send and report.
var Capabilities = provider.Capabilities{
	Provider:      "salebot",
	Text:          true,
	Media:         []string{"image", "video", "audio", "document"},
	BotFlow:       true,
	ButtonTypes:   []string{"reply"},
	StatusWebhook: true,
}
