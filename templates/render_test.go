package templates

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMessageVariables(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		msg  Message
		want []string
	}{
		{"None", Message{Kind: KindText, Text: "hi"}, nil},
		{"Text", Message{Kind: KindText, Text: "{{a}} {{b}} {{a}}"}, []string{"a", "b"}},
		{"Media", Message{Kind: KindMedia, Media: &Media{URL: "https://x.io/{{code}}.jpg", Caption: "{{name}} {{code}}"}}, []string{"code", "name"}},
		{"Template", Message{Kind: KindTemplate, Template: &Template{ID: "{{notavar}}", Vars: []TemplateVar{
			{Name: "n", Index: 1, Value: "{{name}}"}, {Name: "c", Index: 2, Value: "{{code}}-{{name}}"},
		}}}, []string{"name", "code"}},
		{"BotFlow", Message{Kind: KindBotFlow, BotFlow: "FLOW-{{lang}}"}, []string{"lang"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, tt.msg.Variables())
		})
	}
}

func TestMessageRender(t *testing.T) {
	t.Parallel()
	vars := map[string]string{"name": "Ann", "code": "BF10", "empty": "", "inject": "{{code}}"}
	tests := []struct {
		name    string
		msg     Message
		want    Message
		missing string // name in the expected *MissingVarError
		wantErr string
	}{
		{
			name: "Text",
			msg:  Message{Kind: KindText, Text: "Hi {{ name }}, code {{code}}."},
			want: Message{Kind: KindText, Text: "Hi Ann, code BF10."},
		},
		{
			name: "EmptyValueIsAValue",
			msg:  Message{Kind: KindText, Text: "[{{empty}}]"},
			want: Message{Kind: KindText, Text: "[]"},
		},
		{
			name: "ValuesNotRescanned",
			msg:  Message{Kind: KindText, Text: "{{inject}}"},
			want: Message{Kind: KindText, Text: "{{code}}"},
		},
		{
			name: "Media",
			msg:  Message{Kind: KindMedia, Media: &Media{URL: "https://x.io/{{code}}.jpg", Type: "image", Caption: "For {{name}}"}},
			want: Message{Kind: KindMedia, Media: &Media{URL: "https://x.io/BF10.jpg", Type: "image", Caption: "For Ann"}},
		},
		{
			name: "Template",
			msg: Message{Kind: KindTemplate, Template: &Template{ID: "313823", Vars: []TemplateVar{
				{Name: "name", Index: 1, Value: "{{name}}"}, {Name: "code", Index: 2, Value: "{{code}}"},
			}}},
			want: Message{Kind: KindTemplate, Template: &Template{ID: "313823", Vars: []TemplateVar{
				{Name: "name", Index: 1, Value: "Ann"}, {Name: "code", Index: 2, Value: "BF10"},
			}}},
		},
		{
			name: "BotFlow",
			msg:  Message{Kind: KindBotFlow, BotFlow: "FLOW-{{code}}"},
			want: Message{Kind: KindBotFlow, BotFlow: "FLOW-BF10"},
		},
		{
			name:    "Missing",
			msg:     Message{Kind: KindText, Text: "Hi {{name}}, {{city}} and {{zip}}"},
			missing: "city",
			wantErr: "text: {{city}} has no value",
		},
		{
			name:    "MissingInTemplate",
			msg:     Message{Kind: KindTemplate, Template: &Template{ID: "1", Vars: []TemplateVar{{Name: "a", Index: 1, Value: "{{zip}}"}}}},
			missing: "zip",
			wantErr: "template.vars[0].value: {{zip}} has no value",
		},
		{
			name:    "Malformed",
			msg:     Message{Kind: KindText, Text: "Hi {{name"},
			wantErr: `text: "{{" at character 4 is not closed with "}}"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.msg.Render(vars)
			if tt.wantErr != "" {
				require.EqualError(t, err, tt.wantErr)
				var mv *MissingVarError
				require.Equal(t, tt.missing != "", errors.As(err, &mv))
				if tt.missing != "" {
					require.Equal(t, tt.missing, mv.Name)
				}
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestMessageRenderDoesNotModifyOriginal(t *testing.T) {
	t.Parallel()
	msg := Message{
		Kind:     KindTemplate,
		Media:    &Media{URL: "https://x.io/{{code}}", Caption: "{{name}}"},
		Template: &Template{ID: "1", Vars: []TemplateVar{{Name: "a", Index: 1, Value: "{{name}}"}}},
	}
	_, err := msg.Render(map[string]string{"name": "Ann", "code": "C"})
	require.NoError(t, err)
	require.Equal(t, "{{name}}", msg.Template.Vars[0].Value)
	require.Equal(t, "{{name}}", msg.Media.Caption)
	require.Equal(t, "https://x.io/{{code}}", msg.Media.URL)
}

func TestMessageTextFields(t *testing.T) {
	t.Parallel()
	msg := Message{
		Kind:     KindTemplate,
		Text:     "t",
		Media:    &Media{URL: "u", Caption: "c"},
		Template: &Template{ID: "id", Vars: []TemplateVar{{Value: "v0"}, {Value: "v1"}}},
		BotFlow:  "b",
	}
	var got []string
	for field, value := range msg.TextFields() {
		got = append(got, field+"="+value)
	}
	require.Equal(t, []string{
		"text=t", "media.url=u", "media.caption=c", "media.filename=",
		"template.vars[0].value=v0", "template.vars[1].value=v1", "bot_flow=b",
	}, got)

	got = nil
	for field := range msg.TextFields() {
		got = append(got, field)
		if len(got) == 2 {
			break
		}
	}
	require.Equal(t, []string{"text", "media.url"}, got)

	got = nil
	for field := range (Message{Kind: KindText, Text: "x"}).TextFields() {
		got = append(got, field)
	}
	require.Equal(t, []string{"text", "bot_flow"}, got)
}

// fullMessage has every templated field of every kind set to a distinct
// placeholder-bearing value (it is not a valid message: it has all kinds).
func fullMessage() Message {
	return Message{
		Kind: KindList,
		Text: "t {{a}}",
		Media: &Media{URL: "https://x.io/{{a}}", Type: "document", Caption: "c {{a}}",
			MimeType: "application/pdf", Filename: "{{a}}.pdf"},
		Template: &Template{
			ID: "id", Name: "n", Language: "en",
			Vars:    []TemplateVar{{Name: "v", Index: 1, Value: "v {{a}}"}},
			Header:  &Media{Type: "document", URL: "https://h.io/{{a}}", Filename: "h {{a}}"},
			Buttons: []TemplateButton{{Index: 0, SubType: "url", Value: "tb {{a}}"}},
		},
		BotFlow:  "F-{{a}}",
		Location: &Location{Latitude: 1.5, Longitude: -2.5, Name: "ln {{a}}", Address: "la {{a}}"},
		Buttons: &Buttons{Text: "bt {{a}}", Header: "bh {{a}}", Footer: "bf {{a}}", Buttons: []Button{
			{Type: "url", Title: "b0 {{a}}", Payload: "https://p.io/{{a}}"},
			{Type: "reply", Title: "b1 {{a}}"},
		}},
		List: &List{Text: "lt {{a}}", Header: "lh {{a}}", Footer: "lf {{a}}", Button: "lb {{a}}", Sections: []ListSection{
			{Title: "s0 {{a}}", Rows: []ListRow{{ID: "r{{a}}", Title: "r0 {{a}}", Description: "d0 {{a}}"}}},
			{Title: "s1 {{a}}", Rows: []ListRow{{ID: "x", Title: "r1 {{a}}"}, {ID: "y", Title: "r2 {{a}}", Description: "d2 {{a}}"}}},
		}},
	}
}

func TestMessageTextFieldsAllKinds(t *testing.T) {
	t.Parallel()
	var got []string
	for field, value := range fullMessage().TextFields() {
		got = append(got, field+"="+value)
	}
	require.Equal(t, []string{
		"text=t {{a}}",
		"media.url=https://x.io/{{a}}", "media.caption=c {{a}}", "media.filename={{a}}.pdf",
		"template.vars[0].value=v {{a}}", "template.header.url=https://h.io/{{a}}", "template.header.filename=h {{a}}",
		"template.buttons[0].value=tb {{a}}",
		"bot_flow=F-{{a}}",
		"location.name=ln {{a}}", "location.address=la {{a}}",
		"buttons.text=bt {{a}}", "buttons.header=bh {{a}}", "buttons.footer=bf {{a}}",
		"buttons.buttons[0].title=b0 {{a}}", "buttons.buttons[0].payload=https://p.io/{{a}}",
		"buttons.buttons[1].title=b1 {{a}}", "buttons.buttons[1].payload=",
		"list.text=lt {{a}}", "list.header=lh {{a}}", "list.footer=lf {{a}}", "list.button=lb {{a}}",
		"list.sections[0].title=s0 {{a}}",
		"list.sections[0].rows[0].title=r0 {{a}}", "list.sections[0].rows[0].description=d0 {{a}}",
		"list.sections[1].title=s1 {{a}}",
		"list.sections[1].rows[0].title=r1 {{a}}", "list.sections[1].rows[0].description=",
		"list.sections[1].rows[1].title=r2 {{a}}", "list.sections[1].rows[1].description=d2 {{a}}",
	}, got)

	got = nil
	for field := range (Message{Kind: KindLocation, Location: &Location{}}).TextFields() {
		got = append(got, field)
	}
	require.Equal(t, []string{"text", "bot_flow", "location.name", "location.address"}, got)
}

func TestMessageRenderAllKinds(t *testing.T) {
	t.Parallel()
	msg := fullMessage()
	out, err := msg.Render(map[string]string{"a": "A"})
	require.NoError(t, err)

	want := fullMessage()
	want.Text = "t A"
	want.Media.URL, want.Media.Caption, want.Media.Filename = "https://x.io/A", "c A", "A.pdf"
	want.Template.Vars[0].Value = "v A"
	want.Template.Header.URL, want.Template.Header.Filename = "https://h.io/A", "h A"
	want.Template.Buttons[0].Value = "tb A"
	want.BotFlow = "F-A"
	want.Location.Name, want.Location.Address = "ln A", "la A"
	want.Buttons.Text, want.Buttons.Header, want.Buttons.Footer = "bt A", "bh A", "bf A"
	want.Buttons.Buttons[0].Title, want.Buttons.Buttons[0].Payload = "b0 A", "https://p.io/A"
	want.Buttons.Buttons[1].Title = "b1 A"
	want.List.Text, want.List.Header, want.List.Footer, want.List.Button = "lt A", "lh A", "lf A", "lb A"
	want.List.Sections[0].Title = "s0 A"
	want.List.Sections[0].Rows[0].Title, want.List.Sections[0].Rows[0].Description = "r0 A", "d0 A"
	want.List.Sections[1].Title = "s1 A"
	want.List.Sections[1].Rows[0].Title = "r1 A"
	want.List.Sections[1].Rows[1].Title, want.List.Sections[1].Rows[1].Description = "r2 A", "d2 A"
	// Not templated: ids, types, MIME types.
	require.Equal(t, "r{{a}}", out.List.Sections[0].Rows[0].ID)
	require.Equal(t, want, out)

	// The original is untouched, deep down.
	require.Equal(t, fullMessage(), msg)
	require.Equal(t, []string{"a"}, msg.Variables())
}

func TestMessageRenderSharesNothing(t *testing.T) {
	t.Parallel()
	msg := fullMessage()
	out, err := msg.Render(map[string]string{"a": "A"})
	require.NoError(t, err)
	// Writing to the copy's untemplated fields must not reach the original
	// either: every pointer and slice is copied.
	out.Media.Type = "changed"
	out.Template.ID = "changed"
	out.Template.Vars[0].Name = "changed"
	out.Template.Header.Type = "changed"
	out.Template.Buttons[0].SubType = "changed"
	out.Location.Latitude = 99
	out.Buttons.Buttons[0].Type = "changed"
	out.List.Sections[0].Rows[0].ID = "changed"
	out.List.Sections[1].Rows = append(out.List.Sections[1].Rows[:1], ListRow{ID: "new"})
	require.Equal(t, fullMessage(), msg)
}

func TestMessageRenderMissingInNewFields(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		msg     Message
		missing string
		want    string
	}{
		{Message{Kind: KindLocation, Location: &Location{Address: "{{street}}"}}, "street", "location.address: {{street}} has no value"},
		{Message{Kind: KindButtons, Buttons: &Buttons{Text: "x", Buttons: []Button{{Type: "url", Title: "t", Payload: "https://x.io/{{zip}}"}}}},
			"zip", "buttons.buttons[0].payload: {{zip}} has no value"},
		{Message{Kind: KindList, List: &List{Text: "x", Sections: []ListSection{{Rows: []ListRow{{Title: "{{row}}"}}}}}},
			"row", "list.sections[0].rows[0].title: {{row}} has no value"},
		{Message{Kind: KindTemplate, Template: &Template{Name: "n", Buttons: []TemplateButton{{Value: "{{order}}"}}}},
			"order", "template.buttons[0].value: {{order}} has no value"},
	} {
		_, err := tt.msg.Render(map[string]string{"name": "Ann"})
		require.EqualError(t, err, tt.want)
		var mv *MissingVarError
		require.ErrorAs(t, err, &mv)
		require.Equal(t, tt.missing, mv.Name)
	}
}
