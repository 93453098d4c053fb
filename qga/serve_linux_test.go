//go:build linux

package qga_test

import (
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

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

// TestServerStopsOnReset: a client that closes its connection while a
// reply sits unread resets it, and qemu-ga 7.2 stops there (spec 1.4):
// Serve returns ErrChannelReset; with SurviveReset it serves the next
// client instead.
func TestServerStopsOnReset(t *testing.T) {
	const ping, pong = `{"execute":"guest-ping"}`, "{\"return\": {}}\n"
	for _, survive := range []bool{false, true} {
		addr := "unix:" + filepath.Join(shortTempDir(t), "agent.sock")
		l, err := qga.Listen(addr)
		if err != nil {
			t.Fatal(err)
		}
		srv := &qga.Server{Agent: qga.NewAgent(qga.AgentConfig{}), SurviveReset: survive}
		done := make(chan error, 1)
		go func() { done <- srv.Serve(l) }()
		c := rawConn(t, addr)
		if _, err := c.Write([]byte(ping)); err != nil {
			t.Fatal(err)
		}
		waitUnread(t, c, len(pong))
		c.Close() // the reply unread: a reset
		if survive {
			c2 := rawConn(t, addr)
			c2.Write([]byte(ping))
			got := make([]byte, len(pong))
			c2.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.ReadFull(c2, got); err != nil || string(got) != pong {
				t.Errorf("SurviveReset: the next client got %q, %v", got, err)
			}
			c2.Close()
			l.Close()
		}
		select {
		case err := <-done:
			if survive && err != nil {
				t.Errorf("SurviveReset: Serve returned %v after the listener closed, want nil", err)
			}
			if !survive && !errors.Is(err, qga.ErrChannelReset) {
				t.Errorf("Serve returned %v after a reset, want ErrChannelReset", err)
			}
		case <-time.After(5 * time.Second):
			l.Close()
			t.Errorf("SurviveReset %v: Serve still running 5s after a reset", survive)
			<-done
		}
		l.Close()
	}
}

// waitUnread waits until n bytes sit in c's receive buffer, without
// reading them.
func waitUnread(t *testing.T, c net.Conn, n int) {
	t.Helper()
	rc, err := c.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, n)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		got := 0
		rc.Read(func(fd uintptr) bool {
			got, _, _ = syscall.Recvfrom(int(fd), buf, syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
			return true
		})
		if got >= n {
			return
		}
	}
	t.Fatalf("no %d-byte reply after 5s", n)
}
