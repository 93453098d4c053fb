package corpus_test

import (
	"context"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/qgafuzz/qgafuzz/corpus"
)

// TestBuildInterruptedLeavesNoTemp: Ctrl-C while the coverage server
// builds leaves nothing behind. exec.CommandContext killed the go command
// alone: its compilers ran on, and its go-build* work directory stayed in
// $TMPDIR for good.
func TestBuildInterruptedLeavesNoTemp(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the coverage server")
	}
	if runtime.GOOS == "windows" {
		t.Skip("process groups")
	}
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	t.Setenv("GOFLAGS", "-a") // a build long enough to interrupt, whatever the cache holds
	dir, err := os.MkdirTemp("", "build-")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := corpus.Build(ctx, "..", dir); err == nil {
		t.Skip("the build finished within 2 s")
	}
	time.Sleep(500 * time.Millisecond) // a compiler left running would still be writing
	if err := os.RemoveAll(dir); err != nil {
		t.Errorf("removing the build directory: %v", err)
	}
	if ents, _ := os.ReadDir(tmp); len(ents) > 0 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("an interrupted build left %q in $TMPDIR", names)
	}
}
