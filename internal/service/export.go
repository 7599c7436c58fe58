package service

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/sequence"
)

// RowWriter writes export rows, one at a time, as they are read: a
// broadcast's (delivery.Row) or a sequence's (sequence.Row). Flush ends
// the export.
type RowWriter interface {
	Broadcast(delivery.Row) error
	Sequence(sequence.Row) error
	Flush() error
}

// Encoders are the export formats by name: "jsonl" (one JSON object a
// line, as `scheduler export` always printed) and "csv" (a header, then a
// row each).
var Encoders = map[string]func(io.Writer) RowWriter{
	"jsonl": func(w io.Writer) RowWriter { return &jsonRows{enc: json.NewEncoder(w)} },
	"csv":   func(w io.Writer) RowWriter { return &csvRows{w: csv.NewWriter(w), out: w} },
}

// ExportTo writes every row of the broadcast or sequence named name to
// w, streamed.
func (s *Service) ExportTo(ctx context.Context, name string, w RowWriter) error {
	if _, err := s.Export(ctx, name, w.Broadcast, w.Sequence); err != nil {
		return err
	}
	return w.Flush()
}

type jsonRows struct{ enc *json.Encoder }

func (j *jsonRows) Broadcast(r delivery.Row) error { return j.enc.Encode(r) }
func (j *jsonRows) Sequence(r sequence.Row) error  { return j.enc.Encode(r) }
func (j *jsonRows) Flush() error                   { return nil }

// csvRows writes CSV: the header of the kind of its first row, then the
// rows. Times are RFC 3339 in UTC, absent ones empty.
type csvRows struct {
	w      *csv.Writer
	out    io.Writer
	header bool
	n      int
}

// BroadcastColumns and SequenceColumns are the CSV export's columns.
var (
	BroadcastColumns = []string{"id", "phone", "name", "status", "wamid", "error_code", "error", "attempts", "settle", "sent_at", "updated_at"}
	SequenceColumns  = []string{"enrollment", "run", "phone", "name", "step", "status", "wamid", "error_code", "error", "due_at", "sent_at", "attempts", "settle"}
)

func (c *csvRows) write(header []string, rec []string) error {
	if !c.header {
		c.header = true
		if err := c.w.Write(header); err != nil {
			return err
		}
	}
	if err := c.w.Write(rec); err != nil {
		return err
	}
	c.n++
	if c.n%1000 == 0 {
		return c.Flush() // streamed: never the whole export in memory
	}
	return nil
}

func (c *csvRows) Broadcast(r delivery.Row) error {
	return c.write(BroadcastColumns, []string{strconv.FormatInt(r.ID, 10), r.Phone, cell(r.Name), string(r.Status), r.WAMID,
		r.ErrorCode, cell(r.Error), strconv.Itoa(r.Attempts), r.Settle, timeCell(r.SentAt), timeCell(&r.UpdatedAt)})
}

func (c *csvRows) Sequence(r sequence.Row) error {
	return c.write(SequenceColumns, []string{strconv.FormatInt(r.Enrollment, 10), strconv.Itoa(r.Run), r.Phone, cell(r.Name),
		strconv.Itoa(r.Step), r.Status, r.WAMID, r.ErrorCode, cell(r.Error), timeCell(r.DueAt), timeCell(r.SentAt),
		strconv.Itoa(r.Attempts), r.Settle})
}

func (c *csvRows) Flush() error {
	c.w.Flush()
	if err := c.w.Error(); err != nil {
		return err
	}
	if f, ok := c.out.(interface{ Flush() }); ok {
		f.Flush()
	}
	return nil
}

// cell keeps a text that a spreadsheet would run as a formula (it begins
// with =, +, -, @, a tab or a carriage return: a recipient's name is
// anyone's input) as text, behind a quote.
func cell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func timeCell(t *time.Time) string {
	if t == nil || t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}
