package qga_test

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/qgafuzz/qgafuzz/qga"
	"github.com/qgafuzz/qgafuzz/qjson"
)

// Helpers shared by the client tests: a reference agent on a unix socket,
// clients that are closed (drained) when the test ends, and the expected
// values the reference agent returns.

// shortTempDir returns a directory whose socket paths fit sun_path (108
// bytes), which t.TempDir's long names may not.
func shortTempDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "qgac")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// serveReference runs a reference agent on a unix socket and returns its
// client address and the server (whose Agent the test may inspect between
// calls only when no client is active).
func serveReference(t testing.TB, cfg qga.AgentConfig, survive bool) string {
	t.Helper()
	addr := "unix:" + filepath.Join(shortTempDir(t), "agent.sock")
	l, err := qga.Listen(addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &qga.Server{Agent: qga.NewAgent(cfg), SurviveReset: survive}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	t.Cleanup(func() {
		l.Close()
		if err := <-done; err != nil && !errors.Is(err, qga.ErrChannelReset) {
			t.Errorf("reference server: %v", err)
		}
	})
	return addr
}

// newTestClient returns a client for addr that the test closes at its end.
func newTestClient(t testing.TB, addr string, opts qga.ClientOptions) *qga.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := qga.DialClient(ctx, addr, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// callValue runs one Execute with a fresh context of the given timeout (none if
// zero: the client's own Timeout applies) and returns the value.
func callValue(c *qga.Client, timeout time.Duration, command string, args any) (qjson.Value, error) {
	ctx := context.Background()
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	var v qjson.Value
	err := c.Execute(ctx, command, args, &v)
	return v, err
}

// referenceReturn is what the reference agent returns for one request.
func referenceReturn(t testing.TB, command string) qjson.Value {
	t.Helper()
	a := qga.NewAgent(qga.AgentConfig{})
	out := a.Feed(nil, []byte(`{"execute":"`+command+`"}`))
	d := qjson.NewDecoder()
	if _, ok := d.Feed(out); !ok || d.Event().Err != nil {
		t.Fatalf("reference reply %q does not parse", out)
	}
	r, ok := d.Event().Value.Get("return")
	if !ok {
		t.Fatalf("reference reply %q has no return", out)
	}
	return r
}

// syncArgs is the arguments object of guest-sync with id n.
func syncArgs(n int64) qjson.Value {
	return qjson.ObjectValue(qjson.Member{Key: "id", Value: qjson.IntValue(n)})
}

// wantSync checks that a guest-sync call returned exactly n.
func wantSync(t testing.TB, v qjson.Value, err error, n int64) {
	t.Helper()
	if err != nil {
		t.Fatalf("guest-sync %d: %v", n, err)
	}
	if got, ok := v.Int(); !ok || got != n {
		t.Fatalf("guest-sync %d returned %s: a reply to another request", n, v)
	}
}

// wantErr checks that err matches target (errors.Is).
func wantErr(t testing.TB, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("got error %v, want one matching %v", err, target)
	}
}

// rawConn dials addr without a client, for tests that leave junk behind.
func rawConn(t testing.TB, addr string) net.Conn {
	t.Helper()
	network, address, err := qga.ParseAddr(addr)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial(network, address)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// readFor reads from c until d of silence and returns what came.
func readFor(c net.Conn, d time.Duration) []byte {
	var out []byte
	buf := make([]byte, 4096)
	for {
		c.SetReadDeadline(time.Now().Add(d))
		n, err := c.Read(buf)
		out = append(out, buf[:n]...)
		if err != nil {
			c.SetReadDeadline(time.Time{})
			return out
		}
	}
}
