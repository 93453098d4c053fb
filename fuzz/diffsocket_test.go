package fuzz_test

import (
	"bytes"
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
