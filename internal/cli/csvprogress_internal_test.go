package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/spec"
)

// A CSV pass that ends within two seconds shows nothing; a longer one a
// line every two seconds and one at its end.
func TestCSVProgress(t *testing.T) {
	t.Parallel()
	var out strings.Builder
	clock := time.Unix(1_000_000, 0)
	p := newCSVProgress(&out)
	p.now = func() time.Time { return clock }
	at := func(d time.Duration, stage string, rows int, done bool) {
		clock = time.Unix(1_000_000, 0).Add(d)
		p.report(spec.Progress{File: "a.csv", Stage: stage, Rows: rows, Bytes: int64(rows) * 40, Size: 400_000_000, Done: done})
	}
	at(0, spec.StageValidate, 16384, false)
	at(time.Second, spec.StageValidate, 32768, true) // quick: nothing
	at(2*time.Second, spec.StageCheck, 16384, false)
	at(4*time.Second, spec.StageCheck, 2_500_000, false)
	at(5*time.Second, spec.StageCheck, 3_000_000, false) // within 2 s of the last line
	at(6*time.Second, spec.StageCheck, 5_000_000, false)
	at(9*time.Second, spec.StageCheck, 10_000_000, true)
	at(10*time.Second, spec.StageRead, 16384, false)
	at(13*time.Second, spec.StageRead, 7_000_000, false)
	require.Equal(t, `a.csv: checking messages: 2,500,000 rows, 25% of 381 MiB
a.csv: checking messages: 5,000,000 rows, 50% of 381 MiB
a.csv: checking messages: done, 10,000,000 rows (381 MiB) in 7s
a.csv: copying into the database: 7,000,000 rows, 70% of 381 MiB
`, out.String())
	require.Equal(t, "0", thousands(0))
	require.Equal(t, "999", thousands(999))
	require.Equal(t, "1,000", thousands(1000))
	require.Equal(t, "-1,234,567", thousands(-1234567))
}
