//go:build linux

package qga_test

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/qgafuzz/qgafuzz/qga"
)

// TestListenBusySocket: Listen leaves alone a socket file whose backlog is
// full (as qemu-ga's is while it serves one client and another waits).
// Only Linux tells a full backlog (EAGAIN) from a dead socket; the BSDs
// and macOS refuse both.
func TestListenBusySocket(t *testing.T) {
	dir := t.TempDir()
	busy := filepath.Join(dir, "busy.sock")
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	if err := syscall.Bind(fd, &syscall.SockaddrUnix{Name: busy}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	full := false
	for i := 0; i < 16 && !full; i++ {
		c, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer syscall.Close(c)
		err = syscall.Connect(c, &syscall.SockaddrUnix{Name: busy})
		full = errors.Is(err, syscall.EAGAIN)
	}
	if !full {
		t.Fatal("could not fill the listen backlog")
	}
	if _, err := qga.Listen("unix:" + busy); err == nil {
		t.Fatal("took over a busy socket (backlog full)")
	}
	if _, err := os.Lstat(busy); err != nil {
		t.Fatalf("the busy socket file was removed: %v", err)
	}
}
