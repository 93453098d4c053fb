package fuzz_test

import (
	"bytes"
	"net"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/qgafuzz/qgafuzz/fuzz"
	"github.com/qgafuzz/qgafuzz/qga/qgatest"
)

// TestOracleCountsOnlyTheFencesReplies: a stream that itself holds a
// guest-sync with the fence's id (not as an op of its own: without the
// fence's 0xFF prefix) gets a FenceReply that the Oracle counts as the
// fence's. When a later reply is slow (past Idle, so the per-op waits
// gave up), Play returns at once with the earlier FenceReply at the end
// of the replies: the slow reply and the last fence's reply are cut off,
// and the reference's truncated replies diverge from the agent's. The
// non-Oracle path waits them out.
func TestOracleCountsOnlyTheFencesReplies(t *testing.T) {
	sync := []byte(`{"execute":"guest-sync","arguments":{"id":` + strconv.FormatInt(qgatest.FenceID, 10) + `}}`)
	slow := []byte(`{"execute":"guest-slow"}`)
	slowReply := []byte("{\"return\": {}}\n")
	path := filepath.Join(t.TempDir(), "ref.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 4096)
				for {
					n, err := c.Read(buf)
					in := buf[:n]
					switch {
					case bytes.Equal(in, sync), bytes.Equal(in, qgatest.Fence):
						c.Write(qgatest.FenceReply)
					case bytes.Equal(in, qgatest.Probe): // the agent under test's barrier
						c.Write(qgatest.ProbeReply)
					case bytes.Equal(in, slow):
						time.Sleep(250 * time.Millisecond) // in order: the fence waits too
						c.Write(slowReply)
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	st := qgatest.Stream{Ops: []qgatest.Op{{Data: sync}, {Data: slow}, {Data: qgatest.Fence}}}
	pace := [][]byte{qgatest.FenceReply, slowReply, qgatest.FenceReply}
	want := bytes.Join(pace, nil)
	for _, oracle := range []bool{false, true} {
		ep := fuzz.NewSocketEndpoint("unix:"+path, fuzz.SocketOptions{Idle: 100 * time.Millisecond, Hang: 5 * time.Second, Oracle: oracle})
		got, err := ep.Play(st, pace)
		ep.Close()
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("Oracle %v: replies %q (%v), want %q", oracle, got, err, want)
		}
		time.Sleep(400 * time.Millisecond)
	}
}
