package nightly

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qgafuzz/qgafuzz/corpus"
)

// TestCacheRoundTrip carries a persistent corpus into the engine's cache
// and back: inputs that look like a native file or a simulation schedule
// are inputs like any other and must come back byte for byte.
func TestCacheRoundTrip(t *testing.T) {
	inputs := []string{
		"{\"execute\":\"guest-ping\"}",
		"go test fuzz v1\n[]byte(\"x\")\n",
		"go test fuzz v1\r\nstring(\"y\")\r\n",
		`{"version":1,"seed":2,"ops":[]}`,
		"\xff\x00",
	}
	src, cache, back := t.TempDir(), filepath.Join(t.TempDir(), "FuzzParser"), t.TempDir()
	for i, in := range inputs {
		if err := os.WriteFile(filepath.Join(src, string(rune('a'+i))), []byte(in), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	n, probs, err := fillCache(src, cache)
	if err != nil || len(probs) != 0 || n != len(inputs) {
		t.Fatalf("fillCache: %d inputs, %v, %v", n, probs, err)
	}
	// A file the engine's cache cannot give back is said, not dropped
	// in silence.
	os.WriteFile(filepath.Join(cache, "broken"), []byte("go test fuzz v1\nint(3)\n"), 0o644)
	n, _, probs, err = harvestCache(cache, back)
	if err != nil || n != len(inputs) || len(probs) != 1 || !strings.Contains(probs[0].String(), "broken") {
		t.Fatalf("harvestCache: %d inputs, problems %v, %v", n, probs, err)
	}
	es, _, err := corpus.ReadDirsAs(corpus.Raw, back)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, e := range es {
		got[string(e.Data)] = true
	}
	for _, in := range inputs {
		if !got[in] {
			t.Errorf("lost or changed: %q", in)
		}
	}
}

// TestCacheEmptyCorpus: a corpus directory with nothing to read (empty, or
// only skipped files) still gives the engine a cache directory, so that a
// run in which the engine adds nothing (a short budget, or a platform
// without fuzzing instrumentation, such as 386) saves the corpus without
// an error.
func TestCacheEmptyCorpus(t *testing.T) {
	src, cache := t.TempDir(), filepath.Join(t.TempDir(), "FuzzParser")
	n, probs, err := fillCache(src, cache)
	if err != nil || len(probs) != 0 || n != 0 {
		t.Fatalf("fillCache: %d inputs, %v, %v", n, probs, err)
	}
	if n, _, _, err := harvestCache(cache, src); err != nil || n != 0 {
		t.Fatalf("harvestCache after a run that added nothing: %d inputs, %v", n, err)
	}
}

// TestSaveCorpusFullDisk saves the engine's cache into a corpus on a file
// system that fills up partway: the files written before the failure are
// stored, and the report counts them (corpus 1 -> 2, not 1 -> 1).
func TestSaveCorpusFullDisk(t *testing.T) {
	mnt := t.TempDir()
	if err := exec.Command("mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", mnt).Run(); err != nil {
		t.Skipf("cannot mount a small tmpfs (needs root): %v", err)
	}
	defer exec.Command("umount", mnt).Run()
	corpusDir, cache := filepath.Join(mnt, "parser"), filepath.Join(t.TempDir(), "FuzzParser")
	if _, err := corpus.Write(corpusDir, corpus.Raw, []corpus.Entry{{Name: "seed", Data: []byte("seed")}}); err != nil {
		t.Fatal(err)
	}
	// The cache is read in name order: "a" fits, "b" does not.
	if _, err := corpus.Write(cache, corpus.Native, []corpus.Entry{{Name: "a", Data: []byte("small")},
		{Name: "b", Data: make([]byte, 64<<10)}, {Name: "c", Data: []byte("seed")}}); err != nil {
		t.Fatal(err)
	}
	n := &night{rep: &Report{}}
	tr := Target{Name: "parser", CorpusBefore: 1, CorpusAfter: 1}
	n.saveCorpus(&tr, cache, corpusDir)
	es, _, err := corpus.ReadDirsAs(corpus.Raw, corpusDir)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(tr.Error, "no space") || len(es) != 2 || tr.CorpusAfter != len(es) {
		t.Fatalf("error %q, corpus after %d, stored %d; want a no-space error and 2", tr.Error, tr.CorpusAfter, len(es))
	}
}
