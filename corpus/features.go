package corpus

import (
	"encoding/binary"
	"math/bits"
	"slices"
)

// featureSets holds the feature lists of many inputs in little memory. A
// corpus has thousands of distinct features but tens of millions in all
// (50,000 parser inputs: 7,000 and 24 million, 93 MiB as []uint32), so
// each feature is given a number, densely in the order first met, and
// each input's numbers, ascending, are kept as uvarint deltas in shared
// chunks: about a byte a feature. The cover depends only on which inputs
// share which features, never on their values, so it runs on the
// numbers, with slices indexed by number where it used maps.
type featureSets struct {
	ids    map[uint32]uint32 // feature -> its number
	values []uint32          // number -> feature
	inputs []packedInput
	chunk  []byte // where the next lists are appended

	idBuf  []uint32 // scratch of add
	encBuf []byte
	marks  []uint64 // scratch of sortNumbers
}

// packedInput is one input of a featureSets.
type packedInput struct {
	size  int
	count int    // of its features
	list  []byte // the numbers of its features, ascending, as uvarint deltas
}

// packChunk is the size of the chunks that hold the lists: one growing
// slice would be copied as it grows, and for a moment held twice.
const packChunk = 1 << 20

func newFeatureSets() *featureSets {
	return &featureSets{ids: map[uint32]uint32{}}
}

// packItems packs items, whose lists must be normalized (see normalize).
func packItems(items []Item) *featureSets {
	s := newFeatureSets()
	for _, it := range items {
		s.add(it.Size, it.Features)
	}
	return s
}

// add appends an input of size bytes with the features fs, which are
// ascending without repeats (so are their numbers, once sorted).
func (s *featureSets) add(size int, fs []uint32) {
	ids := s.idBuf[:0]
	for _, f := range fs {
		id, ok := s.ids[f]
		if !ok {
			id = uint32(len(s.values))
			s.ids[f] = id
			s.values = append(s.values, f)
		}
		ids = append(ids, id)
	}
	ids = s.sortNumbers(ids)
	enc := s.encBuf[:0]
	prev := uint32(0)
	for _, id := range ids {
		enc = binary.AppendUvarint(enc, uint64(id-prev))
		prev = id
	}
	if cap(s.chunk)-len(s.chunk) < len(enc) {
		s.chunk = make([]byte, 0, max(packChunk, len(enc)))
	}
	start := len(s.chunk)
	s.chunk = append(s.chunk, enc...)
	s.inputs = append(s.inputs, packedInput{size: size, count: len(ids), list: s.chunk[start:len(s.chunk):len(s.chunk)]})
	s.idBuf, s.encBuf = ids, enc
}

// sortNumbers sorts the numbers of an input's features, distinct and
// numbered as first met, so not in order. A corpus has few distinct
// features: marking them in a bitset and reading it back is several
// times faster than sorting, which remains for a list much shorter than
// the bitset.
func (s *featureSets) sortNumbers(ids []uint32) []uint32 {
	words := (len(s.values) + 63) / 64
	if words > 4*len(ids) {
		slices.Sort(ids)
		return ids
	}
	s.marks = slices.Grow(s.marks[:0], words)[:words]
	for _, id := range ids {
		s.marks[id/64] |= 1 << (id % 64)
	}
	ids = ids[:0]
	for w, m := range s.marks {
		for m != 0 {
			ids = append(ids, uint32(w*64+bits.TrailingZeros64(m)))
			m &= m - 1
		}
		s.marks[w] = 0
	}
	return ids
}

// len returns the number of inputs.
func (s *featureSets) len() int { return len(s.inputs) }

// numbers appends the numbers of the features of input i to dst.
func (s *featureSets) numbers(dst []uint32, i int) []uint32 {
	b := s.inputs[i].list
	id := uint32(0)
	for len(b) > 0 {
		// Most deltas are one byte.
		d, n := uint64(b[0]), 1
		if d >= 0x80 {
			d, n = binary.Uvarint(b) // add wrote it: never malformed
		}
		id += uint32(d)
		dst = append(dst, id)
		b = b[n:]
	}
	return dst
}

// features returns the features of input i, ascending.
func (s *featureSets) features(i int) []uint32 {
	fs := s.numbers(make([]uint32, 0, s.inputs[i].count), i)
	for j, id := range fs {
		fs[j] = s.values[id]
	}
	slices.Sort(fs)
	return fs
}

// numbered returns, by number, which features are in set.
func (s *featureSets) numbered(set map[uint32]bool) []bool {
	in := make([]bool, len(s.values))
	for id, f := range s.values {
		in[id] = set[f]
	}
	return in
}

// union returns the set of every feature of the inputs.
func (s *featureSets) union() map[uint32]bool {
	u := make(map[uint32]bool, len(s.values))
	for _, f := range s.values {
		u[f] = true
	}
	return u
}

// countNew returns how many distinct features of the inputs idx are not
// in set.
func (s *featureSets) countNew(idx []int, set map[uint32]bool) int {
	old := s.numbered(set)
	n := 0
	var buf []uint32
	for _, i := range idx {
		buf = s.numbers(buf[:0], i)
		for _, id := range buf {
			if !old[id] {
				old[id] = true
				n++
			}
		}
	}
	return n
}
