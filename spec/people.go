package spec

import (
	"context"
	"iter"
	"strings"
)

// People is a people CSV file (for `scheduler enroll -f`) checked by
// [LoadPeople]. Its rows are not held in memory: [People.Each] reads the
// file again.
type People struct {
	Path       string // as given
	Count      int    // people, repeated numbers dropped
	Duplicates int    // rows dropped as repeats of an earlier number
	file       *AudienceFile
}

// LoadPeople reads a people CSV file: the same format as a broadcast's
// audience CSV, within the same limits, phone numbers normalised, repeated
// numbers dropped (the first stays). It reads the file twice, holding
// about 4 bytes per person, and returns a *[ValidationError] listing every
// problem with its line. opts.Progress, if set, is told how reading goes.
func LoadPeople(ctx context.Context, path string, opts LoadOptions) (*People, error) {
	// The operator names a people file on the command line: it is not
	// campaign input, so any directory will do.
	l := &loader{ctx: ctx, opts: opts, getenv: func(string) string { return "" }}
	aud := &audience{yaml: path, set: newPhoneSet()}
	rows := 0
	if file, err := openRegular(path); err != nil {
		l.probs.add(path, 0, "people", "cannot read %s: %v", path, err)
	} else {
		rows = l.firstPass(path, file, "people", aud)
		l.dedupe(aud, nil)
	}
	if l.stopped != nil {
		return nil, l.stopped
	}
	if rows == 0 && l.probs.err() == nil {
		l.probs.add(path, 0, "people", "has no rows")
	}
	if err := l.probs.err(); err != nil {
		return nil, err
	}
	return &People{Path: path, Count: aud.csv.Rows, Duplicates: aud.csv.Duplicates, file: aud.csv}, nil
}

// Each yields the people in order, each number once, reading the file
// again, as [Broadcast.EachRecipient] does: if the file no longer holds
// the people LoadPeople read, it yields an error wrapping
// [ErrAudienceChanged] (at the end, once it read them all) and stops.
func (p *People) Each(ctx context.Context) iter.Seq2[Person, error] {
	return func(yield func(Person, error) bool) {
		stopped := false
		err := p.file.read(ctx, StageRead, nil, true, func(r Recipient, line int) bool {
			stopped = !yield(Person{Recipient: r, Pos: Pos{File: p.Path, Line: line}}, nil)
			return !stopped
		})
		if err != nil && !stopped {
			yield(Person{}, err)
		}
	}
}

// Persons yields ps, for [CheckPeople].
func Persons(ps ...Person) iter.Seq2[Person, error] {
	return func(yield func(Person, error) bool) {
		for _, p := range ps {
			if !yield(p, nil) {
				return
			}
		}
	}
}

// ReadPhones reads a CSV file with a phone column (an opt-out list for
// `scheduler optout import`: the people file's format, within the same
// limits; a name column is the name, other columns are kept as Vars),
// calling fn (when not nil) with each row whose number is valid, in file
// order, repeated numbers included, with its line. It returns a
// *[ValidationError] listing every problem with its line, or fn's error
// (which stops reading). A caller that must write nothing unless every
// row is good reads the file twice: once with fn nil.
func ReadPhones(ctx context.Context, path string, fn func(Person) error) error {
	l := &loader{ctx: ctx, getenv: func(string) string { return "" }}
	file, err := openRegular(path)
	if err != nil {
		l.probs.add(path, 0, "", "cannot read %s: %v", path, err)
		return l.probs.err()
	}
	c, probs, fatal := newCSVReader(path, file)
	defer c.close()
	report := func(p csvProblem) { l.probs.add(path, p.line, strings.TrimSpace(p.field), "%s", p.msg) }
	for _, p := range probs {
		report(p)
	}
	if fatal {
		return l.probs.err()
	}
	prob, err := scanCSV(ctx, c, StageRead, nil, func(row *csvRow) error {
		for _, p := range row.probs {
			report(p)
		}
		if !row.ok || fn == nil {
			return nil
		}
		return fn(Person{Recipient: row.rcpt, Pos: Pos{File: path, Line: row.line}})
	})
	if err != nil {
		return err
	}
	if prob != nil {
		report(*prob)
	}
	if c.rows == 0 && l.probs.err() == nil {
		l.probs.add(path, 0, "", "has no rows")
	}
	return l.probs.err()
}
