// Package wiretest holds what the drivers' tests share to attack a driver
// as a hostile provider or proxy would: a credential full of the characters
// JSON and URLs escape, and answers that echo it.
package wiretest

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/provider"
)

// HostileToken is a credential with every character that JSON (&, <, >, /)
// and URLs (+, =, /) escape.
const HostileToken = "tk&<9fQ2>/xK7+mLp4=Zw8Rt"

// JSONEscaped is s as a JSON encoder that escapes HTML and slashes writes
// it (Go's json.Marshal, PHP's json_encode with JSON_HEX_TAG|JSON_HEX_AMP),
// without the quotes: & < > as \u0026 \u003c \u003e and / as \/.
func JSONEscaped(s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return strings.ReplaceAll(string(b[1:len(b)-1]), "/", `\/`)
}

// EchoMessage is a provider answer's message text that echoes secret
// JSON-escaped (as a provider that prints its request JSON into its error
// does), for a driver test to put into the message field; the code field
// gets the secret as is.
func EchoMessage(secret string) string {
	return `invalid credentials in {"token":"` + JSONEscaped(secret) + `"}`
}

// RequireScrubbed checks that err, a refusal whose answer echoed secret in
// its code field and JSON-escaped in its message, carries no form of it:
// no code, and a message with the secret redacted.
func RequireScrubbed(t *testing.T, err error, secret string) {
	t.Helper()
	var pe *provider.Error
	require.ErrorAs(t, err, &pe)
	require.Empty(t, pe.Code, "a code that is no code is dropped")
	require.Contains(t, pe.Message, "[REDACTED]")
	for _, form := range []string{secret, JSONEscaped(secret), url.QueryEscape(secret), "9fQ2"} {
		require.NotContains(t, err.Error(), form)
	}
}
