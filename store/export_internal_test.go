package store

// SetBatch sets how many rows db reads or inserts at once (1000 outside
// tests), so that a test crosses several batches with a few rows.
func SetBatch(db *DB, n int) { db.batch = n }

// JobQuery is the job load's statement on Postgres ($1: the delivery ids).
var JobQuery = jobByIDs

// AtCapQuery is AtCap's statement on Postgres ($1 the phones, $2 since, $3
// the accounts, $4 the messages).
var AtCapQuery = atCapQuery
