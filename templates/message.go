package templates

// Kind is what a message asks the provider to do.
type Kind string

// The message kinds. Exactly one is set on a Message.
const (
	KindText     Kind = "text"     // free-form text (inside the 24 h window)
	KindMedia    Kind = "media"    // image, video, audio, document or sticker by URL
	KindTemplate Kind = "template" // an approved WhatsApp template, by id or by name and language
	KindBotFlow  Kind = "bot_flow" // trigger a provider-side bot flow
	KindLocation Kind = "location" // a map pin with optional name and address
	KindButtons  Kind = "buttons"  // text with one to three reply, URL or call buttons
	KindList     Kind = "list"     // text with a button opening a menu of up to ten rows in sections
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
	Location *Location `json:"location,omitempty"`
	Buttons  *Buttons  `json:"buttons,omitempty"`
	List     *List     `json:"list,omitempty"`
	// OutsideWindow is what a free-form message does when its recipient's
	// 24-hour customer-service window is closed on an account that
	// enforces it; nil = nothing said (sent as it is). Never set on a
	// template, which the window does not restrict.
	OutsideWindow *OutsideWindow `json:"outside_window,omitempty"`
}

// OutsideWindow is a free-form message's plan for a recipient outside the
// 24-hour customer-service window (WHATSAPP.md §5): Skip it, or send
// Template instead (rendered with the same recipient variables). Exactly
// one is set.
type OutsideWindow struct {
	Skip     bool      `json:"skip,omitempty"`
	Template *Template `json:"template,omitempty"`
}

// Restricted reports whether the 24-hour customer-service window restricts
// m: every kind but a template. A bot-flow trigger counts as free-form:
// the provider sends the flow's own messages as session messages, which
// the Cloud API refuses outside the window as it refuses text.
func (m Message) Restricted() bool { return m.Kind != KindTemplate }

// Fallback returns the template m declares for a recipient outside the
// window (outside_window.template); ok is false when it declares none.
func (m Message) Fallback() (Message, bool) {
	if m.OutsideWindow == nil || m.OutsideWindow.Template == nil {
		return Message{}, false
	}
	return Message{Kind: KindTemplate, Template: m.OutsideWindow.Template}, true
}

// Media is a file sent by public URL.
type Media struct {
	URL     string `json:"url"`
	Type    string `json:"type"` // image, video, audio, document or sticker
	Caption string `json:"caption,omitempty"`
	// MimeType is the file's MIME type; empty means derived from the URL's
	// extension by drivers that need one.
	MimeType string `json:"mime_type,omitempty"`
	// Filename is the name a document is shown with.
	Filename string `json:"filename,omitempty"`
}

// Location is a map pin.
type Location struct {
	Latitude  float64 `json:"latitude"`
	Longitude float64 `json:"longitude"`
	Name      string  `json:"name,omitempty"`
	Address   string  `json:"address,omitempty"`
}

// Buttons is a text message with reply, URL or call buttons.
type Buttons struct {
	Text    string   `json:"text"`
	Header  string   `json:"header,omitempty"`
	Footer  string   `json:"footer,omitempty"`
	Buttons []Button `json:"buttons"`
}

// Button is one button: Type "reply" (Payload unused), "url" (Payload is
// the URL) or "call" (Payload is the phone number).
type Button struct {
	Type    string `json:"type"`
	Title   string `json:"title"`
	Payload string `json:"payload,omitempty"`
}

// List is a text message with a button that opens a menu of rows.
type List struct {
	Text     string        `json:"text"`
	Header   string        `json:"header,omitempty"`
	Footer   string        `json:"footer,omitempty"`
	Button   string        `json:"button"`
	Sections []ListSection `json:"sections"`
}

// ListSection is one titled group of rows in a List.
type ListSection struct {
	Title string    `json:"title"`
	Rows  []ListRow `json:"rows"`
}

// ListRow is one choice in a List.
type ListRow struct {
	ID          string `json:"id"`
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
}

// Template is an approved provider template and the values of its variables.
//
// Providers name templates in one of two ways: BotSailor-family ones by ID,
// Sobot (Meta's Cloud API style) by Name and Language. Vars are the body
// variables in order of Index; Header and Buttons are the parameters of a
// media header and of dynamic buttons. Category is Meta's category of the
// template (CategoryMarketing, CategoryUtility, CategoryAuthentication; ""
// = not stated, taken as marketing by the opt-out rules).
type Template struct {
	ID       string           `json:"id,omitempty"`
	Name     string           `json:"name,omitempty"`
	Language string           `json:"language,omitempty"`
	Category string           `json:"category,omitempty"`
	Vars     []TemplateVar    `json:"vars,omitempty"`
	Header   *Media           `json:"header,omitempty"`
	Buttons  []TemplateButton `json:"buttons,omitempty"`
}

// Meta's template categories.
const (
	CategoryMarketing      = "marketing"
	CategoryUtility        = "utility"
	CategoryAuthentication = "authentication"
)

// TemplateCategories are the valid values of Template.Category.
var TemplateCategories = []string{CategoryMarketing, CategoryUtility, CategoryAuthentication}

// TemplateButton is the parameter of one dynamic template button: SubType
// "url" (Value completes the button's URL) or "quick_reply" (Value is the
// payload), at 0-based Index among the template's buttons.
type TemplateButton struct {
	Index   int    `json:"index"`
	SubType string `json:"sub_type"`
	Value   string `json:"value"`
}

// TemplateVar is one template variable. BotSailor-family providers receive it
// as the form field "templateVariable-<Name>-<Index>".
type TemplateVar struct {
	Name  string `json:"name"`
	Index int    `json:"index"` // 1-based position
	Value string `json:"value"`
}
