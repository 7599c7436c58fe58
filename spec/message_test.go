package spec

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/provider/drivers"
	"github.com/wacamp/wacamp/templates"
)

var messageEnv = map[string]string{
	"BOTSAILOR_API_TOKEN": "b-SECRET", "SOBOT_KEY": "k-SECRET", "SOBOT_SECRET": "s-SECRET",
	"SOBOT_HOOK": "h-SECRET", "WAAPI_TOKEN": "w-SECRET", "LONGITUDE": "151.2093",
}

// Every message kind decodes from YAML into the templates.Message it
// stands for, in broadcasts and in sequence steps.
func TestLoadMessageKinds(t *testing.T) {
	t.Parallel()
	b, err := Load("testdata/messages/good.yaml", testEnv(messageEnv), drivers.Catalog{})
	require.NoError(t, err)

	got := make(map[string]templates.Message)
	for _, bc := range b.Broadcasts {
		got[bc.Name] = bc.Message
	}
	require.Equal(t, map[string]templates.Message{
		"sticker": {Kind: templates.KindMedia, Media: &templates.Media{
			URL: "https://cdn.example.com/{{order}}.webp", Type: "sticker", MimeType: "image/webp",
		}},
		"invoice": {Kind: templates.KindMedia, Media: &templates.Media{
			URL: "https://cdn.example.com/invoices/{{order}}.pdf", Type: "document", MimeType: "application/pdf",
			Filename: "Invoice {{order}}.pdf", Caption: "Your invoice, {{name}}",
		}},
		"pin": {Kind: templates.KindLocation, Location: &templates.Location{
			Latitude: 52.52, Longitude: 13, Name: "Shop {{shop}}", Address: "Street 1",
		}},
		"pin-strings": {Kind: templates.KindLocation, Location: &templates.Location{
			Latitude: -33.8688, Longitude: 151.2093,
		}},
		"rsvp": {Kind: templates.KindButtons, Buttons: &templates.Buttons{
			Text: "Hi {{name}}, coming?", Header: "Party", Footer: "Reply below",
			Buttons: []templates.Button{
				{Type: "reply", Title: "Yes"},
				{Type: "url", Title: "Shop", Payload: "https://shop.example.com/{{order}}"},
				{Type: "call", Title: "Call", Payload: "+4930123"},
			},
		}},
		"menu": {Kind: templates.KindList, List: &templates.List{
			Text: "What would you like, {{name}}?", Button: "Menu", Header: "Cakes", Footer: "Fresh daily",
			Sections: []templates.ListSection{
				{Title: "Cakes", Rows: []templates.ListRow{
					{ID: "c1", Title: "Cheesecake", Description: "With berries"},
					{ID: "c2", Title: "Brownie"},
				}},
				{Title: "Drinks", Rows: []templates.ListRow{{ID: "7", Title: "Coffee"}}},
			},
		}},
		"order-update": {Kind: templates.KindTemplate, Template: &templates.Template{
			Name: "order_update", Language: "en_US",
			Vars: []templates.TemplateVar{
				{Name: "1", Index: 1, Value: "{{order}}"},
				{Name: "2", Index: 2, Value: "Approved"},
			},
			Header: &templates.Media{Type: "image", URL: "https://cdn.example.com/h.jpg"},
			Buttons: []templates.TemplateButton{
				{Index: 0, SubType: "url", Value: "{{order}}"},
				{Index: 1, SubType: "quick_reply", Value: "STOP"},
			},
		}},
		"by-id": {Kind: templates.KindTemplate, Template: &templates.Template{
			ID: "313823", Vars: []templates.TemplateVar{{Name: "name", Index: 1, Value: "{{name}}"}},
		}},
	}, got)

	require.Len(t, b.Sequences, 1)
	steps := b.Sequences[0].Steps
	require.Len(t, steps, 2)
	require.Equal(t, templates.Message{Kind: templates.KindLocation, Location: &templates.Location{
		Latitude: 48.1374, Longitude: 11.5755, Name: "Marienplatz",
	}}, steps[0].Message)
	require.Equal(t, time.Hour, steps[1].After)
	require.Equal(t, templates.Message{Kind: templates.KindList, List: &templates.List{
		Text: "Rate us", Button: "Rate", Sections: []templates.ListSection{{Rows: []templates.ListRow{
			{ID: "good", Title: "Good"}, {ID: "bad", Title: "Bad"},
		}}},
	}}, steps[1].Message)
}

// Each problem of the new kinds is reported once, at the line of the
// offending field; a value that could not be read is not also reported as
// empty or as a duplicate.
func TestLoadMessageKindProblems(t *testing.T) {
	t.Parallel()
	_, err := Load("testdata/messages/bad.yaml", testEnv(messageEnv), drivers.Catalog{})
	p := "testdata/messages/bad.yaml"
	require.Equal(t, []string{
		p + `:16: broadcasts[0].message.media.caption: sticker cannot have a caption`,
		p + `:17: broadcasts[0].message.media.mime_type: "webp" is not a MIME type such as image/jpeg`,
		p + `:18: broadcasts[0].message.media.filename: only a document has a filename`,
		p + `:19: broadcasts[0].message.media.size: unknown key`,
		p + `:25: broadcasts[1].message.location.latitude: must be a number such as 52.52, got "north"`,
		p + `:26: broadcasts[1].message.location.longitude: expected a number such as 13.405, got a list`,
		p + `:27: broadcasts[1].message.location.zoom: unknown key`,
		p + `:32: broadcasts[2].message.location.latitude: must be from -90 to 90, got 91`,
		p + `:32: broadcasts[2].message.location.longitude: must be from -180 to 180, got -180.5`,
		p + `:37: broadcasts[3].message.location.latitude: is required, e.g. 52.52`,
		p + `:37: broadcasts[3].message.location.longitude: is required, e.g. 13.405`,
		p + `:44: broadcasts[4].message.buttons.text: is empty`,
		p + `:45: broadcasts[4].message.buttons.footer: has 61 characters; at most 60 are allowed`,
		p + `:46: broadcasts[4].message.buttons.buttons: has 5 buttons; 1 to 3 are allowed`,
		p + `:47: broadcasts[4].message.buttons.buttons[0].payload: a reply button has no payload`,
		p + `:48: broadcasts[4].message.buttons.buttons[1].title: "Yes" is used twice (also buttons.buttons[0]); titles must be unique`,
		p + `:48: broadcasts[4].message.buttons.buttons[1].payload: "shop.example.com" is not an http(s) URL`,
		p + `:49: broadcasts[4].message.buttons.buttons[2].title: has 22 characters; at most 20 are allowed`,
		p + `:49: broadcasts[4].message.buttons.buttons[2].payload: "030 123" is not a phone number: only digits with an optional leading +`,
		p + `:50: broadcasts[4].message.buttons.buttons[3].type: "sms" must be one of reply, url, call`,
		p + `:51: broadcasts[4].message.buttons.buttons[4]: expected a mapping, got "hello"`,
		p + `:56: broadcasts[5].message.list.button: is empty`,
		p + `:59: broadcasts[5].message.list.sections[0].title: is required when a list has more than one section`,
		p + `:60: broadcasts[5].message.list.sections[0].rows[0].descripton: unknown key (did you mean "description"?)`,
		p + `:61: broadcasts[5].message.list.sections[0].rows[1].id: "c1" is used twice (also list.sections[0].rows[0]); row ids must be unique`,
		p + `:61: broadcasts[5].message.list.sections[0].rows[1].title: is empty`,
		p + `:63: broadcasts[5].message.list.sections[1].rows: a section needs at least one row`,
		p + `:65: broadcasts[5].message.list.sections[2].rows: expected a list, got a mapping`,
		p + `:72: broadcasts[6].message.template.name: a template has either an id (BotSailor family) or a name and language (Sobot), not both`,
		p + `:73: broadcasts[6].message.template.header.caption: unknown key`,
		p + `:73: broadcasts[6].message.template.header.url: "ftp://x/a.ogg" is not an http(s) URL`,
		p + `:73: broadcasts[6].message.template.header.type: must be one of image, video, document`,
		p + `:75: broadcasts[6].message.template.buttons[0].index: must be from 0 to 9 (the button's position in the template), got 12`,
		p + `:75: broadcasts[6].message.template.buttons[0].sub_type: "copy" must be one of url, quick_reply`,
		p + `:75: broadcasts[6].message.template.buttons[0].value: is empty`,
		p + `:76: broadcasts[6].message.template.buttons[1].index: is required: the button's position among the template's buttons, from 0`,
		p + `:77: broadcasts[6].message.template.buttons[2].index: must be a whole number, got "one"`,
		p + `:78: broadcasts[6].message.template.buttons[3].value: "{{" at character 1 is not closed with "}}"`,
		p + `:85: sequences[0].steps[0].message.location.longitude: must be a number such as 13.405, got "1,5"`,
		p + `:88: sequences[0].steps[1].message.buttons.buttons: has 0 buttons; 1 to 3 are allowed`,
	}, problemLines(t, err))
	require.NotContains(t, err.Error(), "SECRET")
}

// New fields are rendered for every recipient and checked again, and their
// placeholders must have values; both are reported at the field's line.
func TestLoadMessageKindsRendered(t *testing.T) {
	t.Parallel()
	_, err := Load("testdata/messages/render.yaml", testEnv(messageEnv), drivers.Catalog{})
	p := "testdata/messages/render.yaml"
	require.Equal(t, []string{
		p + `:20: broadcasts[0].message.buttons.buttons[0].title: after rendering for recipient 4915112345679 (` + p + `:14): has 26 characters; at most 20 are allowed`,
		p + `:21: broadcasts[0].message.buttons.buttons[1].payload: {{code}} has no value for recipient 4915112345670 (` + p + `:15)`,
		p + `:31: broadcasts[1].message.location.address: {{street}} has no value for recipient 4915112345678 (` + p + `:26)`,
	}, problemLines(t, err))
}

// A message with two of the new kinds, or none, is refused, naming all
// kinds.
func TestLoadMessageNeedsOneKind(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "two.yaml")
	require.NoError(t, os.WriteFile(path, []byte(`accounts:
  - name: session
    provider: waapi
    base_url: https://waapi.example.com/api
    api_token: ${WAAPI_TOKEN}
    session_id: s1
    webhook_secret: ${WAAPI_TOKEN}
broadcasts:
  - name: two
    account: session
    audience: {recipients: [{phone: "+4915112345678"}]}
    message:
      location: {latitude: 1, longitude: 2}
      list: {text: t, button: b, sections: [{rows: [{id: a, title: A}]}]}
  - name: none
    account: session
    audience: {recipients: [{phone: "+4915112345678"}]}
    message: {buttons: null}
`), 0o600))
	_, err := Load(path, testEnv(messageEnv), drivers.Catalog{})
	require.Equal(t, []string{
		path + ":13: broadcasts[0].message: has location and list; a message has exactly one of text, media, template, bot_flow, location, buttons, list",
		path + ":18: broadcasts[1].message: needs exactly one of text, media, template, bot_flow, location, buttons, list",
	}, problemLines(t, err))
}
