package webhook_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/consent"
	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/internal/app"
	"github.com/wacamp/wacamp/internal/testenv"
	"github.com/wacamp/wacamp/provider"
	"github.com/wacamp/wacamp/webhook"
)

// countingStore counts the batches of events applied.
type countingStore struct {
	app.WebhookStore
	mu      sync.Mutex
	batches int
}

func (c *countingStore) ApplyWebhookEvents(ctx context.Context, accountID int64, events []provider.Event, received, now time.Time) (webhook.Result, error) {
	c.mu.Lock()
	c.batches++
	c.mu.Unlock()
	return c.WebhookStore.ApplyWebhookEvents(ctx, accountID, events, received, now)
}

// With Redis away, the receiver keeps authenticated webhooks in the
// database and answers 200 (a provider such as Salebot never resends);
// workers applying them at once apply each exactly once, and none is lost.
// Only when the database cannot keep them either is the answer 503.
func TestReceiverKeepsWebhooksWhileRedisIsAway(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var mu sync.Mutex
	clock := time.Now()
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	db, recv, ins, refs := setupReceiver(t, func(k string) string { return env[k] }, now)
	up := recv.Queue
	down := asynq.NewClient(asynq.RedisClientOpt{Addr: testenv.ClosedAddr(t)})
	t.Cleanup(func() { _ = down.Close() })
	recv.Queue, recv.Inbox = down, app.WebhookStore{DB: db}
	srv := httptest.NewServer(recv)
	t.Cleanup(srv.Close)
	url := srv.URL + "/webhooks/shop/" + secret

	start := time.Now()
	for i, wamid := range []string{"wamid.A", "wamid.B"} {
		ok, err := db.Claim(ctx, refs[i], start, start.Add(time.Minute), nil, consent.Check{})
		require.NoError(t, err)
		require.True(t, ok)
		ok, err = db.MarkSent(ctx, refs[i], wamid, start, time.Time{}, start.Add(time.Hour))
		require.NoError(t, err)
		require.True(t, ok)
	}
	bodies := []string{
		statusBody("wamid.A", "delivered", start.Unix()+1),
		statusBody("wamid.B", "read", start.Unix()+2),
		statusBody("wamid.A", "read", start.Unix()+3),
		statusBody("wamid.C", "delivered", start.Unix()+1), // a message not recorded yet
	}
	for _, b := range bodies {
		require.Equal(t, http.StatusOK, post(t, url, b, nil), "kept, not refused")
	}
	job, err := db.Job(ctx, refs[0].ID)
	require.NoError(t, err)
	require.Equal(t, delivery.Sent, job.Status, "nothing applied yet")
	_, err = ins.ListPendingTasks(webhook.Queue)
	require.ErrorIs(t, err, asynq.ErrQueueNotFound, "nothing reached Redis")

	// Two workers drain at once.
	counted := &countingStore{WebhookStore: app.WebhookStore{DB: db}}
	var wg sync.WaitGroup
	applied := make([]int, 2)
	for i := range applied {
		wg.Go(func() {
			h := &webhook.ApplyHandler{Store: counted}
			n, err := h.ApplyKept(ctx, counted)
			require.NoError(t, err)
			applied[i] = n
		})
	}
	wg.Wait()
	require.Equal(t, len(bodies), applied[0]+applied[1])
	require.Equal(t, len(bodies), counted.batches, "each kept webhook applied once")
	for _, ref := range refs {
		job, err := db.Job(ctx, ref.ID)
		require.NoError(t, err)
		require.Equal(t, delivery.Read, job.Status)
	}
	n, err := (&webhook.ApplyHandler{Store: counted}).ApplyKept(ctx, counted)
	require.NoError(t, err)
	require.Zero(t, n, "forgotten once applied")
	require.Equal(t, len(bodies), counted.batches)
	var kept int
	require.NoError(t, db.Gorm().Raw(`SELECT COUNT(*) FROM webhook_events WHERE wamid = 'wamid.C'`).Scan(&kept).Error)
	require.Equal(t, 1, kept, "a status about an unknown message is kept for its send, as when queued")

	// Neither Redis nor the database: 503, for the provider to retry.
	gone := testenv.NewStore(t)
	require.NoError(t, gone.Close())
	recv.Inbox = app.WebhookStore{DB: gone}
	require.Equal(t, http.StatusServiceUnavailable, post(t, url, bodies[0], nil))

	// Redis is back: once the receiver's rest after a failure is over, it
	// queues again.
	recv.Queue, recv.Inbox = up, app.WebhookStore{DB: db}
	mu.Lock()
	clock = clock.Add(webhook.QueueRest + time.Second)
	mu.Unlock()
	require.Equal(t, http.StatusOK, post(t, url, bodies[0], nil))
	tasks, err := ins.ListPendingTasks(webhook.Queue)
	require.NoError(t, err)
	require.Len(t, tasks, 1, "queued on Redis again")
	left, err := db.ClaimKeptWebhooks(ctx, time.Now(), time.Minute, 10)
	require.NoError(t, err)
	require.Empty(t, left, "nothing more kept")
}
