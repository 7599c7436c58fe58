package config

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Defaults of the settings whose default is not their zero value.
const (
	// DefaultDBMaxConns is the Postgres pool size when
	// WACAMP_DB_MAX_CONNS is unset (the store's DefaultMaxConns).
	DefaultDBMaxConns = 10
	// DefaultSecretDirs is where secret files may be, unless
	// WACAMP_SECRET_DIRS (a list separated by ':') says otherwise: Docker's
	// and Kubernetes' conventional mount point.
	DefaultSecretDirs = "/run/secrets"
)

// Least values of the engine's durations.
const (
	minLease        = time.Second     // WACAMP_LEASE
	minSettleWindow = time.Second     // WACAMP_SETTLE_WINDOW
	minStaleAfter   = 5 * time.Second // WACAMP_STALE_AFTER
	minFirstPoll    = time.Second     // WACAMP_FIRST_POLL
	minFeedAhead    = 2 * time.Second // WACAMP_FEED_AHEAD: the step window's 2 s; topped up when half empty
)

// Config is what configures wacamp's processes, one field per variable of
// [Settings]. [FromEnv] fills it from the environment.
type Config struct {
	DatabaseURL string // DATABASE_URL: a Postgres URL or DSN; "" if unset
	RedisURL    string // REDIS_URL, e.g. redis://localhost:6379/0; "" if unset
	// DBMaxConns is the process's Postgres pool size
	// (WACAMP_DB_MAX_CONNS), at least 1; FromEnv's default is
	// DefaultDBMaxConns.
	DBMaxConns int
	// LogLevel is WACAMP_LOG_LEVEL (debug, info, warn or error, any case);
	// unset, or a value that is no level, is info.
	LogLevel slog.Level
	// Lease (WACAMP_LEASE, at least 1s), SettleWindow
	// (WACAMP_SETTLE_WINDOW, at least 1s) and StaleAfter
	// (WACAMP_STALE_AFTER, at least 5s) tune the engine; 0 (unset) is the
	// engine's default (delivery.Options: 2m, 5m, 5m).
	Lease        time.Duration
	SettleWindow time.Duration
	StaleAfter   time.Duration
	// FirstPoll (WACAMP_FIRST_POLL, at least 1s) is how long after a send
	// its first status poll comes; 0 (unset) is the engine's default
	// (delivery.DefaultPollPlan: 1m).
	FirstPoll time.Duration
	// FeedAhead (WACAMP_FEED_AHEAD, at least 2s) is how many seconds of its
	// number's rate a running broadcast keeps queued in Redis; 0 (unset)
	// is the engine's default (delivery.Options: 5s).
	FeedAhead time.Duration
	// QueueLead (WACAMP_QUEUE_LEAD, 100ms to 1m, or "off": QueueLeadOff)
	// is how long before its first departure a broadcast's batch task
	// enters the send queue; 0 (unset) is the engine's default
	// (delivery.Options: 500ms).
	QueueLead time.Duration
	// WebhookAddr is where the worker's webhook receiver listens
	// (WACAMP_WEBHOOK_ADDR, the default of -webhook-addr); "" is none.
	WebhookAddr string
	// SecretDirs are the directories a campaign's secret files may be in
	// (WACAMP_SECRET_DIRS, ':'-separated; default DefaultSecretDirs), and
	// AudienceDirs those its audience CSV files may be in besides the
	// campaign directory (WACAMP_AUDIENCE_DIRS; default none). Cleaned,
	// empty entries dropped.
	SecretDirs   []string
	AudienceDirs []string
	// AsynqmonUser, AsynqmonPassword and AsynqmonPasswordFile are the web
	// UI's basic-auth credentials (ASYNQMON_USER, ASYNQMON_PASSWORD,
	// ASYNQMON_PASSWORD_FILE); "" if unset.
	AsynqmonUser         string
	AsynqmonPassword     string
	AsynqmonPasswordFile string
	// MetricsToken and MetricsTokenFile are the bearer token of every
	// process's metrics and health server (WACAMP_METRICS_TOKEN, or the
	// content of the secret file WACAMP_METRICS_TOKEN_FILE); "" if unset.
	MetricsToken     string
	MetricsTokenFile string

	// raw holds the values FromEnv read, by variable, so that Validate
	// quotes them as they were written.
	raw map[string]string
}

// FromEnv reads the settings through getenv (os.Getenv in production):
// first the defaults, then each variable that is set, then [Config.Validate].
// It returns the Config even with an error, so that what is valid in it
// (the log level, say) can still be used to report the error.
func FromEnv(getenv func(string) string) (Config, error) {
	c := Config{
		DBMaxConns: DefaultDBMaxConns,
		LogLevel:   slog.LevelInfo,
		SecretDirs: dirList(DefaultSecretDirs),
		raw:        map[string]string{},
	}
	get := func(name string) string {
		v := getenv(name)
		if v != "" {
			c.raw[name] = v
		}
		return v
	}
	c.DatabaseURL = get("DATABASE_URL")
	c.RedisURL = get("REDIS_URL")
	if v := get("WACAMP_DB_MAX_CONNS"); v != "" {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			n = -1 // refused by Validate
		}
		c.DBMaxConns = n
	}
	if v := get("WACAMP_LOG_LEVEL"); v != "" {
		if err := c.LogLevel.UnmarshalText([]byte(strings.ToUpper(v))); err != nil {
			c.LogLevel = slog.LevelInfo
		}
	}
	c.Lease = duration(get("WACAMP_LEASE"))
	c.SettleWindow = duration(get("WACAMP_SETTLE_WINDOW"))
	c.StaleAfter = duration(get("WACAMP_STALE_AFTER"))
	c.FirstPoll = duration(get("WACAMP_FIRST_POLL"))
	c.FeedAhead = duration(get("WACAMP_FEED_AHEAD"))
	c.QueueLead = duration(get("WACAMP_QUEUE_LEAD"))
	if strings.EqualFold(strings.TrimSpace(get("WACAMP_QUEUE_LEAD")), "off") {
		c.QueueLead = QueueLeadOff
	}
	c.WebhookAddr = get("WACAMP_WEBHOOK_ADDR")
	if v := get("WACAMP_SECRET_DIRS"); strings.TrimSpace(v) != "" {
		c.SecretDirs = dirList(v)
	}
	c.AudienceDirs = dirList(get("WACAMP_AUDIENCE_DIRS"))
	c.AsynqmonUser = get("ASYNQMON_USER")
	c.AsynqmonPassword = get("ASYNQMON_PASSWORD")
	c.AsynqmonPasswordFile = get("ASYNQMON_PASSWORD_FILE")
	c.MetricsToken = get("WACAMP_METRICS_TOKEN")
	c.MetricsTokenFile = get("WACAMP_METRICS_TOKEN_FILE")
	return c, c.Validate()
}

// duration parses a duration; "" is 0 and what does not parse -1, which
// Validate refuses.
func duration(v string) time.Duration {
	if v == "" {
		return 0
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return -1
	}
	return d
}

// Validate reports every setting out of its range, each naming its
// variable and the value (as written, when FromEnv read it).
func (c Config) Validate() error {
	var errs []error
	if c.DBMaxConns < 1 {
		errs = append(errs, fmt.Errorf("WACAMP_DB_MAX_CONNS=%q: want a whole number of Postgres connections per process, at least 1 (default %d)",
			c.value("WACAMP_DB_MAX_CONNS", strconv.Itoa(c.DBMaxConns)), DefaultDBMaxConns))
	}
	for _, d := range []struct {
		name     string
		v, least time.Duration
		example  string
	}{
		{"WACAMP_LEASE", c.Lease, minLease, "2m"},
		{"WACAMP_SETTLE_WINDOW", c.SettleWindow, minSettleWindow, "5m"},
		{"WACAMP_STALE_AFTER", c.StaleAfter, minStaleAfter, "5m"},
		{"WACAMP_FIRST_POLL", c.FirstPoll, minFirstPoll, "1m"},
		{"WACAMP_FEED_AHEAD", c.FeedAhead, minFeedAhead, "5s"},
	} {
		if d.v != 0 && d.v < d.least {
			errs = append(errs, fmt.Errorf("%s=%q: want a duration of at least %s, such as %s", d.name, c.value(d.name, d.v.String()), d.least, d.example))
		}
	}
	if l := c.QueueLead; l != 0 && l != QueueLeadOff && (l < minQueueLead || l > maxQueueLead) {
		errs = append(errs, fmt.Errorf("WACAMP_QUEUE_LEAD=%q: want a duration from %s to %s, such as 500ms, or off",
			c.value("WACAMP_QUEUE_LEAD", l.String()), minQueueLead, maxQueueLead))
	}
	return errors.Join(errs...)
}

// QueueLeadOff is Config.QueueLead for WACAMP_QUEUE_LEAD=off: every task
// enters the send queue at once (delivery.Options takes any negative
// QueueLead so).
const QueueLeadOff = time.Duration(math.MinInt64)

// The range of WACAMP_QUEUE_LEAD.
const (
	minQueueLead = 100 * time.Millisecond
	maxQueueLead = time.Minute
)

// value is what variable name was set to, if FromEnv read it, else
// formatted (the value of a Config built in code).
func (c Config) value(name, formatted string) string {
	if v, ok := c.raw[name]; ok {
		return v
	}
	return formatted
}

// String describes the connection settings with passwords hidden, for
// logs.
func (c Config) String() string {
	return "REDIS_URL=" + RedactURL(c.RedisURL) + " DATABASE_URL=" + RedactURL(c.DatabaseURL)
}

// dirList splits a ':'-separated list of directories, dropping empty
// entries and cleaning the others.
func dirList(list string) []string {
	var dirs []string
	for _, d := range filepath.SplitList(list) {
		if d = strings.TrimSpace(d); d != "" {
			dirs = append(dirs, filepath.Clean(d))
		}
	}
	return dirs
}

// Reserved reports whether the environment variable name (in any case)
// configures wacamp's own processes: one of [Settings], or any name in
// their namespaces WACAMP_ and ASYNQMON_, taken now or later. A campaign
// file must not read them.
func Reserved(name string) bool {
	up := strings.ToUpper(name)
	for _, s := range Settings {
		if up == s.Name {
			return true
		}
	}
	return strings.HasPrefix(up, "ASYNQMON_") || strings.HasPrefix(up, "WACAMP_")
}
