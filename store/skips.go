package store

import (
	"context"
	"fmt"
)

// SkipCounts counts a broadcast's skipped deliveries per reason code (their
// error_code: delivery.ReasonFrequencyCap, …); nil when there are none. A
// provider's numeric code left on a delivery skipped for another reason is
// not one. It reads only the broadcast's skipped rows that have a code
// (the partial index deliveries_skips, migration 00012): not the millions
// a cancelled broadcast skips without one.
func (db *DB) SkipCounts(ctx context.Context, broadcastID int64) (map[string]int, error) {
	var rows []struct {
		ErrorCode string
		N         int
	}
	if err := db.q(ctx).Raw(`SELECT error_code, COUNT(*) AS n FROM deliveries WHERE broadcast_id = ? AND status = 'skipped' AND error_code <> ''
		GROUP BY error_code`, broadcastID).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("broadcast %d: count skips by reason: %w", broadcastID, err)
	}
	var out map[string]int
	for _, r := range rows {
		if !isReasonCode(r.ErrorCode) {
			continue
		}
		if out == nil {
			out = map[string]int{}
		}
		out[r.ErrorCode] = r.N
	}
	return out, nil
}

// isReasonCode reports whether an error_code is one of wacamp's reason
// codes (a word such as frequency_cap), not a provider's (a number).
func isReasonCode(code string) bool {
	return code != "" && code[0] >= 'a' && code[0] <= 'z'
}

// MarketingCapRefusals counts a broadcast's deliveries Meta refused under
// its per-user marketing limit (failed with delivery.CodeMarketingCap, in
// the send's answer or a later status), reading only them (the partial
// index deliveries_marketing_cap).
func (db *DB) MarketingCapRefusals(ctx context.Context, broadcastID int64) (int, error) {
	var n int
	if err := db.q(ctx).Raw(`SELECT COUNT(*) FROM deliveries WHERE broadcast_id = ? AND status = 'failed' AND error_code = '131049'`,
		broadcastID).Scan(&n).Error; err != nil {
		return 0, fmt.Errorf("broadcast %d: count marketing-limit refusals: %w", broadcastID, err)
	}
	return n, nil
}
