package templates

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestTemplateVarFromKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		key  string
		pos  int
		want TemplateVar
	}{
		{"name", 1, TemplateVar{Name: "name", Index: 1, Value: "v"}},
		{"code", 2, TemplateVar{Name: "code", Index: 2, Value: "v"}},
		{"code-3", 1, TemplateVar{Name: "code", Index: 3, Value: "v"}},
		{"first-name", 2, TemplateVar{Name: "first-name", Index: 2, Value: "v"}},
		{"code-2-1", 5, TemplateVar{Name: "code-2", Index: 1, Value: "v"}},
		{"code-", 4, TemplateVar{Name: "code-", Index: 4, Value: "v"}},
		{"-3", 1, TemplateVar{Name: "", Index: 3, Value: "v"}},
		{"code-0", 1, TemplateVar{Name: "code", Index: 0, Value: "v"}},
		{"code-99999999999999999999999", 1, TemplateVar{Name: "code", Index: 0, Value: "v"}},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, TemplateVarFromKey(tt.key, tt.pos, "v"))
		})
	}
}
