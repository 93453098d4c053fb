package fuzz_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/qgafuzz/qgafuzz/fuzz"
	"github.com/qgafuzz/qgafuzz/qga/qgatest"
)

// TestSeedCorpus checks that every target's checked-in seed corpus holds
// exactly what SeedInputs generates from the vectors; with
// QGAFUZZ_UPDATE_CORPUS=1 it rewrites the corpora.
func TestSeedCorpus(t *testing.T) {
	vs := qgatest.RealVectors(t)
	update := os.Getenv("QGAFUZZ_UPDATE_CORPUS") != ""
	dict := filepath.Join("..", "corpus", "qga.dict")
	if update {
		if err := fuzz.WriteFileAtomic(dict, fuzz.Dictionary()); err != nil {
			t.Fatal(err)
		}
	}
	if b, err := os.ReadFile(dict); err != nil || !bytes.Equal(b, fuzz.Dictionary()) {
		t.Errorf("corpus/qga.dict is not what fuzz.Dictionary gives (%v; QGAFUZZ_UPDATE_CORPUS=1 rewrites it)", err)
	}
	for _, tg := range fuzz.Targets() {
		want := fuzz.SeedInputs(tg.Name, vs)
		dir := filepath.Join("..", "corpus", tg.Name)
		if update {
			if err := fuzz.WriteCorpus(dir, want); err != nil {
				t.Fatal(err)
			}
		}
		names, inputs, err := fuzz.ReadCorpus(dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(names) != len(want) {
			t.Errorf("corpus/%s has %d files, SeedInputs gives %d (QGAFUZZ_UPDATE_CORPUS=1 rewrites it)", tg.Name, len(names), len(want))
		}
		for i, n := range names {
			if w, ok := want[n]; !ok || !bytes.Equal(w, inputs[i]) {
				t.Errorf("corpus/%s/%s is not what SeedInputs gives (QGAFUZZ_UPDATE_CORPUS=1 rewrites it)", tg.Name, n)
			}
		}
	}
}
