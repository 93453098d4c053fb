package corpus_test

import (
	"math/rand/v2"
	"testing"

	"github.com/qgafuzz/qgafuzz/corpus"
)

// TestCoverKeepsUnion checks on random instances that the cover keeps
// every feature, keeps no input whose features the others already give,
// and respects a base.
func TestCoverKeepsUnion(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for iter := 0; iter < 200; iter++ {
		n := 1 + r.IntN(60)
		items := make([]corpus.Item, n)
		for i := range items {
			k := r.IntN(12)
			for j := 0; j < k; j++ {
				items[i].Features = append(items[i].Features, uint32(r.IntN(80)))
			}
			items[i].Size = 1 + r.IntN(100)
		}
		base := map[uint32]bool{}
		if iter%2 == 1 {
			for f := uint32(0); f < 20; f++ {
				base[f] = true
			}
		}
		keep := corpus.Cover(items, base)
		got := map[uint32]bool{}
		for _, i := range keep {
			for _, f := range items[i].Features {
				got[f] = true
			}
		}
		for f := range corpus.Union(items) {
			if !got[f] && !base[f] {
				t.Fatalf("iteration %d: feature %d lost", iter, f)
			}
		}
		for _, i := range keep {
			unique := false
			for _, f := range items[i].Features {
				if base[f] {
					continue
				}
				others := false
				for _, j := range keep {
					if j == i {
						continue
					}
					for _, g := range items[j].Features {
						others = others || g == f
					}
				}
				unique = unique || !others
			}
			if !unique {
				t.Fatalf("iteration %d: input %d is redundant", iter, i)
			}
		}
	}
}

// TestCoverPrefersSmall checks that of two inputs with the same features
// the smaller is kept.
func TestCoverPrefersSmall(t *testing.T) {
	items := []corpus.Item{{Size: 100, Features: []uint32{1, 2, 3}}, {Size: 5, Features: []uint32{1, 2, 3}}, {Size: 7, Features: []uint32{3}}}
	keep := corpus.Cover(items, nil)
	if len(keep) != 1 || keep[0] != 1 {
		t.Fatalf("keep %v, want [1]", keep)
	}
}

func TestFeatureEncoding(t *testing.T) {
	fs := corpus.AppendFeatures(nil, []byte{0, 1, 0, 2, 3, 4, 200, 0, 17})
	//lint:ignore SA4016 the | 0 is the feature's bucket, written out like the others
	want := []uint32{1<<3 | 0, 3<<3 | 1, 4<<3 | 2, 5<<3 | 3, 6<<3 | 7, 8<<3 | 5}
	if len(fs) != len(want) {
		t.Fatalf("features %v, want %v", fs, want)
	}
	for i := range fs {
		if fs[i] != want[i] {
			t.Fatalf("features %v, want %v", fs, want)
		}
	}
	back, err := corpus.DecodeFeatures(corpus.EncodeFeatures(fs))
	if err != nil || len(back) != len(fs) {
		t.Fatalf("decode: %v %v", back, err)
	}
	for i := range fs {
		if back[i] != fs[i] {
			t.Fatalf("decode: %v, want %v", back, fs)
		}
	}
}
