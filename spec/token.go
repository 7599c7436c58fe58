package spec

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"
)

// Token references. An account's API token is never kept in a Bundle, the
// database or an error: Account.TokenRef says where to read it, and every
// process that calls the provider reads it with [ResolveToken].
const (
	tokenRefEnv  = "env:"  // "env:VAR": the environment variable VAR
	tokenRefFile = "file:" // "file:/run/secrets/x": the file's trimmed contents
)

const literalTokenMsg = "api_token must be a ${VAR} reference or use api_token_file; " +
	"literal tokens are refused so they never reach git or the database"

// ResolveToken returns the secret (an API token, API secret or webhook
// secret) that ref ("env:VAR" or "file:/path",
// as in Account.TokenRef) points to, read through getenv or from the file
// and trimmed of surrounding white space. An unset variable, an unreadable
// or empty file and a malformed ref are errors; no error contains the token
// or the ref's text beyond the variable name or path.
func ResolveToken(ref string, getenv func(string) string) (string, error) {
	switch {
	case strings.HasPrefix(ref, tokenRefEnv):
		name := strings.TrimPrefix(ref, tokenRefEnv)
		if !validEnvName(name) {
			return "", errors.New("token reference env:<VAR> has an invalid variable name")
		}
		tok := strings.TrimSpace(getenv(name))
		if tok == "" {
			return "", fmt.Errorf("environment variable %s is not set or is empty", name)
		}
		return tok, nil
	case strings.HasPrefix(ref, tokenRefFile):
		path := strings.TrimPrefix(ref, tokenRefFile)
		return readTokenFile(path)
	}
	return "", errors.New(`api token reference must start with "env:" or "file:"`)
}

// readTokenFile returns the trimmed contents of the token file at path.
// Errors name the path, never the contents.
func readTokenFile(path string) (string, error) {
	file, err := openRegular(path)
	if err != nil {
		return "", fmt.Errorf("cannot read %q: %w", path, err)
	}
	defer file.Close()
	b, err := io.ReadAll(io.LimitReader(file, MaxSecretFileBytes+1))
	switch {
	case err != nil:
		return "", fmt.Errorf("cannot read %q: %v", path, unwrapPath(err))
	case len(b) > MaxSecretFileBytes:
		return "", fmt.Errorf("%q is more than a secret file may be (%d bytes)", path, MaxSecretFileBytes)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", fmt.Errorf("%q is empty", path)
	}
	return tok, nil
}

// tokenRef checks an account's api_token / api_token_file and returns its
// TokenRef, or "" after reporting a problem. It reads the token only to
// check it is there.
func (f *fileCtx) tokenRef(obj map[string]pair, field string, accountLine int) string {
	return f.secretRef(obj, field, accountLine, "api_token", true)
}

// secretRef checks the secret key / key_file pair of an account (api_token,
// api_secret, webhook_secret) and returns its reference ("env:VAR" or
// "file:/path"), or "" when it is absent (a problem if required) or after
// reporting a problem. It reads the secret only to check it is there.
func (f *fileCtx) secretRef(obj map[string]pair, field string, accountLine int, key string, required bool) string {
	tok, hasTok := obj[key]
	file, hasFile := obj[key+"_file"]
	hasTok = hasTok && !isNull(tok.val)
	hasFile = hasFile && !isNull(file.val)
	switch {
	case hasTok && hasFile:
		f.problem(file.key.Line, subfield(field, key+"_file"), "set either %s or %s_file, not both", key, key)
		return ""
	case hasTok:
		return f.tokenEnvRef(tok.val, subfield(field, key), key)
	case hasFile:
		fld := subfield(field, key+"_file")
		path, ok := f.setting(file.val, fld)
		if !ok {
			return ""
		}
		line := resolve(file.val).Line
		if !filepath.IsAbs(path) {
			f.problem(line, fld, "%s is not an absolute path; workers on other machines read the same path", shown(file.val, path))
			return ""
		}
		if msg := f.l.checkSecretPath(path); msg != "" {
			f.problem(line, fld, "%s", msg)
			return ""
		}
		if f.l.opts.Offline {
			return tokenRefFile + filepath.Clean(path) // not read: see LoadOptions.Offline
		}
		if _, err := readTokenFile(path); err != nil {
			f.problem(line, fld, "%v", err)
			return ""
		}
		return tokenRefFile + filepath.Clean(path)
	}
	if required {
		f.problem(accountLine, subfield(field, key), "is required (a ${VAR} reference), or set %s_file", key)
	}
	return ""
}

// tokenEnvRef checks that n is exactly one ${VAR} reference to a set
// variable and returns "env:VAR", or "" after reporting a problem. Its
// messages never include n's value: it may be a pasted token.
func (f *fileCtx) tokenEnvRef(n *yaml.Node, field, key string) string {
	n = resolve(n)
	if n.Kind != yaml.ScalarNode {
		f.problem(n.Line, field, "expected a ${VAR} reference, got %s", describe(n))
		return ""
	}
	s := strings.TrimSpace(n.Value)
	name, found := strings.CutPrefix(s, "${")
	name, closed := strings.CutSuffix(name, "}")
	if !found || !closed || !validEnvName(name) {
		f.problem(n.Line, field, "%s", strings.ReplaceAll(literalTokenMsg, "api_token", key))
		return ""
	}
	if processVar(name) {
		f.problem(n.Line, field, processVarMsg, name)
		return ""
	}
	if f.l.opts.Offline {
		return tokenRefEnv + name // not read: see LoadOptions.Offline
	}
	if strings.TrimSpace(f.l.getenv(name)) == "" {
		f.problem(n.Line, field, "environment variable %s is not set or is empty", name)
		return ""
	}
	return tokenRefEnv + name
}
