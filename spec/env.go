package spec

import "net/url"

// Env is the process environment wacamp reads.
type Env struct {
	RedisURL    string // REDIS_URL, e.g. redis://localhost:6379/0; empty if unset
	DatabaseURL string // DATABASE_URL, a Postgres URL or DSN; empty if unset
	DBMaxConns  string // WACAMP_DB_MAX_CONNS, the Postgres pool size; empty if unset
}

// LoadEnv reads Env through getenv (os.Getenv in production).
func LoadEnv(getenv func(string) string) Env {
	return Env{
		RedisURL:    getenv("REDIS_URL"),
		DatabaseURL: getenv("DATABASE_URL"),
		DBMaxConns:  getenv("WACAMP_DB_MAX_CONNS"),
	}
}

// String describes e with passwords hidden, for logs.
func (e Env) String() string {
	return "REDIS_URL=" + RedactURL(e.RedisURL) + " DATABASE_URL=" + RedactURL(e.DatabaseURL)
}

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
