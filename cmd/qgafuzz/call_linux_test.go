package main

import (
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/qgafuzz/qgafuzz/qga"
)

// fullBacklog returns a listener on a fresh unix socket whose backlog is
// full (one connection waits, unaccepted), and that connection; it skips
// where the kernel does not refuse the next one with EAGAIN.
func fullBacklog(t *testing.T) (string, net.Listener, net.Conn) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "busy.sock")
	l := backlogListener(t, path)
	t.Cleanup(func() { l.Close() })
	filler, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { filler.Close() })
	if c, err := net.Dial("unix", path); err == nil {
		c.Close()
		t.Skip("the kernel did not refuse a connection to a full backlog")
	} else if !strings.Contains(err.Error(), "resource temporarily unavailable") {
		t.Skipf("the kernel refuses a full backlog with %v, not EAGAIN", err)
	}
	return path, l, filler
}

// TestCallWaitsForBusyAgent: "call" to an agent that is busy with another
// client (its backlog full, connecting fails with EAGAIN) waits for it
// within --timeout instead of failing at once.
func TestCallWaitsForBusyAgent(t *testing.T) {
	path, l, _ := fullBacklog(t)
	go func() {
		time.Sleep(300 * time.Millisecond)
		c, err := l.Accept() // the other client leaves
		if err != nil {
			return
		}
		c.Close()
		srv := &qga.Server{Agent: qga.NewAgent(qga.AgentConfig{}), SurviveReset: true}
		srv.Serve(l)
	}()
	var stdout, stderr strings.Builder
	e := &env{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr}
	code := run(e, []string{"call", "--connect", "unix:" + path, "--timeout", "5s", "guest-ping"})
	if code != exitOK || stdout.String() != "{}\n" {
		t.Fatalf("call: exit %d, stdout %q, stderr %q; want 0 and {}", code, stdout.String(), stderr.String())
	}
}

// TestCallBusyAgentTimeout: an agent that stays busy for the whole
// --timeout is a transport error that says the agent is busy.
func TestCallBusyAgentTimeout(t *testing.T) {
	path, _, _ := fullBacklog(t)
	var stdout, stderr strings.Builder
	e := &env{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr}
	start := time.Now()
	code := run(e, []string{"call", "--connect", "unix:" + path, "--timeout", "300ms", "guest-ping"})
	took := time.Since(start)
	if code != exitTransport || !strings.Contains(stderr.String(), "busy") {
		t.Fatalf("call: exit %d, stderr %q; want %d and a message that the agent is busy", code, stderr.String(), exitTransport)
	}
	if took < 250*time.Millisecond || took > 3*time.Second {
		t.Fatalf("call gave up after %v, want about its --timeout of 300ms", took)
	}
}
