package spec

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestProblemString(t *testing.T) {
	t.Parallel()
	require.Equal(t, "a.yaml:3: accounts[0].name: is required",
		Problem{File: "a.yaml", Line: 3, Field: "accounts[0].name", Msg: "is required"}.String())
	require.Equal(t, "a.yaml:3: invalid YAML: x", Problem{File: "a.yaml", Line: 3, Msg: "invalid YAML: x"}.String())
	require.Equal(t, "a.yaml: cannot read", Problem{File: "a.yaml", Msg: "cannot read"}.String())
}

func TestProblemsOrderAndCap(t *testing.T) {
	t.Parallel()
	var ps problems
	require.NoError(t, ps.err())
	ps.add("b.yaml", 9, "f", "late")
	ps.add("a.csv", 2, "", "csv")
	ps.add("b.yaml", 1, "f", "early")
	for i := range 55 {
		ps.add("a.csv", 100+i, "", "row %d", i)
	}
	require.Equal(t, 58, ps.total())
	err := ps.err()
	lines := problemLines(t, err)
	require.Len(t, lines, 2+50+1)
	require.Equal(t, []string{"b.yaml:1: f: early", "b.yaml:9: f: late", "a.csv:2: csv", "a.csv:100: row 0"}, lines[:4])
	require.Equal(t, "a.csv:148: row 48", lines[51])
	require.Equal(t, fmt.Sprintf("a.csv: and %d more problems", 6), lines[52])
}
