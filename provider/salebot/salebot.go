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
	ServiceWindow: true, // Cloud API underneath: 131047 outside the window
}
