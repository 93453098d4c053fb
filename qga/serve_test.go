package qga_test

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/qgafuzz/qgafuzz/qga"
)

// TestListenSocketFiles checks what Listen does with a socket file already
// at its path: a stale one is replaced; a live one is left alone (and a
// busy one: TestListenBusySocket).
func TestListenSocketFiles(t *testing.T) {
	dir := t.TempDir()

	stale := filepath.Join(dir, "stale.sock")
	l, err := net.Listen("unix", stale)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	if l, err = qga.Listen("unix:" + stale); err != nil {
		t.Fatalf("stale socket: %v", err)
	}
	l.Close()

	live := filepath.Join(dir, "live.sock")
	ll, err := net.Listen("unix", live)
	if err != nil {
		t.Fatal(err)
	}
	defer ll.Close()
	if _, err := qga.Listen("unix:" + live); err == nil {
		t.Fatal("took over a live socket")
	}
}

// TestServerCloseLeavesClient: Close stops Serve even while a client that
// sends nothing holds its connection.
func TestServerCloseLeavesClient(t *testing.T) {
	l, err := qga.Listen("unix:" + filepath.Join(t.TempDir(), "a.sock"))
	if err != nil {
		t.Fatal(err)
	}
	srv := &qga.Server{Agent: qga.NewAgent(qga.AgentConfig{})}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	c, err := net.Dial("unix", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(`{"execute":"guest-ping"}`)); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 64)); err != nil { // served: the connection is held
		t.Fatal(err)
	}
	srv.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve does not return while a client is connected")
	}
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("the client's connection is still open")
	}
	srv2 := &qga.Server{Agent: qga.NewAgent(qga.AgentConfig{})}
	srv2.Close()
	if err := srv2.Serve(l); err != nil { // closed before serving: returns at once
		t.Fatal(err)
	}
}

// TestServerTwoListeners: Close stops every Serve of the server.
func TestServerTwoListeners(t *testing.T) {
	dir := t.TempDir()
	srv := &qga.Server{Agent: qga.NewAgent(qga.AgentConfig{})}
	done := make(chan error, 2)
	for _, name := range []string{"1", "2"} {
		l, err := net.Listen("unix", filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		go func() { done <- srv.Serve(l) }()
	}
	time.Sleep(50 * time.Millisecond)
	srv.Close()
	for i := 0; i < 2; i++ {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%d Serve calls still run after Close", 2-i)
		}
	}
	if err := (&qga.Server{}).Serve(nil); err == nil {
		t.Fatal("a Server without an Agent served")
	}
}

// flakyListener fails its first Accepts with err, then accepts normally.
type flakyListener struct {
	net.Listener
	fails int
	err   error
}

func (l *flakyListener) Accept() (net.Conn, error) {
	if l.fails > 0 {
		l.fails--
		return nil, &net.OpError{Op: "accept", Net: "unix", Err: os.NewSyscallError("accept4", l.err)}
	}
	return l.Listener.Accept()
}

// TestServeRetriesAcceptOutOfDescriptors: running out of descriptors for a
// moment (EMFILE) does not stop the agent, which would look like a crash
// of the agent under test; any other Accept error does.
func TestServeRetriesAcceptOutOfDescriptors(t *testing.T) {
	l, err := qga.Listen("unix:" + filepath.Join(t.TempDir(), "a.sock"))
	if err != nil {
		t.Fatal(err)
	}
	srv := &qga.Server{Agent: qga.NewAgent(qga.AgentConfig{})}
	defer srv.Close()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(&flakyListener{Listener: l, fails: 3, err: syscall.EMFILE}) }()
	c, err := net.Dial("unix", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte(`{"execute":"guest-ping"}`))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 64)); err != nil {
		select {
		case err := <-done:
			t.Fatalf("Serve returned: %v", err)
		default:
			t.Fatal(err)
		}
	}
	l2, err := qga.Listen("unix:" + filepath.Join(t.TempDir(), "b.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	err = srv.Serve(&flakyListener{Listener: l2, fails: 1, err: syscall.EINVAL})
	if !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("Serve on EINVAL: %v", err)
	}
}
