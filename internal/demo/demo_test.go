package demo_test

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/hibiken/asynq"

	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/internal/cli"
	"github.com/wacamp/wacamp/internal/demo"
	"github.com/wacamp/wacamp/internal/testenv"
	"github.com/wacamp/wacamp/store"
)

// The README's demo runs to the end through every provider's simulator
// (embedded Redis and SQLite, webhooks for the providers that push
// statuses), and finds no message sent twice.
func TestDemoRunsThroughEveryProvider(t *testing.T) {
	t.Parallel()
	for _, p := range []string{"botsailor", "sobot", "salebot", "waapi"} {
		t.Run(p, func(t *testing.T) {
			t.Parallel()
			out := &syncBuf{}
			io := cli.IO{Stdout: out, Stderr: out, Getenv: func(string) string { return "" }}
			err := demo.Run(context.Background(), []string{"-exit", "-provider", p, "-recipients", "30", "-ui", "127.0.0.1:0", "-api", "127.0.0.1:0", "-data", t.TempDir()}, io)
			if err != nil {
				t.Fatalf("demo: %v\n%s", err, out.String())
			}
			for _, want := range []string{"done in", "recipients sent a message twice: 0", "welcome:", "status polls:", "  metrics   http://127.0.0.1:",
				"API       http://127.0.0.1:", "curl -H 'Authorization: Bearer "} {
				if !strings.Contains(out.String(), want) {
					t.Errorf("output lacks %q:\n%s", want, out.String())
				}
			}
			if p == "botsailor" {
				// Polled over every message's whole life, at most
				// delivery.MaxPolls times each.
				m := pollsLine.FindStringSubmatch(out.String())
				if m == nil {
					t.Fatalf("no poll count in the output:\n%s", out.String())
				}
				polls, msgs, most := atoi(t, m[1]), atoi(t, m[2]), atoi(t, m[3])
				if msgs == 0 || polls < msgs || polls > delivery.MaxPolls*msgs || most > delivery.MaxPolls {
					t.Errorf("%d status polls for %d messages, at most %d for one; want one to %d each", polls, msgs, most, delivery.MaxPolls)
				}
			}
		})
	}
	// Bad flags are refused before anything starts (nothing printed of
	// the embedded Redis or database).
	for _, args := range [][]string{{"-provider", "twilio"}, {"-recipients", "-5"}, {"-rate", "0"}, {"-rate", "5000"}} {
		out := &syncBuf{}
		err := demo.Run(context.Background(), args, cli.IO{Stdout: out, Stderr: out, Getenv: func(string) string { return "" }})
		if err == nil || !strings.Contains(err.Error(), args[0]+" ") || strings.Contains(out.String(), "redis") {
			t.Errorf("%v: %v %s", args, err, out.String())
		}
	}
}

// pollsLine is the demo's poll count: polls, messages, most for one.
var pollsLine = regexp.MustCompile(`status polls: (\d+) for (\d+) messages over their whole life \([0-9.]+ per message, at most (\d+) for one\)`)

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// syncBuf is a goroutine-safe buffer for command output.
type syncBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// The demo refuses a database that holds other accounts, and a Redis with
// unfinished tasks: its worker takes every send task in the queues, and
// would send (or, lacking their tokens, pause) someone else's broadcasts.
// Nothing is started or written before it refuses.
func TestDemoRefusesSomeoneElsesDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dbURL, rds := testenv.NewMigratedDatabase(t), testenv.NewRedis(t)
	db, err := store.Open(ctx, dbURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Gorm().Exec(`INSERT INTO accounts (name, provider, base_url, token_ref, phone_number_id, rate_per_second, spec_hash, created_at, updated_at)
		VALUES ('main', 'botsailor', 'http://127.0.0.1:1', 'env:T', '1', 1, 'x', now(), now())`).Error; err != nil {
		t.Fatal(err)
	}
	run := func(dbURL, redisURL string) (string, error) {
		out := &syncBuf{}
		env := map[string]string{"DATABASE_URL": dbURL, "REDIS_URL": redisURL}
		io := cli.IO{Stdout: out, Stderr: out, Getenv: func(k string) string { return env[k] }}
		err := demo.Run(ctx, []string{"-exit", "-recipients", "5", "-ui", "127.0.0.1:0", "-api", "127.0.0.1:0"}, io)
		return out.String(), err
	}
	out, err := run(dbURL, rds.URL)
	if err == nil || !strings.Contains(err.Error(), "the database holds other accounts (main)") {
		t.Fatalf("a database with another account: %v\n%s", err, out)
	}
	var n int64
	if err := db.Gorm().Raw(`SELECT COUNT(*) FROM broadcasts`).Scan(&n).Error; err != nil || n != 0 {
		t.Fatalf("the demo wrote %d broadcasts (%v) before it refused", n, err)
	}

	// A Redis with a task waiting: refused too.
	c := asynq.NewClient(rds.Opt)
	defer c.Close()
	if _, err := c.Enqueue(asynq.NewTask("campaign:send", []byte("{}")), asynq.Queue(delivery.QueueBroadcast)); err != nil {
		t.Fatal(err)
	}
	out, err = run(testenv.NewMigratedDatabase(t), rds.URL)
	if err == nil || !strings.Contains(err.Error(), "Redis holds 1 unfinished task(s)") {
		t.Fatalf("a Redis with a task: %v\n%s", err, out)
	}
}
