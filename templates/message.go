// Package templates holds message content: the message kinds a campaign can
// send, and parsing, validating and rendering the {{variable}} placeholders in
// them. It is pure: no I/O.
package templates

// Kind is what a message asks the provider to do.
type Kind string

// The message kinds. Exactly one is set on a Message.
const (
	KindText     Kind = "text"     // free-form text (inside the 24 h window)
	KindMedia    Kind = "media"    // image, video, audio or document by URL
	KindTemplate Kind = "template" // an approved WhatsApp template
	KindBotFlow  Kind = "bot_flow" // trigger a provider-side bot flow
)

// Message is the content of one message, either as defined in a campaign
// (with {{var}} placeholders) or rendered for one recipient (placeholders
// replaced). It is stored as JSON.
type Message struct {
	Kind     Kind      `json:"kind"`
	Text     string    `json:"text,omitempty"`
	Media    *Media    `json:"media,omitempty"`
	Template *Template `json:"template,omitempty"`
	BotFlow  string    `json:"bot_flow,omitempty"`
}

// Media is a file sent by public URL.
type Media struct {
	URL     string `json:"url"`
	Type    string `json:"type"` // image, video, audio or document
	Caption string `json:"caption,omitempty"`
}

// Template is an approved provider template and the values of its variables.
type Template struct {
	ID   string        `json:"id"`
	Vars []TemplateVar `json:"vars,omitempty"`
}

// TemplateVar is one template variable. BotSailor-family providers receive it
// as the form field "templateVariable-<Name>-<Index>".
type TemplateVar struct {
	Name  string `json:"name"`
	Index int    `json:"index"` // 1-based position
	Value string `json:"value"`
}
