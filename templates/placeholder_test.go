package templates

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPlaceholders(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"None", "Hello there", nil},
		{"Empty", "", nil},
		{"One", "Hi {{name}}!", []string{"name"}},
		{"Spaces", "Hi {{ name }} and {{\tcode\t}}", []string{"name", "code"}},
		{"OrderAndDedup", "{{b}} {{a}} {{ b }} {{a}}", []string{"b", "a"}},
		{"NameChars", "{{order.id}} {{first-name}} {{_x9}}", []string{"order.id", "first-name", "_x9"}},
		{"MalformedSkipped", "{{1}} {{}} {{a b}} {{ok}}", []string{"ok"}},
		{"Unclosed", "{{a}} and {{b", []string{"a"}},
		{"LoneClose", "}} {{a}} }}", []string{"a"}},
		{"Adjacent", "{{a}}{{b}}", []string{"a", "b"}},
		{"Unicode", "¡Hola {{nombre}}! 👋", []string{"nombre"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, Placeholders(tt.in))
		})
	}
}

func TestValidName(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"a", "A", "_", "a1", "a.b", "a-b", "a_b", "Z9.-_"} {
		require.True(t, validName(ok), ok)
	}
	for _, bad := range []string{"", "1a", ".a", "-a", "a b", "a{", "é", "a/b"} {
		require.False(t, validName(bad), bad)
	}
}

func TestCheckPlaceholders(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		wantErr string
	}{
		{"Fine", "Hi {{name}}", ""},
		{"NoPlaceholders", "Hi }} there", ""},
		{"Unclosed", "Hi {{name", `"{{" at character 4 is not closed with "}}"`},
		{"UnclosedAfterUnicode", "ü {{x", `"{{" at character 3 is not closed`},
		{"EmptyName", "Hi {{ }}", `malformed placeholder "{{ }}"`},
		{"Digit", "Hi {{1}}", `malformed placeholder "{{1}}"`},
		{"Space", "Hi {{a b}}", `malformed placeholder "{{a b}}"`},
		{"Nested", "{{a {{b}}", `malformed placeholder "{{a {{b}}"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := checkPlaceholders(tt.in)
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}
