package fuzz_test

import (
	"bytes"
	"math/rand/v2"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/qgafuzz/qgafuzz/fuzz"
	"github.com/qgafuzz/qgafuzz/qga"
	"github.com/qgafuzz/qgafuzz/qga/qgatest"
)

// serveAfterFence serves the reference agent on a unix socket, a fresh
// one per connection, one reply batch per read, and calls afterFence with
// the connection each time it has sent the fence's reply: afterFence
// returns false to stop serving the connection, which then stays open
// and unread until the test ends.
func serveAfterFence(t *testing.T, afterFence func(c net.Conn) bool) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "agent.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			go func() {
				a := qga.NewAgent(qga.AgentConfig{})
				buf := make([]byte, 64<<10)
				for {
					n, err := c.Read(buf)
					out := a.Feed(nil, buf[:n])
					if _, werr := c.Write(out); werr != nil {
						return
					}
					if bytes.HasSuffix(out, qgatest.FenceReply) && !afterFence(c) {
						return
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	return "unix:" + path
}

// TestProbeCatchesRepeatedFenceReply: an agent that sends the fence's
// reply twice diverges, however late the second one comes, as long as it
// comes before the agent reads on (the watch of 5×Pause missed one 50 ms
// late), and the report says where the line was drawn.
func TestProbeCatchesRepeatedFenceReply(t *testing.T) {
	for _, late := range []time.Duration{0, 50 * time.Millisecond} {
		t.Run(late.String(), func(t *testing.T) {
			addr := serveAfterFence(t, func(c net.Conn) bool {
				time.Sleep(late)
				_, err := c.Write(qgatest.FenceReply)
				return err == nil
			})
			agent := fuzz.NewSocketEndpoint(addr, fuzz.SocketOptions{})
			defer agent.Close()
			st := qgatest.Stream{Ops: []qgatest.Op{{Data: []byte(`{"execute":"guest-ping"}`)}, {Data: qgatest.Fence}}}
			d, err := fuzz.Replay(nil, agent, st)
			if err != nil {
				t.Fatal(err)
			}
			if d == nil {
				t.Fatal("no divergence for a fence reply sent twice")
			}
			if n := bytes.Count(d.Agent, qgatest.FenceReply); n != 2 || bytes.Contains(d.Agent, qgatest.ProbeReply) {
				t.Errorf("agent replies %q: want the fence's reply twice and not the probe's", d.Agent)
			}
			if !strings.Contains(d.Detail, "extra line") {
				t.Errorf("detail %q: want the extra line", d.Detail)
			}
			// A reply that came with the fence's own is the stream's
			// without a word on the probe.
			if late > 0 && !strings.Contains(d.Detail, "guest-sync probe") {
				t.Errorf("detail %q: want a word on the probe qgafuzz sent", d.Detail)
			}
		})
	}
}

// TestProbeRepliesLeftOut: fenced streams played to the reference agent
// behind a socket give exactly the in-process reference's replies, with
// the probe's reply left out, a stream that asks for that same reply
// itself included; and no stream waits out a pause for extra bytes (a
// Pause of a second made the watch take 5 s).
func TestProbeRepliesLeftOut(t *testing.T) {
	agent := fuzz.NewSocketEndpoint(serveBuggy(t, qga.NoBug), fuzz.SocketOptions{Pause: time.Second})
	defer agent.Close()
	streams := []qgatest.Stream{
		{Ops: []qgatest.Op{{Data: qgatest.Fence}}},
		{Ops: []qgatest.Op{{Data: qgatest.Probe}, {Data: qgatest.Fence}}},
		{Ops: []qgatest.Op{{Data: qgatest.Fence}, {Data: []byte(`{"execute":"guest-ping"}`)}, {Reconnect: true}, {Data: qgatest.Fence}}},
	}
	for i := range uint64(30) {
		streams = append(streams, qgatest.GenStream(rand.New(rand.NewPCG(3, i)), qgatest.StreamOptions{LongString: 512}))
	}
	for i, st := range streams {
		pace := qgatest.ReferenceReplies(qga.AgentConfig{}, st)
		want := bytes.Join(pace, nil)
		start := time.Now()
		got, err := agent.Play(st, pace)
		if took := time.Since(start); took > 2*time.Second {
			t.Fatalf("stream %d took %v: the end of a fenced stream was waited out", i, took.Round(time.Millisecond))
		}
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("stream %d %s: replies %q (%v), want %q", i, st, got, err, want)
		}
	}
}

// TestProbeUnanswered: an agent that answers the stream but not the probe
// (it goes quiet, closes the connection, or answers something else)
// diverges, and the report says what qgafuzz sent after the stream.
func TestProbeUnanswered(t *testing.T) {
	for _, c := range []struct {
		name       string
		afterFence func(net.Conn) bool
	}{
		{"quiet", func(net.Conn) bool { return false }},
		{"closes", func(c net.Conn) bool { c.Close(); return false }},
		{"answers something else", func(c net.Conn) bool {
			buf := make([]byte, 4096)
			if _, err := c.Read(buf); err == nil {
				c.Write([]byte("{\"return\": 1}\n"))
			}
			return false
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			agent := fuzz.NewSocketEndpoint(serveAfterFence(t, c.afterFence), fuzz.SocketOptions{Idle: 50 * time.Millisecond})
			defer agent.Close()
			st := qgatest.Stream{Ops: []qgatest.Op{{Data: []byte(`{"execute":"guest-ping"}`)}, {Data: qgatest.Fence}}}
			start := time.Now()
			// The reset that follows fails (the agent cannot be restarted):
			// the divergence is what matters here.
			d, _ := fuzz.Replay(nil, agent, st)
			if took := time.Since(start); took > time.Second {
				t.Errorf("took %v, want the unanswered probe seen within Idle", took.Round(time.Millisecond))
			}
			if d == nil {
				t.Fatal("no divergence for an agent that does not answer the probe")
			}
			if !strings.Contains(d.Detail, "guest-sync probe") || !strings.Contains(d.Detail, string(qgatest.Probe)) {
				t.Errorf("detail %q does not say which probe qgafuzz sent", d.Detail)
			}
			if d.AgentHung {
				t.Errorf("reported as hung: %s", d.Detail)
			}
		})
	}
}

// TestProbeQemuGA: a live qemu-ga answers the probe after any fenced
// stream, and its replies are the reference's.
func TestProbeQemuGA(t *testing.T) {
	g := qgatest.StartQemuGA(t)
	agent := fuzz.NewSocketEndpoint("unix:"+g.Socket, fuzz.SocketOptions{})
	defer agent.Close()
	for i, s := range differentialSeeds(t) {
		st := fuzz.Chunks(s)
		if n := len(st.Ops); n == 0 || !bytes.Equal(st.Ops[n-1].Data, qgatest.Fence) {
			st.Ops = append(st.Ops, qgatest.Op{Data: qgatest.Fence})
		}
		pace := qgatest.ReferenceReplies(qga.AgentConfig{}, st)
		got, err := agent.Play(st, pace)
		if err != nil {
			t.Fatalf("seed %d: %v", i, err)
		}
		if d := fuzz.CompareReplies(bytes.Join(pace, nil), got); d != "" || bytes.Contains(got, qgatest.ProbeReply) {
			t.Fatalf("seed %d: qemu-ga %s: %s\nreplies %q", i, g.Version(), d, got)
		}
	}
	// Reset plays the fence, and the probe after it.
	if err := agent.Reset(); err != nil {
		t.Errorf("Reset: %v", err)
	}
}
