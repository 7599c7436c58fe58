package config

import "net/url"

// RedactURL returns s with any password (in the user info or a "password"
// query parameter) replaced by "xxxxx". A value that
// is not a URL (such as a key=value Postgres DSN) is not shown at all.
func RedactURL(s string) string {
	if s == "" {
		return "(unset)"
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" || u.Opaque != "" {
		return "(set, not shown)"
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}
