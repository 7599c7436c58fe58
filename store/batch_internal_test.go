package store

// SetBatch sets how many rows db reads or inserts at once (1000 outside
// tests), so that a test crosses several batches with a few rows.
func SetBatch(db *DB, n int) { db.batch = n }
