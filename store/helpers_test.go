package store_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/campaign"
	"github.com/wacamp/wacamp/consent"
	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/internal/testenv"
	"github.com/wacamp/wacamp/spec"
	"github.com/wacamp/wacamp/store"
	_ "github.com/wacamp/wacamp/store/sqlite" // the embedded database, as the demo has it
	"github.com/wacamp/wacamp/templates"
)

// t0 is the tests' clock origin, the time they start at (no test depends on
// the calendar date). Times are whole microseconds so they survive a round
// trip through Postgres unchanged.
var t0 = time.Now().UTC().Truncate(time.Second).Add(123456 * time.Microsecond)

// at returns t0 + d.
func at(d time.Duration) time.Time { return t0.Add(d) }

// tables are every table the store writes.
var tables = []string{"accounts", "broadcasts", "recipients", "deliveries", "delivery_events"}

// newSQLite opens a migrated store on an embedded SQLite file, as the demo
// does: a copy of one file migrated once per test binary (as Postgres test
// databases are cloned from a migrated template), so a test pays for a file
// copy, not for every migration.
func newSQLite(t testing.TB) *store.DB {
	t.Helper()
	tmpl, err := sqliteTemplate()
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "w.db")
	require.NoError(t, os.WriteFile(path, tmpl, 0o600))
	db, err := store.Open(context.Background(), "sqlite:"+path, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// sqliteTemplate is the bytes of a freshly migrated SQLite database, made
// once: opened (which migrates), closed (which checkpoints the WAL into the
// file), read.
var sqliteTemplate = sync.OnceValues(func() ([]byte, error) {
	dir, err := os.MkdirTemp("", "wacamp-sqlite-template-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "template.db")
	db, err := store.Open(context.Background(), "sqlite:"+path, nil)
	if err != nil {
		return nil, err
	}
	if err := db.Close(); err != nil {
		return nil, err
	}
	return os.ReadFile(path)
})

// eachStore runs fn as the parallel subtests "Postgres" and "SQLite", each on
// a fresh, migrated database.
func eachStore(t *testing.T, fn func(t *testing.T, f *fixture)) {
	t.Helper()
	for _, sc := range []struct {
		name string
		open func(testing.TB) *store.DB
	}{
		{"Postgres", testenv.NewStore},
		{"SQLite", newSQLite},
	} {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			db := sc.open(t)
			store.SetBatch(db, testBatch)
			fn(t, &fixture{t: t, db: db, ctx: context.Background()})
		})
	}
}

// fixture is one test's store with shortcuts that fail the test on error.
type fixture struct {
	t   *testing.T
	db  *store.DB
	ctx context.Context
}

func newPostgres(t *testing.T) *fixture {
	db := testenv.NewStore(t)
	store.SetBatch(db, testBatch)
	return &fixture{t: t, db: db, ctx: context.Background()}
}

// testBatch is the store's batch size in these tests (1000 in production):
// a few dozen rows cross several keyset reads and insert batches.
const testBatch = 10

// account is a valid account definition.
func account(name string) spec.Account {
	return spec.Account{
		Name: name, Provider: "botsailor", BaseURL: "https://botsailor.com/api/v1",
		TokenRef: "env:TOKEN_" + strings.ToUpper(name), PhoneNumberID: "119060000040020",
		WhatsAppBotID: 123, RatePerSecond: 80,
		Pos: spec.Pos{File: "campaigns/accounts.yaml", Line: 2},
	}
}

// recipients returns n recipients with phones numbered from first.
func recipients(first, n int) []spec.Recipient {
	rs := make([]spec.Recipient, n)
	for i := range rs {
		rs[i] = spec.Recipient{
			Phone: fmt.Sprintf("49151%08d", first+i),
			Name:  fmt.Sprintf("Person %d", first+i),
			Vars:  map[string]string{"code": fmt.Sprintf("C%d", first+i)},
		}
	}
	return rs
}

// broadcast is a valid broadcast definition of account "main" with n
// recipients, starting at t0.
func broadcast(name string, n int) spec.Broadcast {
	start := t0
	return spec.Broadcast{
		Name: name, Account: "main", StartAt: &start, Deadline: 24 * time.Hour,
		Message:    templates.Message{Kind: templates.KindText, Text: "Hi {{name}}, your code is {{code}}"},
		Recipients: recipients(0, n),
		Pos:        spec.Pos{File: "campaigns/" + name + ".yaml", Line: 7},
	}
}

func bundle(bs ...spec.Broadcast) *spec.Bundle {
	return &spec.Bundle{Accounts: []spec.Account{account("main")}, Broadcasts: bs}
}

func (f *fixture) apply(b *spec.Bundle, now time.Time) []store.Change {
	f.t.Helper()
	ch, err := f.db.Apply(f.ctx, b, now)
	require.NoError(f.t, err)
	return ch
}

func (f *fixture) broadcast(name string) campaign.Broadcast {
	f.t.Helper()
	b, err := f.db.BroadcastByName(f.ctx, name)
	require.NoError(f.t, err)
	return b
}

// setStatus walks a scheduled broadcast to `to` through allowed moves.
func (f *fixture) setStatus(id int64, to campaign.Status) {
	f.t.Helper()
	path := map[campaign.Status][]campaign.Status{
		campaign.StatusScheduled: nil,
		campaign.StatusDraft:     {campaign.StatusDraft},
		campaign.StatusRunning:   {campaign.StatusRunning},
		campaign.StatusPaused:    {campaign.StatusRunning, campaign.StatusPaused},
		campaign.StatusCancelled: {campaign.StatusRunning, campaign.StatusCancelled},
		campaign.StatusCompleted: {campaign.StatusRunning, campaign.StatusCompleted},
	}[to]
	from := campaign.StatusScheduled
	for _, s := range path {
		if s == campaign.StatusCompleted {
			// SetStatus completes a running broadcast only when none of
			// its deliveries is planned (retry-failed's guard); these
			// fixtures keep theirs.
			require.NoError(f.t, f.db.Gorm().WithContext(f.ctx).Exec(`UPDATE broadcasts SET status = ?, finished_at = ? WHERE id = ? AND status = ?`,
				string(s), t0, id, string(from)).Error)
			from = s
			continue
		}
		ok, err := f.db.SetStatus(f.ctx, id, []campaign.Status{from}, s, "test", t0)
		require.NoError(f.t, err)
		require.True(f.t, ok, "set status %s → %s", from, s)
		from = s
	}
}

// planned applies a broadcast of n recipients, plans it completely, moves it
// to status and returns it with its deliveries' refs in id order.
func (f *fixture) planned(name string, n int, status campaign.Status) (campaign.Broadcast, []delivery.Ref) {
	f.t.Helper()
	f.apply(bundle(broadcast(name, n)), t0)
	b := f.broadcast(name)
	f.planAll(b.ID, 1000)
	refs, err := f.db.NextPlanned(f.ctx, b.ID, n+1)
	require.NoError(f.t, err)
	require.Len(f.t, refs, n)
	f.setStatus(b.ID, status)
	return f.broadcast(name), refs
}

// planAll plans a broadcast in keyset batches and returns how many batches
// read recipients.
func (f *fixture) planAll(id int64, batch int) int {
	f.t.Helper()
	var after int64
	for batches := 0; ; batches++ {
		last, n, err := f.db.PlanBatch(f.ctx, id, after, batch, t0)
		require.NoError(f.t, err)
		if n == 0 {
			require.Equal(f.t, after, last)
			return batches
		}
		require.Greater(f.t, last, after, "keyset must advance")
		require.LessOrEqual(f.t, n, batch)
		after = last
	}
}

// deliveryRow is a deliveries row as the tests inspect it.
type deliveryRow struct {
	ID          int64
	BroadcastID int64
	RecipientID int64
	Phone       string
	Status      string
	Gen         int
	Attempts    int
	Wamid       *string
	ErrorCode   string
	Error       string
	QueuedAt    *time.Time
	SendingAt   *time.Time
	LeaseUntil  *time.Time
	SentAt      *time.Time
	DeliveredAt *time.Time
	ReadAt      *time.Time
	FailedAt    *time.Time
	NextPollAt  *time.Time
	PollCount   int
	TrackUntil  *time.Time
	UpdatedAt   time.Time
}

func (f *fixture) delivery(id int64) deliveryRow {
	f.t.Helper()
	var d deliveryRow
	require.NoError(f.t, f.db.Gorm().WithContext(f.ctx).Table("deliveries").Where("id = ?", id).Take(&d).Error)
	return d
}

// event is a delivery_events row.
type event struct {
	Status string
	At     time.Time
	Detail string
}

func (f *fixture) events(deliveryID int64) []event {
	f.t.Helper()
	var es []event
	require.NoError(f.t, f.db.Gorm().WithContext(f.ctx).Raw(
		`SELECT status, at, detail FROM delivery_events WHERE delivery_id = ? ORDER BY id`, deliveryID).Scan(&es).Error)
	return es
}

func eventStatuses(es []event) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Status
	}
	return out
}

// count counts rows of table matching where (SQL with ? args; "" = all).
func (f *fixture) count(table, where string, args ...any) int64 {
	f.t.Helper()
	q := f.db.Gorm().WithContext(f.ctx).Table(table)
	if where != "" {
		q = q.Where(where, args...)
	}
	var n int64
	require.NoError(f.t, q.Count(&n).Error)
	return n
}

// dump returns every row of table as "col=value ..." text, in id order, by
// reading every column with database/sql.
func (f *fixture) dump(table string) []string {
	f.t.Helper()
	sqlDB, err := f.db.Gorm().DB()
	require.NoError(f.t, err)
	rows, err := sqlDB.QueryContext(f.ctx, "SELECT * FROM "+table+" ORDER BY id")
	require.NoError(f.t, err)
	defer rows.Close()
	cols, err := rows.Columns()
	require.NoError(f.t, err)
	var out []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		require.NoError(f.t, rows.Scan(ptrs...))
		var sb strings.Builder
		for i, c := range cols {
			v := vals[i]
			switch x := v.(type) {
			case []byte:
				v = string(x)
			case time.Time:
				v = x.UTC().Format(time.RFC3339Nano)
			}
			fmt.Fprintf(&sb, "%s=%v ", c, v)
		}
		out = append(out, sb.String())
	}
	require.NoError(f.t, rows.Err())
	return out
}

// snapshot dumps every table.
func (f *fixture) snapshot() map[string][]string {
	f.t.Helper()
	out := map[string][]string{}
	for _, tb := range tables {
		out[tb] = f.dump(tb)
	}
	return out
}

// phones returns the phones of a broadcast's recipients, sorted.
func (f *fixture) phones(broadcastID int64) []string {
	f.t.Helper()
	var ps []string
	require.NoError(f.t, f.db.Gorm().WithContext(f.ctx).Raw(
		`SELECT phone FROM recipients WHERE broadcast_id = ? ORDER BY phone`, broadcastID).Scan(&ps).Error)
	return ps
}

func phonesOf(rs []spec.Recipient) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Phone
	}
	sort.Strings(out)
	return out
}

// requireTime asserts that got is set and the same instant as want.
func requireTime(t *testing.T, want time.Time, got *time.Time, msgAndArgs ...any) {
	t.Helper()
	require.NotNil(t, got, msgAndArgs...)
	require.True(t, want.Equal(*got), "want %s, got %s %v", want, got.UTC(), fmt.Sprint(msgAndArgs...))
}

// claimAndSend takes a planned delivery of a running broadcast through
// claim and mark-sent, returning its ref.
func (f *fixture) claimAndSend(ref delivery.Ref, wamid string, now time.Time) {
	f.t.Helper()
	ok, err := f.db.Claim(f.ctx, ref, now, now.Add(time.Minute), nil, consent.Check{})
	require.NoError(f.t, err)
	require.True(f.t, ok, "claim %v", ref)
	ok, err = f.db.MarkSent(f.ctx, ref, wamid, now, now.Add(5*time.Second), now.Add(30*24*time.Hour))
	require.NoError(f.t, err)
	require.True(f.t, ok, "mark sent %v", ref)
}

// concurrently runs fn(0), …, fn(n-1) at once and requires that none failed.
func concurrently(t *testing.T, n int, fn func(i int) error) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			if err := fn(i); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}
