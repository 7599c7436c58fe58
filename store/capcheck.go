package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// LedgerAccounts returns the ids of the stored accounts whose ledger
// (delivery.Account.Ledger: their portfolio, else their number) is ledger:
// the accounts whose sends one frequency cap counts. The accounts table is
// small; it is read whole.
func (db *DB) LedgerAccounts(ctx context.Context, ledger string) ([]int64, error) {
	var rows []accountRow
	if err := db.q(ctx).Select("id", "name", "phone_number_id", "portfolio").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("ledger %s: load accounts: %w", ledger, err)
	}
	var ids []int64
	for _, r := range rows {
		if r.domain().Ledger() == ledger {
			ids = append(ids, r.ID)
		}
	}
	return ids, nil
}

// capHistory is AtCap's probe of one recipient's accepted messages, by
// deliveries_phone (no index of sends can serve it: see jobColumns), with
// its placeholders (since, the accounts, the limit) left to the dialect.
const capHistory = `SELECT 1 FROM deliveries d
		LEFT JOIN broadcasts b ON b.id = d.broadcast_id
		LEFT JOIN enrollments e ON e.id = d.enrollment_id
		LEFT JOIN sequences s ON s.id = e.sequence_id
		WHERE d.phone = p.phone AND d.sent_at > %s AND COALESCE(b.account_id, s.account_id) %s LIMIT %s`

// atCapQuery is AtCap on Postgres: $1 the phones, $2 since, $3 the
// accounts, $4 the messages.
var atCapQuery = `SELECT COUNT(*) FROM unnest($1::text[]) AS p(phone)
	WHERE (SELECT COUNT(*) FROM (` + fmt.Sprintf(capHistory, "$2", "= ANY($3)", "$4") + `) h) >= $4`

// AtCap counts how many of phones have had at least messages messages
// accepted after since (their sent_at) from the accounts: the recipients a
// frequency cap of messages per (now − since) would hold back now, from
// the history in the database. One statement: for each phone, a probe of
// the deliveries_phone index that stops at the messages-th match. Callers
// pass the audience in chunks (validate: 50,000 phones a statement).
func (db *DB) AtCap(ctx context.Context, accounts []int64, phones []string, since time.Time, messages int) (int, error) {
	if len(accounts) == 0 || len(phones) == 0 || messages <= 0 {
		return 0, nil
	}
	var n int
	if db.sql != nil {
		if err := db.sql.QueryRowContext(ctx, atCapQuery, phones, utc(since), accounts, messages).Scan(&n); err != nil {
			return 0, fmt.Errorf("count recipients at the frequency cap: %w", err)
		}
		return n, nil
	}
	list, err := json.Marshal(phones)
	if err != nil {
		return 0, fmt.Errorf("count recipients at the frequency cap: %w", err)
	}
	q := `SELECT COUNT(*) FROM (SELECT value AS phone FROM json_each(?)) p
		WHERE (SELECT COUNT(*) FROM (` + fmt.Sprintf(capHistory, "?", "IN ?", "?") + `) h) >= ?`
	if err := db.q(ctx).Raw(q, string(list), utc(since), accounts, messages, messages).Scan(&n).Error; err != nil {
		return 0, fmt.Errorf("count recipients at the frequency cap: %w", err)
	}
	return n, nil
}
