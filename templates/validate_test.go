package templates

import (
	"errors"
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
		{"NoKind", Message{}, []string{"kind: is empty; one of text, media, template, bot_flow is required"}},
		{"UnknownKind", Message{Kind: "sms"}, []string{`kind: unknown kind "sms"; one of text, media, template, bot_flow is required`}},
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
			"media.type: must be one of image, video, audio, document",
			"media.caption: has 1025 characters; at most 1024 are allowed",
		}},
		{"MediaMissing", Message{Kind: KindMedia, Media: &Media{}}, []string{
			"media.url: is required",
			"media.type: is required; one of image, video, audio, document",
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
			"template.id: is empty",
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
