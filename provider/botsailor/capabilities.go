package botsailor

import "github.com/wacamp/wacamp/provider"

// Capabilities is what the BotSailor API family can send and report: no
// location, button or list messages through its send endpoints, statuses
// by polling message-status, and a conversation history that reconciles
// lost answers and finds replies.
var Capabilities = provider.Capabilities{
	Provider:      "botsailor",
	Text:          true,
	Media:         []string{"image", "video", "audio", "document"},
	Template:      true,
	TemplateBy:    "id",
	BotFlow:       true,
	StatusPoll:    true,
	History:       true,
	AccountInfo:   true,
	ServiceWindow: true, // Cloud API underneath: 131047 outside the window
}

// Capabilities returns what the API can do.
func (c *Client) Capabilities() provider.Capabilities { return Capabilities }
