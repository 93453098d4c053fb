//go:build unix

package main

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestAgentCommandLeavesNoGoroutine: when "qgafuzz agent" stops (here on
// a client that resets its connection, as qemu-ga 7.2 does), nothing of
// it keeps running, not even the signal watcher: commands run in process.
func TestAgentCommandLeavesNoGoroutine(t *testing.T) {
	before := agentGoroutines()
	dir, err := os.MkdirTemp("", "qgaf")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "agent.sock")
	e := &env{stdin: strings.NewReader(""), stdout: &syncBuffer{}, stderr: &syncBuffer{}}
	done := make(chan int, 1)
	go func() { done <- run(e, []string{"agent", "--listen", "unix:" + sock}) }()
	var c net.Conn
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if c, err = net.Dial("unix", sock); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
	}
	if _, err := c.Write([]byte(`{"execute":"guest-ping"}`)); err != nil {
		t.Fatal(err)
	}
	// Close once the reply waits, unread: the agent then reads a reset.
	raw, err := c.(*net.UnixConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		n := 0
		raw.Read(func(fd uintptr) bool {
			n, _, _ = syscall.Recvfrom(int(fd), make([]byte, 1), syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
			return true
		})
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no reply from the agent")
		}
	}
	c.Close()
	select {
	case code := <-done:
		if code != exitFinding {
			t.Fatalf("exit %d, want %d on a reset connection", code, exitFinding)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the agent does not stop on a reset connection")
	}
	for deadline := time.Now().Add(2 * time.Second); agentGoroutines() > before; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines of runAgent left running after it returned", agentGoroutines()-before)
		}
	}
}
