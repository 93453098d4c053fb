package corpus_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/qgafuzz/qgafuzz/corpus"
	"github.com/qgafuzz/qgafuzz/fuzz"
)

// TestDifferentialSeedsMatchTree: the built-in seeds are the checked-in
// directory, in its order.
func TestDifferentialSeedsMatchTree(t *testing.T) {
	root, err := fuzz.ModuleRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	_, tree, err := fuzz.ReadCorpus(filepath.Join(root, "corpus", "differential"))
	if err != nil {
		t.Fatal(err)
	}
	got := corpus.DifferentialSeeds()
	if len(got) != len(tree) || len(got) == 0 {
		t.Fatalf("%d built-in seeds, %d in the tree", len(got), len(tree))
	}
	for i := range got {
		if string(got[i]) != string(tree[i]) {
			t.Fatalf("seed %d differs: %q vs %q", i, strings.TrimSpace(string(got[i])), tree[i])
		}
	}
}
