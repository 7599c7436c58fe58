package templates

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMessageValidate(t *testing.T) {
	t.Parallel()
	long := func(n int) string { return strings.Repeat("é", n) }
	tests := []struct {
		name string
		msg  Message
		want []string // FieldError texts, in order; nil = valid
	}{
		{"TextOK", Message{Kind: KindText, Text: "Hi {{name}}"}, nil},
		{"TextAtLimit", Message{Kind: KindText, Text: long(MaxTextLen)}, nil},
		{"TextEmpty", Message{Kind: KindText, Text: "  "}, []string{"text: is empty"}},
		{"TextTooLong", Message{Kind: KindText, Text: long(MaxTextLen + 1)},
			[]string{"text: has 4097 characters; at most 4096 are allowed"}},
		{"TextUnclosed", Message{Kind: KindText, Text: "Hi {{name"},
			[]string{`text: "{{" at character 4 is not closed with "}}"`}},
		{"NoKind", Message{}, []string{"kind: is empty; one of text, media, template, bot_flow, location, buttons, list is required"}},
		{"UnknownKind", Message{Kind: "sms"}, []string{`kind: unknown kind "sms"; one of text, media, template, bot_flow, location, buttons, list is required`}},
		{"TwoKinds", Message{Kind: KindText, Text: "hi", BotFlow: "F1"},
			[]string{"bot_flow: must not be set on a text message; a message has exactly one kind"}},
		{"KindWithoutContent", Message{Kind: KindMedia, Text: "hi"}, []string{
			"text: must not be set on a media message; a message has exactly one kind",
			"media: is required",
		}},
		{"MediaOK", Message{Kind: KindMedia, Media: &Media{URL: "https://cdn.example.com/{{code}}.jpg", Type: "image", Caption: "Hi {{name}}"}}, nil},
		{"MediaHTTP", Message{Kind: KindMedia, Media: &Media{URL: "http://example.com/a.pdf", Type: "document"}}, nil},
		{"MediaAllWrong", Message{Kind: KindMedia, Media: &Media{URL: "ftp://x/a.jpg", Type: "gif", Caption: long(MaxCaptionLen + 1)}}, []string{
			`media.url: "ftp://x/a.jpg" is not an http(s) URL`,
			"media.type: must be one of image, video, audio, document, sticker",
			"media.caption: has 1025 characters; at most 1024 are allowed",
		}},
		{"MediaMissing", Message{Kind: KindMedia, Media: &Media{}}, []string{
			"media.url: is required",
			"media.type: is required; one of image, video, audio, document, sticker",
		}},
		{"MediaURLIsPlaceholder", Message{Kind: KindMedia, Media: &Media{URL: "{{url}}", Type: "image"}},
			[]string{`media.url: "{{url}}" is not an http(s) URL`}},
		{"MediaNoHost", Message{Kind: KindMedia, Media: &Media{URL: "https:///a.jpg", Type: "image"}},
			[]string{`media.url: "https:///a.jpg" is not an http(s) URL`}},
		{"AudioCaption", Message{Kind: KindMedia, Media: &Media{URL: "https://x.io/a.ogg", Type: "audio", Caption: "listen"}},
			[]string{"media.caption: audio cannot have a caption"}},
		{"MediaCaptionMalformed", Message{Kind: KindMedia, Media: &Media{URL: "https://x.io/a.jpg", Type: "image", Caption: "{{ }}"}},
			[]string{`media.caption: malformed placeholder "{{ }}": a name starts with a letter or _ and has only letters, digits, _ . -`}},
		{"TemplateOK", Message{Kind: KindTemplate, Template: &Template{ID: "313823", Vars: []TemplateVar{
			{Name: "name", Index: 1, Value: "{{name}}"}, {Name: "name", Index: 2, Value: "x"},
		}}}, nil},
		{"TemplateNoVars", Message{Kind: KindTemplate, Template: &Template{ID: "1"}}, nil},
		{"TemplateMissing", Message{Kind: KindTemplate}, []string{"template: is required"}},
		{"TemplateBad", Message{Kind: KindTemplate, Template: &Template{Vars: []TemplateVar{
			{Name: "", Index: 0, Value: "{{x"},
			{Name: "code", Index: 2},
			{Name: "code", Index: 2},
		}}}, []string{
			"template.id: is empty; set id (BotSailor family), or name and language (Sobot)",
			"template.vars[0].name: is empty",
			"template.vars[0].index: must be 1 or more, got 0",
			"template.vars[2]: code-2 is set twice (also template.vars[1])",
			`template.vars[0].value: "{{" at character 1 is not closed with "}}"`,
		}},
		{"BotFlowOK", Message{Kind: KindBotFlow, BotFlow: "FLOW-1"}, nil},
		{"BotFlowEmpty", Message{Kind: KindBotFlow}, []string{"bot_flow: is empty"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.msg.Validate()
			if tt.want == nil {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			var got []string
			for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
				var fe *FieldError
				require.True(t, errors.As(e, &fe), "%T is not a *FieldError", e)
				got = append(got, fe.Error())
			}
			require.Equal(t, tt.want, got)
			require.Equal(t, strings.Join(tt.want, "\n"), err.Error())
		})
	}
}

func TestFieldErrorWithoutField(t *testing.T) {
	t.Parallel()
	require.Equal(t, "bad", (&FieldError{Msg: "bad"}).Error())
	require.Equal(t, "text: bad", (&FieldError{Field: "text", Msg: "bad"}).Error())
}

// validateCase is a Message and the FieldError texts Validate must give, in
// order; nil = valid.
type validateCase struct {
	name string
	msg  Message
	want []string
}

func runValidateCases(t *testing.T, tests []validateCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.msg.Validate()
			if tt.want == nil {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			var got []string
			for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
				var fe *FieldError
				require.True(t, errors.As(e, &fe), "%T is not a *FieldError", e)
				got = append(got, fe.Error())
			}
			require.Equal(t, tt.want, got)
		})
	}
}

func TestValidateOneKind(t *testing.T) {
	t.Parallel()
	loc := &Location{Latitude: 1, Longitude: 2}
	btns := &Buttons{Text: "t", Buttons: []Button{{Type: "reply", Title: "Yes"}}}
	list := &List{Text: "t", Button: "Menu", Sections: []ListSection{{Rows: []ListRow{{ID: "a", Title: "A"}}}}}
	runValidateCases(t, []validateCase{
		{"LocationWithText", Message{Kind: KindLocation, Location: loc, Text: "x"},
			[]string{"text: must not be set on a location message; a message has exactly one kind"}},
		{"TextWithLocation", Message{Kind: KindText, Text: "x", Location: loc},
			[]string{"location: must not be set on a text message; a message has exactly one kind"}},
		{"TextWithButtons", Message{Kind: KindText, Text: "x", Buttons: btns},
			[]string{"buttons: must not be set on a text message; a message has exactly one kind"}},
		{"ButtonsWithList", Message{Kind: KindButtons, Buttons: btns, List: list},
			[]string{"list: must not be set on a buttons message; a message has exactly one kind"}},
		{"LocationMissing", Message{Kind: KindLocation}, []string{"location: is required"}},
		{"ButtonsMissing", Message{Kind: KindButtons}, []string{"buttons: is required"}},
		{"ListMissing", Message{Kind: KindList}, []string{"list: is required"}},
	})
}

func TestValidateMedia(t *testing.T) {
	t.Parallel()
	media := func(typ string, f func(*Media)) Message {
		m := &Media{URL: "https://cdn.example.com/a", Type: typ}
		if f != nil {
			f(m)
		}
		return Message{Kind: KindMedia, Media: m}
	}
	runValidateCases(t, []validateCase{
		{"Sticker", media("sticker", func(m *Media) { m.MimeType = "image/webp" }), nil},
		{"StickerCaption", media("sticker", func(m *Media) { m.Caption = "hi" }),
			[]string{"media.caption: sticker cannot have a caption"}},
		{"StickerNotWebp", media("sticker", func(m *Media) { m.MimeType = "image/png" }),
			[]string{`media.mime_type: "image/png" does not fit type sticker; stickers are image/webp`}},
		{"MimeOK", media("image", func(m *Media) { m.MimeType = "image/jpeg" }), nil},
		{"MimeWithParams", media("audio", func(m *Media) { m.MimeType = "audio/ogg; codecs=opus" }), nil},
		{"MimeAnyForDocument", media("document", func(m *Media) { m.MimeType = "application/pdf" }), nil},
		{"MimeNoSlash", media("image", func(m *Media) { m.MimeType = "jpeg" }),
			[]string{`media.mime_type: "jpeg" is not a MIME type such as image/jpeg`}},
		{"MimeEmptySubtype", media("document", func(m *Media) { m.MimeType = "application/" }),
			[]string{`media.mime_type: "application/" is not a MIME type such as image/jpeg`}},
		{"MimeTwoSlashes", media("document", func(m *Media) { m.MimeType = "a/b/c" }),
			[]string{`media.mime_type: "a/b/c" is not a MIME type such as image/jpeg`}},
		{"MimeSpace", media("document", func(m *Media) { m.MimeType = "application/x pdf" }),
			[]string{`media.mime_type: "application/x pdf" is not a MIME type such as image/jpeg`}},
		{"MimeWrongTop", media("video", func(m *Media) { m.MimeType = "image/jpeg" }),
			[]string{`media.mime_type: "image/jpeg" does not fit type video; use video/…`}},
		{"DocumentFilename", media("document", func(m *Media) { m.Filename = "{{code}}.pdf" }), nil},
		{"ImageFilename", media("image", func(m *Media) { m.Filename = "a.jpg" }),
			[]string{"media.filename: only a document has a filename"}},
		{"FilenameMalformed", media("document", func(m *Media) { m.Filename = "{{code.pdf" }),
			[]string{`media.filename: "{{" at character 1 is not closed with "}}"`}},
	})
}

func TestValidateTemplate(t *testing.T) {
	t.Parallel()
	tmpl := func(f func(*Template)) Message {
		tp := &Template{Name: "order_update", Language: "en_US"}
		f(tp)
		return Message{Kind: KindTemplate, Template: tp}
	}
	hdr := func(typ, url string) *Media { return &Media{Type: typ, URL: url} }
	runValidateCases(t, []validateCase{
		{"NameLanguage", tmpl(func(*Template) {}), nil},
		{"NameShortLanguage", tmpl(func(tp *Template) { tp.Language = "de" }), nil},
		{"IDOnly", tmpl(func(tp *Template) { tp.Name, tp.Language, tp.ID = "", "", "313823" }), nil},
		{"IDAndName", tmpl(func(tp *Template) { tp.ID = "313823" }), []string{
			"template.name: a template has either an id (BotSailor family) or a name and language (Sobot), not both",
		}},
		{"NameWithoutLanguage", tmpl(func(tp *Template) { tp.Language = " " }), []string{
			"template.language: is required with name, e.g. en or en_US",
		}},
		{"IDWithLanguage", tmpl(func(tp *Template) { tp.Name, tp.ID = "", "1" }),
			[]string{"template.language: only goes with name; a template with an id has no language"}},
		{"Neither", Message{Kind: KindTemplate, Template: &Template{}},
			[]string{"template.id: is empty; set id (BotSailor family), or name and language (Sobot)"}},
		{"LanguageOnly", tmpl(func(tp *Template) { tp.Name = "" }),
			[]string{"template.id: is empty; set id (BotSailor family), or name and language (Sobot)"}},
		{"BadLanguage", tmpl(func(tp *Template) { tp.Language = "English" }),
			[]string{`template.language: "English" is not a language code such as en or en_US`}},
		{"VarsWithName", tmpl(func(tp *Template) {
			tp.Vars = []TemplateVar{{Name: "1", Index: 1, Value: "{{order}}"}, {Name: "2", Index: 2, Value: "ok"}}
		}), nil},
		{"HeaderOK", tmpl(func(tp *Template) { tp.Header = hdr("image", "https://x.io/{{code}}.jpg") }), nil},
		{"HeaderDocument", tmpl(func(tp *Template) {
			tp.Header = &Media{Type: "document", URL: "https://x.io/a.pdf", Filename: "Invoice {{code}}.pdf", MimeType: "application/pdf"}
		}), nil},
		{"HeaderAllWrong", tmpl(func(tp *Template) {
			tp.Header = &Media{Type: "audio", URL: "x.io/a", Caption: "c", MimeType: "nope", Filename: "a.ogg"}
		}), []string{
			`template.header.url: "x.io/a" is not an http(s) URL`,
			"template.header.type: must be one of image, video, document",
			"template.header.caption: a template header has no caption",
			`template.header.mime_type: "nope" is not a MIME type such as image/jpeg`,
			"template.header.filename: only a document has a filename",
		}},
		{"HeaderEmpty", tmpl(func(tp *Template) { tp.Header = &Media{} }), []string{
			"template.header.url: is required",
			"template.header.type: is required; one of image, video, document",
		}},
		{"HeaderSticker", tmpl(func(tp *Template) { tp.Header = hdr("sticker", "https://x.io/a.webp") }),
			[]string{"template.header.type: must be one of image, video, document"}},
		{"HeaderURLMalformed", tmpl(func(tp *Template) { tp.Header = hdr("image", "https://x.io/{{a b}}") }),
			[]string{`template.header.url: malformed placeholder "{{a b}}": a name starts with a letter or _ and has only letters, digits, _ . -`}},
		{"ButtonsOK", tmpl(func(tp *Template) {
			tp.Buttons = []TemplateButton{{Index: 0, SubType: "url", Value: "{{order}}"}, {Index: 9, SubType: "quick_reply", Value: "STOP"}}
		}), nil},
		{"ButtonsBad", tmpl(func(tp *Template) {
			tp.Buttons = []TemplateButton{
				{Index: -1, SubType: "url", Value: "a"},
				{Index: 10, SubType: "call", Value: ""},
				{Index: 2, SubType: "", Value: "x"},
				{Index: 2, SubType: "quick_reply", Value: "{{x"},
			}
		}), []string{
			"template.buttons[0].index: must be from 0 to 9 (the button's position in the template), got -1",
			"template.buttons[1].index: must be from 0 to 9 (the button's position in the template), got 10",
			`template.buttons[1].sub_type: "call" must be one of url, quick_reply`,
			"template.buttons[1].value: is empty",
			"template.buttons[2].sub_type: is required; one of url, quick_reply",
			"template.buttons[3].index: button 2 is set twice (also template.buttons[2])",
			`template.buttons[3].value: "{{" at character 1 is not closed with "}}"`,
		}},
	})
}

func TestValidateLocation(t *testing.T) {
	t.Parallel()
	loc := func(lat, lon float64) Message {
		return Message{Kind: KindLocation, Location: &Location{Latitude: lat, Longitude: lon}}
	}
	nan := func() float64 { var z float64; return z / z }()
	runValidateCases(t, []validateCase{
		{"OK", Message{Kind: KindLocation, Location: &Location{Latitude: 52.52, Longitude: 13.405, Name: "{{shop}}", Address: "Street 1"}}, nil},
		{"Zero", loc(0, 0), nil},
		{"Corners", loc(-90, 180), nil},
		{"Corners2", loc(90, -180), nil},
		{"LatTooBig", loc(90.0001, 0), []string{"location.latitude: must be from -90 to 90, got 90.0001"}},
		{"LatTooSmall", loc(-91, 0), []string{"location.latitude: must be from -90 to 90, got -91"}},
		{"LonOut", loc(0, 180.5), []string{"location.longitude: must be from -180 to 180, got 180.5"}},
		{"LonOutNeg", loc(0, -181), []string{"location.longitude: must be from -180 to 180, got -181"}},
		{"NaN", loc(nan, nan), []string{
			"location.latitude: must be from -90 to 90, got NaN",
			"location.longitude: must be from -180 to 180, got NaN",
		}},
		{"NameMalformed", Message{Kind: KindLocation, Location: &Location{Name: "{{", Address: "{{1}}"}}, []string{
			`location.name: "{{" at character 1 is not closed with "}}"`,
			`location.address: malformed placeholder "{{1}}": a name starts with a letter or _ and has only letters, digits, _ . -`,
		}},
	})
}

func TestValidateButtons(t *testing.T) {
	t.Parallel()
	long := func(n int) string { return strings.Repeat("é", n) }
	btns := func(b ...Button) Message {
		return Message{Kind: KindButtons, Buttons: &Buttons{Text: "Coming, {{name}}?", Buttons: b}}
	}
	runValidateCases(t, []validateCase{
		{"OK", Message{Kind: KindButtons, Buttons: &Buttons{
			Text: "Hi {{name}}", Header: long(MaxHeaderLen), Footer: long(MaxFooterLen),
			Buttons: []Button{
				{Type: "reply", Title: long(MaxButtonTitleLen)},
				{Type: "url", Title: "Shop", Payload: "https://shop.example.com/{{code}}"},
				{Type: "call", Title: "Call", Payload: "+4930123"},
			},
		}}, nil},
		{"CallPlaceholder", btns(Button{Type: "call", Title: "Call", Payload: "+{{phone}}"}), nil},
		{"CallDigitsOnly", btns(Button{Type: "call", Title: "Call", Payload: "4930123"}), nil},
		{"Empty", Message{Kind: KindButtons, Buttons: &Buttons{}}, []string{
			"buttons.text: is empty",
			"buttons.buttons: has 0 buttons; 1 to 3 are allowed",
		}},
		{"TooMany", btns(
			Button{Type: "reply", Title: "a"}, Button{Type: "reply", Title: "b"},
			Button{Type: "reply", Title: "c"}, Button{Type: "reply", Title: "d"},
		), []string{"buttons.buttons: has 4 buttons; 1 to 3 are allowed"}},
		{"Lengths", Message{Kind: KindButtons, Buttons: &Buttons{
			Text: long(MaxInteractiveTextLen + 1), Header: long(MaxHeaderLen + 1), Footer: long(MaxFooterLen + 1),
			Buttons: []Button{{Type: "reply", Title: long(MaxButtonTitleLen + 1)}},
		}}, []string{
			"buttons.text: has 1025 characters; at most 1024 are allowed",
			"buttons.header: has 61 characters; at most 60 are allowed",
			"buttons.footer: has 61 characters; at most 60 are allowed",
			"buttons.buttons[0].title: has 21 characters; at most 20 are allowed",
		}},
		{"EachWrong", btns(
			Button{Type: "reply", Title: " ", Payload: "x"},
			Button{Type: "url", Title: "Yes", Payload: "shop.example.com"},
			Button{Type: "call", Title: "Yes", Payload: "030 123"},
		), []string{
			"buttons.buttons[0].title: is empty",
			"buttons.buttons[0].payload: a reply button has no payload",
			`buttons.buttons[1].payload: "shop.example.com" is not an http(s) URL`,
			`buttons.buttons[2].title: "Yes" is used twice (also buttons.buttons[1]); titles must be unique`,
			`buttons.buttons[2].payload: "030 123" is not a phone number: only digits with an optional leading +`,
		}},
		{"MissingPayloadsAndTypes", btns(
			Button{Type: "url", Title: "a"},
			Button{Type: "call", Title: "b"},
			Button{Title: "c"},
		), []string{
			"buttons.buttons[0].payload: is required",
			"buttons.buttons[1].payload: is required (the phone number to call)",
			"buttons.buttons[2].type: is required; one of reply, url, call",
		}},
		{"UnknownType", btns(Button{Type: "copy", Title: "a"}),
			[]string{`buttons.buttons[0].type: "copy" must be one of reply, url, call`}},
		{"PlusOnly", btns(Button{Type: "call", Title: "a", Payload: "+"}),
			[]string{`buttons.buttons[0].payload: "+" is not a phone number: only digits with an optional leading +`}},
		{"Malformed", Message{Kind: KindButtons, Buttons: &Buttons{
			Text: "{{", Header: "{{ }}", Footer: "{{1}}",
			Buttons: []Button{{Type: "url", Title: "{{t", Payload: "https://x.io/{{p"}},
		}}, []string{
			`buttons.text: "{{" at character 1 is not closed with "}}"`,
			`buttons.header: malformed placeholder "{{ }}": a name starts with a letter or _ and has only letters, digits, _ . -`,
			`buttons.footer: malformed placeholder "{{1}}": a name starts with a letter or _ and has only letters, digits, _ . -`,
			`buttons.buttons[0].title: "{{" at character 1 is not closed with "}}"`,
			`buttons.buttons[0].payload: "{{" at character 14 is not closed with "}}"`,
		}},
	})
}

func TestValidateList(t *testing.T) {
	t.Parallel()
	long := func(n int) string { return strings.Repeat("é", n) }
	rows := func(prefix string, n int) []ListRow {
		var r []ListRow
		for i := range n {
			r = append(r, ListRow{ID: prefix + strings.Repeat("i", i+1), Title: "t"})
		}
		return r
	}
	list := func(sections ...ListSection) Message {
		return Message{Kind: KindList, List: &List{Text: "Pick, {{name}}", Button: "Menu", Sections: sections}}
	}
	runValidateCases(t, []validateCase{
		{"OK", Message{Kind: KindList, List: &List{
			Text: "Hi {{name}}", Header: long(MaxHeaderLen), Footer: long(MaxFooterLen), Button: long(MaxButtonTitleLen),
			Sections: []ListSection{
				{Title: long(MaxSectionTitleLen), Rows: []ListRow{{ID: "c1", Title: long(MaxRowTitleLen), Description: long(MaxRowDescriptionLen)}}},
				{Title: "Pies", Rows: rows("p", 9)},
			},
		}}, nil},
		{"OneSectionNoTitle", list(ListSection{Rows: rows("a", 10)}), nil},
		{"Empty", Message{Kind: KindList, List: &List{}}, []string{
			"list.text: is empty",
			"list.button: is empty",
			"list.sections: has 0 sections; 1 to 10 are allowed",
		}},
		{"Lengths", Message{Kind: KindList, List: &List{
			Text: long(MaxInteractiveTextLen + 1), Header: long(MaxHeaderLen + 1), Footer: long(MaxFooterLen + 1),
			Button: long(MaxButtonTitleLen + 1),
			Sections: []ListSection{{Title: long(MaxSectionTitleLen + 1), Rows: []ListRow{
				{ID: long(MaxRowIDLen + 1), Title: long(MaxRowTitleLen + 1), Description: long(MaxRowDescriptionLen + 1)},
			}}},
		}}, []string{
			"list.text: has 1025 characters; at most 1024 are allowed",
			"list.header: has 61 characters; at most 60 are allowed",
			"list.footer: has 61 characters; at most 60 are allowed",
			"list.button: has 21 characters; at most 20 are allowed",
			"list.sections[0].title: has 25 characters; at most 24 are allowed",
			"list.sections[0].rows[0].id: has 201 characters; at most 200 are allowed",
			"list.sections[0].rows[0].title: has 25 characters; at most 24 are allowed",
			"list.sections[0].rows[0].description: has 73 characters; at most 72 are allowed",
		}},
		{"TooManyRows", list(ListSection{Title: "a", Rows: rows("a", 6)}, ListSection{Title: "b", Rows: rows("b", 5)}),
			[]string{"list.sections: have 11 rows in all; at most 10 are allowed"}},
		{"TooManySections", list(
			ListSection{Title: "1", Rows: rows("a", 1)}, ListSection{Title: "2", Rows: rows("b", 1)},
			ListSection{Title: "3", Rows: rows("c", 1)}, ListSection{Title: "4", Rows: rows("d", 1)},
			ListSection{Title: "5", Rows: rows("e", 1)}, ListSection{Title: "6", Rows: rows("f", 1)},
			ListSection{Title: "7", Rows: rows("g", 1)}, ListSection{Title: "8", Rows: rows("h", 1)},
			ListSection{Title: "9", Rows: rows("i", 1)}, ListSection{Title: "10", Rows: rows("j", 1)},
			ListSection{Title: "11", Rows: rows("k", 1)},
		), []string{
			"list.sections: has 11 sections; 1 to 10 are allowed",
			"list.sections: have 11 rows in all; at most 10 are allowed",
		}},
		{"SectionProblems", list(
			ListSection{Rows: []ListRow{{ID: "x", Title: "X"}, {ID: " ", Title: ""}}},
			ListSection{Title: "B"},
			ListSection{Title: "C", Rows: []ListRow{{ID: "x", Title: "Y"}}},
		), []string{
			"list.sections[0].title: is required when a list has more than one section",
			"list.sections[0].rows[1].id: is empty",
			"list.sections[0].rows[1].title: is empty",
			"list.sections[1].rows: a section needs at least one row",
			`list.sections[2].rows[0].id: "x" is used twice (also list.sections[0].rows[0]); row ids must be unique`,
		}},
		{"Malformed", Message{Kind: KindList, List: &List{
			Text: "t", Header: "{{h", Footer: "{{f", Button: "{{b",
			Sections: []ListSection{{Title: "{{s", Rows: []ListRow{{ID: "{{not-templated", Title: "{{t", Description: "{{d"}}}},
		}}, []string{
			`list.header: "{{" at character 1 is not closed with "}}"`,
			`list.footer: "{{" at character 1 is not closed with "}}"`,
			`list.button: "{{" at character 1 is not closed with "}}"`,
			`list.sections[0].title: "{{" at character 1 is not closed with "}}"`,
			`list.sections[0].rows[0].title: "{{" at character 1 is not closed with "}}"`,
			`list.sections[0].rows[0].description: "{{" at character 1 is not closed with "}}"`,
		}},
	})
}

// A template's variables are bounded before any per-variable work: a
// campaign file with 100,000 of them once took validate 24 s.
func TestTemplateVarsAreBounded(t *testing.T) {
	msg := func(n int) Message {
		vars := make([]TemplateVar, n)
		for i := range vars {
			vars[i] = TemplateVar{Name: "body", Index: i + 1, Value: fmt.Sprintf("{{v%d}}", i)}
		}
		return Message{Kind: KindTemplate, Template: &Template{ID: "313823", Vars: vars}}
	}
	require.NoError(t, msg(MaxTemplateVars).Validate())
	err := msg(100_000).Validate()
	require.ErrorContains(t, err, "template.vars: has 100000 variables; a template takes at most 250")
	// Listing the placeholders of a huge message is linear (it was
	// quadratic): every one, once, in order.
	names := msg(100_000).Variables()
	require.Len(t, names, 100_000)
	require.Equal(t, "v99999", names[len(names)-1])
}

// One field with 100,000 different placeholders (a template variable's
// value has no length limit) is listed in linear time, it was quadratic:
// validate of such a campaign file took 24 s, now 0.2 s. A message takes
// at most MaxVariables of them, so checking every recipient against them
// stays bounded too.
func TestPlaceholdersAreBounded(t *testing.T) {
	var b strings.Builder
	for i := range 100_000 {
		fmt.Fprintf(&b, "{{v%d}} {{v%d}}", i, i)
	}
	names := Placeholders(b.String())
	require.Len(t, names, 100_000)
	require.Equal(t, "v99999", names[len(names)-1])

	msg := func(n int) Message {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, "{{v%d}}", i)
		}
		return Message{Kind: KindTemplate, Template: &Template{ID: "313823", Vars: []TemplateVar{{Name: "body", Index: 1, Value: b.String()}}}}
	}
	require.NoError(t, msg(MaxVariables).Validate())
	require.EqualError(t, msg(100_000).Validate(), "uses 100000 different placeholders; a message takes at most 250")
}
