//go:build unix

package corpus_test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/qgafuzz/qgafuzz/corpus"
)

// TestReadDirsOddFiles checks that a FIFO (named directly or in a
// directory) and a file over MaxFileSize are reported, not read: one would
// block for ever, the other exhaust memory.
func TestReadDirsOddFiles(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "good"), []byte("ok"), 0o644)
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	huge := filepath.Join(dir, "core")
	if err := os.WriteFile(huge, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(huge, corpus.MaxFileSize+1); err != nil { // sparse: no disk used
		t.Fatal(err)
	}
	type result struct {
		es    []corpus.Entry
		probs []corpus.Problem
		err   error
	}
	read := func(paths ...string) result {
		done := make(chan result, 1)
		go func() {
			es, probs, err := corpus.ReadDirs(paths...)
			done <- result{es, probs, err}
		}()
		select {
		case r := <-done:
			return r
		case <-time.After(10 * time.Second):
			t.Fatalf("ReadDirs(%v) blocks", paths)
			return result{}
		}
	}
	if r := read(dir); r.err != nil || len(r.es) != 1 || len(r.probs) != 2 || r.probs[0].Path != huge || r.probs[1].Path != fifo {
		t.Fatalf("directory: %+v", r)
	}
	r := read(fifo, huge)
	if r.err != nil || len(r.es) != 0 || len(r.probs) != 2 {
		t.Fatalf("files named directly: %+v", r)
	}
	for _, p := range r.probs {
		if msg := p.String(); !strings.Contains(msg, "not a regular file") && !strings.Contains(msg, "limit") {
			t.Errorf("unclear problem: %s", msg)
		}
	}
}
