package config

import (
	"slices"
	"strconv"
)

// phoneSet is a set of normalised phone numbers built to find duplicates
// in an audience of millions without a map of strings: a number has at
// most 15 digits and no leading zero, so it is below 2^50 and fits a
// uint64; the set keeps its low 32 bits in a bucket named by the rest.
// Numbers of one country share a few buckets, so the set costs about 4
// bytes per number.
//
// Numbers are added, then [phoneSet.finish] sorts each bucket and drops
// repeats; afterwards [phoneSet.rank] numbers each distinct phone 0…n-1
// and [phoneSet.firstTime] tells the first time a pass meets each.
type phoneSet struct {
	buckets map[uint32][]uint32
	added   int

	// After finish.
	offsets  map[uint32]int // rank of each bucket's first number
	distinct int
	seen     bitset // ranks met in the current pass
}

func newPhoneSet() *phoneSet { return &phoneSet{buckets: make(map[uint32][]uint32)} }

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
	hi := uint32(k >> 32)
	s.buckets[hi] = append(s.buckets[hi], uint32(k))
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
		slices.Sort(b)
		b = slices.Compact(b)
		s.buckets[hi] = b
		s.offsets[hi] = s.distinct
		s.distinct += len(b)
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
	i, found := slices.BinarySearch(s.buckets[hi], uint32(k))
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

// bitset is a fixed-size set of small non-negative integers.
type bitset []uint64

func newBitset(n int) bitset { return make(bitset, (n+63)/64) }

func (b bitset) has(i int) bool { return i < len(b)*64 && b[i/64]&(1<<(i%64)) != 0 }
func (b bitset) set(i int)      { b[i/64] |= 1 << (i % 64) }
