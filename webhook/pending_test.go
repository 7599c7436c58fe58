package webhook_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/internal/app"
	"github.com/wacamp/wacamp/internal/testenv"
	"github.com/wacamp/wacamp/webhook"
)

// The receiver stamps each webhook with its arrival and records it as
// pending for its recipient before queueing it; the record holds from
// then until the apply handler has applied it. A payload queued before the
// stamp existed is still applied.
func TestReceiverRecordsWebhooksUntilApplied(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	arrival := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
	db, recv, ins, _ := setupReceiver(t, func(k string) string { return env[k] }, func() time.Time { return arrival })
	pending := &webhook.Pending{Redis: testenv.NewRedis(t).Client}
	recv.Pending = pending
	srv := httptest.NewServer(recv)
	t.Cleanup(srv.Close)
	accts, err := db.WebhookAccounts(ctx)
	require.NoError(t, err)
	acct := accts[0].ID
	const phone = "4915100000001"

	body := fmt.Sprintf(`{"id":"wamid.X","status":"delivered","timestamp":"%d","recipient_id":"+49 151 00000001"}`, arrival.Unix())
	require.Equal(t, http.StatusOK, post(t, srv.URL+"/webhooks/shop/"+secret, body, nil))
	seen := func(since time.Time) bool {
		t.Helper()
		ok, err := pending.Since(ctx, acct, phone, since, arrival.Add(time.Second))
		require.NoError(t, err)
		return ok
	}
	require.True(t, seen(arrival), "recorded under the phone as the store matches it")
	require.False(t, seen(arrival.Add(time.Millisecond)), "arrived before")

	tasks, err := ins.ListPendingTasks(webhook.Queue)
	require.NoError(t, err)
	require.Len(t, tasks, 1)
	var p struct {
		ID         string    `json:"id"`
		ReceivedAt time.Time `json:"received_at"`
	}
	require.NoError(t, json.Unmarshal(tasks[0].Payload, &p))
	require.NotEmpty(t, p.ID)
	require.True(t, p.ReceivedAt.Equal(arrival), "stamped %v, arrived %v", p.ReceivedAt, arrival)

	apply := &webhook.ApplyHandler{Store: app.WebhookStore{DB: db}, Pending: pending}
	require.NoError(t, apply.ProcessTask(ctx, asynq.NewTask(tasks[0].Type, tasks[0].Payload)))
	require.False(t, seen(arrival), "applied")

	old := fmt.Sprintf(`{"account_id":%d,"account":"shop","events":[{"WAMID":"wamid.Y","Phone":%q,"Status":"delivered"}]}`, acct, phone)
	require.NoError(t, apply.ProcessTask(ctx, asynq.NewTask(webhook.TypeApply, []byte(old))))
}

// On a Redis Cluster the records of one webhook about several phones lie
// in several slots (and nodes): Add, Since and Done still work (a
// transaction across them was refused with CROSSSLOT).
func TestPendingOnARedisCluster(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rc := testenv.NewRedisCluster(t)
	pending := &webhook.Pending{Redis: rc.Client}
	at := time.Now().Truncate(time.Millisecond)
	var phones []string
	for i := range 12 {
		phones = append(phones, fmt.Sprintf("49151000000%02d", i))
	}
	require.NoError(t, pending.Add(ctx, 7, "hook-1", phones, at))
	for _, ph := range phones {
		ok, err := pending.Since(ctx, 7, ph, at, at.Add(time.Second))
		require.NoError(t, err)
		require.True(t, ok, ph)
		ttl, err := rc.Client.PTTL(ctx, "wacamp:webhook:pending:7:"+ph).Result()
		require.NoError(t, err)
		require.Greater(t, ttl, webhook.PendingStale, "the set expires, 2×PendingStale after its last recording")
	}
	require.NoError(t, pending.Done(ctx, 7, "hook-1", phones))
	for _, ph := range phones {
		ok, err := pending.Since(ctx, 7, ph, at, at.Add(time.Second))
		require.NoError(t, err)
		require.False(t, ok, ph)
	}
}
