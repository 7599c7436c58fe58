package httpapi

import (
	"fmt"
	"log/slog"
	"reflect"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestBaseAddsOnlyItsMethods: a driver's Client embeds a Base (or a
// Described), so whatever they export is the driver's public API. Only the
// printing methods and the unsupported calls may come through; no field,
// so no secret and no kernel.
func TestBaseAddsOnlyItsMethods(t *testing.T) {
	t.Parallel()
	for _, typ := range []reflect.Type{reflect.TypeFor[Base](), reflect.TypeFor[Described]()} {
		for f := range typ.Fields() {
			require.False(t, f.IsExported(), "%s.%s", typ, f.Name)
		}
	}
	var names []string
	for m := range reflect.TypeFor[Base]().Methods() {
		names = append(names, m.Name)
	}
	require.Equal(t, []string{"Conversation", "GoString", "LogValue", "MessageStatus", "String"}, names)

	const secret = "s3cr3t"
	b := NoHistory("x", "x.Client", Describe("x.Config",
		Field{Name: "BaseURL", Key: "base_url", Value: "http://h"},
		Field{Name: "Token", Key: "token", Value: secret, Secret: true},
		Field{Name: "ID", Key: "id", Value: int64(7)},
	))
	require.Equal(t, `x.Client{BaseURL: "http://h", Token: [REDACTED], ID: 7}`, b.String())
	require.Equal(t, b.String(), fmt.Sprintf("%#v", b))
	require.NotContains(t, b.LogValue().String(), secret)
	require.Equal(t, slog.KindGroup, b.LogValue().Kind())
}
