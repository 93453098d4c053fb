package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/qgafuzz/qgafuzz/qga"
	"github.com/qgafuzz/qgafuzz/qga/qgatest"
	"github.com/qgafuzz/qgafuzz/sim"
)

// TestProxyCommandQemuGA puts "qgafuzz proxy" with fragmentation and
// duplicated replies in front of a live qemu-ga: the careful client still
// gets exactly its replies, the proxy exits after its one connection, and
// qemu-ga survives.
func TestProxyCommandQemuGA(t *testing.T) {
	ga := qgatest.StartQemuGA(t)
	dir, err := os.MkdirTemp("", "qgpx")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "p.sock")
	stderr := &syncBuffer{}
	e := &env{stdin: strings.NewReader(""), stdout: &syncBuffer{}, stderr: stderr}
	done := make(chan int, 1)
	go func() {
		done <- run(e, []string{"proxy", "--listen", "unix:" + sock, "--upstream", "unix:" + ga.Socket,
			"--faults", "fragment:rate=1,max=4,gap=200us,dup:rate=0.5,dir=a2h", "--seed", "3", "--max-conns", "1", "-v"})
	}()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(stderr.String(), "listening on") {
		select {
		case code := <-done:
			t.Fatalf("proxy exited with %d: %s", code, stderr)
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("proxy did not start: %s", stderr)
		}
	}
	ctx := context.Background()
	c, err := qga.DialClient(ctx, "unix:"+sock, qga.ClientOptions{Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	for i := int64(1); i <= 5; i++ {
		var id int64
		if err := c.Execute(ctx, "guest-sync", map[string]int64{"id": i * 11}, &id); err != nil || id != i*11 {
			t.Fatalf("guest-sync %d: %d, %v\n%s", i*11, id, err, stderr)
		}
		if err := c.Execute(ctx, "guest-ping", nil, nil); err != nil {
			t.Fatalf("guest-ping: %v", err)
		}
	}
	if st := c.Stats(); st.StaleReplies == 0 {
		t.Logf("no duplicated reply reached the client (stats %+v)", st)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	proxyExitsOK(t, done, stderr)
	for _, want := range []string{"conn 1 h2a fragment", "conn 1 a2h fragment", "conn 1 a2h dup", "conn 1: closed",
		"served 1 connection in ", "; faults: dup ", " fragment "} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, stderr)
		}
	}
	time.Sleep(100 * time.Millisecond)
	if !ga.Alive() {
		t.Fatal("qemu-ga exited")
	}
	if conn, err := net.Dial("unix", ga.Socket); err != nil {
		t.Fatal(err)
	} else {
		conn.Close()
	}
}

func TestProxyCommandUsage(t *testing.T) {
	for _, args := range [][]string{
		{}, {"--listen", "unix:/tmp/x.sock"}, {"--listen", "unix:/tmp/x.sock", "--upstream", "bogus"},
		{"--listen", "unix:/tmp/x.sock", "--upstream", "unix:/tmp/y.sock", "--faults", "restart"},
		{"--listen", "unix:/tmp/x.sock", "--upstream", "unix:/tmp/y.sock", "--faults", "nope"},
		{"--listen", "bogus", "--upstream", "unix:/tmp/y.sock"},
		{"--listen", "tcp:127.0.0.1", "--upstream", "unix:/tmp/y.sock"},
		// A listen path that cannot be created: without the check the
		// proxy fails there, with a transport error, instead of running.
		{"--listen", "unix:/nonexistent-qgafuzz/x.sock", "--upstream", "unix:/tmp/y.sock", "--idle", "0"},
		{"--listen", "unix:/nonexistent-qgafuzz/x.sock", "--upstream", "unix:/tmp/y.sock", "--idle", "-1ms"},
	} {
		var out, errb syncBuffer
		e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb}
		if code := run(e, append([]string{"proxy"}, args...)); code != exitUsage || errb.String() == "" {
			t.Errorf("%v: exit %d, stderr %q", args, code, errb.String())
		}
	}
	var errb syncBuffer
	e := &env{stdin: strings.NewReader(""), stdout: &syncBuffer{}, stderr: &errb}
	run(e, []string{"proxy", "--listen", "unix:/tmp/x.sock", "--upstream", "unix:/tmp/y.sock", "--faults", "reboot"})
	if !strings.Contains(errb.String(), "simulated agent") {
		t.Fatalf("reboot in a proxy: %s", errb.String())
	}
}

// TestProxyCommandUpstreamError checks that a failing upstream is reported
// without -v: otherwise a wrong --upstream shows only as clients cut at once;
// and that a run in which no client reached the upstream exits 3, not 0, so
// that a script can tell it from a good run.
func TestProxyCommandUpstreamError(t *testing.T) {
	dir, err := os.MkdirTemp("", "qgpx")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	sock, missing := filepath.Join(dir, "p.sock"), filepath.Join(dir, "missing.sock")
	stderr := &syncBuffer{}
	e := &env{stdin: strings.NewReader(""), stdout: &syncBuffer{}, stderr: stderr}
	done := make(chan int, 1)
	go func() {
		done <- run(e, []string{"proxy", "--listen", "unix:" + sock, "--upstream", "unix:" + missing, "--max-conns", "1"})
	}()
	var c net.Conn
	for deadline := time.Now().Add(5 * time.Second); ; {
		if c, err = net.Dial("unix", sock); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("proxy did not start: %v\n%s", err, stderr)
		}
		time.Sleep(5 * time.Millisecond)
	}
	defer c.Close()
	proxyExits(t, done, stderr, exitTransport)
	if !strings.Contains(stderr.String(), "no client connection could reach the upstream unix:"+missing) {
		t.Fatalf("the exit does not say no client reached the upstream:\n%s", stderr)
	}
	if !strings.Contains(stderr.String(), "upstream: ") || !strings.Contains(stderr.String(), missing) {
		t.Fatalf("the upstream's failure is not reported:\n%s", stderr)
	}
	if !strings.Contains(stderr.String(), "served 1 connection in ") || !strings.Contains(stderr.String(), "(1 could not reach the upstream)") ||
		!strings.Contains(stderr.String(), "no fault acted") {
		t.Fatalf("the summary does not say the upstream failed:\n%s", stderr)
	}
}

// proxyExitsOK waits for a proxy run with --max-conns 1 to exit 0.
func proxyExitsOK(t *testing.T, done <-chan int, stderr fmt.Stringer) {
	t.Helper()
	proxyExits(t, done, stderr, exitOK)
}

// proxyExits waits for a proxy run with --max-conns 1 to exit with want.
func proxyExits(t *testing.T, done <-chan int, stderr fmt.Stringer, want int) {
	t.Helper()
	select {
	case code := <-done:
		if code != want {
			t.Fatalf("proxy exit %d, want %d: %s", code, want, stderr)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("proxy did not exit after --max-conns 1: %s", stderr)
	}
}

// TestProxyNoneReached: only a run in which clients came and every one of
// them failed to reach the upstream is a transport failure.
func TestProxyNoneReached(t *testing.T) {
	for _, tc := range []struct {
		conns, failed int
		want          bool
	}{{0, 0, false}, {1, 0, false}, {3, 2, false}, {1, 1, true}, {3, 3, true}} {
		if got := noneReached(sim.ProxyStats{Conns: tc.conns, Failed: tc.failed}); got != tc.want {
			t.Errorf("%d connections, %d failed: noneReached %v, want %v", tc.conns, tc.failed, got, tc.want)
		}
	}
}

// TestProxyCommandReconnectParams: reconnect parameters the proxy cannot
// honour (at=idle, within, delay) are refused with an error naming them,
// not accepted and ignored; "all" (whose reconnect has the simulator's
// within and delay) still runs, and the fault list the proxy prints shows
// only the parameters that have an effect.
func TestProxyCommandReconnectParams(t *testing.T) {
	for spec, want := range map[string]string{
		"reconnect:rate=0.2,at=idle,within=2s": "at=idle",
		"reconnect:rate=0.2,within=2s":         "within=2s",
		"fragment,reconnect:at=call,delay=1s":  "delay=1s",
	} {
		var errb syncBuffer
		e := &env{stdin: strings.NewReader(""), stdout: &syncBuffer{}, stderr: &errb}
		code := run(e, []string{"proxy", "--listen", "unix:/nonexistent-qgafuzz/x.sock", "--upstream", "unix:/tmp/y.sock", "--faults", spec})
		if code != exitUsage || !strings.Contains(errb.String(), "--faults: fault reconnect: "+want) {
			t.Errorf("%s: exit %d, stderr %q; want a usage error naming %s", spec, code, errb.String(), want)
		}
	}
	dir, err := os.MkdirTemp("", "qgpx")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "p.sock")
	stderr := &syncBuffer{}
	e := &env{stdin: strings.NewReader(""), stdout: &syncBuffer{}, stderr: stderr}
	done := make(chan int, 1)
	go func() {
		done <- run(e, []string{"proxy", "--listen", "unix:" + sock, "--upstream", "unix:" + filepath.Join(dir, "missing.sock"),
			"--faults", "all", "--max-conns", "1"})
	}()
	var c net.Conn
	for deadline := time.Now().Add(5 * time.Second); ; {
		if c, err = net.Dial("unix", sock); err == nil {
			break
		}
		select {
		case code := <-done:
			t.Fatalf("proxy exited with %d: %s", code, stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("proxy did not start: %v\n%s", err, stderr)
		}
		time.Sleep(5 * time.Millisecond)
	}
	defer c.Close()
	proxyExits(t, done, stderr, exitTransport) // the upstream is missing
	out := stderr.String()
	if !strings.Contains(out, " reconnect:rate=0.03,at=any, seed 1") || strings.Contains(out, "within") {
		t.Fatalf("the fault list does not show reconnect as the proxy applies it:\n%s", out)
	}
}
