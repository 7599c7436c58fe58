package spec

import (
	"fmt"
	"net"
	"net/url"
	"strings"

	"gopkg.in/yaml.v3"
)

// baseURL returns the string value of an account's base_url with ${VAR}
// references expanded in its host part only: the variable may say which
// host (and port) the account talks to, never the path or query, where a
// value would travel to that host in every request.
func (f *fileCtx) baseURL(n *yaml.Node, field string) (string, bool) {
	raw := resolve(n)
	if raw == nil || raw.Kind != yaml.ScalarNode || !strings.Contains(raw.Value, "${") {
		return f.str(n, field)
	}
	v := raw.Value
	scheme := strings.Index(v, "://")
	hostEnd := len(v)
	if scheme >= 0 {
		if i := strings.IndexAny(v[scheme+3:], "/?#"); i >= 0 {
			hostEnd = scheme + 3 + i
		}
	}
	if scheme < 0 || strings.Index(v, "${") < scheme+3 || strings.LastIndex(v, "${") > hostEnd {
		f.problem(raw.Line, field, "${VAR} may stand only for the host (and port) of base_url, as in https://${API_HOST}/api/v1")
		return "", false
	}
	for rest := v[scheme+3 : hostEnd]; ; {
		name, found := envRef(rest)
		if !found {
			break
		}
		if val := f.l.getenv(name); !processVar(name) && val != "" && strings.Trim(val, hostChars) != "" {
			f.problem(raw.Line, field, "environment variable %s must hold a host name or host:port (letters, digits, '.', '-', ':', '[', ']') to be used in base_url", name)
			return "", false
		}
		rest = rest[strings.Index(rest, "${"+name+"}")+len(name)+3:]
	}
	return f.setting(n, field)
}

// hostChars are the characters of a host name, an IP address and a port.
const hostChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]"

// checkBaseURL checks an account's base_url and returns it without a
// trailing slash. It refuses what is not an http(s) URL and any
// user:password@ (credentials in a URL end up in logs, proxies and
// Referers; the token has its own field), and warns about plain http to a
// host that is not loopback: the token would cross the network in clear.
// The URL is never printed once it may hold credentials.
func (f *fileCtx) checkBaseURL(n *yaml.Node, field, account, base string) string {
	line := resolve(n).Line
	u, err := url.Parse(base)
	const noCredentials = "must not hold credentials (user:password@): the token goes in api_token or api_token_file"
	switch {
	case err == nil && u.User != nil:
		f.problem(line, field, noCredentials)
		u.User = nil
		return strings.TrimRight(u.String(), "/")
	case err != nil && strings.Contains(base, "@"):
		// Credentials url.Parse refuses (a '|' in the password, say):
		// never printed, never kept.
		f.problem(line, field, noCredentials)
		return ""
	case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
		f.problem(line, field, "%s is not an http(s) URL", shown(n, base))
	case u.Scheme == "http" && !isLoopback(u.Hostname()):
		f.l.bundle.Warnings = append(f.l.bundle.Warnings, fmt.Sprintf(
			"%s:%d: %s: account %s: base_url %s is plain http to a host that is not loopback: the API token crosses the network unencrypted; use https",
			f.path, line, field, account, shown(n, u.Scheme+"://"+u.Host)))
	}
	return strings.TrimRight(base, "/")
}

// isLoopback reports whether host (a name or an IP, without port) is this
// machine.
func isLoopback(host string) bool {
	if ip := net.ParseIP(host); ip != nil {
		return ip.IsLoopback()
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	return host == "localhost" || strings.HasSuffix(host, ".localhost")
}
