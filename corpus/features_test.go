package corpus

import (
	"container/heap"
	"errors"
	"hash/maphash"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"pgregory.net/rapid"
)

// featureList draws a list of features, sorted or not, with repeats or
// not: from a small range (inputs sharing features, one-byte deltas) or
// any uint32 (deltas of up to five bytes).
func featureList(t *rapid.T, label string) []uint32 {
	f := rapid.OneOf(rapid.Uint32Range(0, 200), rapid.Uint32(), rapid.SampledFrom([]uint32{0, 127, 128, 16383, 16384, 1<<32 - 1}))
	return rapid.SliceOfN(f, 0, 60).Draw(t, label)
}

// TestFeatureSetsRoundTrip: every input packed gives back its features,
// sorted without repeats, its size and count; the numbers of its
// features are ascending; and the features numbered are the union.
func TestFeatureSetsRoundTrip(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		n := rapid.IntRange(0, 20).Draw(rt, "inputs")
		items := make([]Item, n)
		for i := range items {
			items[i] = Item{Size: rapid.IntRange(0, 1000).Draw(rt, "size"), Features: featureList(rt, "features")}
		}
		s := packItems(normalize(items))
		if s.len() != n {
			rt.Fatalf("%d inputs packed, want %d", s.len(), n)
		}
		union := Union(items)
		for i, it := range items {
			want := slices.Compact(slices.Sorted(slices.Values(it.Features)))
			if got := s.features(i); !slices.Equal(got, want) {
				rt.Fatalf("input %d: features %v, want %v", i, got, want)
			}
			if in := s.inputs[i]; in.size != it.Size || in.count != len(want) {
				rt.Fatalf("input %d: size %d, %d features; want %d, %d", i, in.size, in.count, it.Size, len(want))
			}
			if ids := s.numbers(nil, i); !slices.IsSorted(ids) || len(slices.Compact(slices.Clone(ids))) != len(ids) {
				rt.Fatalf("input %d: numbers %v not ascending", i, ids)
			}
		}
		if got := s.union(); len(got) != len(union) || len(s.values) != len(union) {
			rt.Fatalf("union of %d features (%d numbered), want %d", len(got), len(s.values), len(union))
		}
		for f := range union {
			if id, ok := s.ids[f]; !ok || s.values[id] != f {
				rt.Fatalf("feature %d numbered %d (%v), which is feature %d", f, id, ok, s.values[id])
			}
		}
	})
}

// TestFeatureSetsLongLists: lists long enough for the bitset that sorts
// numbers, and a list longer than a chunk of the arena.
func TestFeatureSetsLongLists(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	long := make([]uint32, packChunk+10) // numbered 0, 1, 2...: a byte each, more than a chunk
	for i := range long {
		long[i] = uint32(i) * 1000
	}
	items := []Item{{Size: 1, Features: long}}
	for i := range 300 {
		var fs []uint32
		for range 200 + r.IntN(300) {
			fs = append(fs, uint32(r.IntN(5000))*8+uint32(r.IntN(8)))
		}
		items = append(items, Item{Size: i, Features: fs})
	}
	s := packItems(normalize(items))
	if len(s.inputs[0].list) <= packChunk {
		t.Fatalf("the long list packs in %d bytes, not over a chunk", len(s.inputs[0].list))
	}
	for i, it := range items {
		want := slices.Compact(slices.Sorted(slices.Values(it.Features)))
		if got := s.features(i); !slices.Equal(got, want) {
			t.Fatalf("input %d: %d features back, want %d", i, len(got), len(want))
		}
	}
}

// TestCoverMatchesPlain: Cover on packed inputs keeps exactly the inputs
// that the cover on plain []uint32 lists and maps kept (coverPlain, the
// implementation before packing), for random items and bases.
func TestCoverMatchesPlain(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		universe := rapid.Uint32Range(1, 300).Draw(rt, "universe")
		f := rapid.OneOf(rapid.Uint32Range(0, universe), rapid.Uint32Range(1<<32-8, 1<<32-1))
		n := rapid.IntRange(0, 40).Draw(rt, "inputs")
		items := make([]Item, n)
		for i := range items {
			items[i] = Item{Size: rapid.IntRange(1, 50).Draw(rt, "size"), Features: rapid.SliceOfN(f, 0, 25).Draw(rt, "features")}
		}
		base := map[uint32]bool{}
		for _, b := range rapid.SliceOfN(f, 0, 30).Draw(rt, "base") {
			base[b] = true
		}
		if rapid.Bool().Draw(rt, "nil base") {
			base = nil
		}
		got, want := Cover(items, base), coverPlain(items, base)
		if !slices.Equal(got, want) {
			rt.Fatalf("Cover kept %v, the plain cover %v", got, want)
		}
	})
}

// TestCoverMatchesPlainLarge: the same on a corpus-like instance, large
// enough for the bitset sort and many rounds of the lazy greedy cover.
func TestCoverMatchesPlainLarge(t *testing.T) {
	items := corpusLike(3000, 5)
	got, want := Cover(items, nil), coverPlain(items, nil)
	if !slices.Equal(got, want) {
		t.Fatalf("Cover kept %d inputs, the plain cover %d: %v, %v", len(got), len(want), got, want)
	}
	base := map[uint32]bool{}
	for f := uint32(0); f < 4000; f += 3 {
		base[f] = true
	}
	if got, want := Cover(items, base), coverPlain(items, base); !slices.Equal(got, want) {
		t.Fatalf("with a base, Cover kept %d inputs, the plain cover %d", len(got), len(want))
	}
}

// corpusLike returns n inputs with features as a measured corpus has
// them: a core most inputs share and a few hundred others each, from
// some thousands in all.
func corpusLike(n int, seed uint64) []Item {
	r := rand.New(rand.NewPCG(seed, 1))
	items := make([]Item, n)
	for i := range items {
		seen := map[uint32]bool{}
		for f := range uint32(300) {
			if r.IntN(10) > 0 {
				seen[f*8] = true
			}
		}
		for range 100 + r.IntN(400) {
			seen[uint32(300+r.IntN(6000))*8+uint32(r.IntN(3))] = true
		}
		fs := make([]uint32, 0, len(seen))
		for f := range seen {
			fs = append(fs, f)
		}
		slices.Sort(fs)
		items[i] = Item{Size: 20 + r.IntN(400), Features: fs}
	}
	return items
}

// BenchmarkCover: Cover of 5,000 corpus-like inputs, packing included.
func BenchmarkCover(b *testing.B) {
	items := corpusLike(5000, 9)
	b.ReportAllocs()
	for b.Loop() {
		Cover(items, nil)
	}
}

// TestInputFeatures: a Measured gives back each input's features,
// sorted without repeats, and none when it kept only their union.
func TestInputFeatures(t *testing.T) {
	items := []Item{{Size: 3, Features: []uint32{9, 2, 2, 1 << 31}}, {Size: 1}, {Size: 2, Features: []uint32{4, 9}}}
	m := &Measured{Items: items, features: packItems(normalize(items))}
	for i, want := range [][]uint32{{2, 9, 1 << 31}, nil, {4, 9}} {
		if got := m.InputFeatures(i); !slices.Equal(got, want) {
			t.Errorf("input %d: %v, want %v", i, got, want)
		}
	}
	if m.Features() != 4 || len(m.featureSet()) != 4 {
		t.Errorf("%d features, a set of %d; want 4", m.Features(), len(m.featureSet()))
	}
	if got := (&Measured{union: map[uint32]bool{1: true}}).InputFeatures(0); got != nil {
		t.Errorf("stats' Measured: %v, want nil", got)
	}
}

// TestEntriesReread: entries reads again the data a measure dropped,
// decoded as it was read, and refuses a file that changed since.
func TestEntriesReread(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"a": "first", "b": "second"})
	native := filepath.Join(dir, "n")
	if err := os.WriteFile(native, EncodeNative([]byte("native input")), 0o644); err != nil {
		t.Fatal(err)
	}
	m := &Measured{seed: maphash.MakeSeed(), sums: []uint64{}}
	for _, e := range []Entry{
		{Path: filepath.Join(dir, "a"), Name: "a", Data: []byte("first"), Format: Raw},
		{Path: filepath.Join(dir, "b"), Name: "b", Data: []byte("second"), Format: Raw},
		{Path: native, Name: "n", Data: []byte("native input"), Format: Native},
	} {
		m.Entries = append(m.Entries, Entry{Path: e.Path, Name: e.Name, Format: e.Format})
		m.Items = append(m.Items, Item{Size: len(e.Data)})
		m.sums = append(m.sums, maphash.Bytes(m.seed, e.Data))
	}
	es, err := m.entries([]int{2, 0})
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 2 || string(es[0].Data) != "native input" || es[0].Name != "n" || string(es[1].Data) != "first" || es[1].Format != Raw {
		t.Fatalf("entries: %+v", es)
	}
	for name, content := range map[string]string{"a": "FIRST", "b": "second!"} { // same size, other size
		writeFiles(t, dir, map[string]string{name: content})
	}
	for _, k := range []int{0, 1} {
		if _, err := m.entries([]int{k}); err == nil || !strings.Contains(err.Error(), "changed") {
			t.Errorf("entry %d changed on disk: %v, want an error saying so", k, err)
		}
	}
	os.Remove(native)
	if _, err := m.entries([]int{2}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("entry removed from disk: %v, want not found", err)
	}
}

// coverPlain is Cover as it was before features were packed: maps of
// features, lists as given (normalized). It is the reference the packed
// cover must match exactly.
func coverPlain(items []Item, base map[uint32]bool) []int {
	items = normalize(items)
	bytesOf := func(idx []int) int {
		n := 0
		for _, i := range idx {
			n += items[i].Size
		}
		return n
	}
	a := prunePlain(items, coverBySizePlain(items, base), base)
	b := prunePlain(items, coverGreedyPlain(items, base), base)
	if len(b) < len(a) || (len(b) == len(a) && bytesOf(b) < bytesOf(a)) {
		a = b
	}
	sort.Ints(a)
	return a
}

func coverBySizePlain(items []Item, base map[uint32]bool) []int {
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

func coverGreedyPlain(items []Item, base map[uint32]bool) []int {
	h := &plainGainHeap{items: items}
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

func prunePlain(items []Item, keep []int, base map[uint32]bool) []int {
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

type plainGainHeap struct {
	items []Item
	e     []gainEntry
}

func (h *plainGainHeap) Len() int { return len(h.e) }
func (h *plainGainHeap) Less(a, b int) bool {
	x, y := h.e[a], h.e[b]
	if x.gain != y.gain {
		return x.gain > y.gain
	}
	if sx, sy := h.items[x.i].Size, h.items[y.i].Size; sx != sy {
		return sx < sy
	}
	return x.i < y.i
}
func (h *plainGainHeap) Swap(a, b int) { h.e[a], h.e[b] = h.e[b], h.e[a] }
func (h *plainGainHeap) Push(x any)    { h.e = append(h.e, x.(gainEntry)) }
func (h *plainGainHeap) Pop() any {
	x := h.e[len(h.e)-1]
	h.e = h.e[:len(h.e)-1]
	return x
}
