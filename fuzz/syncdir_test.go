package fuzz

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestSyncDirFailures: a directory sync that fails for real (EIO, ENOSPC,
// EROFS) is returned, by SyncDir and by WriteFileAtomic, whose file is in
// place all the same; a system that cannot sync directories (EINVAL,
// ENOTSUP, EBADF, EISDIR, EPERM, EACCES) is not an error.
func TestSyncDirFailures(t *testing.T) {
	defer func(f func(*os.File) error) { syncFile = f }(syncFile)
	for _, c := range []struct {
		errno    syscall.Errno
		reported bool
	}{
		{syscall.EIO, true}, {syscall.ENOSPC, true}, {syscall.EROFS, true},
		{syscall.EINVAL, false}, {syscall.ENOTSUP, false}, {syscall.EBADF, false},
		{syscall.EISDIR, false}, {syscall.EPERM, false}, {syscall.EACCES, false},
	} {
		syncFile = func(d *os.File) error { return &fs.PathError{Op: "sync", Path: d.Name(), Err: c.errno} }
		dir := t.TempDir()
		err := SyncDir(dir)
		if c.reported != (err != nil) || err != nil && !errors.Is(err, c.errno) {
			t.Errorf("SyncDir with a sync failing with %v: %v (want it reported: %v)", c.errno, err, c.reported)
		}
		path := filepath.Join(dir, "f")
		err = WriteFileAtomic(path, []byte("data"))
		if c.reported != (err != nil) || err != nil && (!errors.Is(err, c.errno) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "may not survive a crash")) {
			t.Errorf("WriteFileAtomic with a directory sync failing with %v: %v (want it reported: %v)", c.errno, err, c.reported)
		}
		if b, rerr := os.ReadFile(path); rerr != nil || string(b) != "data" {
			t.Errorf("with %v: the file holds %q, %v; want it in place", c.errno, b, rerr)
		}
	}
}

// TestCrashStoreKeepsCrasherWhenSyncFails: a directory sync failing for
// real after the report is written does not stop the input from being
// written: both are stored, and the error (ErrNotDurable) says they may
// not survive a crash.
func TestCrashStoreKeepsCrasherWhenSyncFails(t *testing.T) {
	defer func(f func(*os.File) error) { syncFile = f }(syncFile)
	syncFile = func(d *os.File) error { return &fs.PathError{Op: "sync", Path: d.Name(), Err: syscall.EIO} }
	s := CrashStore{Dir: t.TempDir()}
	c, err := s.Save([]byte("crash"), "report\n")
	if !errors.Is(err, ErrNotDurable) || !errors.Is(err, syscall.EIO) {
		t.Errorf("Save with failing directory syncs: %v, want ErrNotDurable and EIO", err)
	}
	if b, rerr := os.ReadFile(c.Path); rerr != nil || string(b) != "crash" {
		t.Errorf("the input holds %q, %v; want it stored", b, rerr)
	}
	if b, rerr := os.ReadFile(c.Report); rerr != nil || string(b) != "report\n" {
		t.Errorf("the report holds %q, %v; want it stored", b, rerr)
	}
}
