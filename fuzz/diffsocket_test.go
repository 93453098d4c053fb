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
	"github.com/qgafuzz/qgafuzz/qga"
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

// TestOracleStreamEndsAtItsFence: the reference (Oracle) is done with a
// stream that ends with the fence once the last fence's reply is in: it
// neither waits 5×Pause for extra bytes, as an agent under test does, nor
// stops short when its replies are longer than the in-process reference's
// (pace), as another qemu-ga version's guest-info is.
func TestOracleStreamEndsAtItsFence(t *testing.T) {
	addr := serveBuggy(t, qga.NoBug)
	ping := []byte(`{"execute":"guest-ping"}`)
	st := qgatest.Stream{Ops: []qgatest.Op{{Data: qgatest.Fence}, {Data: ping}, {Data: qgatest.Fence}}}
	want := qgatest.ReferenceReplies(qga.AgentConfig{}, st)

	// A long Pause: the watch for extra bytes would take 10 s.
	ep := fuzz.NewSocketEndpoint(addr, fuzz.SocketOptions{Pause: 2 * time.Second, Oracle: true})
	defer ep.Close()
	start := time.Now()
	got, err := ep.Play(st, want)
	if took := time.Since(start); err != nil || took > 5*time.Second {
		t.Errorf("Play took %v (%v); want it done at the fence's reply, not 5×Pause later", took.Round(time.Millisecond), err)
	}
	if !bytes.Equal(got, bytes.Join(want, nil)) {
		t.Errorf("replies %q, want %q", got, bytes.Join(want, nil))
	}

}

// TestOracleWaitsForTheLastFence: a stream with two fences is done when
// the second one's reply is in, however long after the first's it comes.
func TestOracleWaitsForTheLastFence(t *testing.T) {
	path := filepath.Join(t.TempDir(), "slow-fence.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		var in []byte
		buf := make([]byte, 4096)
		answered := 0
		for {
			n, err := c.Read(buf)
			in = append(in, buf[:n]...)
			for ; answered < bytes.Count(in, qgatest.Fence); answered++ {
				if answered > 0 {
					time.Sleep(300 * time.Millisecond) // the second reply comes late
				}
				c.Write(qgatest.FenceReply)
			}
			if err != nil {
				return
			}
		}
	}()
	ep := fuzz.NewSocketEndpoint("unix:"+path, fuzz.SocketOptions{Idle: 2 * time.Second, Hang: 5 * time.Second, Oracle: true})
	defer ep.Close()
	st := qgatest.Stream{Ops: []qgatest.Op{{Data: qgatest.Fence}, {Data: qgatest.Fence}}}
	got, err := ep.Play(st, make([][]byte, len(st.Ops)))
	if want := bytes.Repeat(qgatest.FenceReply, 2); err != nil || !bytes.Equal(got, want) {
		t.Errorf("replies %q (%v), want %q", got, err, want)
	}
}
