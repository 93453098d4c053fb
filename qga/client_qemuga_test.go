package qga_test

import (
	"context"
	"errors"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/qgafuzz/qgafuzz/qga"
	"github.com/qgafuzz/qgafuzz/qga/qgatest"
	"github.com/qgafuzz/qgafuzz/qjson"
)

// Client tests against a live qemu-ga (every unsafe RPC blocked; skipped
// when qemu-ga is absent unless $CI is set), and the round-trip benchmark
// that compares it with the reference agent. The agent must still be alive
// after each test: 7.2 exits when a client closes with replies unread, so
// these tests also prove that Close drains.

func startQemuGA(t *testing.T) (*qgatest.QemuGA, string) {
	t.Helper()
	ga := qgatest.StartQemuGA(t)
	return ga, "unix:" + ga.Socket
}

func checkAlive(t *testing.T, ga *qgatest.QemuGA) {
	t.Helper()
	time.Sleep(20 * time.Millisecond) // an exit on reset is not instantaneous
	if !ga.Alive() {
		t.Fatalf("qemu-ga exited; log:\n%s", ga.LogTail(20))
	}
}

func TestClientQemuGA(t *testing.T) {
	ga, addr := startQemuGA(t)
	c := newTestClient(t, addr, qga.ClientOptions{Timeout: 5 * time.Second})
	// The reference agent is byte-faithful to 7.2, so guest-info matches
	// it exactly (same blocklist, same version).
	info := referenceReturn(t, qga.CmdInfo)
	if v := ga.Version(); v != qga.DefaultVersion {
		t.Logf("qemu-ga %s is not %s: comparing guest-info's command names only", v, qga.DefaultVersion)
		var err error
		if info, err = callValue(c, 0, qga.CmdInfo, nil); err != nil {
			t.Fatal(err)
		}
	}
	checkBasicCalls(t, c, info)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	checkAlive(t, ga)
}

// TestClientQemuGAStaleInPipe leaves replies and half a request in one
// connection (as an earlier user of a virtio-serial port would) and hands
// that connection to a new client.
func TestClientQemuGAStaleInPipe(t *testing.T) {
	ga, addr := startQemuGA(t)
	c := clientAfterStaleData(t, addr, 50*time.Millisecond)
	v, err := callValue(c, 0, qga.CmdPing, nil)
	if err != nil || v.Len() != 0 {
		t.Fatalf("guest-ping = %s, %v", v, err)
	}
	c.Close()
	checkAlive(t, ga)
}

// TestClientQemuGAReconnect: an earlier client left half a request in the
// agent and went away (with nothing unread, so 7.2 survives). qemu-ga keeps
// parser state across connections; a new client must still be right.
func TestClientQemuGAReconnect(t *testing.T) {
	ga, addr := startQemuGA(t)
	for _, junk := range []string{
		`{"execute":"guest-ping",`, // swallows a plain guest-sync
		`{"execute":"gue`,          // inverts string parity
		`{{"execute":"guest-sync","arguments":{"id":44}}`,
	} {
		conn := rawConn(t, addr)
		conn.Write([]byte(junk))
		if got := readFor(conn, 50*time.Millisecond); len(got) != 0 {
			t.Fatalf("%q drew replies %q; the test assumes none", junk, got)
		}
		conn.Close()
		c := newTestClient(t, addr, qga.ClientOptions{Timeout: 5 * time.Second})
		v, err := callValue(c, 0, qga.CmdSync, syncArgs(3))
		wantSync(t, v, err, 3)
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		checkAlive(t, ga)
	}
}

// TestClientQemuGARestart restarts the agent under a connected client: the
// next call sees the connection gone; with Reconnect the one after that
// redials and resynchronises.
func TestClientQemuGARestart(t *testing.T) {
	ga, addr := startQemuGA(t)
	c := newTestClient(t, addr, qga.ClientOptions{Timeout: 5 * time.Second, Reconnect: true})
	v, err := callValue(c, 0, qga.CmdSync, syncArgs(1))
	wantSync(t, v, err, 1)
	if err := ga.Restart(); err != nil {
		t.Fatal(err)
	}
	_, err = callValue(c, 0, qga.CmdPing, nil)
	if err != nil && !errors.Is(err, qga.ErrClosed) {
		t.Fatalf("call on a dead connection: %v, want ErrClosed (or success after a redial)", err)
	}
	v, err = callValue(c, 0, qga.CmdSync, syncArgs(2))
	wantSync(t, v, err, 2)
	if s := c.Stats(); s.Redials != 1 {
		t.Errorf("stats %+v: want one redial", s)
	}
	c.Close()
	checkAlive(t, ga)
}

// BenchmarkClientRoundTrip measures guest-ping round trips through
// qga.Client over a unix socket, to the reference agent and to a live
// qemu-ga, side by side:
//
//	go test ./qga -run '^$' -bench ClientRoundTrip
//
// rt/s is round trips per second; MB/s counts request and reply bytes.
func BenchmarkClientRoundTrip(b *testing.B) {
	targets := []struct {
		name string
		addr func(b *testing.B) string
	}{
		{"reference", func(b *testing.B) string { return serveReference(b, qga.AgentConfig{}, false) }},
		{"qemu-ga", func(b *testing.B) string { return "unix:" + qgatest.StartQemuGA(b).Socket }},
	}
	// A request and its reply, with an id of typical length (19 digits).
	request := `{"execute":"guest-ping","id":1234567890123456789}` + "\n"
	reply := `{"return": {}, "id": 1234567890123456789}` + "\n"
	for _, tg := range targets {
		b.Run(tg.name, func(b *testing.B) {
			c := newTestClient(b, tg.addr(b), qga.ClientOptions{})
			ctx := context.Background()
			if err := c.Sync(ctx); err != nil {
				b.Fatal(err)
			}
			var v qjson.Value
			b.SetBytes(int64(len(request) + len(reply)))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if err := c.Execute(ctx, qga.CmdPing, nil, &v); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rt/s")
			if s := c.Stats(); s.Syncs != 1 {
				b.Errorf("the client resynchronised during the run: %+v", s)
			}
		})
	}
}

// heldConn is a unix connection whose Read, once held, does not return
// what the agent sent: it waits for its deadline, as over a slow channel,
// while the agent's reply sits unread in the socket. Moving the read
// deadline to the past (an interrupt) ends the wait and the hold.
type heldConn struct {
	*net.UnixConn // CloseWrite too, so that Close half-closes
	mu            sync.Mutex
	held          bool
	dl            time.Time
	wake          chan struct{}
	reading       chan struct{} // closed when the first held Read starts waiting
}

// hold starts holding and returns the channel closed when the first held
// Read waits.
func (h *heldConn) hold() <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.held, h.wake, h.reading = true, make(chan struct{}), make(chan struct{})
	return h.reading
}

func (h *heldConn) Read(p []byte) (int, error) {
	h.mu.Lock()
	held, dl, wake, reading := h.held, h.dl, h.wake, h.reading
	h.reading = nil
	h.mu.Unlock()
	if !held {
		return h.UnixConn.Read(p)
	}
	if reading != nil {
		close(reading)
	}
	var timeout <-chan time.Time
	if !dl.IsZero() {
		timeout = time.After(time.Until(dl))
	}
	select {
	case <-wake:
	case <-timeout:
	}
	return 0, os.ErrDeadlineExceeded
}

func (h *heldConn) SetReadDeadline(t time.Time) error {
	h.mu.Lock()
	h.dl = t
	if h.held && !t.IsZero() && t.Before(time.Now()) {
		h.held = false
		close(h.wake)
	}
	h.mu.Unlock()
	return h.UnixConn.SetReadDeadline(t)
}

// TestClientQemuGACloseDuringCall closes a Client from another goroutine
// while its call waits for a reply that qemu-ga has sent but the client has
// not read: the call ends at once with ErrClosed (its deadline is 30 s
// away), and Close drains that reply, so the agent, which exits when a
// client leaves replies unread, is still alive and serves the next client.
func TestClientQemuGACloseDuringCall(t *testing.T) {
	ga, addr := startQemuGA(t)
	conn := rawConn(t, addr)
	h := &heldConn{UnixConn: conn.(*net.UnixConn)}
	c := qga.NewClient(h, qga.ClientOptions{Timeout: 30 * time.Second, DrainTimeout: 2 * time.Second})
	t.Cleanup(func() { c.Close() })
	v, err := callValue(c, 0, qga.CmdSync, syncArgs(1))
	wantSync(t, v, err, 1)
	reading := h.hold()
	errc := callAsync(c, qga.CmdInfo)
	<-reading
	time.Sleep(100 * time.Millisecond) // qemu-ga's reply is in the socket by now
	start := time.Now()
	closed := closeAsync(c)
	err = waitErr(t, errc, time.Second, "the call in progress")
	if !errors.Is(err, qga.ErrClosed) {
		t.Fatalf("call interrupted by Close: %v, want ErrClosed", err)
	}
	if err := waitErr(t, closed, 3*time.Second, "Close"); err != nil {
		t.Fatalf("Close: %v", err)
	}
	t.Logf("call and Close returned %v after Close was called", time.Since(start))
	wantClosedAfter(t, c)
	checkAlive(t, ga)
	c2 := newTestClient(t, addr, qga.ClientOptions{Timeout: 5 * time.Second})
	v, err = callValue(c2, 0, qga.CmdSync, syncArgs(2))
	wantSync(t, v, err, 2)
	if err := c2.Close(); err != nil {
		t.Fatal(err)
	}
	checkAlive(t, ga)
}
