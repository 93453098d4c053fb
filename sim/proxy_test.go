package sim

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/qgafuzz/qgafuzz/qga"
	"github.com/qgafuzz/qgafuzz/qga/qgatest"
	"github.com/qgafuzz/qgafuzz/qjson"
)

// proxyLog collects a proxy's log lines.
type proxyLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *proxyLog) add(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, s)
}

func (l *proxyLog) count(sub string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, s := range l.lines {
		if strings.Contains(s, sub) {
			n++
		}
	}
	return n
}

// newTestProxy returns a proxy with faults in front of upstream (a unix
// socket path).
func newTestProxy(t *testing.T, faults string, seed uint64, upstream string) *Proxy {
	t.Helper()
	fl, err := ProxyFaults(faults, seed)
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewProxy(fl, seed, func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", upstream)
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// requireAnswers checks that the qemu-ga behind a proxy is still alive and
// answers a client of its own.
func requireAnswers(t *testing.T, ga *qgatest.QemuGA) {
	t.Helper()
	time.Sleep(100 * time.Millisecond)
	if !ga.Alive() {
		t.Fatalf("qemu-ga exited: %s", ga.LogTail(5))
	}
	c, err := qga.DialClient(context.Background(), "unix:"+ga.Socket, qga.ClientOptions{Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Execute(context.Background(), "guest-ping", nil, nil); err != nil {
		t.Fatal(err)
	}
}

// startProxy runs a proxy with faults in front of upstream (a unix socket
// path) and returns the path it listens on.
func startProxy(t *testing.T, faults string, seed uint64, upstream string) (string, *proxyLog) {
	t.Helper()
	p := newTestProxy(t, faults, seed, upstream)
	log := &proxyLog{}
	p.Log = log.add
	return serveProxy(t, p), log
}

// serveProxy runs p until the test ends and returns the path it listens
// on.
func serveProxy(t *testing.T, p *Proxy) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "qgap")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "proxy.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Serve(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("proxy: %v", err)
		}
		os.RemoveAll(dir)
	})
	return path
}

// exchange writes in on a new connection to path, reads until want bytes
// arrived (or, with want < 0, until idle of silence), then half-closes and
// drains, as a polite qemu-ga client must.
func exchange(t *testing.T, path string, in []byte, want int, idle time.Duration) []byte {
	t.Helper()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(in); err != nil {
		// A reconnect fault may cut the connection before the write
		// (a loaded machine): that exchange got nothing, which the
		// callers that expect replies check.
		if errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET) {
			return nil
		}
		t.Fatal(err)
	}
	var got []byte
	buf := make([]byte, 4096)
	deadline := time.Now().Add(10 * time.Second)
	for (want < 0 || len(got) < want) && time.Now().Before(deadline) {
		c.SetReadDeadline(time.Now().Add(idle))
		n, err := c.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) && want < 0 {
				break
			}
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				break
			}
		}
	}
	c.(*net.UnixConn).CloseWrite()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		n, err := c.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			break
		}
	}
	return got
}

var proxyInput = []byte("\xff{\"execute\":\"guest-sync-delimited\",\"arguments\":{\"id\":123}}\n" +
	"{\"execute\":\"guest-ping\"}\n" +
	"{\"execute\":\"guest-sync\",\"arguments\":{\"id\":-5}}\n" +
	"{\"execute\":\"guest-n\xc3\xb6pe\",\"id\":\"\xe2\x82\xac\"}\n" +
	"{\"execute\":\"guest-ping\",\"arguments\":{\"x\":1},\"id\":\"z\"}\n" +
	"[1] 2 \"abc\"{\"execute\":\"guest-sync\",\"arguments\":{\"id\":77}}")

// TestProxyQemuGAFragmented: with every request and reply cut into single
// bytes (and UTF-8 characters split), a live qemu-ga answers byte for byte
// as without the proxy.
func TestProxyQemuGAFragmented(t *testing.T) {
	ga := qgatest.StartQemuGA(t)
	want := qga.NewAgent(qga.AgentConfig{}).Feed(nil, proxyInput)
	path, log := startProxy(t, "fragment:rate=1,max=1,gap=100us;utf8split:rate=1,max=5ms", 1, ga.Socket)
	got := exchange(t, path, proxyInput, len(want), 2*time.Second)
	if !bytes.Equal(got, want) {
		t.Fatalf("through the proxy:\n got %q\nwant %q", got, want)
	}
	if n := log.count("h2a fragment"); n < 6 {
		t.Fatalf("only %d requests were fragmented", n)
	}
	if log.count("a2h fragment") < 6 || log.count("h2a utf8split") < 1 {
		t.Fatalf("replies or UTF-8 not split:\n%s", strings.Join(log.lines, "\n"))
	}
	if !ga.Alive() {
		t.Fatal("qemu-ga exited")
	}
}

// TestProxyStats: the counters a stopping proxy reports match what went
// through it and the faults it logged.
func TestProxyStats(t *testing.T) {
	ga := qgatest.StartQemuGA(t)
	want := qga.NewAgent(qga.AgentConfig{}).Feed(nil, proxyInput)
	p := newTestProxy(t, "fragment:rate=1,max=3,gap=0s;dup:rate=1,dir=a2h,gap=0s", 4, ga.Socket)
	log := &proxyLog{}
	p.Log = log.add
	path := serveProxy(t, p)
	exchange(t, path, proxyInput, 2*len(want), 2*time.Second)
	deadline := time.Now().Add(5 * time.Second)
	for log.count("conn 1: closed") == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	st := p.Stats()
	if st.Conns != 1 || st.Failed != 0 {
		t.Errorf("Conns %d, Failed %d; want 1, 0", st.Conns, st.Failed)
	}
	if st.Bytes["h2a"] != int64(len(proxyInput)) || st.Bytes["a2h"] != int64(len(want)) {
		t.Errorf("bytes h2a %d, a2h %d; want %d, %d", st.Bytes["h2a"], st.Bytes["a2h"], len(proxyInput), len(want))
	}
	if st.Chunks["h2a"] < 6 || st.Chunks["a2h"] < 6 {
		t.Errorf("chunks %v: want one per request and reply at least", st.Chunks)
	}
	for kind, n := range map[string]int{"fragment": log.count(" fragment #"), "dup": log.count(" dup #")} {
		if n == 0 || st.Faults[kind] != int64(n) {
			t.Errorf("faults %v; the log shows %d %s", st.Faults, n, kind)
		}
	}
	if int64(log.count(" dup #")) != st.Chunks["a2h"] {
		t.Errorf("dup at rate 1 acted %d times on %d replies", log.count(" dup #"), st.Chunks["a2h"])
	}
}

// TestProxyQemuGAClientSyncs: with stray 0xFF bytes injected into the
// requests, the careful client still gets in step with a live qemu-ga and
// never returns anything but the right reply.
func TestProxyQemuGAClientSyncs(t *testing.T) {
	ga := qgatest.StartQemuGA(t)
	path, log := startProxy(t, "ff:rate=0.4,dir=h2a", 5, ga.Socket)
	ctx := context.Background()
	c, err := qga.DialClient(ctx, "unix:"+path, qga.ClientOptions{Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ok := 0
	for i := int64(0); i < 40 && ok < 5; i++ {
		var v qjson.Value
		if err := c.Execute(ctx, "guest-sync", map[string]int64{"id": 1000 + i}, &v); err != nil {
			continue
		}
		if n, isInt := v.Int(); !isInt || n != 1000+i {
			t.Fatalf("call %d returned %v", i, v)
		}
		ok++
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if ok < 5 {
		t.Fatalf("only %d of 40 calls succeeded", ok)
	}
	if log.count("h2a ff") == 0 {
		t.Fatal("no 0xFF was injected")
	}
	time.Sleep(100 * time.Millisecond)
	if !ga.Alive() {
		t.Fatal("qemu-ga exited")
	}
}

// TestProxyQemuGAReconnect: the reconnect fault cuts client connections,
// yet qemu-ga (which exits when a client leaves replies unread) survives,
// because the proxy drains the upstream side.
func TestProxyQemuGAReconnect(t *testing.T) {
	ga := qgatest.StartQemuGA(t)
	path, log := startProxy(t, "reconnect:rate=0.5", 2, ga.Socket)
	for i := 0; i < 6; i++ {
		exchange(t, path, proxyInput, -1, 100*time.Millisecond)
	}
	if log.count("client connection cut") == 0 {
		t.Fatal("no connection was cut")
	}
	requireAnswers(t, ga)
}

// TestProxyDeterministic: the same seed and the same stream give the same
// faults and the same bytes; another seed gives other faults.
func TestProxyDeterministic(t *testing.T) {
	const faults = "fragment:rate=0.5,gap=0s;dup:rate=0.3;bitflip:rate=0.2;ff:rate=0.2;loss:rate=0.2"
	run := func(seed uint64) ([]byte, []string) {
		addr := "unix:" + filepath.Join(t.TempDir(), "a.sock")
		l, err := qga.Listen(addr)
		if err != nil {
			t.Fatal(err)
		}
		srv := &qga.Server{Agent: qga.NewAgent(qga.AgentConfig{}), SurviveReset: true}
		go srv.Serve(l)
		defer l.Close()
		path, log := startProxy(t, faults, seed, strings.TrimPrefix(addr, "unix:"))
		got := exchange(t, path, bytes.Repeat(proxyInput, 3), -1, 200*time.Millisecond)
		log.mu.Lock()
		defer log.mu.Unlock()
		return got, append([]string(nil), log.lines...)
	}
	out1, log1 := run(11)
	out2, log2 := run(11)
	_, log3 := run(12)
	if !bytes.Equal(out1, out2) {
		t.Fatalf("seed 11 twice, two outputs:\n%q\n%q", out1, out2)
	}
	// The two directions are two goroutines: each direction's faults are
	// deterministic, their interleaving in the log is not.
	for _, dir := range []string{" h2a ", " a2h "} {
		a, b := only(log1, dir), only(log2, dir)
		if a != b {
			t.Fatalf("seed 11 twice,%sfaults differ:\n%s\n--\n%s", dir, a, b)
		}
		if a == only(log3, dir) {
			t.Fatalf("seeds 11 and 12 gave the same%sfaults", dir)
		}
		if strings.Count(a, "\n") < 5 {
			t.Fatalf("few%sfaults: %s", dir, a)
		}
	}
}

func only(lines []string, sub string) string {
	var out []string
	for _, l := range lines {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestProxyRejectsAgentFaults(t *testing.T) {
	for _, spec := range []string{"restart", "reboot:rate=1"} {
		fl, err := ProxyFaults(spec, 1)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := NewProxy(fl, 1, nil); err == nil || !strings.Contains(err.Error(), "simulated agent") {
			t.Fatalf("%s: %v", spec, err)
		}
	}
	for _, spec := range []string{"all", "swarm", " swarm\n"} {
		fl, err := ProxyFaults(spec, 3)
		if err != nil {
			t.Fatalf("%q: %v", spec, err)
		}
		if _, err := NewProxy(fl, 1, nil); err != nil {
			t.Fatalf("%q: %v", spec, err)
		}
		for _, f := range fl {
			if k, _ := KindByName(f.Name()); k.SimOnly {
				t.Fatalf("%q: kept %s, which a proxy cannot apply", spec, f.Name())
			}
		}
	}
}

// TestProxyStopDuringStall stops the proxy while a stall holds a reply of
// a live qemu-ga: the proxy must stop at once, drop the held reply, and
// still read the upstream to its end, or qemu-ga exits on a connection
// closed with replies unread.
func TestProxyStopDuringStall(t *testing.T) {
	ga := qgatest.StartQemuGA(t)
	p := newTestProxy(t, "stall:rate=1,dir=a2h,min=3s,max=3s", 1, ga.Socket)
	path := filepath.Join(t.TempDir(), "p.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- p.Serve(ctx, l) }()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := 0; i < 2; i++ {
		if _, err := c.Write([]byte(`{"execute":"guest-ping"}` + "\n")); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // both replies are with the proxy, held
	stopQuickly(t, cancel, done)
	time.Sleep(100 * time.Millisecond)
	requireAnswers(t, ga)
}

// stopQuickly cancels a proxy's context and checks that Serve returns nil
// within 2 s, not after a stall it holds.
func stopQuickly(t *testing.T, cancel context.CancelFunc, done <-chan error) {
	t.Helper()
	start := time.Now()
	cancel()
	proxyStopsWithin(t, done, 10*time.Second, func() string { return "the proxy does not stop: it waits out the stall" })
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the proxy took %v to stop: it waited out the stall", d)
	}
}

// TestProxyStopDuringRequestStall: the same for a stall of the host's
// request (dir=h2a): a stopping proxy drops the held bytes at once rather
// than waiting out the pause, which Ctrl-C could otherwise not cut short.
func TestProxyStopDuringRequestStall(t *testing.T) {
	dir := t.TempDir()
	ul, err := net.Listen("unix", filepath.Join(dir, "up.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer ul.Close()
	got := make(chan []byte, 1)
	go func() {
		c, err := ul.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		b, _ := io.ReadAll(c) // until the proxy half-closes
		got <- b
	}()
	p := newTestProxy(t, "stall:rate=1,dir=h2a,min=1m,max=1m", 1, filepath.Join(dir, "up.sock"))
	l, err := net.Listen("unix", filepath.Join(dir, "p.sock"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- p.Serve(ctx, l) }()
	c, err := net.Dial("unix", filepath.Join(dir, "p.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(`{"execute":"guest-ping"}` + "\n")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // the request is with the proxy, stalled
	stopQuickly(t, cancel, done)
	if b := <-got; len(b) >= len(`{"execute":"guest-ping"}`) {
		t.Errorf("the upstream got the whole stalled request %q", b)
	}
}

// failingListener fails its second Accept, as accept(2) does when the
// process is out of file descriptors.
type failingListener struct {
	net.Listener
	n int
}

func (l *failingListener) Accept() (net.Conn, error) {
	if l.n++; l.n == 2 {
		return nil, syscall.EMFILE
	}
	return l.Listener.Accept()
}

// TestProxyAcceptErrorEndsServe: a failed Accept ends Serve with its error
// at once, cutting the hosts still connected (after the drain) rather than
// waiting for them, which may never leave.
func TestProxyAcceptErrorEndsServe(t *testing.T) {
	dir := t.TempDir()
	ul, err := net.Listen("unix", filepath.Join(dir, "up.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer ul.Close()
	go func() {
		c, err := ul.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.Copy(io.Discard, c)
	}()
	p := newTestProxy(t, "none", 1, filepath.Join(dir, "up.sock"))
	p.Drain = 300 * time.Millisecond
	l, err := net.Listen("unix", filepath.Join(dir, "p.sock"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("unix", filepath.Join(dir, "p.sock")) // a host that stays
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	done := make(chan error, 1)
	go func() { done <- p.Serve(context.Background(), &failingListener{Listener: l}) }()
	select {
	case err := <-done:
		if !errors.Is(err, syscall.EMFILE) {
			t.Fatalf("Serve returned %v, want the accept error", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve holds its accept error for as long as a host stays connected")
	}
}

// drainProxy starts a one-connection proxy with a 300 ms drain in front of
// an upstream that serve handles, and connects a host to it. It returns the
// host's connection, the proxy's log, and where Serve's end comes.
func drainProxy(t *testing.T, serve func(net.Conn)) (net.Conn, *proxyLog, <-chan error) {
	t.Helper()
	return drainProxyFaults(t, "none", serve)
}

// drainProxyFaults is drainProxy with faults.
func drainProxyFaults(t *testing.T, faults string, serve func(net.Conn)) (net.Conn, *proxyLog, <-chan error) {
	t.Helper()
	dir := t.TempDir()
	ul, err := net.Listen("unix", filepath.Join(dir, "up.sock"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ul.Close() })
	go func() {
		c, err := ul.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		serve(c)
	}()
	p := newTestProxy(t, faults, 1, filepath.Join(dir, "up.sock"))
	p.MaxConns, p.Drain = 1, 300*time.Millisecond
	log := &proxyLog{}
	p.Log = log.add
	l, err := net.Listen("unix", filepath.Join(dir, "p.sock"))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.Serve(context.Background(), l) }()
	c, err := net.Dial("unix", filepath.Join(dir, "p.sock"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, log, done
}

// TestProxyDrainBounded: an upstream that never closes its side cannot
// hold a connection (nor Serve, with MaxConns) for ever.
func TestProxyDrainBounded(t *testing.T) {
	c, log, done := drainProxy(t, func(c net.Conn) {
		io.Copy(io.Discard, c) // reads everything, answers nothing, and after EOF stays open
		time.Sleep(time.Minute)
	})
	c.Write([]byte(`{"execute":"guest-ping"}`))
	c.Close()
	proxyStopsWithin(t, done, 5*time.Second, func() string { return "the proxy waits for ever on an upstream that stays open" })
	if log.count("still open") != 1 {
		t.Fatalf("the give-up is not logged:\n%s", strings.Join(log.lines, "\n"))
	}
}

// TestProxyDrainBoundedHostNotReading: a host that half-closes its side
// but never reads its replies cannot hold a connection (nor Serve, with
// MaxConns, nor the agent behind it) for longer than the drain.
func TestProxyDrainBoundedHostNotReading(t *testing.T) {
	c, log, done := drainProxy(t, func(c net.Conn) {
		go io.Copy(io.Discard, c) // always reads, so only the host can block the proxy
		line := append(bytes.Repeat([]byte("x"), 4095), '\n')
		for range 2048 { // 8 MiB of replies, far more than the socket buffers
			if _, err := c.Write(line); err != nil {
				return
			}
		}
	})
	if _, err := c.Write([]byte(`{"execute":"guest-info"}`)); err != nil {
		t.Fatal(err)
	}
	c.(*net.UnixConn).CloseWrite() // and never read
	proxyStopsWithin(t, done, 5*time.Second, func() string {
		return fmt.Sprintf("the proxy waits for ever on a host that half-closed and reads nothing:\n%s", strings.Join(log.lines, "\n"))
	})
}

// TestProxyDrainBoundedDuringPause: a reply held by a pause (a stall, a
// late reply) when the host goes away cannot hold the connection, and the
// agent behind it, for longer than the drain.
func TestProxyDrainBoundedDuringPause(t *testing.T) {
	c, log, done := drainProxyFaults(t, "stall:rate=1,dir=a2h,min=30s,max=30s", func(c net.Conn) {
		if _, err := c.Read(make([]byte, 100)); err != nil {
			return
		}
		c.Write([]byte("{\"return\": {}}\n"))
		io.Copy(io.Discard, c)
	})
	if _, err := c.Write([]byte(`{"execute":"guest-ping"}`)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // the reply is stalled in the proxy
	c.Close()
	proxyStopsWithin(t, done, 5*time.Second, func() string {
		return fmt.Sprintf("a stalled reply holds the connection after the host left, beyond the drain:\n%s", strings.Join(log.lines, "\n"))
	})
}

// proxyStopsWithin waits for the proxy's Serve (or one connection) to end
// without an error, failing with why when it takes longer than d.
func proxyStopsWithin(t *testing.T, done <-chan error, d time.Duration, why func() string) {
	t.Helper()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(d):
		t.Fatal(why()) // read then: it may quote the log
	}
}

// TestProxyReconnectParams: a proxy refuses the reconnect parameters it
// cannot honour (at=idle: it sees no calls to strike between; within and
// delay: it cuts at once and leaves reconnecting to the host) with an error
// naming them, rather than accept and ignore them; at=call and at=any
// (the same in a proxy) are accepted, and the spec a proxy shows leaves
// out what it does not use.
func TestProxyReconnectParams(t *testing.T) {
	dial := func(ctx context.Context) (net.Conn, error) { return nil, errors.New("no upstream") }
	for spec, want := range map[string]string{
		"reconnect:at=idle":                                "at=idle",
		"reconnect:rate=0.2,at=idle,within=2s":             "at=idle",
		"reconnect:rate=0.2,within=2s":                     "within=2s",
		"reconnect:at=call,delay=1s":                       "delay=1s",
		"reconnect:delay=1s,within=2s":                     "delay=1s",
		"fragment;reconnect:at=any,within=1s":              "within=1s", // the default value, given: still refused
		"reconnect:rate=0.03,at=any,within=1s,delay=200ms": "within=1s",
	} {
		fl, err := ProxyFaults(spec, 1)
		if err != nil {
			t.Fatalf("%s: %v", spec, err) // the simulator's syntax: parsed, refused by the proxy
		}
		if _, err := NewProxy(fl, 1, dial); err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "proxy") {
			t.Errorf("NewProxy(%s): %v, want an error naming %s", spec, err, want)
		}
		// A Proxy built without NewProxy is refused by Serve.
		if err := (&Proxy{Faults: fl, Dial: dial}).Serve(context.Background(), failOnAccept{}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Serve(%s): %v, want an error naming %s", spec, err, want)
		}
		// The simulator still takes them.
		if _, err := ParseFaults(spec); err != nil {
			t.Errorf("sim: %s: %v", spec, err)
		}
	}
	for spec, shown := range map[string]string{
		"reconnect":                  "reconnect:rate=0.03,at=any",
		"reconnect:rate=0.2,at=call": "reconnect:rate=0.2,at=call",
		"reconnect:at=any,rate=1":    "reconnect:rate=1,at=any",
	} {
		fl, err := ProxyFaults(spec, 1)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := NewProxy(fl, 1, dial); err != nil {
			t.Errorf("NewProxy(%s): %v", spec, err)
		}
		if got := ProxySpec(fl[0]); got != shown {
			t.Errorf("ProxySpec(%s) = %q, want %q", spec, got, shown)
		}
	}
	// swarm and all draw reconnect with the simulator's defaults for
	// within and delay: accepted, shown without them, and what is shown
	// is accepted back as the same list.
	for seed := uint64(1); seed <= 40; seed++ {
		for _, mix := range []string{"swarm", "all"} {
			fl, err := ProxyFaults(mix, seed)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := NewProxy(fl, seed, dial); err != nil {
				t.Fatalf("%s (seed %d): %v", mix, seed, err)
			}
			var shown []string
			for _, f := range fl {
				shown = append(shown, ProxySpec(f))
			}
			list := strings.Join(shown, ";")
			if strings.Contains(list, "within") || strings.Contains(list, "delay=") {
				t.Fatalf("%s (seed %d) is shown with parameters the proxy does not use: %s", mix, seed, list)
			}
			back, err := ProxyFaults(list, seed)
			if err != nil {
				t.Fatalf("%s (seed %d): %s: %v", mix, seed, list, err)
			}
			if _, err := NewProxy(back, seed, dial); err != nil {
				t.Fatalf("%s (seed %d): %s: %v", mix, seed, list, err)
			}
			for i, f := range back {
				if ProxySpec(f) != shown[i] {
					t.Fatalf("%s (seed %d): %s comes back as %s", mix, seed, shown[i], ProxySpec(f))
				}
			}
		}
	}
}

// failOnAccept is a listener that must not be reached.
type failOnAccept struct{ net.Listener }

func (failOnAccept) Accept() (net.Conn, error) { return nil, errors.New("accepted") }
func (failOnAccept) Close() error              { return nil }

// TestProxyReconnectStrikes checks where the proxy's reconnect strikes, as
// its help says: on a request chunk, the client is cut once the chunk has
// been read from it, and the chunk still reaches the agent; on a reply
// chunk, the client is cut before the chunk reaches it.
func TestProxyReconnectStrikes(t *testing.T) {
	req := `{"execute":"guest-ping"}` + "\n"
	got := make(chan string, 1)
	c, log, done := drainProxyFaults(t, "reconnect:rate=1,at=call", func(c net.Conn) {
		b, _ := io.ReadAll(c) // the proxy half-closes once the host is cut
		got <- string(b)
	})
	if _, err := c.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := c.Read(make([]byte, 100)); err != io.EOF {
		t.Fatalf("the host was not cut: read %d bytes, %v", n, err)
	}
	if s := <-got; s != req {
		t.Fatalf("the agent got %q, want the request that rolled the cut", s)
	}
	proxyStopsWithin(t, done, 5*time.Second, func() string { return "the proxy does not stop" })
	if log.count("h2a reconnect #1: cut the client connection") != 1 {
		t.Fatalf("log:\n%s", strings.Join(log.lines, "\n"))
	}

	c, log, done = drainProxyFaults(t, "reconnect:rate=1", func(c net.Conn) {
		c.Write([]byte("{\"return\": {}}\n")) // a reply before any request: the first chunk is a2h
		io.Copy(io.Discard, c)
	})
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if b, err := io.ReadAll(c); err != nil || len(b) != 0 {
		t.Fatalf("the host read %q, %v; want nothing, then the cut", b, err)
	}
	proxyStopsWithin(t, done, 5*time.Second, func() string { return "the proxy does not stop" })
	if log.count("a2h reconnect #1: cut the client connection") != 1 {
		t.Fatalf("log:\n%s", strings.Join(log.lines, "\n"))
	}
}
