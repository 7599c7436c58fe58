// Package testenv gives tests real, isolated services: a fresh Postgres
// database per test (created and dropped around it; a migrated one is a
// copy of a template database migrated once per schema) and a Redis database
// index leased for the test's lifetime and flushed before use. asynq keys are
// not prefixable, so tests that run at once (other packages) each need their
// own Redis database.
//
// TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test) and
// TEST_REDIS_URL (default redis://127.0.0.1:6379) name the servers.
package testenv
