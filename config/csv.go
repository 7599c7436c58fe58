package config

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/wacamp/wacamp/internal/phone"
)

// readCSV adds the rows of the audience CSV file rel (relative to the YAML
// file) to aud and returns how many rows it read.
//
// The file has a header row. The "phone" column (any case) is required,
// a "name" column (any case) is optional, and every other column is a
// variable named by its header. Cells are trimmed; an empty cell means no
// value, so a placeholder whose cell is empty is an error rather than an
// empty string. A UTF-8 byte order mark and CRLF line ends are fine; rows
// that are entirely empty are skipped.
//
// Problems with the file as a whole are reported on the YAML file's csv
// line (yamlField); problems with its contents on the CSV file's lines,
// under rowsField ("broadcasts[0] (name).audience.csv").
func (f *fileCtx) readCSV(rel string, yamlLine int, yamlField, rowsField string, aud *audience) (rows int) {
	path, file := f.openAudience(rel, yamlLine, yamlField)
	if file == nil {
		return 0
	}
	defer file.Close()
	problem := func(line int, field, format string, args ...any) {
		f.l.probs.add(path, line, field, format, args...)
	}

	br := bufio.NewReader(file)
	if bom, _ := br.Peek(3); string(bom) == "\uFEFF" {
		_, _ = br.Discard(3)
	}
	r := csv.NewReader(br)
	r.FieldsPerRecord = -1 // checked here, to report and go on

	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		problem(0, rowsField, "is empty; the first row must be a header with a phone column")
		return 0
	}
	if err != nil {
		problem(csvErrorLine(err), rowsField, "%v", csvErrorMsg(err))
		return 0
	}
	headerLine, _ := r.FieldPos(0)

	phoneCol, nameCol := -1, -1
	type varCol struct {
		col  int
		name string
	}
	var varCols []varCol
	var unnamed []int // columns without a header: must stay empty
	seen := make(map[string]int)
	for i, h := range header {
		if msg := unstorable(h); msg != "" {
			problem(headerLine, rowsField, "the name of column %d %s", i+1, msg)
			return 0
		}
		h = strings.TrimSpace(h)
		key := h
		if strings.EqualFold(h, "phone") || strings.EqualFold(h, "name") {
			key = strings.ToLower(h)
		}
		if j, dup := seen[key]; dup && h != "" {
			problem(headerLine, rowsField, "columns %d and %d are both named %q", j+1, i+1, h)
			continue
		}
		seen[key] = i
		switch key {
		case "phone":
			phoneCol = i
		case "name":
			nameCol = i
		case "":
			unnamed = append(unnamed, i)
		default:
			varCols = append(varCols, varCol{i, h})
		}
	}
	if phoneCol < 0 {
		hint := ""
		if len(header) == 1 && strings.ContainsAny(header[0], ";\t") {
			hint = "; columns must be separated by commas"
		}
		if looksLikeHeader(header) {
			problem(headerLine, rowsField, "the header has no phone column (columns: %s)%s", strings.Join(header, ", "), hint)
		} else {
			// It may not be a CSV at all (a secret file, a system file): say
			// what is wrong without showing any of it.
			problem(headerLine, rowsField, "the first line is not a header with a phone column (not shown: this may not be a CSV file)%s", hint)
		}
		return 0
	}

	reported := make(map[int]bool) // unnamed columns already reported
	read := 0                      // records, empty ones included
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			problem(csvErrorLine(err), rowsField, "%v", csvErrorMsg(err))
			break
		}
		if read++; read%4096 == 0 {
			if err := f.l.ctx.Err(); err != nil {
				f.l.stopped = err
				return rows
			}
		}
		line, _ := r.FieldPos(0)
		if allEmpty(rec) {
			continue
		}
		rows++
		rowField := fmt.Sprintf("%s row %d", rowsField, line)
		if len(rec) != len(header) {
			problem(line, rowField, "has %d fields; the header has %d", len(rec), len(header))
			continue
		}
		if c, msg := unstorableCell(rec); msg != "" {
			problem(line, rowField+" "+columnName(header, c), "%s", msg)
			continue
		}
		for _, c := range unnamed {
			if strings.TrimSpace(rec[c]) != "" && !reported[c] {
				reported[c] = true
				problem(line, rowField, "column %d has a value but no name in the header", c+1)
			}
		}
		num, err := phone.Normalize(rec[phoneCol])
		if err != nil {
			problem(line, rowField+" phone", "%v", err)
			continue
		}
		rcpt := Recipient{Phone: num}
		if nameCol >= 0 {
			rcpt.Name = strings.TrimSpace(rec[nameCol])
		}
		for _, vc := range varCols {
			if v := strings.TrimSpace(rec[vc.col]); v != "" {
				if rcpt.Vars == nil {
					rcpt.Vars = make(map[string]string, len(varCols))
				}
				rcpt.Vars[vc.name] = v
			}
		}
		aud.add(rcpt, path, line)
	}
	return rows
}

// unstorableCell returns the first cell of rec the database would refuse
// as text, and why; msg is "" if there is none.
func unstorableCell(rec []string) (col int, msg string) {
	for i, c := range rec {
		if msg := unstorable(c); msg != "" {
			return i, msg
		}
	}
	return -1, ""
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

// csvErrorLine and csvErrorMsg split an encoding/csv error into the line
// and the message without position.
func csvErrorLine(err error) int {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return pe.Line
	}
	return 0
}

func csvErrorMsg(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// LoadPeople reads a people CSV (for `scheduler enroll -f`): the same format
// as a broadcast's audience CSV, phone numbers normalised, repeated numbers
// dropped, each person with their line. It returns a *[ValidationError]
// listing every problem with its line.
func LoadPeople(path string) ([]Person, error) {
	// The operator names a people file on the command line: it is not
	// campaign input, so any directory will do.
	l := &loader{ctx: context.Background(), getenv: func(string) string { return "" }, root: filepath.Dir(path)}
	f := &fileCtx{l: l, path: path}
	aud := audience{seen: map[string]struct{}{}}
	if n := f.readCSV(filepath.Base(path), 0, "people", "people", &aud); n == 0 && l.probs.err() == nil {
		l.probs.add(path, 0, "people", "has no rows")
	}
	if err := l.probs.err(); err != nil {
		return nil, err
	}
	people := make([]Person, len(aud.recipients))
	for i, r := range aud.recipients {
		people[i] = Person{Recipient: r, Pos: Pos{File: path, Line: aud.lines[i]}}
	}
	return people, nil
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
