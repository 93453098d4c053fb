package main

import (
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// backlogListener listens on a unix socket with a backlog of 0: one
// connection waits to be accepted, the next is refused with EAGAIN, as at
// a qemu-ga that is still serving a client (its backlog is 1).
func backlogListener(t *testing.T, path string) net.Listener {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrUnix{Name: path}); err != nil {
		syscall.Close(fd)
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		syscall.Close(fd)
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	l, err := net.FileListener(f)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestProxyWaitsForBusyUpstream: a client that comes while the upstream's
// backlog is full (qemu-ga still serving, or the proxy still draining the
// connection of the client before) is passed on once the upstream accepts
// again, not cut at once with "resource temporarily unavailable".
func TestProxyWaitsForBusyUpstream(t *testing.T) {
	dir := t.TempDir()
	upPath := filepath.Join(dir, "up.sock")
	up := backlogListener(t, upPath)
	defer up.Close()
	// Fill the backlog: this connection is never accepted until later.
	filler, err := net.Dial("unix", upPath)
	if err != nil {
		t.Fatal(err)
	}
	defer filler.Close()
	if c, err := net.Dial("unix", upPath); err == nil {
		c.Close()
		t.Skip("the kernel did not refuse a connection to a full backlog")
	} else if !strings.Contains(err.Error(), "resource temporarily unavailable") {
		t.Skipf("the kernel refuses a full backlog with %v, not EAGAIN", err)
	}

	sock := filepath.Join(dir, "p.sock")
	stderr := &syncBuffer{}
	e := &env{stdin: strings.NewReader(""), stdout: &syncBuffer{}, stderr: stderr}
	done := make(chan int, 1)
	go func() {
		done <- run(e, []string{"proxy", "--listen", "unix:" + sock, "--upstream", "unix:" + upPath, "--max-conns", "1"})
	}()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(stderr.String(), "listening on") {
		select {
		case code := <-done:
			t.Fatalf("proxy exited with %d: %s", code, stderr)
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("proxy did not start: %s", stderr)
		}
	}
	client, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	req := []byte(`{"execute":"guest-ping"}` + "\n")
	if _, err := client.Write(req); err != nil {
		t.Fatal(err)
	}
	// The upstream is busy for a while, then accepts the filler and the
	// proxy's connection.
	time.Sleep(300 * time.Millisecond)
	first, err := up.Accept()
	if err != nil {
		t.Fatal(err)
	}
	first.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := up.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	var pc net.Conn
	select {
	case c, ok := <-accepted:
		if !ok {
			t.Fatal("accept failed")
		}
		pc = c
	case <-time.After(3 * time.Second):
		t.Fatalf("the proxy never connected to the upstream once it accepted again; stderr:\n%s", stderr)
	}
	defer pc.Close()
	pc.SetReadDeadline(time.Now().Add(3 * time.Second))
	got := make([]byte, len(req))
	if _, err := io.ReadFull(pc, got); err != nil || string(got) != string(req) {
		t.Fatalf("upstream got %q, %v; want %q; stderr:\n%s", got, err, req, stderr)
	}
	reply := []byte(`{"return": {}}` + "\n")
	pc.Write(reply)
	client.SetReadDeadline(time.Now().Add(3 * time.Second))
	back := make([]byte, len(reply))
	if _, err := io.ReadFull(client, back); err != nil || string(back) != string(reply) {
		t.Fatalf("client got %q, %v; want %q; stderr:\n%s", back, err, reply, stderr)
	}
	client.Close()
	pc.Close()
	select {
	case code := <-done:
		if code != 0 || strings.Contains(stderr.String(), "could not reach") {
			t.Fatalf("proxy exit %d; stderr:\n%s", code, stderr)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("proxy did not exit after its one connection; stderr:\n%s", stderr)
	}
}
