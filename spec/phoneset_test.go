package spec

import (
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// phoneSet finds repeats as a map of strings would: numbers in a bucket
// of many chunks (one country's numbers), in small buckets (many
// countries), and repeats among them.
func TestPhoneSet(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	var phones []string
	for range 100_000 { // dense: one bucket, several chunks
		phones = append(phones, strconv.FormatUint(4915100000000+rng.Uint64N(200_000), 10))
	}
	for range 2_000 { // sparse: many buckets
		phones = append(phones, strconv.FormatUint(10_000_000+rng.Uint64N(999_999_999_999_999-10_000_000), 10))
	}
	rng.Shuffle(len(phones), func(i, j int) { phones[i], phones[j] = phones[j], phones[i] })

	s := newPhoneSet()
	distinct := map[string]bool{}
	for _, p := range phones {
		require.True(t, s.add(p))
		distinct[p] = true
	}
	require.False(t, s.add("0151"), "not a normalised number")
	require.Equal(t, len(phones)-len(distinct), s.finish())
	require.Equal(t, len(distinct), s.distinct)

	ranks := map[int]string{}
	seen := map[string]bool{}
	for _, p := range phones {
		r, ok := s.rank(p)
		require.True(t, ok)
		if q, dup := ranks[r]; dup {
			require.Equal(t, q, p, "one rank per number")
		}
		ranks[r] = p
		require.Equal(t, !seen[p], s.firstTime(p), p)
		seen[p] = true
	}
	require.Len(t, ranks, len(distinct))
	_, ok := s.rank("4915199999999")
	require.False(t, ok)
	require.False(t, s.firstTime("4915199999999"), "a number not in the set")
}
