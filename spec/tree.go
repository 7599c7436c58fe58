package spec

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// Limits on what one YAML file's aliases may stand for. A file's own nodes
// are bounded by its size; aliases are not (each "*a" repeats everything
// under "&a", aliases inside it included), so a few hundred bytes of nested
// aliases could otherwise stand for billions of nodes.
const (
	// MaxAliasNodes is how many nodes all the aliases of one file may
	// stand for together, counted as if written out.
	MaxAliasNodes = 250_000
	// MaxAliasDepth is how deeply aliases may nest: an alias to a node
	// holding an alias to a node holding an alias… counts one per alias.
	MaxAliasDepth = 16
)

// treeCheck walks a decoded YAML document once before it is decoded into
// a Bundle, so that the decoding that follows (which expands aliases and
// merge keys as it goes) is bounded: it refuses alias cycles (an anchor
// that contains an alias to itself), aliases that stand for more than
// MaxAliasNodes nodes or nest deeper than MaxAliasDepth, and scalars the
// database cannot store (a NUL byte or invalid UTF-8). It also stops when
// ctx ends.
type treeCheck struct {
	ctx    context.Context
	f      *fileCtx
	memo   map[*yaml.Node]expansion // alias targets already measured
	active map[*yaml.Node]bool      // alias targets being measured (a cycle if met again)
	path   []string                 // field path of the node being walked, in pieces
	total  int                      // nodes the file's aliases stand for so far
	steps  int
	err    error // the first problem that stops the walk
}

// expansion is what an alias to a node stands for.
type expansion struct{ nodes, depth int }

// errTreeStop is treeCheck.err for a problem already reported.
var errTreeStop = errors.New("stopped")

// checkTree checks doc (see treeCheck). It reports problems against f and
// returns false if doc must not be decoded further; err is ctx's error if
// ctx ended.
func (f *fileCtx) checkTree(ctx context.Context, doc *yaml.Node) (ok bool, err error) {
	t := &treeCheck{ctx: ctx, f: f, memo: make(map[*yaml.Node]expansion), active: make(map[*yaml.Node]bool)}
	before := f.l.probs.total()
	t.literal(doc)
	if t.err != nil && t.err != errTreeStop {
		return false, t.err
	}
	return t.err == nil && f.l.probs.total() == before, nil
}

// field is the path of the node being walked, as in other messages.
func (t *treeCheck) field() string {
	field := ""
	for _, p := range t.path {
		field = subfield(field, p)
	}
	return field
}

// tick counts one step of work and notices the end of ctx.
func (t *treeCheck) tick() bool {
	if t.err != nil {
		return false
	}
	if t.steps++; t.steps%4096 == 0 {
		if err := t.ctx.Err(); err != nil {
			t.err = err
			return false
		}
	}
	return true
}

// literal walks n as written in the file: every scalar is checked once,
// and every alias is measured.
func (t *treeCheck) literal(n *yaml.Node) {
	if n == nil || !t.tick() {
		return
	}
	switch n.Kind {
	case yaml.AliasNode:
		e := t.measure(n)
		if t.err != nil {
			return
		}
		if t.total += e.nodes; t.total > MaxAliasNodes {
			t.f.problem(n.Line, t.field(), "the aliases of this file stand for more than %d values once expanded (at *%s); write the values out or nest fewer aliases", MaxAliasNodes, n.Value)
			t.err = errTreeStop
		}
	case yaml.ScalarNode:
		if msg := unstorable(n.Value); msg != "" {
			t.f.problem(n.Line, t.field(), "%s", msg)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			t.literal(k)
			t.path = append(t.path, k.Value)
			t.literal(v)
			t.path = t.path[:len(t.path)-1]
		}
	default: // documents and sequences
		for i, c := range n.Content {
			if n.Kind == yaml.SequenceNode {
				t.path = append(t.path, "["+strconv.Itoa(i)+"]")
			}
			t.literal(c)
			if n.Kind == yaml.SequenceNode {
				t.path = t.path[:len(t.path)-1]
			}
		}
	}
}

// measure returns what alias a stands for, reporting a cycle or a nesting
// deeper than MaxAliasDepth.
func (t *treeCheck) measure(a *yaml.Node) expansion {
	target := a.Alias
	if e, ok := t.memo[target]; ok {
		return e
	}
	if t.active[target] {
		t.f.problem(a.Line, t.field(), "alias *%s is inside the value it stands for (a cycle)", a.Value)
		t.err = errTreeStop
		return expansion{}
	}
	t.active[target] = true
	e := t.size(target)
	delete(t.active, target)
	if t.err != nil {
		return expansion{}
	}
	e.depth++
	if e.depth > MaxAliasDepth {
		t.f.problem(a.Line, t.field(), "alias *%s nests more than %d aliases deep", a.Value, MaxAliasDepth)
		t.err = errTreeStop
		return expansion{}
	}
	t.memo[target] = e
	return e
}

// size returns how many nodes n stands for with its aliases expanded, and
// how deeply aliases nest in it. Counts saturate just above MaxAliasNodes.
func (t *treeCheck) size(n *yaml.Node) expansion {
	if n == nil || !t.tick() {
		return expansion{}
	}
	if n.Kind == yaml.AliasNode {
		return t.measure(n)
	}
	e := expansion{nodes: 1}
	for _, c := range n.Content {
		ce := t.size(c)
		if t.err != nil {
			return expansion{}
		}
		e.nodes = min(e.nodes+ce.nodes, MaxAliasNodes+1)
		e.depth = max(e.depth, ce.depth)
	}
	return e
}

// unstorable says why Postgres would refuse s as text, or "" if it would
// not: a NUL byte or invalid UTF-8.
func unstorable(s string) string {
	if strings.IndexByte(s, 0) >= 0 {
		return "contains a NUL byte (\\0), which cannot be stored"
	}
	if !utf8.ValidString(s) {
		return "is not valid UTF-8"
	}
	return ""
}
