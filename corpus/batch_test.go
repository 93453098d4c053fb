package corpus

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
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
	defer func(f func(string) error) { syncDir = f }(syncDir)
	syncDir = func(dir string) error { syncs++; return nil }
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

// TestWriteReportsDirSyncFailure: a directory sync that fails after a
// batch is in place is Write's error: the batch's files are there and
// counted, but may not survive a crash, and the write stops, as it does
// at a file that cannot be written.
func TestWriteReportsDirSyncFailure(t *testing.T) {
	syncs := 0
	defer func(f func(string) error) { syncDir = f }(syncDir)
	syncDir = func(dir string) error {
		syncs++
		return &fs.PathError{Op: "sync", Path: dir, Err: syscall.EIO}
	}
	es := make([]Entry, 2*batchFiles)
	for i := range es {
		es[i] = Entry{Name: fmt.Sprintf("in%03d", i), Data: []byte(fmt.Sprintf("input %d", i))}
	}
	dir := filepath.Join(t.TempDir(), "out")
	res, err := Write(dir, Raw, es)
	if !errors.Is(err, syscall.EIO) || !strings.HasPrefix(err.Error(), "corpus: ") ||
		!strings.Contains(err.Error(), fmt.Sprintf("the %d files just written to %s may not survive a crash", batchFiles, dir)) {
		t.Errorf("Write with a failing directory sync: %v", err)
	}
	if files, hidden := names(t, dir); res.Written != batchFiles || len(files) != batchFiles || len(hidden) != 0 || syncs != 1 {
		t.Errorf("%d written, %d files, temporary files %q, %d directory syncs; want %d, %[5]d, none and 1", res.Written, len(files), hidden, syncs, batchFiles)
	}
}

// TestWriteDirAtomicReportsDirSyncFailure: a directory written whole
// (minimize's --out) whose parent cannot be synced after the rename is in
// place, and the error says it may not survive a crash.
func TestWriteDirAtomicReportsDirSyncFailure(t *testing.T) {
	parent := t.TempDir()
	out := filepath.Join(parent, "min")
	defer func(f func(string) error) { syncDir = f }(syncDir)
	syncDir = func(dir string) error {
		if dir == parent {
			return &fs.PathError{Op: "sync", Path: dir, Err: syscall.EIO}
		}
		return nil
	}
	err := writeDirAtomic(out, []Entry{{Name: "a", Data: []byte("input a")}})
	if !errors.Is(err, syscall.EIO) || !strings.Contains(err.Error(), out+" is in place, but may not survive a crash") {
		t.Errorf("writeDirAtomic with a failing sync of its parent: %v", err)
	}
	if b, rerr := os.ReadFile(filepath.Join(out, "a")); rerr != nil || string(b) != "input a" {
		t.Errorf("%s/a holds %q, %v", out, b, rerr)
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
