package spec

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/provider/drivers"
	"github.com/wacamp/wacamp/sequence"
	"github.com/wacamp/wacamp/templates"
)

// What Sobot's doc refuses — MIME types outside its table, template button
// indexes beyond 0 and 1, list sections without a title, recipients
// without a name (customer_name is required) — is refused by validate with
// file, line and field, not found per recipient at send time. A field
// holding a placeholder is checked once rendered, per recipient.
func TestLoadChecksSobotContent(t *testing.T) {
	t.Parallel()
	_, err := Load("testdata/providers/sobot_content.yaml", testEnv(providerEnv), drivers.Catalog{})
	p := "testdata/providers/sobot_content.yaml"
	require.Equal(t, []string{
		p + `:14: broadcasts[0].message.media.url: sobot sends image only as image/jpeg, image/png, not image/gif`,
		p + `:23: broadcasts[1].message.template.buttons[0].index: must be 0 or 1 for sobot (the button's position among the template's two call-to-action buttons), got 2`,
		p + `:32: broadcasts[2].message.list.sections[0].title: is required by sobot, even for a single section`,
		p + `:41: broadcasts[3].message.media.url: after rendering for 2 recipients, e.g. 4915112345679 (testdata/providers/sobot_content.yaml:38): sobot sends image only as image/jpeg, image/png, not image/gif`,
		p + `:42: broadcasts[4].audience: account shop's provider sobot needs each recipient's name (its required customer_name); 1 recipient has none: 4915112345679 (testdata/providers/sobot_content.yaml:47); give each a name (name: inline, a name column in the CSV)`,
		p + `:59: sequences[0].steps[0].message.list.sections[0].title: is required by sobot, even for a single section`,
	}, problemLines(t, err))
}

// CheckPeople finds, before enrolling, a step that could not be sent to a
// person: a variable they lack (step 2 here, a day after enrolling), a
// value that breaks the rendered message, a name the provider requires.
func TestCheckPeople(t *testing.T) {
	t.Parallel()
	spec := sequence.Spec{Steps: []sequence.Step{
		{Message: templates.Message{Kind: templates.KindText, Text: "Welcome {{name}}"}},
		{Message: templates.Message{Kind: templates.KindMedia, Media: &templates.Media{Type: "image", URL: "https://cdn.example.com/{{code}}"}}},
	}}
	at := func(line int) Pos { return Pos{File: "people.csv", Line: line} }
	people := []Person{
		{Recipient{Phone: "4915100000001", Name: "Ann", Vars: map[string]string{"code": "a.jpg"}}, at(2)},
		{Recipient{Phone: "4915100000002", Name: "Ben"}, at(3)},
		{Recipient{Phone: "4915100000003", Vars: map[string]string{"code": "c.jpg"}}, at(4)},
		{Recipient{Phone: "4915100000004", Name: "Dee", Vars: map[string]string{"code": "d.gif"}}, at(5)},
		{Recipient{Phone: "4915100000005", Name: strings.Repeat("e", 4100), Vars: map[string]string{"code": "e.jpg"}}, at(6)},
	}
	require.NoError(t, CheckPeople(spec, drivers.Catalog{}, "botsailor", Persons(people[:1]...)))

	require.Equal(t, []string{
		"people.csv:3: 4915100000002: step 2 needs {{code}}, which has no value for them; give --var NAME=value or a column of that name",
		"people.csv:4: 4915100000003: step 1 needs {{name}}, which has no value for them; give --name or a name column",
		"people.csv:6: 4915100000005: step 1: after rendering: text: has 4108 characters; at most 4096 are allowed",
	}, problemLines(t, CheckPeople(spec, drivers.Catalog{}, "botsailor", Persons(people...))))

	require.Equal(t, []string{
		"people.csv:3: 4915100000002: step 2 needs {{code}}, which has no value for them; give --var NAME=value or a column of that name",
		"people.csv:4: 4915100000003: has no name, which sobot requires with every message (customer_name); give --name or a name column",
		"people.csv:4: 4915100000003: step 1 needs {{name}}, which has no value for them; give --name or a name column",
		"people.csv:5: 4915100000004: step 2: after rendering: media.url: sobot sends image only as image/jpeg, image/png, not image/gif",
		"people.csv:6: 4915100000005: step 1: after rendering: text: has 4108 characters; at most 4096 are allowed",
	}, problemLines(t, CheckPeople(spec, drivers.Catalog{}, "sobot", Persons(people...))))
}
