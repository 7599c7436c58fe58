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
		"text=t", "media.url=u", "media.caption=c",
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
