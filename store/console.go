package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/wacamp/wacamp/delivery"
)

// Recipient is one recipient of a broadcast with its delivery, as the
// campaign console's recipient table shows it; RecipientID is the keyset
// cursor of the next page.
type Recipient struct {
	RecipientID int64
	delivery.Row
}

// MaxRecipientPage is the most rows Recipients returns at once.
const MaxRecipientPage = 500

// Recipients returns up to limit (at most MaxRecipientPage) recipients of
// the broadcast whose recipient id is above after, in id order (the
// audience's), each with its delivery as Export shows it. phone, when not
// empty, keeps those whose phone number contains its digits (a "+" or
// spaces typed are ignored). A page is one keyset read of the (broadcast_id,
// id) index: the cost of a page does not grow with how far in it is.
func (db *DB) Recipients(ctx context.Context, broadcastID, after int64, limit int, phone string) ([]Recipient, error) {
	limit = min(max(limit, 1), MaxRecipientPage)
	like := ""
	if digits := onlyDigits(phone); digits != "" {
		like = "%" + digits + "%"
	} else if phone != "" {
		return nil, nil // no digits: no phone number contains it
	}
	rows, err := db.recipientRows(ctx, broadcastID, after, limit, like)
	if err != nil {
		return nil, fmt.Errorf("broadcast %d: recipients: %w", broadcastID, err)
	}
	out := make([]Recipient, len(rows))
	for i, r := range rows {
		out[i] = Recipient{RecipientID: r.RecipientID, Row: r.row()}
	}
	return out, nil
}

func onlyDigits(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
}

// MaxSendBuckets is the most buckets SendsOverTime counts.
const MaxSendBuckets = 120

// SendsOverTime counts the broadcast's deliveries the provider accepted
// in each of n equal buckets (at most MaxSendBuckets) of [from, to), by
// their sent_at. Every bucket is a range read of the (broadcast_id,
// sent_at) index, all in one statement: the cost grows with the sends in
// the span, never with the whole table.
func (db *DB) SendsOverTime(ctx context.Context, broadcastID int64, from, to time.Time, n int) ([]int, error) {
	n = min(max(n, 1), MaxSendBuckets)
	if !to.After(from) {
		return make([]int, n), nil
	}
	step := to.Sub(from) / time.Duration(n)
	if step <= 0 {
		step = 1
	}
	var q strings.Builder
	args := make([]any, 0, 4*n)
	for i := range n {
		if i > 0 {
			q.WriteString(" UNION ALL ")
		}
		lo, hi := from.Add(time.Duration(i)*step), from.Add(time.Duration(i+1)*step)
		if i == n-1 {
			hi = to
		}
		q.WriteString("SELECT CAST(? AS INTEGER) AS bucket, COUNT(*) AS n FROM deliveries WHERE broadcast_id = ? AND sent_at >= ? AND sent_at < ?")
		args = append(args, i, broadcastID, utc(lo), utc(hi))
	}
	var rows []struct{ Bucket, N int }
	if err := db.q(ctx).Raw(q.String(), args...).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("broadcast %d: sends over time: %w", broadcastID, err)
	}
	out := make([]int, n)
	for _, r := range rows {
		if r.Bucket >= 0 && r.Bucket < n {
			out[r.Bucket] = r.N
		}
	}
	return out, nil
}

// ErrorGroup is how many of a broadcast's deliveries ended in one state
// (failed, skipped or expired) with one error code, with one of their
// error messages as an example.
type ErrorGroup struct {
	Status  delivery.Status
	Code    string
	Example string
	N       int
}

// ErrorGroups groups the broadcast's failed, skipped and expired
// deliveries by state and error code, largest first, at most limit
// groups. It reads those deliveries only (through the (broadcast_id,
// status, id) index).
func (db *DB) ErrorGroups(ctx context.Context, broadcastID int64, limit int) ([]ErrorGroup, error) {
	var rows []struct {
		Status, ErrorCode, Example string
		N                          int
	}
	err := db.q(ctx).Raw(`SELECT status, error_code, MAX(error) AS example, COUNT(*) AS n FROM deliveries
		WHERE broadcast_id = ? AND status IN ('failed', 'skipped', 'expired')
		GROUP BY status, error_code ORDER BY n DESC, status, error_code LIMIT ?`, broadcastID, max(limit, 1)).Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("broadcast %d: group errors: %w", broadcastID, err)
	}
	out := make([]ErrorGroup, len(rows))
	for i, r := range rows {
		out[i] = ErrorGroup{Status: delivery.Status(r.Status), Code: r.ErrorCode, Example: r.Example, N: r.N}
	}
	return out, nil
}
