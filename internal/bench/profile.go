package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"gorm.io/gorm"

	"github.com/wacamp/wacamp/store"
)

// Profile is what one send cost, from counters read before and after the
// send phase: where the time goes, as issue 14's work is measured.
type Profile struct {
	// GoCPUMillis is this process's CPU (user + system) per send: the
	// worker, the feeder and the simulator, which all run here.
	GoCPUMillis float64 `json:"go_cpu_ms_per_send"`
	// PostgresCPUMillis is the CPU of the Postgres backends serving the
	// bench database per send, read from /proc; -1 when Postgres is not
	// on this machine (or /proc is not readable).
	PostgresCPUMillis float64 `json:"postgres_cpu_ms_per_send"`
	// Commits, TuplesReturned and TuplesUpdated are pg_stat_database's
	// counters for the bench database per send.
	Commits        float64 `json:"commits_per_send"`
	TuplesReturned float64 `json:"tuples_returned_per_send"`
	TuplesUpdated  float64 `json:"tuples_updated_per_send"`
	// HOTShare is the share of the deliveries table's updates that were
	// heap-only (touched no index).
	HOTShare float64 `json:"deliveries_hot_update_share"`
	// RedisCommands is the Redis server's commands per send (every client
	// of that server counts: run the bench on a quiet Redis).
	RedisCommands float64 `json:"redis_commands_per_send"`
}

// counters is one reading of the profile's sources.
type counters struct {
	goCPU             time.Duration
	pgCPU             map[int]time.Duration // per backend pid; nil if unknown
	commits, returned int64
	updated, upd, hot int64
	redisCommands     int64
}

// readCounters reads every source; a source that fails leaves its fields
// zero and is reported in err, so a profile is best effort.
func readCounters(ctx context.Context, g *gorm.DB, rdb *redis.Client, database string) (c counters, err error) {
	c.goCPU = processCPU()
	// Statistics reach pg_stat_* when a backend flushes them (within a
	// second of its last transaction); take a fresh snapshot.
	var errs []string
	if e := g.WithContext(ctx).Exec(`SELECT pg_stat_clear_snapshot()`).Error; e != nil {
		errs = append(errs, e.Error())
	}
	var row struct{ Commits, Returned, Updated int64 }
	if e := g.WithContext(ctx).Raw(`SELECT xact_commit AS commits, tup_returned AS returned, tup_updated AS updated
		FROM pg_stat_database WHERE datname = ?`, database).Scan(&row).Error; e != nil {
		errs = append(errs, e.Error())
	}
	c.commits, c.returned, c.updated = row.Commits, row.Returned, row.Updated
	var tbl struct{ Upd, Hot int64 }
	if e := g.WithContext(ctx).Raw(`SELECT n_tup_upd AS upd, n_tup_hot_upd AS hot FROM pg_stat_user_tables WHERE relname = 'deliveries'`).Scan(&tbl).Error; e != nil {
		errs = append(errs, e.Error())
	}
	c.upd, c.hot = tbl.Upd, tbl.Hot
	var pids []int
	if e := g.WithContext(ctx).Raw(`SELECT pid FROM pg_stat_activity WHERE datname = ?`, database).Scan(&pids).Error; e != nil {
		errs = append(errs, e.Error())
	}
	c.pgCPU = procCPU(pids)
	if info, e := rdb.Info(ctx, "stats").Result(); e != nil {
		errs = append(errs, e.Error())
	} else {
		c.redisCommands = infoInt(info, "total_commands_processed")
	}
	if len(errs) > 0 {
		err = fmt.Errorf("profile counters: %s", strings.Join(errs, "; "))
	}
	return c, err
}

// profile is the cost per send between two readings.
func profile(before, after counters, sends int) Profile {
	n := float64(max(sends, 1))
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) / n }
	p := Profile{
		GoCPUMillis:       ms(after.goCPU - before.goCPU),
		PostgresCPUMillis: -1,
		Commits:           float64(after.commits-before.commits) / n,
		TuplesReturned:    float64(after.returned-before.returned) / n,
		TuplesUpdated:     float64(after.updated-before.updated) / n,
		RedisCommands:     float64(after.redisCommands-before.redisCommands) / n,
	}
	if before.pgCPU != nil && after.pgCPU != nil {
		// Per backend: one started during the phase counts whole; one that
		// ended during it is not counted (the store's pool keeps its
		// connections for the run).
		var d time.Duration
		for pid, t := range after.pgCPU {
			d += t - before.pgCPU[pid]
		}
		p.PostgresCPUMillis = ms(d)
	}
	if upd := after.upd - before.upd; upd > 0 {
		p.HOTShare = float64(after.hot-before.hot) / float64(upd)
	}
	return p
}

// infoInt reads "key:value" from a Redis INFO answer; 0 if absent.
func infoInt(info, key string) int64 {
	for line := range strings.SplitSeq(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), key+":"); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return 0
}

// procCPU reads the user and system CPU of each of the processes pids
// from /proc/PID/stat; nil if any cannot be read (not on this machine).
func procCPU(pids []int) map[int]time.Duration {
	if len(pids) == 0 {
		return nil
	}
	cpu := make(map[int]time.Duration, len(pids))
	for _, pid := range pids {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return nil
		}
		// The command name (field 2) may hold spaces: count fields after
		// its closing parenthesis. utime and stime are fields 14 and 15.
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			return nil
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 13 {
			return nil
		}
		ut, err1 := strconv.ParseInt(f[11], 10, 64)
		st, err2 := strconv.ParseInt(f[12], 10, 64)
		if err1 != nil || err2 != nil {
			return nil
		}
		cpu[pid] = time.Duration(ut+st) * time.Second / clockTicks
	}
	return cpu
}

// clockTicks is the kernel's USER_HZ, the unit of /proc's CPU times (100
// on Linux everywhere that matters).
const clockTicks = 100

// defaultStatsDelay is how long Postgres may take to show a backend's
// counts: an idle backend reports them within PGSTAT_IDLE_INTERVAL (10 s).
const defaultStatsDelay = 11 * time.Second

// settledCounters reads the counters once Postgres's statistics of the
// phase are in: the process CPU and the Redis commands now (the worker's
// idle polls would keep counting), the Postgres ones after delay
// (nothing else uses the bench database meanwhile; the readings' own few
// statements count nothing against thousands of sends).
func settledCounters(ctx context.Context, log *slog.Logger, db *store.DB, rds *benchRedis, database string, delay time.Duration) (counters, error) {
	now, err := readCounters(ctx, db.Gorm(), rds.data, database)
	log.InfoContext(ctx, "bench: send: waiting for Postgres's statistics", slog.Duration("for", delay))
	select {
	case <-ctx.Done():
		return now, ctx.Err()
	case <-time.After(delay):
	}
	later, lerr := readCounters(ctx, db.Gorm(), rds.data, database)
	later.redisCommands, later.goCPU = now.redisCommands, now.goCPU
	return later, errors.Join(err, lerr)
}
