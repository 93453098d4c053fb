package fuzz_test

import (
	"bytes"
	"context"
	"net"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/qgafuzz/qgafuzz/fuzz"
	"github.com/qgafuzz/qgafuzz/qga/qgatest"
)

// TestSocketWritesAreSeparateReads: an agent that is slow to read (a
// loaded machine) still sees each write of a stream as a read of its own;
// a fixed pause let them merge, and a planted split-UTF-8 bug then replayed
// as fixed.
func TestSocketWritesAreSeparateReads(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("only Linux tells the writer what the reader has read")
	}
	path := filepath.Join(t.TempDir(), "slow.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var mu sync.Mutex
	var reads [][]byte
	served := make(chan struct{})
	go func() {
		defer close(served)
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 4096)
		for {
			time.Sleep(20 * time.Millisecond) // ten times the pause
			n, err := c.Read(buf)
			if n > 0 {
				mu.Lock()
				reads = append(reads, bytes.Clone(buf[:n]))
				mu.Unlock()
			}
			if err != nil {
				return
			}
		}
	}()
	ep := fuzz.NewSocketEndpoint("unix:"+path, fuzz.SocketOptions{Idle: 50 * time.Millisecond})
	defer ep.Close()
	writes := []string{"{\"execute\":\"guest-ping\",\"id\":\"\xc3", "\xa9\"}", "\n"}
	st := qgatest.Stream{}
	for _, w := range writes {
		st.Ops = append(st.Ops, qgatest.Op{Data: []byte(w)})
	}
	ep.Play(st, make([][]byte, len(writes))) // no replies: the agent says nothing
	ep.Close()                               // the agent reads up to EOF: every write is in reads
	<-served
	mu.Lock()
	defer mu.Unlock()
	if len(reads) != len(writes) {
		t.Fatalf("the agent read %q, want the %d writes %q one by one", reads, len(writes), writes)
	}
	for i := range writes {
		if string(reads[i]) != writes[i] {
			t.Fatalf("read %d is %q, want %q", i, reads[i], writes[i])
		}
	}
}

// TestDifferInterruptDuringHang: Ctrl-C while an agent hangs (accepts,
// never reads or answers) ends the run within a second, not after --hang
// (30 s here), and the stream it cut short is not reported as a finding.
func TestDifferInterruptDuringHang(t *testing.T) {
	path := filepath.Join(t.TempDir(), "silent.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var mu sync.Mutex
	var conns []net.Conn
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	}()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c) // kept open, never read
			mu.Unlock()
		}
	}()
	ep := fuzz.NewSocketEndpoint("unix:"+path, fuzz.SocketOptions{Hang: 30 * time.Second})
	defer ep.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	time.AfterFunc(300*time.Millisecond, cancel)
	start := time.Now()
	var found int
	st, err := fuzz.Differ(ctx, fuzz.DiffOptions{Agent: ep, Seed: 1,
		OnDivergence: func(*fuzz.Divergence) { found++ }})
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("Differ returned %v after the start, want within a second of the interrupt at 300ms", took.Round(time.Second/10))
	}
	if err != nil {
		t.Errorf("Differ: %v, want no error for an interrupted run", err)
	}
	if found != 0 || st.Divergences != 0 {
		t.Errorf("%d divergences reported (%d in stats) for a stream cut short by the interrupt", found, st.Divergences)
	}
}
