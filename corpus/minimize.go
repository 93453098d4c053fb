package corpus

import (
	"container/heap"
	"slices"
	"sort"
)

// This file chooses the inputs to keep. Each input has a set of features
// (edges of the instrumented code, bucketed by hit count); minimizing
// keeps a subset whose union of features is the union of all, and merging
// keeps the inputs that add features to a base. Both are set cover: two
// greedy covers are computed and the one with fewer files (then fewer
// bytes) wins — libFuzzer's (smallest inputs first, keep an input when it
// adds a feature) and the classic one (the input adding the most features
// next, smaller first on ties) — and both end with a pass that drops
// inputs, largest first, whose every feature another kept input has.

// Item is an input as the cover sees it.
type Item struct {
	Size     int
	Features []uint32
}

// Union returns the set of every feature of the items.
func Union(items []Item) map[uint32]bool {
	u := map[uint32]bool{}
	for _, it := range items {
		for _, f := range it.Features {
			u[f] = true
		}
	}
	return u
}

// Cover returns the indices (ascending) of a subset of items whose
// features, with base, cover every feature of items. base may be nil.
func Cover(items []Item, base map[uint32]bool) []int {
	s := packItems(normalize(items))
	return s.cover(s.numbered(base))
}

// cover is Cover over packed inputs; base is by feature number, or nil.
func (s *featureSets) cover(base []bool) []int {
	if base == nil {
		base = make([]bool, len(s.values))
	}
	a := prune(s, coverBySize(s, base), base)
	b := prune(s, coverGreedy(s, base), base)
	if len(b) < len(a) || (len(b) == len(a) && bytesOf(s, b) < bytesOf(s, a)) {
		a = b
	}
	sort.Ints(a)
	return a
}

// normalize returns items whose feature lists are sorted and without
// repeats (the server's are; hand-built ones may not be).
// Lists that already are so are shared, not copied: as []uint32, those
// of a corpus of tens of thousands of inputs are about 100 MiB.
func normalize(items []Item) []Item {
	out := make([]Item, len(items))
	for i, it := range items {
		out[i] = Item{Size: it.Size, Features: normalizeList(it.Features)}
	}
	return out
}

// normalizeList is normalize for one list.
func normalizeList(fs []uint32) []uint32 {
	if !strictlySorted(fs) {
		fs = append([]uint32(nil), fs...)
		slices.Sort(fs)
		fs = slices.Compact(fs)
	}
	return fs
}

// strictlySorted reports whether fs is ascending without repeats.
func strictlySorted(fs []uint32) bool {
	for i := 1; i < len(fs); i++ {
		if fs[i] <= fs[i-1] {
			return false
		}
	}
	return true
}

// bytesOf sums in an int64: on a 32-bit platform the inputs of a cover
// can pass 2 GiB, now that their data is not held.
func bytesOf(s *featureSets, idx []int) int64 {
	n := int64(0)
	for _, i := range idx {
		n += int64(s.inputs[i].size)
	}
	return n
}

// coverBySize is libFuzzer's merge: smallest first (more features first
// among equal sizes), keeping each input that adds a feature.
func coverBySize(s *featureSets, base []bool) []int {
	order := make([]int, s.len())
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(x, y int) bool {
		a, b := s.inputs[order[x]], s.inputs[order[y]]
		if a.size != b.size {
			return a.size < b.size
		}
		return a.count > b.count
	})
	have := slices.Clone(base) // a feature of base is had from the start
	var keep []int
	var buf []uint32
	for _, i := range order {
		added := false
		buf = s.numbers(buf[:0], i)
		for _, f := range buf {
			if !have[f] {
				have[f], added = true, true
			}
		}
		if added {
			keep = append(keep, i)
		}
	}
	return keep
}

// coverGreedy repeatedly takes the input that adds the most features
// (lazily re-evaluated: an input's gain only shrinks).
func coverGreedy(s *featureSets, base []bool) []int {
	h := &gainHeap{inputs: s.inputs}
	for i, in := range s.inputs {
		h.e = append(h.e, gainEntry{i, in.count})
	}
	heap.Init(h)
	have := slices.Clone(base)
	var buf []uint32
	gain := func(i int) int {
		n := 0
		buf = s.numbers(buf[:0], i)
		for _, f := range buf {
			if !have[f] {
				n++
			}
		}
		return n
	}
	var keep []int
	for h.Len() > 0 {
		top := heap.Pop(h).(gainEntry)
		g := gain(top.i)
		if g == 0 {
			continue
		}
		if h.Len() > 0 && g < h.e[0].gain {
			top.gain = g
			heap.Push(h, top)
			continue
		}
		keep = append(keep, top.i)
		for _, f := range buf { // top.i's, from gain
			have[f] = true
		}
	}
	return keep
}

// prune drops kept inputs, largest first, whose every feature is also
// given by another kept input or by base.
func prune(s *featureSets, keep []int, base []bool) []int {
	count := make([]int32, len(s.values))
	var buf []uint32
	for _, i := range keep {
		buf = s.numbers(buf[:0], i)
		for _, f := range buf {
			count[f]++
		}
	}
	order := append([]int(nil), keep...)
	sort.SliceStable(order, func(x, y int) bool { return s.inputs[order[x]].size > s.inputs[order[y]].size })
	dropped := map[int]bool{}
	for _, i := range order {
		redundant := true
		buf = s.numbers(buf[:0], i)
		for _, f := range buf {
			if !base[f] && count[f] < 2 {
				redundant = false
				break
			}
		}
		if redundant {
			dropped[i] = true
			for _, f := range buf {
				count[f]--
			}
		}
	}
	var out []int
	for _, i := range keep {
		if !dropped[i] {
			out = append(out, i)
		}
	}
	return out
}

type gainEntry struct{ i, gain int }

type gainHeap struct {
	inputs []packedInput
	e      []gainEntry
}

func (h *gainHeap) Len() int { return len(h.e) }
func (h *gainHeap) Less(a, b int) bool {
	x, y := h.e[a], h.e[b]
	if x.gain != y.gain {
		return x.gain > y.gain
	}
	if sx, sy := h.inputs[x.i].size, h.inputs[y.i].size; sx != sy {
		return sx < sy
	}
	return x.i < y.i
}
func (h *gainHeap) Swap(a, b int) { h.e[a], h.e[b] = h.e[b], h.e[a] }
func (h *gainHeap) Push(x any)    { h.e = append(h.e, x.(gainEntry)) }
func (h *gainHeap) Pop() any {
	x := h.e[len(h.e)-1]
	h.e = h.e[:len(h.e)-1]
	return x
}
