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
		// Inputs merged in (qgafuzz corpus merge --into corpus/T) are
		// not generated: only the generated names must match.
		have := map[string]bool{}
		for i, n := range names {
			if !fuzz.IsSeedName(n) {
				continue
			}
			have[n] = true
			if w, ok := want[n]; !ok || !bytes.Equal(w, inputs[i]) {
				t.Errorf("corpus/%s/%s is not what SeedInputs gives (QGAFUZZ_UPDATE_CORPUS=1 rewrites it)", tg.Name, n)
			}
		}
		for n := range want {
			if !have[n] {
				t.Errorf("corpus/%s/%s is missing (QGAFUZZ_UPDATE_CORPUS=1 rewrites it)", tg.Name, n)
			}
		}
	}
}

// TestWriteCorpusKeepsMerged: rewriting the generated seeds
// (QGAFUZZ_UPDATE_CORPUS=1) replaces stale generated files but keeps the
// inputs that qgafuzz corpus merge added to the checked-in corpus, as the
// README's merge example does.
func TestWriteCorpusKeepsMerged(t *testing.T) {
	dir := t.TempDir()
	merged := "3f786850e387550fdab836ed7e6dc881de23001b"
	for name, b := range map[string]string{merged: "merged", "vec-gone": "old", "x-a": "stale"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(b), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := fuzz.WriteCorpus(dir, map[string][]byte{"x-a": []byte("new")}); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{merged: "merged", "x-a": "new", "vec-gone": ""} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		switch {
		case want == "" && err == nil:
			t.Errorf("%s: stale generated seed kept", name)
		case want != "" && (err != nil || string(b) != want):
			t.Errorf("%s: got %q, %v; want %q", name, b, err, want)
		}
	}
}
