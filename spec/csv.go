package spec

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/wacamp/wacamp/internal/phone"
	"github.com/wacamp/wacamp/templates"
)

// Limits of an audience or people CSV file, enforced while it is read, so
// that a file that is not what it should be (no line ends, a quote never
// closed, megabytes in one cell) fails at once, naming its line, in
// bounded memory.
const (
	// MaxCSVRowBytes bounds one row (record) of a CSV file, line breaks
	// inside quoted cells included.
	MaxCSVRowBytes = 64 << 10
	// MaxCSVCellChars bounds one cell, in characters: the longest text a
	// WhatsApp message takes (templates.MaxTextLen).
	MaxCSVCellChars = templates.MaxTextLen
	// MaxCSVColumns bounds a CSV file's columns: phone, name and as many
	// variables as a template may take (templates.MaxTemplateVars).
	MaxCSVColumns = 2 + templates.MaxTemplateVars
)

// csvBufferSize is the read buffer of a CSV file: what the reader may have
// read beyond the row it is on.
const csvBufferSize = 64 << 10

// openRegular opens path for reading if it is a regular file outside
// the kernel's special trees (see regularFile). It opens without blocking
// and checks the file it opened again, so a named pipe put in its place
// meanwhile is refused rather than waited on, and a pseudo file (of
// /proc, /sys, wherever mounted) is refused by its file system. The
// error names no path.
func openRegular(path string) (*os.File, error) {
	if _, err := regularFile(path); err != nil {
		return nil, err
	}
	file, err := os.OpenFile(path, os.O_RDONLY|openFlags, 0) // #nosec G304 -- checked above: a regular file
	if err != nil {
		return nil, unwrapPath(err)
	}
	info, err := file.Stat()
	switch {
	case err != nil:
		err = unwrapPath(err)
	case !info.Mode().IsRegular(): // replaced since the first look
		err = errSpecialFile
	default:
		err = checkPseudoFile(file)
	}
	if err != nil {
		_ = file.Close()
		return nil, err
	}
	return file, nil
}

// csvProblem is one thing wrong in a CSV file. field follows the file's
// rows field: "" for the file as a whole, " row 7", " row 7 phone".
type csvProblem struct {
	line       int
	field, msg string
}

func csvProb(line int, field, format string, args ...any) csvProblem {
	return csvProblem{line: line, field: field, msg: fmt.Sprintf(format, args...)}
}

// csvRow is one data row of a CSV file (an entirely empty row is none).
type csvRow struct {
	index int // among the file's data rows, from 0
	line  int // where the row starts
	rcpt  Recipient
	ok    bool         // rcpt is a recipient
	probs []csvProblem // a row may be a recipient and still have a problem
}

// csvColumn is a variable column: its position and header.
type csvColumn struct {
	col  int
	name string
}

// csvReader reads an audience or people CSV file row by row, within the
// limits above.
//
// The file has a header row. The "phone" column (any case) is required,
// a "name" column (any case) is optional, and every other column is a
// variable named by its header. Cells are trimmed; an empty cell means no
// value, so a placeholder whose cell is empty is an error rather than an
// empty string. A UTF-8 byte order mark and CRLF line ends are fine; rows
// that are entirely empty are skipped.
type csvReader struct {
	name string // the file as problems name it
	file *os.File
	size int64 // when opened
	in   *cappedReader
	r    *csv.Reader
	bom  int64

	header   []string
	phoneCol int
	nameCol  int
	varCols  []csvColumn
	unnamed  []int        // columns without a header: must stay empty
	reported map[int]bool // unnamed columns already reported

	rows    int // data rows read
	endLine int // the last line of the last row read

	// phoneOnly leaves a recipient's name and variables out (a first
	// pass needs only the number): less garbage per row.
	phoneOnly bool
}

// newCSVReader starts reading file, named name in problems: it reads the
// header. probs are the header's problems; with fatal set, no row can be
// read. The reader owns file and closes it on close.
func newCSVReader(name string, file *os.File) (c *csvReader, probs []csvProblem, fatal bool) {
	c = &csvReader{name: name, file: file, phoneCol: -1, nameCol: -1, reported: map[int]bool{}}
	if info, err := file.Stat(); err == nil {
		c.size = info.Size()
	}
	c.in = &cappedReader{r: file, sum: crc32.New(crc32.MakeTable(crc32.Castagnoli))}
	br := bufio.NewReaderSize(c.in, csvBufferSize)
	c.in.limit = MaxCSVRowBytes + csvBufferSize
	if bom, _ := br.Peek(3); string(bom) == "\uFEFF" {
		_, _ = br.Discard(3)
		c.bom = 3
	}
	c.r = csv.NewReader(br)
	c.r.FieldsPerRecord = -1 // checked here, to report and go on
	c.r.ReuseRecord = true

	header, prob := c.read()
	if prob != nil {
		return c, []csvProblem{*prob}, true
	}
	if header == nil {
		return c, []csvProblem{csvProb(0, "", "is empty; the first row must be a header with a phone column")}, true
	}
	header = append([]string(nil), header...)
	c.header = header
	headerLine, _ := c.r.FieldPos(0)
	if len(header) > MaxCSVColumns {
		return c, []csvProblem{csvProb(headerLine, "", "has %d columns; at most %d are read (phone, name and %d variables)",
			len(header), MaxCSVColumns, MaxCSVColumns-2)}, true
	}
	seen := make(map[string]int)
	for i, h := range header {
		if msg := unstorable(h); msg != "" {
			return c, append(probs, csvProb(headerLine, "", "the name of column %d %s", i+1, msg)), true
		}
		h = strings.TrimSpace(h)
		key := h
		if strings.EqualFold(h, "phone") || strings.EqualFold(h, "name") {
			key = strings.ToLower(h)
		}
		if j, dup := seen[key]; dup && h != "" {
			probs = append(probs, csvProb(headerLine, "", "columns %d and %d are both named %q", j+1, i+1, h))
			continue
		}
		seen[key] = i
		switch key {
		case "phone":
			c.phoneCol = i
		case "name":
			c.nameCol = i
		case "":
			c.unnamed = append(c.unnamed, i)
		default:
			c.varCols = append(c.varCols, csvColumn{i, h})
		}
	}
	if c.phoneCol < 0 {
		hint := ""
		if len(header) == 1 && strings.ContainsAny(header[0], ";\t") {
			hint = "; columns must be separated by commas"
		}
		if looksLikeHeader(header) {
			probs = append(probs, csvProb(headerLine, "", "the header has no phone column (columns: %s)%s", strings.Join(header, ", "), hint))
		} else {
			// It may not be a CSV at all (a secret file, a system file): say
			// what is wrong without showing any of it.
			probs = append(probs, csvProb(headerLine, "", "the first line is not a header with a phone column (not shown: this may not be a CSV file)%s", hint))
		}
		return c, probs, true
	}
	return c, probs, false
}

// read reads the next record within MaxCSVRowBytes: nil at the end of the
// file, or the problem that ends reading (a broken quote, a row too long,
// a read error).
func (c *csvReader) read() ([]string, *csvProblem) {
	start := c.bom + c.r.InputOffset()
	// The buffer may run ahead of the row by up to its size; the exact
	// length is checked below.
	c.in.limit = start + MaxCSVRowBytes + csvBufferSize
	rec, err := c.r.Read()
	if errors.Is(err, io.EOF) {
		return nil, nil
	}
	tooLong := errors.Is(err, errRowTooLong) || err == nil && c.bom+c.r.InputOffset()-start > MaxCSVRowBytes
	if tooLong {
		p := csvProb(c.endLine+1, "", "the row from line %d on is longer than %d KiB, the most a row may have (is a quote never closed?)",
			c.endLine+1, MaxCSVRowBytes>>10)
		return nil, &p
	}
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			p := csvProb(pe.Line, "", "%v", pe.Err)
			return nil, &p
		}
		p := csvProb(c.endLine+1, "", "%v", unwrapPath(err))
		return nil, &p
	}
	last := len(rec) - 1
	line, _ := c.r.FieldPos(last)
	c.endLine = line + strings.Count(rec[last], "\n")
	return rec, nil
}

// next reads the next data row; false at the end of the file. fatal is
// the problem that ended reading before the end, if one did.
func (c *csvReader) next(row *csvRow) (more bool, fatal *csvProblem) {
	for {
		rec, prob := c.read()
		if rec == nil {
			return false, prob
		}
		if allEmpty(rec) {
			continue
		}
		line, _ := c.r.FieldPos(0)
		*row = csvRow{index: c.rows, line: line, probs: row.probs[:0]}
		c.rows++
		c.parse(rec, row)
		return true, nil
	}
}

// parse checks a data record and makes it a recipient.
func (c *csvReader) parse(rec []string, row *csvRow) {
	problem := func(field, format string, args ...any) {
		row.probs = append(row.probs, csvProb(row.line, fmt.Sprintf(" row %d", row.line)+field, format, args...))
	}
	if len(rec) != len(c.header) {
		problem("", "has %d fields; the header has %d", len(rec), len(c.header))
		return
	}
	for i, cell := range rec {
		msg := unstorable(cell)
		if msg == "" && len(cell) > MaxCSVCellChars {
			if n := utf8.RuneCountInString(cell); n > MaxCSVCellChars {
				msg = fmt.Sprintf("has %d characters; a cell may have at most %d (the longest text WhatsApp sends)", n, MaxCSVCellChars)
			}
		}
		if msg != "" {
			problem(" "+columnName(c.header, i), "%s", msg)
			return
		}
	}
	for _, col := range c.unnamed {
		if strings.TrimSpace(rec[col]) != "" && !c.reported[col] {
			c.reported[col] = true
			problem("", "column %d has a value but no name in the header", col+1)
		}
	}
	num, err := phone.Normalize(rec[c.phoneCol])
	if err != nil {
		problem(" phone", "%v", err)
		return
	}
	row.rcpt = Recipient{Phone: num}
	if row.ok = true; c.phoneOnly {
		return
	}
	if c.nameCol >= 0 {
		row.rcpt.Name = strings.TrimSpace(rec[c.nameCol])
	}
	for _, vc := range c.varCols {
		if v := strings.TrimSpace(rec[vc.col]); v != "" {
			if row.rcpt.Vars == nil {
				row.rcpt.Vars = make(map[string]string, len(c.varCols))
			}
			row.rcpt.Vars[vc.name] = v
		}
	}
}

// progress says how far reading has come.
func (c *csvReader) progress(stage string, done bool) Progress {
	return Progress{File: c.name, Stage: stage, Rows: c.rows, Bytes: c.in.n, Size: c.size, Done: done}
}

// checksum is the CRC-32C of every byte read so far: once the whole file
// was read, two passes that saw the same bytes have the same checksum.
func (c *csvReader) checksum() uint32 { return c.in.sum.(hash.Hash32).Sum32() }

func (c *csvReader) close() { _ = c.file.Close() } // read only: nothing to lose

// errRowTooLong is what cappedReader returns past its limit.
var errRowTooLong = errors.New("row too long")

// cappedReader counts and checksums what is read through it and refuses
// to read past limit: encoding/csv holds a whole row in memory, so a file
// without line ends (or with a quote never closed) must be stopped
// underneath it.
type cappedReader struct {
	r     io.Reader
	n     int64 // bytes read
	limit int64
	sum   hash.Hash
}

func (c *cappedReader) Read(p []byte) (int, error) {
	if c.n >= c.limit {
		return 0, errRowTooLong
	}
	if rest := c.limit - c.n; int64(len(p)) > rest {
		p = p[:rest]
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	c.sum.Write(p[:n])
	return n, err
}

// columnName names column c of header for a message: its trimmed name, or
// its number if it has none.
func columnName(header []string, c int) string {
	switch h := strings.TrimSpace(header[c]); {
	case strings.EqualFold(h, "phone") || strings.EqualFold(h, "name"):
		return strings.ToLower(h)
	case h != "":
		return h
	}
	return fmt.Sprintf("column %d", c+1)
}

func allEmpty(rec []string) bool {
	for _, c := range rec {
		if strings.TrimSpace(c) != "" {
			return false
		}
	}
	return true
}

// looksLikeHeader reports whether a first line can be shown in an error: at
// least two columns, each a plain column name (letters, digits, spaces and
// _ . -, at most 64 bytes). A one-field line, or one with other characters,
// may be a secret or a system file named as a CSV, and is never echoed.
func looksLikeHeader(header []string) bool {
	if len(header) < 2 {
		return false
	}
	for _, h := range header {
		if len(h) > 64 {
			return false
		}
		for _, r := range h {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == ' ' || r == '_' || r == '.' || r == '-') {
				return false
			}
		}
	}
	return true
}

// scanCSV reads every data row of a CSV file opened with newCSVReader,
// calling row for each; every progressEvery rows, and at the end, it
// calls progress (if not nil) and checks ctx. It returns the problem that
// ended reading early, if any, and ctx's error if ctx ended.
func scanCSV(ctx context.Context, c *csvReader, stage string, progress func(Progress), row func(*csvRow) error) (*csvProblem, error) {
	var r csvRow
	for {
		more, fatal := c.next(&r)
		if !more {
			if progress != nil {
				progress(c.progress(stage, true))
			}
			return fatal, nil
		}
		if c.rows%progressEvery == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			if progress != nil {
				progress(c.progress(stage, false))
			}
		}
		if err := row(&r); err != nil {
			return nil, err
		}
	}
}

// progressEvery is how many rows pass between two checks of the context
// and two progress reports.
const progressEvery = 1 << 14
