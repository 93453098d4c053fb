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
	items = normalize(items)
	a := prune(items, coverBySize(items, base), base)
	b := prune(items, coverGreedy(items, base), base)
	if len(b) < len(a) || (len(b) == len(a) && bytesOf(items, b) < bytesOf(items, a)) {
		a = b
	}
	sort.Ints(a)
	return a
}

// normalize returns items whose feature lists are sorted and without
// repeats (the server's are; hand-built ones may not be).
// Lists that already are so are shared, not copied: those of a measured
// corpus of tens of thousands of inputs are hundreds of MiB, and a copy
// of them all doubled the memory of minimize and merge.
func normalize(items []Item) []Item {
	out := make([]Item, len(items))
	for i, it := range items {
		fs := it.Features
		if !strictlySorted(fs) {
			fs = append([]uint32(nil), fs...)
			slices.Sort(fs)
			fs = slices.Compact(fs)
		}
		out[i] = Item{Size: it.Size, Features: fs}
	}
	return out
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

func bytesOf(items []Item, idx []int) int {
	n := 0
	for _, i := range idx {
		n += items[i].Size
	}
	return n
}

// coverBySize is libFuzzer's merge: smallest first (more features first
// among equal sizes), keeping each input that adds a feature.
func coverBySize(items []Item, base map[uint32]bool) []int {
	order := make([]int, len(items))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(x, y int) bool {
		a, b := items[order[x]], items[order[y]]
		if a.Size != b.Size {
			return a.Size < b.Size
		}
		return len(a.Features) > len(b.Features)
	})
	have := map[uint32]bool{}
	var keep []int
	for _, i := range order {
		added := false
		for _, f := range items[i].Features {
			if !base[f] && !have[f] {
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
func coverGreedy(items []Item, base map[uint32]bool) []int {
	h := &gainHeap{items: items}
	for i, it := range items {
		h.e = append(h.e, gainEntry{i, len(it.Features)})
	}
	heap.Init(h)
	have := map[uint32]bool{}
	gain := func(i int) int {
		n := 0
		for _, f := range items[i].Features {
			if !base[f] && !have[f] {
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
		for _, f := range items[top.i].Features {
			have[f] = true
		}
	}
	return keep
}

// prune drops kept inputs, largest first, whose every feature is also
// given by another kept input or by base.
func prune(items []Item, keep []int, base map[uint32]bool) []int {
	count := map[uint32]int{}
	for _, i := range keep {
		for _, f := range items[i].Features {
			count[f]++
		}
	}
	order := append([]int(nil), keep...)
	sort.SliceStable(order, func(x, y int) bool { return items[order[x]].Size > items[order[y]].Size })
	dropped := map[int]bool{}
	for _, i := range order {
		redundant := true
		for _, f := range items[i].Features {
			if !base[f] && count[f] < 2 {
				redundant = false
				break
			}
		}
		if redundant {
			dropped[i] = true
			for _, f := range items[i].Features {
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
	items []Item
	e     []gainEntry
}

func (h *gainHeap) Len() int { return len(h.e) }
func (h *gainHeap) Less(a, b int) bool {
	x, y := h.e[a], h.e[b]
	if x.gain != y.gain {
		return x.gain > y.gain
	}
	if sx, sy := h.items[x.i].Size, h.items[y.i].Size; sx != sy {
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
