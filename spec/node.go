package spec

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/wacamp/wacamp/config"
)

// fileCtx decodes one YAML file, reporting problems against it.
type fileCtx struct {
	l    *loader
	path string // as given or joined to the loaded directory
}

func (f *fileCtx) problem(line int, field, format string, args ...any) {
	f.l.probs.add(f.path, line, field, format, args...)
}

// pair is one key and value of a mapping.
type pair struct{ key, val *yaml.Node }

// resolve follows aliases to the node they stand for.
func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	n = resolve(n)
	return n == nil || n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// describe names the kind of n for "expected X, got Y" messages.
func describe(n *yaml.Node) string {
	switch n = resolve(n); {
	case n == nil:
		return "nothing"
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	case n.Tag == "!!null":
		return "null"
	default:
		return fmt.Sprintf("%q", n.Value)
	}
}

// subfield joins a key or index to a field path; an empty key is the
// field itself.
func subfield(field, key string) string {
	if key == "" {
		return field
	}
	if field == "" || strings.HasPrefix(key, "[") {
		return field + key
	}
	return field + "." + key
}

func index(field string, i int) string { return subfield(field, "["+strconv.Itoa(i)+"]") }

// pairs returns the key/value pairs of mapping n in document order, with
// merge keys ("<<: *anchor") expanded: explicit keys win over merged ones,
// and earlier merges over later ones. A key given twice is reported.
func (f *fileCtx) pairs(n *yaml.Node, field string) []pair {
	explicit := make(map[string]int) // key → line
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if k.Tag == "!!merge" {
			continue
		}
		if first, dup := explicit[k.Value]; dup {
			f.problem(k.Line, subfield(field, k.Value), "duplicate key (first at line %d)", first)
			continue
		}
		explicit[k.Value] = k.Line
	}
	var out []pair
	seen := make(map[string]bool)
	var visit func(m *yaml.Node, merged bool)
	visit = func(m *yaml.Node, merged bool) {
		for i := 0; i+1 < len(m.Content); i += 2 {
			k, v := m.Content[i], m.Content[i+1]
			if k.Tag == "!!merge" {
				switch v = resolve(v); v.Kind {
				case yaml.MappingNode:
					visit(v, true)
				case yaml.SequenceNode:
					for _, item := range v.Content {
						if item = resolve(item); item.Kind == yaml.MappingNode {
							visit(item, true)
						}
					}
				}
				continue
			}
			if seen[k.Value] || merged && explicit[k.Value] != 0 {
				continue
			}
			seen[k.Value] = true
			out = append(out, pair{k, v})
		}
	}
	visit(n, false)
	return out
}

// object checks that n is a mapping whose keys are all in allowed, reports
// the others, and returns the known pairs by key. A null n is an empty
// mapping. ok is false if n is not a mapping.
func (f *fileCtx) object(n *yaml.Node, field string, allowed ...string) (obj map[string]pair, ok bool) {
	obj = make(map[string]pair)
	if isNull(n) {
		return obj, true
	}
	n = resolve(n)
	if n.Kind != yaml.MappingNode {
		f.problem(n.Line, field, "expected a mapping, got %s", describe(n))
		return obj, false
	}
	for _, p := range f.pairs(n, field) {
		if !slices.Contains(allowed, p.key.Value) {
			f.problem(p.key.Line, subfield(field, p.key.Value), "unknown key%s", didYouMean(p.key.Value, allowed))
			continue
		}
		obj[p.key.Value] = p
	}
	return obj, true
}

// list returns the items of sequence n; null is an empty list.
func (f *fileCtx) list(n *yaml.Node, field string) []*yaml.Node {
	if isNull(n) {
		return nil
	}
	n = resolve(n)
	if n.Kind != yaml.SequenceNode {
		f.problem(n.Line, field, "expected a list, got %s", describe(n))
		return nil
	}
	return n.Content
}

// str returns the string value of scalar n; null is "". ok is false (and
// the problem reported) for a mapping or a list, and for a value holding a
// ${VAR} reference: environment variables are expanded only in an
// account's secrets and settings (see [fileCtx.setting]), never in message
// text, names or paths.
func (f *fileCtx) str(n *yaml.Node, field string) (s string, ok bool) {
	return f.scalar(n, field, false)
}

// setting is [fileCtx.str] with ${VAR} references expanded, for the
// account fields that may differ between environments (base_url's host,
// phone_number_id, whatsapp_bot_id, session_id).
func (f *fileCtx) setting(n *yaml.Node, field string) (s string, ok bool) {
	return f.scalar(n, field, true)
}

func (f *fileCtx) scalar(n *yaml.Node, field string, expand bool) (string, bool) {
	if isNull(n) {
		return "", true
	}
	n = resolve(n)
	if n.Kind != yaml.ScalarNode {
		f.problem(n.Line, field, "expected a string, got %s", describe(n))
		return "", false
	}
	if expand {
		return f.expand(n.Value, n.Line, field)
	}
	if name, found := envRef(n.Value); found {
		if processVar(name) {
			f.problem(n.Line, field, processVarMsg, name)
		} else {
			f.problem(n.Line, field, "${%s} is not expanded here: %s", name, envFieldsMsg)
		}
		return "", false
	}
	return n.Value, true
}

// envFieldsMsg says where a campaign file may read the environment.
const envFieldsMsg = "a campaign file reads environment variables only in an account's secrets " +
	"(api_token, api_secret, webhook_secret) and settings (the host of base_url, phone_number_id, whatsapp_bot_id, session_id); " +
	"write the value out, or use a {{placeholder}} filled from the audience"

// processVarMsg refuses a variable that configures wacamp's own processes.
const processVarMsg = "environment variable %s is a setting of wacamp's own processes " +
	"(DATABASE_URL, REDIS_URL, ASYNQMON_*, WACAMP_*); a campaign file may not read it"

// processVar reports whether the environment variable name configures
// wacamp's own processes (config.Reserved: config.Settings and the
// WACAMP_ and ASYNQMON_ namespaces), which a campaign file may never
// read: a campaign file is untrusted input (reviewed in pull requests,
// validated in CI), and these hold the database's and the web UI's
// credentials.
func processVar(name string) bool { return config.Reserved(name) }

// envRef returns the name of the first ${NAME} reference in s with a
// valid variable name.
func envRef(s string) (name string, found bool) {
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			return "", false
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			return "", false
		}
		if name := s[i+2 : i+j]; validEnvName(name) {
			return name, true
		}
		s = s[i+2:]
	}
}

// expand replaces each ${VAR} in s with the variable's value. An unset or
// empty variable, or one of wacamp's own settings, is a problem. A "${"
// without "}" is left as it is.
func (f *fileCtx) expand(s string, line int, field string) (string, bool) {
	if !strings.Contains(s, "${") {
		return s, true
	}
	var b strings.Builder
	ok := true
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			break
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			break
		}
		name := s[i+2 : i+j]
		b.WriteString(s[:i])
		s = s[i+j+1:]
		if !validEnvName(name) {
			f.problem(line, field, "%q is not a valid environment variable reference", "${"+name+"}")
			ok = false
		} else if processVar(name) {
			f.problem(line, field, processVarMsg, name)
			ok = false
		} else if v := f.l.getenv(name); v == "" {
			f.problem(line, field, "environment variable %s is not set or is empty", name)
			ok = false
		} else if msg := unstorable(v); msg != "" {
			f.problem(line, field, "the value of environment variable %s %s", name, msg)
			ok = false
		} else {
			b.WriteString(v)
			f.l.expanded = append(f.l.expanded, envUse{name: name, file: f.path, line: line, field: field})
		}
	}
	b.WriteString(s)
	return b.String(), ok
}

// shown quotes a value for an error message. A value that came from the
// environment is shown as written in the file, so that a secret put in the
// wrong field never reaches an error.
func shown(n *yaml.Node, val string) string {
	if n = resolve(n); n != nil && strings.Contains(n.Value, "${") {
		return strconv.Quote(n.Value)
	}
	return strconv.Quote(val)
}

// integer returns the value of n as an int64; null is 0.
func (f *fileCtx) integer(n *yaml.Node, field string) (int64, bool) {
	s, ok := f.str(n, field)
	return f.parseInteger(n, field, s, ok)
}

// parseInteger parses s, the (expanded) value of n, as an int64; "" is 0.
func (f *fileCtx) parseInteger(n *yaml.Node, field, s string, ok bool) (int64, bool) {
	if !ok || s == "" {
		return 0, ok
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		f.problem(resolve(n).Line, field, "must be a whole number, got %s", shown(n, s))
		return 0, false
	}
	return v, true
}

// duration returns the value of n as a duration such as 6s or 24h; set is
// false when n is absent, null or not a duration (reported).
func (f *fileCtx) duration(n *yaml.Node, field string) (d time.Duration, set bool) {
	s, ok := f.str(n, field)
	if !ok || s == "" {
		return 0, false
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		f.problem(resolve(n).Line, field, "%s is not a duration such as 24h, 90m or 2h30m", shown(n, s))
		return 0, false
	}
	return d, true
}

// number returns the value of n as a finite float64; null is 0.
func (f *fileCtx) number(n *yaml.Node, field string) (float64, bool) {
	s, ok := f.str(n, field)
	if !ok || s == "" {
		return 0, ok
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		f.problem(resolve(n).Line, field, "must be a number, got %s", shown(n, s))
		return 0, false
	}
	return v, true
}

func validEnvName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		if !(c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// didYouMean suggests the closest of candidates to s, if one is close: at
// most two edits away, else one that s is the start of (rate_per_sec for
// rate_per_second).
func didYouMean(s string, candidates []string) string {
	best, bestDist := "", 3
	for _, c := range candidates {
		if d := editDistance(s, c); d < bestDist && d < len(c) {
			best, bestDist = c, d
		}
	}
	if best == "" && len(s) >= 4 {
		for _, c := range candidates {
			if strings.HasPrefix(c, s) {
				best = c
				break
			}
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
