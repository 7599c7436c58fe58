package templates

import (
	"strconv"
	"strings"
)

// TemplateVarFromKey returns the template variable that the key at 1-based
// position pos of a campaign file's template `vars` mapping defines, with
// the given value.
//
// Mapping keys become variables in document order, the index being the
// key's position, so
//
//	vars: {name: "{{name}}", code: "{{code}}"}
//
// is name at index 1 and code at index 2 (form fields
// templateVariable-name-1 and templateVariable-code-2). A key ending in
// "-<digits>" sets the index explicitly: "code-3" is name "code", index 3,
// wherever it stands. A name that itself ends in "-<digits>" therefore
// needs an explicit index too ("code-2-1" is name "code-2", index 1).
// [Message.Validate] reports an empty name, an index below 1 and a repeated
// (name, index) pair.
func TemplateVarFromKey(key string, pos int, value string) TemplateVar {
	v := TemplateVar{Name: key, Index: pos, Value: value}
	i := strings.LastIndexByte(key, '-')
	if i < 0 || i == len(key)-1 {
		return v
	}
	digits := key[i+1:]
	for _, c := range digits {
		if c < '0' || c > '9' {
			return v
		}
	}
	n, err := strconv.Atoi(digits)
	if err != nil {
		n = 0 // out of range; Validate refuses index 0
	}
	v.Name, v.Index = key[:i], n
	return v
}
