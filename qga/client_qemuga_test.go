package qga_test

import (
	"context"
	"errors"
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
