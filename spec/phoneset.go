package spec

import (
	"slices"
	"sort"
	"strconv"
)

// phoneSet is a set of normalised phone numbers built to find duplicates
// in an audience of millions without a map of strings: a number has at
// most 15 digits and no leading zero, so it is below 2^50 and fits a
// uint64; the set keeps its low 32 bits in a bucket named by the rest.
// Numbers of one country share a few buckets, so the set costs about 4
// bytes per number. A bucket grows in chunks, never copied, and is sorted
// where it is: memory never holds a number twice.
//
// Numbers are added, then [phoneSet.finish] sorts each bucket and drops
// repeats; afterwards [phoneSet.firstTime] tells the first time a pass
// meets each.
type phoneSet struct {
	buckets map[uint32]*chunks
	added   int

	// After finish.
	offsets  map[uint32]int // rank of each bucket's first number
	distinct int
	seen     bitset // ranks met in the current pass
}

func newPhoneSet() *phoneSet { return &phoneSet{buckets: make(map[uint32]*chunks)} }

// phoneKey packs a normalised phone number (8–15 digits) into a uint64.
func phoneKey(phone string) (uint64, bool) {
	if len(phone) == 0 || len(phone) > 15 || phone[0] == '0' {
		return 0, false
	}
	k, err := strconv.ParseUint(phone, 10, 64)
	return k, err == nil
}

// add adds a normalised phone number (a repeat is fine); false if it is
// not one.
func (s *phoneSet) add(phone string) bool {
	k, ok := phoneKey(phone)
	if !ok {
		return false
	}
	b := s.buckets[uint32(k>>32)]
	if b == nil {
		b = &chunks{}
		s.buckets[uint32(k>>32)] = b
	}
	b.append(uint32(k & lowBits))
	s.added++
	return true
}

// finish sorts the set and drops repeats, and returns how many numbers
// were repeats. Nothing may be added afterwards.
func (s *phoneSet) finish() (repeats int) {
	keys := make([]uint32, 0, len(s.buckets))
	for hi := range s.buckets {
		keys = append(keys, hi)
	}
	slices.Sort(keys)
	s.offsets = make(map[uint32]int, len(keys))
	for _, hi := range keys {
		b := s.buckets[hi]
		b.sortCompact()
		s.offsets[hi] = s.distinct
		s.distinct += b.n
	}
	s.seen = newBitset(s.distinct)
	return s.added - s.distinct
}

// rank returns phone's number among the distinct phones of the finished
// set; false if it is not in the set.
func (s *phoneSet) rank(phone string) (int, bool) {
	k, ok := phoneKey(phone)
	if !ok {
		return 0, false
	}
	hi := uint32(k >> 32)
	b := s.buckets[hi]
	if b == nil {
		return 0, false
	}
	i, found := b.search(uint32(k & lowBits))
	if !found {
		return 0, false
	}
	return s.offsets[hi] + i, true
}

// firstTime reports whether this is the first time the current pass meets
// phone, and marks it met; a phone not in the set is never a first time.
func (s *phoneSet) firstTime(phone string) bool {
	r, ok := s.rank(phone)
	if !ok || s.seen.has(r) {
		return false
	}
	s.seen.set(r)
	return true
}

// lowBits selects what a bucket keeps of a number; its other bits name
// the bucket.
const lowBits = 1<<32 - 1

// chunkBits sizes the chunks of a large bucket: 2^14 numbers, 64 KiB.
const chunkBits = 14

// chunks is a list of uint32 kept in chunks of 1<<chunkBits (the first
// grows as a slice does, so a small bucket stays small): growing never
// copies it, and it sorts in place.
type chunks struct {
	c [][]uint32
	n int
}

func (b *chunks) append(v uint32) {
	if b.n&(1<<chunkBits-1) == 0 && b.n > 0 || len(b.c) == 0 {
		size := 1 << chunkBits
		if len(b.c) == 0 {
			size = 4
		}
		b.c = append(b.c, make([]uint32, 0, size))
	}
	last := len(b.c) - 1
	b.c[last] = append(b.c[last], v)
	b.n++
}

func (b *chunks) at(i int) uint32 { return b.c[i>>chunkBits][i&(1<<chunkBits-1)] }

// Len, Less and Swap sort the chunks as one list.
func (b *chunks) Len() int           { return b.n }
func (b *chunks) Less(i, j int) bool { return b.at(i) < b.at(j) }
func (b *chunks) Swap(i, j int) {
	ci, cj := &b.c[i>>chunkBits][i&(1<<chunkBits-1)], &b.c[j>>chunkBits][j&(1<<chunkBits-1)]
	*ci, *cj = *cj, *ci
}

// sortCompact sorts the list and drops repeats.
func (b *chunks) sortCompact() {
	if len(b.c) == 1 {
		slices.Sort(b.c[0])
		b.c[0] = slices.Compact(b.c[0])
		b.n = len(b.c[0])
		return
	}
	sort.Sort(b)
	w := 0
	for r := range b.n {
		if v := b.at(r); r == 0 || v != b.at(w-1) {
			b.c[w>>chunkBits][w&(1<<chunkBits-1)] = v
			w++
		}
	}
	b.n = w
	keep := (w + 1<<chunkBits - 1) >> chunkBits
	clear(b.c[keep:])
	b.c = b.c[:keep]
	if keep > 0 {
		b.c[keep-1] = b.c[keep-1][:w-(keep-1)<<chunkBits]
	}
}

// search finds v in the sorted list.
func (b *chunks) search(v uint32) (int, bool) {
	lo, hi := 0, b.n
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if b.at(m) < v {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo, lo < b.n && b.at(lo) == v
}

// bitset is a fixed-size set of small non-negative integers.
type bitset []uint64

func newBitset(n int) bitset { return make(bitset, (n+63)/64) }

func (b bitset) has(i int) bool { return i < len(b)*64 && b[i/64]&(1<<(i%64)) != 0 }
func (b bitset) set(i int)      { b[i/64] |= 1 << (i % 64) }
