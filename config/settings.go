package config

// Setting is one environment variable that configures wacamp's own
// processes (never a campaign file: see [Reserved]).
type Setting struct {
	Name    string
	Read    string // which processes read it
	Default string // "" = required where read, or unset means off
	Meaning string
}

// Settings lists every environment variable wacamp's processes read, in
// one place; a test keeps it equal to the code and the README.
var Settings = []Setting{
	{"DATABASE_URL", "every process", "", "Postgres URL (postgres://…; through PgBouncer in transaction mode add default_query_exec_mode=exec); the demo uses an embedded SQLite database when it is unset"},
	{"REDIS_URL", "every process", "", "Redis URL: redis://host:port/db for one server, redis-cluster://host1:port,host2:port for a Redis Cluster; the demo starts an embedded Redis when it is unset"},
	{"WACAMP_DB_MAX_CONNS", "every process", "10", "the process's Postgres pool size"},
	{"WACAMP_LOG_LEVEL", "every process", "info", "debug, info, warn or error"},
	{"WACAMP_LEASE", "worker", "2m", "how long a send holds its claim (at least 90s advised)"},
	{"WACAMP_SETTLE_WINDOW", "worker", "5m", "how long a send of unknown outcome is looked for before it is sent again (an account's settle_window wins)"},
	{"WACAMP_FIRST_POLL", "worker", "1m", "how long after a send its first status poll comes (providers without status webhooks)"},
	{"WACAMP_STALE_AFTER", "scheduler", "5m", "how old a queued task or an ended lease is before the sweep re-enqueues it"},
	{"WACAMP_FEED_AHEAD", "scheduler", "5s", "how many seconds of its number's rate a running broadcast keeps queued in Redis (its window)"},
	{"WACAMP_QUEUE_LEAD", "scheduler", "500ms", "how long before its first departure a broadcast's batch task enters the send queue (the rest of the window waits in Redis's schedule); off: all at once"},
	{"WACAMP_WEBHOOK_ADDR", "worker", "", "address the webhook receiver listens on (-webhook-addr); unset: no receiver"},
	{"WACAMP_SECRET_DIRS", "validate, apply", DefaultSecretDirs, "directories (':'-separated) a campaign's secret files may be in"},
	{"WACAMP_AUDIENCE_DIRS", "validate, apply", "", "directories (':'-separated) audience CSV files may be in besides the campaign directory"},
	{"ASYNQMON_USER", "asynqmon, demo", "", "web UI user (required unless --insecure-no-auth)"},
	{"ASYNQMON_PASSWORD", "asynqmon, demo", "", "web UI password, or ASYNQMON_PASSWORD_FILE"},
	{"ASYNQMON_PASSWORD_FILE", "asynqmon, demo", "", "a file holding the web UI password"},
	{"WACAMP_METRICS_TOKEN", "worker, scheduler run, asynqmon", "", "bearer token for /metrics and /readyz (required when --metrics-addr is beyond loopback, unless --metrics-insecure-no-auth)"},
	{"WACAMP_METRICS_TOKEN_FILE", "worker, scheduler run, asynqmon", "", "a file holding the metrics bearer token"},
	{"WACAMP_API_TOKENS_FILE", "scheduler api", "", "a secret file of the HTTP API's bearer tokens, one a line: name:ro|rw:token (at least 24 characters)"},
	{"WACAMP_API_TOKEN_RW", "scheduler api", "", "an HTTP API read-write token (named env-rw), when there is no tokens file"},
	{"WACAMP_API_TOKEN_RO", "scheduler api", "", "an HTTP API read-only token (named env-ro), when there is no tokens file"},
}
