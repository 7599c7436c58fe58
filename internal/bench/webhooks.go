package bench

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/internal/app"
	"github.com/wacamp/wacamp/provider/drivers"
	"github.com/wacamp/wacamp/spec"
	"github.com/wacamp/wacamp/throttle"
)

// Defaults of WebhooksConfig's zero fields.
const (
	DefaultWebhookMessages = 20000
	DefaultWebhookClients  = 32
	hookSecretVar          = "BENCH_HOOK_SECRET"
	hookSecret             = "bench-hook-secret-0123456789"
)

// WebhooksConfig is one run of the webhook benchmark: Messages sent
// messages each get a delivered status (and a tenth of them a duplicate),
// pushed by Clients concurrent HTTP clients to the real receiver, and
// applied by the real worker.
type WebhooksConfig struct {
	Messages    int
	Clients     int
	Concurrency int
	RedisURL    string
	RedisDB     int
	// RedisLeased says the caller holds RedisDB's test lease.
	RedisLeased bool
	DatabaseURL string
	Timeout     time.Duration
}

// WebhooksResult is what one webhook run measured.
type WebhooksResult struct {
	CPUs     int `json:"cpus"`
	Messages int `json:"messages"`
	Requests int `json:"requests"`
	Clients  int `json:"clients"`
	// Answer latency of the receiver (authenticate, read, parse, queue).
	P50Millis float64 `json:"p50_ms"`
	P99Millis float64 `json:"p99_ms"`
	MaxMillis float64 `json:"max_ms"`
	OverOneS  int     `json:"over_1s"`
	// RequestsPerSecond is the receiver's answered rate.
	RequestsPerSecond float64 `json:"requests_per_second"`
	// AppliedSeconds is from the first request until every message was
	// delivered in the database; AppliedPerSecond the statuses per second.
	AppliedSeconds   float64 `json:"applied_seconds"`
	AppliedPerSecond float64 `json:"applied_per_second"`
	Non200           int     `json:"non_200"`
}

// WriteTable prints the result for people.
func (r WebhooksResult) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "status webhooks: %d messages, %d requests (a tenth duplicated), %d clients, %d CPUs\n", r.Messages, r.Requests, r.Clients, r.CPUs)
	fmt.Fprintf(tw, "answered\t%.0f/s\t%d not 200\n", r.RequestsPerSecond, r.Non200)
	fmt.Fprintf(tw, "answer latency p50 / p99 / max\t%.1f / %.1f / %.1f ms\t%d over 1 s (WhatsApp's guide: median ≤ 250 ms, < 1%% over 1 s)\n", r.P50Millis, r.P99Millis, r.MaxMillis, r.OverOneS)
	fmt.Fprintf(tw, "all applied\t%.1f s\t%.0f statuses/s\n", r.AppliedSeconds, r.AppliedPerSecond)
	return tw.Flush()
}

// RunWebhooks runs the webhook benchmark in a fresh database and a flushed
// Redis database, as Run does.
func RunWebhooks(ctx context.Context, cfg WebhooksConfig, progress io.Writer) (res WebhooksResult, err error) {
	cfg.Messages = cmp.Or(cfg.Messages, DefaultWebhookMessages)
	cfg.Clients = cmp.Or(cfg.Clients, DefaultWebhookClients)
	base := Config{Concurrency: cfg.Concurrency, RedisURL: cfg.RedisURL, RedisDB: cfg.RedisDB, RedisLeased: cfg.RedisLeased,
		DatabaseURL: cfg.DatabaseURL, Timeout: cfg.Timeout}.withDefaults()
	ctx, cancel := context.WithTimeout(ctx, base.Timeout)
	defer cancel()
	w, closeWorld, err := newWorld(ctx, base, progress)
	if err != nil {
		return res, err
	}
	defer func() { err = errors.Join(err, closeWorld()) }()
	log, rds, db := w.log, w.rds, w.db
	res = WebhooksResult{CPUs: runtime.GOMAXPROCS(0), Messages: cfg.Messages, Clients: cfg.Clients}

	// A Sobot account and a broadcast whose messages are all sent.
	dir, err := os.MkdirTemp("", "wacamp-bench-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	var csv strings.Builder
	csv.WriteString("phone,name\n") // Sobot sends each recipient's name
	for i := range cfg.Messages {
		fmt.Fprintf(&csv, "%s,Person %d\n", phone(i), i)
	}
	if err := os.WriteFile(filepath.Join(dir, "people.csv"), []byte(csv.String()), 0o600); err != nil {
		return res, err
	}
	yaml := fmt.Sprintf(`accounts:
  - name: bench
    provider: sobot
    customer_service_window: not_enforced
    base_url: http://127.0.0.1:1
    api_token: ${%s}
    api_secret: ${%s}
    webhook_secret: ${%s}
    daily_unique_limit: unlimited
broadcasts:
  - name: hooks
    account: bench
    audience: {csv: people.csv}
    message: {text: "hi"}
`, tokenVar, tokenVar, hookSecretVar)
	path := filepath.Join(dir, "hooks.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		return res, err
	}
	env := func(k string) string {
		if k == hookSecretVar {
			return hookSecret
		}
		return getenv(k)
	}
	bundle, err := spec.Load(path, env, drivers.Catalog{})
	if err != nil {
		return res, fmt.Errorf("load generated campaign: %w", err)
	}
	if _, err := db.Apply(ctx, bundle, time.Now()); err != nil {
		return res, err
	}
	b, err := db.BroadcastByName(ctx, "hooks")
	if err != nil {
		return res, err
	}
	if _, _, err := db.PlanBatch(ctx, b.ID, 0, cfg.Messages, time.Now()); err != nil {
		return res, err
	}
	if err := db.Gorm().WithContext(ctx).Exec(`UPDATE deliveries SET status = 'sent', wamid = 'wamid.bench.' || id, sent_at = now()
		WHERE broadcast_id = ?`, b.ID).Error; err != nil {
		return res, fmt.Errorf("mark sent: %w", err)
	}
	var wamids []string
	if err := db.Gorm().WithContext(ctx).Raw(`SELECT wamid FROM deliveries WHERE broadcast_id = ? ORDER BY id`, b.ID).Scan(&wamids).Error; err != nil {
		return res, err
	}

	conns := &app.Conns{Redis: rds.opt, RedisClient: rds.data, Store: db}
	wk := app.NewWorker(conns, app.WorkerConfig{Concurrency: base.Concurrency, Senders: &app.Senders{Getenv: env},
		Limiter: throttle.NewFleet(rds.data), Campaign: delivery.Options{}, Logger: log})
	if err := wk.Start(); err != nil {
		return res, err
	}
	defer wk.Shutdown()
	recv, closeRecv := app.NewReceiver(conns, env, log)
	defer closeRecv()
	url, stop, err := serve(recv)
	if err != nil {
		return res, err
	}
	defer stop()
	url = strings.TrimSuffix(url, "/api/v1") + "/webhooks/bench/" + hookSecret

	// Push: every message's delivered status, a tenth twice.
	var bodies []string
	for i, id := range wamids {
		body := fmt.Sprintf(`{"id":%q,"status":"delivered","timestamp":"%d"}`, id, time.Now().Unix())
		bodies = append(bodies, body)
		if i%10 == 0 {
			bodies = append(bodies, body)
		}
	}
	res.Requests = len(bodies)
	next := make(chan string)
	var (
		mu        sync.Mutex
		latencies []time.Duration
	)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: cfg.Clients}, Timeout: 30 * time.Second}
	start := time.Now()
	var wg sync.WaitGroup
	for range cfg.Clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for body := range next {
				t := time.Now()
				resp, err := client.Post(url, "application/json", strings.NewReader(body))
				d := time.Since(t)
				mu.Lock()
				latencies = append(latencies, d)
				if err != nil || resp.StatusCode != http.StatusOK {
					res.Non200++
				}
				mu.Unlock()
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					_ = resp.Body.Close()
				}
			}
		}()
	}
	for _, body := range bodies {
		select {
		case next <- body:
		case <-ctx.Done():
		}
	}
	close(next)
	wg.Wait()
	answered := time.Since(start)
	log.InfoContext(ctx, "bench: webhooks: all answered", slog.Duration("took", answered.Round(time.Millisecond)), slog.Int("not_200", res.Non200))
	if res.Non200 > 0 {
		return res, fmt.Errorf("%d of %d requests not answered 200", res.Non200, res.Requests)
	}
	for {
		var n int
		if err := db.Gorm().WithContext(ctx).Raw(`SELECT COUNT(*) FROM deliveries WHERE broadcast_id = ? AND status = 'delivered'`, b.ID).Scan(&n).Error; err != nil {
			return res, err
		}
		if n == cfg.Messages {
			break
		}
		select {
		case <-ctx.Done():
			return res, fmt.Errorf("%d of %d applied: %w", n, cfg.Messages, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
	applied := time.Since(start)
	slices.Sort(latencies)
	pct := func(p float64) float64 {
		return float64(latencies[min(len(latencies)-1, int(p*float64(len(latencies))))].Microseconds()) / 1000
	}
	res.P50Millis, res.P99Millis, res.MaxMillis = pct(0.5), pct(0.99), pct(1)
	for _, d := range latencies {
		if d > time.Second {
			res.OverOneS++
		}
	}
	res.RequestsPerSecond = rate(res.Requests, answered)
	res.AppliedSeconds, res.AppliedPerSecond = applied.Seconds(), rate(cfg.Messages, applied)
	return res, nil
}
