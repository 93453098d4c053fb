package fuzz

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestCollectDirKeepsCrashersWhenSyncFails: the commit promises that a
// crasher is never dropped for a failing directory sync, but collectDir
// (libFuzzer and go-fuzz) stops at the first ErrNotDurable: the crasher it
// just stored is not returned (so not printed, grouped nor in --json), and
// the engine's later crashers are not stored at all.
func TestCollectDirKeepsCrashersWhenSyncFails(t *testing.T) {
	defer func(f func(*os.File) error) { syncFile = f }(syncFile)
	syncFile = func(d *os.File) error { return &fs.PathError{Op: "sync", Path: d.Name(), Err: syscall.EIO} }
	engineDir := t.TempDir()
	for _, n := range []string{"crash-a", "crash-b"} {
		if err := os.WriteFile(filepath.Join(engineDir, n), []byte("boom "+n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	o := EngineOptions{Target: testPanicTarget, Out: t.TempDir()}
	out, err := collectDir(o, engineDir, func(string) bool { return true }, func(string) string { return "found by a test engine\n" })
	stored, _ := filepath.Glob(filepath.Join(o.Out, "crash-*[0-9a-f]"))
	if len(out) != 2 || len(stored) != 2 {
		t.Errorf("collectDir with failing directory syncs: returned %d crashers, %d stored (%v); want 2 and 2", len(out), len(stored), err)
	}
}

// TestCrashStoreInputFailureIsNotNotDurable: the report is in place but
// not synced (ErrNotDurable), then the input cannot be written at all.
// Save joined the two errors, so errors.Is(err, ErrNotDurable) held and a
// caller that goes on past ErrNotDurable took the crasher for stored.
func TestCrashStoreInputFailureIsNotNotDurable(t *testing.T) {
	defer func(f func(*os.File) error) { syncFile = f }(syncFile)
	s := CrashStore{Dir: t.TempDir()}
	data := []byte("crash")
	calls := 0
	syncFile = func(d *os.File) error {
		calls++
		if calls == 1 {
			// After the report: something takes the input's path.
			os.Mkdir(s.PathOf(data), 0o755)
		}
		return &fs.PathError{Op: "sync", Path: d.Name(), Err: syscall.EIO}
	}
	_, err := s.Save(data, "report\n")
	if err == nil {
		t.Fatal("Save succeeded with the input's path taken by a directory")
	}
	if st, serr := os.Stat(s.PathOf(data)); serr == nil && st.IsDir() && errors.Is(err, ErrNotDurable) {
		t.Errorf("the input was not written, but Save's error is ErrNotDurable (stored, not synced): %v", err)
	}
}
