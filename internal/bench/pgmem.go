package bench

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// backendMemory samples, every 200 ms, the private memory of the Postgres
// backends serving one database (RssAnon in /proc/<pid>/status, so the
// shared buffers a backend touched are not counted), and keeps the most
// seen. It sees them only when Postgres runs on this machine; elsewhere it
// reports 0.
type backendMemory struct {
	mu   sync.Mutex
	most float64 // MiB
	stop func()
	done chan struct{}
}

// watchBackends starts sampling the backends of database name, through a
// connection of adminURL's.
func watchBackends(ctx context.Context, adminURL, name string) (*backendMemory, error) {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return nil, fmt.Errorf("connect to postgres: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	m := &backendMemory{stop: cancel, done: make(chan struct{})}
	go func() {
		defer close(m.done)
		defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			rows, err := conn.Query(ctx, `SELECT pid FROM pg_stat_activity WHERE datname = $1`, name)
			if err == nil {
				pids, _ := pgx.CollectRows(rows, pgx.RowTo[int32])
				for _, pid := range pids {
					if mib, ok := rssAnonMiB(pid); ok {
						m.mu.Lock()
						m.most = max(m.most, mib)
						m.mu.Unlock()
					}
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return m, nil
}

// take returns the most seen since the last take.
func (m *backendMemory) take() float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	most := m.most
	m.most = 0
	return most
}

func (m *backendMemory) close() {
	m.stop()
	<-m.done
}

// rssAnonMiB reads a process's RssAnon.
func rssAnonMiB(pid int32) (float64, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(int(pid)) + "/status")
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "RssAnon:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024, err == nil
		}
	}
	return 0, false
}
