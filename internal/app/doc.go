// Package app wires wacamp's parts together for the commands: connections
// from REDIS_URL and DATABASE_URL, the provider registry (Senders), the
// worker server, the webhook receiver and its store adapter
// (WebhookStore), the send engine's view of webhooks not applied yet
// (PendingWebhooks), and Redis data-loss detection. It holds no domain logic;
// cmd/* mains stay thin by calling it through internal/cli. (The demo
// starts its embedded Redis and SQLite itself, in internal/demo.)
package app
