package sobot

import "github.com/wacamp/wacamp/provider"

// Capabilities is what Sobot's API can send and report.
var Capabilities = provider.Capabilities{
	Provider:       "sobot",
	Text:           true,
	Media:          []string{"image", "video", "document", "sticker"},
	Template:       true,
	TemplateBy:     "name",
	TemplateParams: []string{"header", "button"},
	Location:       true,
	ButtonTypes:    []string{"reply"},
	MaxButtons:     3,
	List:           true,
	StatusWebhook:  true,
	RecipientName:  true,
	ServiceWindow:  true, // Cloud API underneath: 131047 outside the window
}
