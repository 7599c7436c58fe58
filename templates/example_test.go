package templates_test

import (
	"errors"
	"fmt"

	"github.com/wacamp/wacamp/templates"
)

func ExamplePlaceholders() {
	fmt.Println(templates.Placeholders("Hi {{ name }}, your code is {{code}}. Bye {{name}}!"))
	// Output: [name code]
}

func ExampleMessage_Render() {
	msg := templates.Message{Kind: templates.KindText, Text: "Hi {{name}}, your code is {{code}}"}
	out, err := msg.Render(map[string]string{"name": "Ann", "code": "BF10"})
	fmt.Println(out.Text, err)

	_, err = msg.Render(map[string]string{"name": "Bob"})
	var missing *templates.MissingVarError
	fmt.Println(errors.As(err, &missing), missing.Name, "-", err)
	// Output:
	// Hi Ann, your code is BF10 <nil>
	// true code - text: {{code}} has no value
}

func ExampleMessage_Validate() {
	msg := templates.Message{
		Kind:  templates.KindMedia,
		Media: &templates.Media{URL: "https://cdn.example.com/{{code}}.jpg", Type: "gif", Caption: "Hi {{name"},
	}
	fmt.Println(msg.Validate())
	// Output:
	// media.type: must be one of image, video, audio, document, sticker
	// media.caption: "{{" at character 4 is not closed with "}}"
}

func ExampleMessage_Variables() {
	msg := templates.Message{Kind: templates.KindTemplate, Template: &templates.Template{
		ID: "313823",
		Vars: []templates.TemplateVar{
			{Name: "name", Index: 1, Value: "{{name}}"},
			{Name: "code", Index: 2, Value: "{{code}} (for {{name}})"},
		},
	}}
	fmt.Println(msg.Variables())
	// Output: [name code]
}

func ExampleTemplateVarFromKey() {
	// vars: {name: "{{name}}", code-3: "{{code}}"}
	fmt.Printf("%+v\n", templates.TemplateVarFromKey("name", 1, "{{name}}"))
	fmt.Printf("%+v\n", templates.TemplateVarFromKey("code-3", 2, "{{code}}"))
	// Output:
	// {Name:name Index:1 Value:{{name}}}
	// {Name:code Index:3 Value:{{code}}}
}
