//go:build unix

package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// interruptOnSecondMeasure is a stderr that sends this process SIGINT (a
// Ctrl-C) when the second measurement of a corpus starts, and holds that
// measurement until the interrupt has been seen.
type interruptOnSecondMeasure struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	fired bool
}

func (w *interruptOnSecondMeasure) Write(p []byte) (int, error) {
	w.mu.Lock()
	w.buf.Write(p)
	fire := !w.fired && strings.Count(w.buf.String(), " measured 1 of ") >= 2
	w.fired = w.fired || fire
	w.mu.Unlock()
	if fire {
		syscall.Kill(os.Getpid(), syscall.SIGINT)
		time.Sleep(500 * time.Millisecond) // for the signal to cancel the run
	}
	return len(p), nil
}

func (w *interruptOnSecondMeasure) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// TestCorpusMinimizeInterruptedAfterWriting: Ctrl-C while minimize
// measures the corpus it has already written says that the corpus was
// written. It used to say "interrupted; nothing was written" (exit 130)
// with the minimized corpus in --out, which a second run then refused as
// not empty.
func TestCorpusMinimizeInterruptedAfterWriting(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the coverage server")
	}
	if !fuzzInstrumented() {
		t.Skip("no fuzzing instrumentation on this GOARCH")
	}
	out := filepath.Join(t.TempDir(), "min")
	var stdout bytes.Buffer
	stderr := &interruptOnSecondMeasure{}
	code := run(&env{stdout: &stdout, stderr: stderr}, []string{"corpus", "minimize", "--target", "parser", "../../corpus/parser", "--out", out})
	if !stderr.fired {
		t.Fatalf("minimize measured once only (exit %d):\n%s%s", code, &stdout, stderr)
	}
	ents, _ := os.ReadDir(out)
	if code != exitInterrupted || len(ents) == 0 {
		t.Fatalf("exit %d, %d files in --out; want 130 with the minimized corpus written:\n%s%s", code, len(ents), &stdout, stderr)
	}
	if s := stderr.String(); strings.Contains(s, "nothing was written") || !strings.Contains(s, "was written to "+out) {
		t.Errorf("the message does not say the corpus was written to %s:\n%s", out, s)
	}
}
