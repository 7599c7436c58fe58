package api

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strings"
)

// Role is what a token may do.
type Role string

// The roles: a read-only token reads; a read-write one also changes
// (apply, the lifecycle verbs, retry-failed, enrollments, the
// suppression list).
const (
	ReadOnly  Role = "ro"
	ReadWrite Role = "rw"
)

// Token is an API token as the server keeps it: its name (logged), its
// role and the SHA-256 of its value (the value itself is not kept).
type Token struct {
	Name string
	Role Role
	hash [32]byte
}

// MinTokenLen is the shortest token accepted: a token is a password that
// cannot be rate-limited by a person typing it.
const MinTokenLen = 24

// The settings tokens are read from.
const (
	EnvTokensFile = "WACAMP_API_TOKENS_FILE"
	EnvTokenRW    = "WACAMP_API_TOKEN_RW"
	EnvTokenRO    = "WACAMP_API_TOKEN_RO"
)

var tokenName = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// NewToken returns a token named name with role for value (checked: a
// plain name, a known role, at least MinTokenLen characters, no spaces).
// Its errors quote none of the three: a line of a tokens file with its
// fields out of order would put the token in the name or the role.
func NewToken(name string, role Role, value string) (Token, error) {
	switch {
	case !tokenName.MatchString(name):
		return Token{}, errors.New("the token's name: want 1 to 64 letters, digits, '.', '_' or '-'")
	case role != ReadOnly && role != ReadWrite:
		return Token{}, errors.New("the token's role: want ro or rw (name:role:token)")
	case len(value) < MinTokenLen:
		return Token{}, fmt.Errorf("the token is shorter than %d characters (e.g. openssl rand -hex 24), or the line's fields are out of order (name:role:token)", MinTokenLen)
	case strings.ContainsAny(value, " \t\r\n"):
		return Token{}, errors.New("the token contains white space")
	}
	return Token{Name: name, Role: role, hash: sha256.Sum256([]byte(value))}, nil
}

// LoadTokens reads the API tokens from the environment: the file named by
// WACAMP_API_TOKENS_FILE (one token a line, name:role:token, role ro or
// rw; blank lines and lines starting with # are skipped), and the values
// of WACAMP_API_TOKEN_RW and WACAMP_API_TOKEN_RO (named env-rw and
// env-ro). Errors name the file and line, never a token.
func LoadTokens(getenv func(string) string) ([]Token, error) {
	var out []Token
	if path := getenv(EnvTokensFile); path != "" {
		data, err := os.ReadFile(path) // #nosec G304 -- the operator's own setting
		if err != nil {
			return nil, fmt.Errorf("%s: %w", EnvTokensFile, err)
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		for n := 1; sc.Scan(); n++ {
			line := strings.TrimSpace(sc.Text())
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			parts := strings.SplitN(line, ":", 3)
			if len(parts) != 3 {
				return nil, fmt.Errorf("%s line %d: want name:role:token", path, n)
			}
			t, err := NewToken(parts[0], Role(parts[1]), parts[2])
			if err != nil {
				return nil, fmt.Errorf("%s line %d: %w", path, n, err)
			}
			out = append(out, t)
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	for _, e := range []struct {
		env, name string
		role      Role
	}{{EnvTokenRW, "env-rw", ReadWrite}, {EnvTokenRO, "env-ro", ReadOnly}} {
		if v := getenv(e.env); v != "" {
			t, err := NewToken(e.name, e.role, v)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", e.env, err)
			}
			out = append(out, t)
		}
	}
	seen := map[string]bool{}
	for _, t := range out {
		if seen[t.Name] {
			return nil, fmt.Errorf("token name %s is used twice", t.Name)
		}
		seen[t.Name] = true
	}
	return out, nil
}

// errNoToken and errBadToken are why a request is refused; neither says
// anything about the tokens there are.
var (
	errNoToken  = errors.New("missing bearer token (Authorization: Bearer TOKEN)")
	errBadToken = errors.New("invalid token")
)

// authenticate finds the token r carries: its value is hashed and compared
// with every token's hash in constant time (all of them, whichever
// matches), so neither a token's value nor how much of it matched shows in
// the time taken.
func authenticate(tokens []Token, r *http.Request) (Token, error) {
	h := r.Header.Get("Authorization")
	scheme, value, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || value == "" {
		return Token{}, errNoToken
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(value)))
	found := -1
	for i := range tokens {
		if subtle.ConstantTimeCompare(sum[:], tokens[i].hash[:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return Token{}, errBadToken
	}
	return tokens[found], nil
}
