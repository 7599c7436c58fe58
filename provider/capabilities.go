package provider

import (
	"fmt"
	"slices"
	"strings"

	"github.com/wacamp/wacamp/templates"
)

// Capabilities is what a driver's API can do. The engine and `scheduler
// validate` read it: a message the account's provider cannot send is
// refused before anything is sent, and statuses are polled or awaited by
// webhook accordingly.
type Capabilities struct {
	// Provider is the driver's name, for messages.
	Provider string
	Text     bool
	// Media are the media types that can be sent by URL (image, video,
	// audio, document, sticker).
	Media []string
	// Template says approved WhatsApp templates can be sent, and
	// TemplateBy how they are named: "id" (BotSailor's template id) or
	// "name" (template name plus language code).
	Template   bool
	TemplateBy string
	// TemplateParams lists the template parameter kinds beyond body
	// variables: "header" (header media), "button" (button parameters).
	TemplateParams []string
	BotFlow        bool
	Location       bool
	// ButtonTypes are the reply button types (reply, url, call) an
	// interactive buttons message may use; none means no buttons message.
	ButtonTypes []string
	MaxButtons  int
	List        bool
	// StatusPoll says message statuses can be polled; StatusWebhook that
	// the provider pushes them to our webhook.
	StatusPoll    bool
	StatusWebhook bool
	// History says the subscriber's conversation can be read: lost send
	// answers are reconciled against it and replies are found there.
	// Without it, a send whose answer was lost cannot be checked, so it
	// is never sent again blind; replies arrive by webhook.
	History bool
	// AccountInfo says the plan's subscriber and credit limits can be read.
	AccountInfo bool
	// RecipientName says every message carries the recipient's name and
	// the API requires it (Sobot's customer_name): `scheduler validate`
	// and `enroll` refuse recipients without one.
	RecipientName bool
	// ServiceWindow says the channel enforces WhatsApp's 24-hour
	// customer-service window (WHATSAPP.md §5): outside it only approved
	// templates go out (Meta's Cloud API refuses the rest with 131047).
	// True for the Cloud-API resellers; false for a session API that
	// drives a WhatsApp client. An account may say otherwise
	// (customer_service_window).
	ServiceWindow bool
}

// Check reports why m cannot be sent through this provider, or nil.
func (c Capabilities) Check(m templates.Message) error {
	no := func(format string, args ...any) error {
		return fmt.Errorf("%s cannot send "+format, append([]any{c.Provider}, args...)...)
	}
	switch m.Kind {
	case templates.KindText:
		if !c.Text {
			return no("free-form text")
		}
	case templates.KindMedia:
		if m.Media != nil && m.Media.Type != "" && !slices.Contains(c.Media, m.Media.Type) {
			return no("%s media (it can send: %s)", m.Media.Type, listOr(c.Media))
		}
	case templates.KindTemplate:
		if !c.Template {
			return no("WhatsApp templates")
		}
		t := m.Template
		if t == nil {
			return nil
		}
		switch c.TemplateBy {
		case "id":
			if t.ID == "" {
				return no("a template without its id (template.id)")
			}
			if t.Language != "" || t.Name != "" {
				return no("templates by name and language; give template.id")
			}
		case "name":
			if t.Name == "" || t.Language == "" {
				return no("a template without template.name and template.language")
			}
			if t.ID != "" {
				return no("templates by id; give template.name and template.language")
			}
		}
		if t.Header != nil && !slices.Contains(c.TemplateParams, "header") {
			return no("template header media")
		}
		if len(t.Buttons) > 0 && !slices.Contains(c.TemplateParams, "button") {
			return no("template button parameters")
		}
	case templates.KindBotFlow:
		if !c.BotFlow {
			return no("bot flow triggers")
		}
	case templates.KindLocation:
		if !c.Location {
			return no("locations")
		}
	case templates.KindButtons:
		if len(c.ButtonTypes) == 0 {
			return no("button messages")
		}
		if m.Buttons == nil {
			return nil
		}
		if c.MaxButtons > 0 && len(m.Buttons.Buttons) > c.MaxButtons {
			return no("more than %d buttons (the message has %d)", c.MaxButtons, len(m.Buttons.Buttons))
		}
		for _, b := range m.Buttons.Buttons {
			if !slices.Contains(c.ButtonTypes, b.Type) {
				return no("%s buttons (it can send: %s)", b.Type, listOr(c.ButtonTypes))
			}
		}
	case templates.KindList:
		if !c.List {
			return no("list messages")
		}
	}
	if fb, ok := m.Fallback(); ok {
		if err := c.Check(fb); err != nil {
			return fmt.Errorf("outside_window: %w", err)
		}
	}
	return nil
}

func listOr(ss []string) string {
	if len(ss) == 0 {
		return "none"
	}
	return strings.Join(ss, ", ")
}

// The choices of an account's customer_service_window; "" leaves it to the
// provider's rule (Capabilities.ServiceWindow).
const (
	WindowEnforced    = "enforced"
	WindowNotEnforced = "not_enforced"
)

// EnforcesWindow reports whether an account whose customer_service_window
// is setting reaches only people inside their 24-hour window with
// free-form messages: setting if it says, else the provider's rule.
func (c Capabilities) EnforcesWindow(setting string) bool {
	switch setting {
	case WindowEnforced:
		return true
	case WindowNotEnforced:
		return false
	}
	return c.ServiceWindow
}
