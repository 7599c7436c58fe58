package config

import (
	"context"
)

// LoadPeople reads a people CSV (for `scheduler enroll -f`): the same format
// as a broadcast's audience CSV, phone numbers normalised, repeated numbers
// dropped, each person with their line. It returns a *[ValidationError]
// listing every problem with its line.
func LoadPeople(path string) ([]Person, error) {
	l := &loader{ctx: context.Background(), getenv: func(string) string { return "" }}
	f := &fileCtx{l: l, path: path}
	var people []Person
	rows := 0
	if _, file := f.openCSV(path, 0, "people"); file != nil {
		c, probs, fatal := newCSVReader(path, file)
		defer c.close()
		report := func(p csvProblem) { l.probs.add(path, p.line, "people"+p.field, "%s", p.msg) }
		for _, p := range probs {
			report(p)
		}
		if !fatal {
			set := newPhoneSet()
			prob, _ := scanCSV(l.ctx, c, StageValidate, nil, func(row *csvRow) error {
				for _, p := range row.probs {
					report(p)
				}
				if row.ok {
					set.add(row.rcpt.Phone)
					people = append(people, Person{Recipient: row.rcpt, Pos: Pos{File: path, Line: row.line}})
				}
				return nil
			})
			if prob != nil {
				report(*prob)
			}
			rows = c.rows
			set.finish()
			kept := people[:0]
			for _, p := range people {
				if set.firstTime(p.Phone) {
					kept = append(kept, p)
				}
			}
			people = kept
		}
	}
	if rows == 0 && l.probs.err() == nil {
		l.probs.add(path, 0, "people", "has no rows")
	}
	if err := l.probs.err(); err != nil {
		return nil, err
	}
	return people, nil
}
