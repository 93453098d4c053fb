//go:build unix

package main

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/qgafuzz/qgafuzz/qga"
)

// interruptOnCommand is an agent's side of a connection that sends this
// process SIGINT (a Ctrl-C) when the command's request arrives, and hands
// the request to the agent only a while later: the reply comes after the
// host was interrupted.
type interruptOnCommand struct {
	net.Conn
	command []byte
	mu      sync.Mutex
	seen    bytes.Buffer
	fired   bool
}

func (c *interruptOnCommand) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	c.seen.Write(p[:n])
	fire := !c.fired && bytes.Contains(c.seen.Bytes(), c.command)
	c.fired = c.fired || fire
	c.mu.Unlock()
	if fire {
		syscall.Kill(os.Getpid(), syscall.SIGINT)
		time.Sleep(300 * time.Millisecond)
	}
	return n, err
}

// TestCallInterruptedDrains: Ctrl-C while "call" waits for its reply ends
// it with exit 130 after reading what the agent still sends, so that the
// agent does not see the connection closed with its reply unread (qemu-ga
// 7.2 exits on that). call used to die at once on SIGINT.
func TestCallInterruptedDrains(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	served := make(chan error, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			served <- err
			return
		}
		defer c.Close()
		srv := &qga.Server{Agent: qga.NewAgent(qga.AgentConfig{})}
		served <- srv.ServeConn(&interruptOnCommand{Conn: c, command: []byte(`"guest-ping"`)})
	}()
	var stdout, stderr strings.Builder
	e := &env{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr}
	code := run(e, []string{"call", "--connect", "unix:" + path, "--timeout", "5s", "guest-ping"})
	if code != exitInterrupted || !strings.Contains(stderr.String(), "interrupted") {
		t.Errorf("call: exit %d, stdout %q, stderr %q; want %d and \"interrupted\"", code, stdout.String(), stderr.String(), exitInterrupted)
	}
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("the agent's connection ended with %v, want a clean EOF after its reply was read", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the agent's connection did not end")
	}
}
