package main

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/qgafuzz/qgafuzz/qga/qgatest"
)

// syncBuffer is a bytes.Buffer safe for a command goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startAgentCommand runs "qgafuzz agent --listen unix:SOCK" in process and
// waits until it accepts connections.
func startAgentCommand(t *testing.T, extra ...string) (sock string, stderr *syncBuffer) {
	t.Helper()
	dir, err := os.MkdirTemp("", "qgaf")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock = filepath.Join(dir, "agent.sock")
	stderr = &syncBuffer{}
	e := &env{stdin: strings.NewReader(""), stdout: &syncBuffer{}, stderr: stderr}
	done := make(chan int, 1)
	go func() { done <- run(e, append([]string{"agent", "--listen", "unix:" + sock}, extra...)) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.Dial("unix", sock)
		if err == nil {
			c.Close()
			break
		}
		select {
		case code := <-done:
			t.Fatalf("qgafuzz agent exited with %d: %s", code, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("qgafuzz agent did not listen on %s: %v", sock, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return sock, stderr
}

// TestAgentCommandReplaysVectors replays every recorded vector against
// "qgafuzz agent" over a unix socket, with the recorder's own semantics
// (setup, steps, reconnects, reading until idle).
func TestAgentCommandReplaysVectors(t *testing.T) {
	vs := qgatest.RealVectors(t)
	sock, stderr := startAgentCommand(t)
	var conn *qgatest.Conn
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	// The in-process agent answers within microseconds; a short idle keeps
	// the replay fast without changing what is compared.
	idle := 30 * time.Millisecond
	for i := range vs {
		v := &vs[i]
		if v.Big() && testing.Short() {
			continue
		}
		if v.Big() {
			v.IdleMS = 200 // the limit vectors take a moment to parse
		}
		got, steps, next, err := qgatest.RunVector(qgatest.DialUnix(sock), conn, v, idle)
		conn = next
		if err != nil {
			t.Fatalf("%s: %v\nagent stderr: %s", v.Name, err, stderr.String())
		}
		if !bytes.Equal(got, v.Output) {
			t.Errorf("%s: want %q, got %q", v.Name, v.Output, got)
			continue
		}
		for j := range v.StepOutputs {
			if j >= len(steps) || !bytes.Equal(steps[j], v.StepOutputs[j]) {
				t.Errorf("%s: step %d: want %q, got %q", v.Name, j, v.StepOutputs[j], steps)
				break
			}
		}
	}
}

// agentGoroutines counts the goroutines running code of runAgent.
func agentGoroutines() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			count := 0
			for _, g := range strings.Split(string(buf[:n]), "\n\n") {
				if strings.Contains(g, "qgafuzz.runAgent") {
					count++
				}
			}
			return count
		}
		buf = make([]byte, 2*len(buf))
	}
}

// TestAgentCommandUsage: a bad --listen address is a usage error (exit 2),
// not a transport error.
func TestAgentCommandUsage(t *testing.T) {
	for _, args := range [][]string{{"--listen", "bogus"}, {"--listen", "unix:"}, {"--listen", "tcp:127.0.0.1"}, {}} {
		var out, errb syncBuffer
		e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb}
		if code := run(e, append([]string{"agent"}, args...)); code != exitUsage || errb.String() == "" {
			t.Errorf("agent %q: exit %d, stderr %q; want 2 with a message", args, code, errb.String())
		}
	}
	// A stray argument is named, not taken for a missing --stdio.
	var out, errb syncBuffer
	e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb}
	if code := run(e, []string{"agent", "--stdio", "extra"}); code != exitUsage || !strings.Contains(errb.String(), `unexpected argument "extra"`) {
		t.Errorf("agent --stdio extra: exit %d, stderr %q; want 2 naming the argument", code, errb.String())
	}
}
