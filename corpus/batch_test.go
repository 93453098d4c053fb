package corpus

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// names lists the files of dir, hidden ones (temporary files) apart.
func names(t *testing.T, dir string) (files, hidden []string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") {
			hidden = append(hidden, e.Name())
		} else {
			files = append(files, e.Name())
		}
	}
	return files, hidden
}

// TestWriteBatches: Write puts every file in place, whole, and syncs the
// directory once a batch, not once a file.
func TestWriteBatches(t *testing.T) {
	syncs := 0
	defer func(f func(string)) { syncDir = f }(syncDir)
	syncDir = func(dir string) { syncs++ }
	n := 2*batchFiles + 44
	es := make([]Entry, n)
	for i := range es {
		es[i] = Entry{Name: fmt.Sprintf("in%03d", i), Data: []byte(fmt.Sprintf("input %d", i))}
	}
	dir := filepath.Join(t.TempDir(), "out")
	res, err := Write(dir, Raw, es)
	if err != nil || res.Written != n || res.Existing != 0 {
		t.Fatalf("Write: %d written, %d existing, %v; want %d", res.Written, res.Existing, err, n)
	}
	files, hidden := names(t, dir)
	if len(files) != n || len(hidden) != 0 {
		t.Errorf("%d files, temporary files %q; want %d and none", len(files), hidden, n)
	}
	for _, e := range es {
		if b, err := os.ReadFile(filepath.Join(dir, e.Name)); err != nil || string(b) != string(e.Data) {
			t.Errorf("%s: %q, %v", e.Name, b, err)
		}
	}
	if want := (n + batchFiles - 1) / batchFiles; syncs != want {
		t.Errorf("%d directory syncs for %d files, want %d (one a batch)", syncs, n, want)
	}
	// Written again: every file is there already.
	if res, err := Write(dir, Raw, es); err != nil || res.Written != 0 || res.Existing != n {
		t.Errorf("Write again: %d written, %d existing, %v; want 0 and %d", res.Written, res.Existing, err, n)
	}
}

// TestFlushFailureCountsExactly: a file of a batch that cannot be put in
// place fails the flush; the files before it are in place and counted,
// it and the ones after are not, and no temporary file is left behind.
func TestFlushFailureCountsExactly(t *testing.T) {
	dir := t.TempDir()
	res := WriteResult{Dir: dir}
	for _, n := range []string{"a", "b", "c", "d", "e"} {
		if err := res.add(Raw, Entry{Name: n, Data: []byte("input " + n)}); err != nil {
			t.Fatal(err)
		}
	}
	// Something takes c's place before the batch is flushed.
	if err := os.MkdirAll(filepath.Join(dir, "c", "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	err := res.flush()
	if err == nil || !strings.Contains(err.Error(), "2 files written before") || res.Written != 2 || res.Bytes != int64(len("input a")+len("input b")) {
		t.Fatalf("flush: %d written (%d bytes), %v; want 2 and an error", res.Written, res.Bytes, err)
	}
	files, hidden := names(t, dir)
	if strings.Join(files, " ") != "a b c" || len(hidden) != 0 {
		t.Errorf("files %q, temporary files %q; want a b (and the directory c) and none", files, hidden)
	}
	// The batch is empty: flushing again does nothing.
	if err := res.flush(); err != nil || res.Written != 2 {
		t.Errorf("flush again: %d written, %v", res.Written, err)
	}
}

// TestConvertCancelMidBatch: Ctrl-C in the middle of a batch puts the
// files written by then in place, each whole, and counts exactly those.
func TestConvertCancelMidBatch(t *testing.T) {
	src := t.TempDir()
	for i := range 40 {
		if err := os.WriteFile(filepath.Join(src, fmt.Sprintf("in%02d", i)), []byte(fmt.Sprintf("input %d", i)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dst := filepath.Join(t.TempDir(), "out")
	res, _, err := ConvertProgress(ctx, "", Raw, dst, func(done, total int) {
		if done == 17 {
			cancel()
		}
	}, nil, src)
	if !errors.Is(err, context.Canceled) || res.Written != 17 {
		t.Fatalf("wrote %d, %v; want 17 and context.Canceled", res.Written, err)
	}
	files, hidden := names(t, dst)
	if len(files) != 17 || len(hidden) != 0 {
		t.Errorf("%d files, temporary files %q; want 17 and none", len(files), hidden)
	}
	// Run again, it writes the rest.
	res, _, err = ConvertProgress(context.Background(), "", Raw, dst, nil, nil, src)
	if err != nil || res.Written != 23 || res.Existing != 17 {
		t.Errorf("again: %d written, %d existing, %v; want 23 and 17", res.Written, res.Existing, err)
	}
}

// TestWriteRemovesStaleTemp: the temporary files a writer killed mid-batch
// left in the output directory (over staleTempAge old) go before the first
// write; a recent one, perhaps another writer's, and other hidden files
// stay.
func TestWriteRemovesStaleTemp(t *testing.T) {
	dir := t.TempDir()
	old := time.Now().Add(-time.Hour)
	for _, name := range []string{".tmp-a-1", ".tmp-b-2", ".tmp-recent-3", ".hidden"} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		if name != ".tmp-recent-3" {
			if err := os.Chtimes(p, old, old); err != nil {
				t.Fatal(err)
			}
		}
	}
	res, err := Write(dir, Raw, []Entry{{Name: "in", Data: []byte("data")}})
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		left = append(left, e.Name())
	}
	if res.StaleTemp != 2 || !slices.Equal(left, []string{".hidden", ".tmp-recent-3", "in"}) {
		t.Errorf("StaleTemp %d, directory holds %q; want 2 removed and .hidden, .tmp-recent-3, in", res.StaleTemp, left)
	}
}
