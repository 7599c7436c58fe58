package spec

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// maxProblemsPerFile caps the problems kept for one file; the rest are
// counted in a final "and N more problems" line.
const maxProblemsPerFile = 50

// Problem is one thing wrong with the campaign files.
type Problem struct {
	File  string // the YAML or CSV file, as given or joined to the loaded path
	Line  int    // 1-based; 0 when the problem has no line (e.g. unreadable file)
	Field string // path of the offending field, e.g. "broadcasts[0].account"; may be empty
	Msg   string
}

// String formats p as "file:line: field: msg", leaving out an empty part.
func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		b.WriteString(":" + strconv.Itoa(p.Line))
	}
	b.WriteString(": ")
	if p.Field != "" {
		b.WriteString(p.Field + ": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// ValidationError is every problem [Load] found, ordered by file and line.
// At most 50 problems are kept per file; a final Problem of that file with
// no line says how many more there were.
type ValidationError struct {
	Problems []Problem
}

// Error prints one problem per line.
func (e *ValidationError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// problems collects Problems, at most maxProblemsPerFile per file.
type problems struct {
	list    []Problem
	perFile map[string]int // problems seen per file, kept or not
	order   []string       // files in order of their first problem
}

func (ps *problems) add(file string, line int, field, format string, args ...any) {
	if ps.perFile == nil {
		ps.perFile = make(map[string]int)
	}
	n, seen := ps.perFile[file]
	if !seen {
		ps.order = append(ps.order, file)
	}
	ps.perFile[file] = n + 1
	if n < maxProblemsPerFile {
		ps.list = append(ps.list, Problem{File: file, Line: line, Field: field, Msg: fmt.Sprintf(format, args...)})
	}
}

// total is the number of problems reported so far, kept or not.
func (ps *problems) total() int {
	n := 0
	for _, c := range ps.perFile {
		n += c
	}
	return n
}

// err returns the problems as a *ValidationError, or nil if there are none.
func (ps *problems) err() error {
	if len(ps.list) == 0 {
		return nil
	}
	rank := make(map[string]int, len(ps.order))
	for i, f := range ps.order {
		rank[f] = i
	}
	list := slices.Clone(ps.list)
	slices.SortStableFunc(list, func(a, b Problem) int {
		return cmp.Or(cmp.Compare(rank[a.File], rank[b.File]), cmp.Compare(a.Line, b.Line))
	})
	for _, f := range ps.order {
		if more := ps.perFile[f] - maxProblemsPerFile; more > 0 {
			list = append(list, Problem{File: f, Msg: fmt.Sprintf("and %d more problems", more)})
		}
	}
	return &ValidationError{Problems: list}
}
