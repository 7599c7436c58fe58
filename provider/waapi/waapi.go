package waapi

import "github.com/wacamp/wacamp/provider"

// Capabilities is what the session API can send and report. It drives a
// WhatsApp client (seed 002), not the Cloud API: no 24-hour
// customer-service window is enforced (ServiceWindow false).
var Capabilities = provider.Capabilities{
	Provider:      "waapi",
	Text:          true,
	Media:         []string{"image", "video", "audio", "document"},
	Location:      true,
	ButtonTypes:   []string{"reply", "url", "call"},
	MaxButtons:    3,
	List:          true,
	StatusWebhook: true,
}
