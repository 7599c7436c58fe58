// Package store is wacamp's persistence: gorm over Postgres (production) or
// an embedded SQLite file (the zero-setup demo, linked only by importing
// store/sqlite), versioned SQL migrations, and the named queries that matter
// (keyset planning batches, conditional state updates, COPY of audiences).
// It implements campaign.FeederStore and ServiceStore, delivery.WorkerStore
// and PollStore, the owners' stores (campaign.OwnerStore,
// sequence.StepStore) and sequence.Store; internal/app
// adapts it to what the webhook package declares.
package store
