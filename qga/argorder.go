package qga

import "github.com/qgafuzz/qgafuzz/qjson"

// When a command's arguments hold members it does not declare, qemu-ga 7.2
// names the first left-over member in the iteration order of the set of
// not-yet-visited argument names, which is a GLib string hash table, not the
// 512-bucket dictionary the rest of the request uses. The order was found by
// differential testing against a live qemu-ga (the spec's "hash order" for
// this case holds only for some key sets), and is modelled here from GLib's
// documented behaviour: open addressing with quadratic probing, the djb2
// string hash over signed bytes, and tables of 8, 16, 32... slots indexed by
// (hash*11) mod a prime below the size.

// glibPrimeMod[shift] is the modulus for a table of 1<<shift slots.
var glibPrimeMod = [...]uint32{1, 2, 3, 7, 13, 31, 61, 127, 251, 509, 1021, 2039, 4093, 8191,
	16381, 32749, 65521, 131071, 262139, 524287, 1048573, 2097143, 4194301, 8388593}

const glibMinShift = 3

// glibStrHash is GLib's string hash: djb2 over the bytes taken as signed
// chars. Hash values 0 and 1 are reserved by the table and become 2.
func glibStrHash(s string) uint32 {
	h := uint32(5381)
	add := func(c byte) { h = h*33 + uint32(int32(int8(c))) }
	for i := 0; i < len(s); i++ {
		if c := s[i]; c != 0 {
			add(c)
		} else { // U+0000 is held as C0 80 inside qemu-ga
			add(0xC0)
			add(0x80)
		}
	}
	if h < 2 {
		h = 2
	}
	return h
}

// glibSet is the minimal model of a GHashTable used as a set of strings.
type glibSet struct {
	shift     int
	slots     []int // index into keys, -1 unused, -2 tombstone
	keys      []string
	hashes    []uint32
	nnodes    int
	noccupied int
}

func newGlibSet() *glibSet {
	s := &glibSet{}
	s.setShift(glibMinShift)
	return s
}

func (s *glibSet) setShift(shift int) { // for a new, empty table
	s.shift = shift
	s.slots = make([]int, 1<<shift)
	for i := range s.slots {
		s.slots[i] = -1
	}
}

func (s *glibSet) place(k int) {
	mask := uint32(len(s.slots) - 1)
	i := s.hashes[k] * 11 % glibPrimeMod[s.shift]
	for step := uint32(0); s.slots[i] != -1; {
		step++
		i = (i + step) & mask
	}
	s.slots[i] = k
}

func (s *glibSet) insert(key string) {
	s.keys = append(s.keys, key)
	s.hashes = append(s.hashes, glibStrHash(key))
	s.place(len(s.keys) - 1)
	s.nnodes++
	s.noccupied++
	s.maybeResize()
}

func (s *glibSet) remove(key string) {
	for i, k := range s.slots {
		if k >= 0 && s.keys[k] == key {
			s.slots[i] = -2
			s.nnodes--
			s.maybeResize()
			return
		}
	}
}

func (s *glibSet) maybeResize() {
	size := len(s.slots)
	if !(size > s.nnodes*4 && size > 1<<glibMinShift) && size > s.noccupied+s.noccupied/16 {
		return
	}
	shift := 0
	for n := s.nnodes * 4 / 3; n > 0; n >>= 1 {
		shift++
	}
	s.resizeInPlace(max(shift, glibMinShift))
	s.noccupied = s.nnodes
}

// resizeInPlace rehashes the way GLib does since 2.59: in the same array,
// walking old slots in order and moving each entry to its new home,
// evicting whatever sits there and carrying that entry on, with a bitmap of
// homes already settled. Where entries land (and so the iteration order)
// differs from inserting them afresh, and qemu-ga's replies show it.
func (s *glibSet) resizeInPlace(shift int) {
	old := len(s.slots)
	size := 1 << shift
	for len(s.slots) < size {
		s.slots = append(s.slots, -1)
	}
	s.shift = shift
	mask := uint32(size - 1)
	settled := make([]bool, max(size, old))
	for i := 0; i < old; i++ {
		k := s.slots[i]
		if k < 0 {
			s.slots[i] = -1 // tombstones are dropped
			continue
		}
		if settled[i] {
			continue
		}
		s.slots[i] = -1
		for {
			j := s.hashes[k] * 11 % glibPrimeMod[shift]
			for step := uint32(0); settled[j]; {
				step++
				j = (j + step) & mask
			}
			settled[j] = true
			evicted := s.slots[j]
			s.slots[j] = k
			if evicted < 0 {
				break
			}
			k = evicted
		}
	}
	s.slots = s.slots[:size]
}

// first returns the key in the lowest slot.
func (s *glibSet) first() (string, bool) {
	for _, k := range s.slots {
		if k >= 0 {
			return s.keys[k], true
		}
	}
	return "", false
}

// unexpectedArgument returns the argument qemu-ga names as unexpected after
// visiting the declared parameters, or false when there is none.
func unexpectedArgument(args qjson.Value, params ...string) (string, bool) {
	members := args.Members()
	if len(members) <= len(params) {
		return "", false // every member was one of the visited parameters
	}
	// The visitor fills the set walking the dictionary in its hash order.
	set := newGlibSet()
	var orderBuf [8]int
	for _, i := range qjson.AppendHashOrder(orderBuf[:0], members) {
		set.insert(members[i].Key)
	}
	for _, p := range params {
		set.remove(p)
	}
	return set.first()
}
