package sim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/qgafuzz/qgafuzz/qjson"
)

// This file applies the simulator's byte faults to real connections: a
// proxy between a real host and a real agent (qemu-ga or any other), a
// seeded, content-aware counterpart of toxiproxy for unix sockets. The
// host-to-agent stream is cut into chunks at message boundaries (found by
// qemu-ga's own lexer in boundary mode), the agent-to-host stream at line
// ends, so the same byte stream gives the same chunks whatever the read
// sizes, and the faults that fire on the n-th chunk of connection c in
// direction d depend only on (seed, c, d, n).

// Proxy forwards each accepted connection to a new upstream connection,
// with faults.
type Proxy struct {
	Faults []Fault
	Seed   uint64
	// Dial opens the upstream connection for a client.
	Dial func(ctx context.Context) (net.Conn, error)
	// Log, if set, receives one line per connection event and fault.
	Log func(string)
	// Idle is how long a partial message or line is held, waiting for
	// its end, before it is sent on as a chunk (20ms if zero).
	Idle time.Duration
	// MaxConns stops Serve after this many connections have been served
	// (0: serve until the context ends).
	MaxConns int
	// Drain bounds how long the upstream is still read, for replies to
	// arrive, once the host's side has ended or the proxy is stopping,
	// before the upstream is closed anyway (5s if zero). Replies read
	// then still reach a host that reads on, unless a pause (stall,
	// late) holds them beyond it.
	Drain time.Duration

	mu    sync.Mutex
	stats ProxyStats
}

// ProxyStats counts what a Proxy has done, for the summary a user reads
// when it stops.
type ProxyStats struct {
	Conns  int // client connections accepted
	Failed int // of those, the ones whose upstream could not be dialled
	// Chunks and Bytes count what was read from each side, by direction
	// ("h2a", "a2h"), before the faults acted on it.
	Chunks, Bytes map[string]int64
	// Faults counts the faults that acted, by kind.
	Faults map[string]int64
}

// Stats returns a snapshot of the Proxy's counters.
func (p *Proxy) Stats() ProxyStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := p.stats
	st.Chunks, st.Bytes, st.Faults = maps.Clone(st.Chunks), maps.Clone(st.Bytes), maps.Clone(st.Faults)
	return st
}

// count updates the counters under the lock.
func (p *Proxy) count(f func(st *ProxyStats)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stats.Chunks == nil {
		p.stats.Chunks, p.stats.Bytes, p.stats.Faults = map[string]int64{}, map[string]int64{}, map[string]int64{}
	}
	f(&p.stats)
}

func (p *Proxy) drain() time.Duration {
	if p.Drain <= 0 {
		return 5 * time.Second
	}
	return p.Drain
}

// NewProxy returns a Proxy with the given faults, seed and upstream dialer,
// after checking that every fault can act on a real connection. dial may
// be set later, before Serve.
func NewProxy(faults []Fault, seed uint64, dial func(ctx context.Context) (net.Conn, error)) (*Proxy, error) {
	if err := checkProxyFaults(faults); err != nil {
		return nil, err
	}
	return &Proxy{Faults: faults, Seed: seed, Dial: dial}, nil
}

// proxyFault is a fault some of whose parameters a proxy cannot honour
// (reconnect's at=idle, within and delay).
type proxyFault interface {
	// proxyCheck refuses the parameters given that a proxy would not
	// honour, rather than have it ignore them.
	proxyCheck() error
	// proxySpec is Spec without the parameters a proxy does not use.
	proxySpec() string
}

// checkProxyFaults refuses faults that need a simulated actor, and
// parameters a proxy cannot honour.
func checkProxyFaults(faults []Fault) error {
	for i, f := range faults {
		if f == nil {
			return fmt.Errorf("sim: proxy fault %d is nil", i)
		}
		if f.Sites()&(SiteH2A|SiteA2H|SiteConn) == 0 {
			return fmt.Errorf("fault %s acts on a simulated agent and cannot be applied to a real one by a proxy "+
				"(proxy faults: %s)", f.Name(), proxyKinds())
		}
		if pf, ok := f.(proxyFault); ok {
			if err := pf.proxyCheck(); err != nil {
				return err
			}
		}
	}
	return nil
}

// ProxySpec is f's spec as a proxy applies it: without the parameters a
// proxy does not use (reconnect's within and delay), so that a proxy's
// fault list shows only what has an effect, and can be pasted back into
// its --faults.
func ProxySpec(f Fault) string {
	if pf, ok := f.(proxyFault); ok {
		return pf.proxySpec()
	}
	return f.Spec()
}

func proxyKinds() string {
	s := ""
	for _, k := range kinds {
		if !k.SimOnly {
			if s != "" {
				s += ", "
			}
			s += k.Name
		}
	}
	return s
}

// ProxyFaults is ParseFaults for the proxy: "swarm" (for seed) and "all"
// keep only the kinds a proxy can apply.
func ProxyFaults(spec string, seed uint64) ([]Fault, error) {
	var fs []Fault
	switch spec = strings.TrimSpace(spec); spec {
	case "swarm", "all":
		all, _ := ResolveFaults(spec, seed)
		for _, f := range all {
			if k, _ := KindByName(f.Name()); !k.SimOnly {
				fs = append(fs, f)
			}
		}
		return fs, nil
	}
	return ParseFaults(spec)
}

func (p *Proxy) logf(format string, args ...any) {
	if p.Log != nil {
		p.Log(fmt.Sprintf(format, args...))
	}
}

// Serve accepts connections on l until ctx ends (then it closes l and
// every connection) or MaxConns connections have been served. When
// accepting fails it cuts every connection as a stop does and returns the
// error. A Proxy without Dial, with a negative MaxConns or with a fault
// NewProxy would refuse is an error before anything is accepted.
func (p *Proxy) Serve(ctx context.Context, l net.Listener) error {
	switch {
	case l == nil:
		return errors.New("sim: Proxy.Serve: nil listener")
	case p.Dial == nil:
		// Checked here: each connection dials in a goroutine of its
		// own, where a nil Dial would crash the process.
		return errors.New("sim: Proxy.Dial is nil")
	case p.MaxConns < 0:
		return fmt.Errorf("sim: Proxy.MaxConns is %d", p.MaxConns)
	}
	if err := checkProxyFaults(p.Faults); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { <-ctx.Done(); l.Close() }()
	var wg sync.WaitGroup
	defer wg.Wait()
	for n := 0; p.MaxConns == 0 || n < p.MaxConns; n++ {
		c, err := l.Accept()
		if err != nil {
			stopped := ctx.Err() != nil || errors.Is(err, net.ErrClosed)
			// Serve ends: its connections are cut (and drained) as when
			// ctx ends, not waited for, since a host may stay for ever.
			cancel()
			if stopped {
				return nil
			}
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.serveConn(ctx, n+1, c)
		}()
	}
	return nil
}

// serveConn proxies one client. When the client is done (or a reconnect
// fault cuts it, or the proxy stops), the upstream write side is shut down
// and the upstream is read to its end (for at most Drain) before closing,
// so that a real qemu-ga never sees a connection closed with replies
// unread (qemu-ga 7.2 exits on that).
func (p *Proxy) serveConn(ctx context.Context, conn int, client net.Conn) {
	defer client.Close()
	p.count(func(st *ProxyStats) { st.Conns++ })
	up, err := p.Dial(ctx)
	if err != nil {
		p.count(func(st *ProxyStats) { st.Failed++ })
		p.logf("conn %d: upstream: %v", conn, err)
		return
	}
	defer up.Close()
	p.logf("conn %d: open", conn)
	// gone is closed when the proxy cuts the client: the replies still
	// read from upstream are then dropped at once, without their delays.
	gone := make(chan struct{})
	var goneOnce, hangOnce sync.Once
	cut := func() { goneOnce.Do(func() { close(gone); client.Close() }) }
	hangup := func() { hangOnce.Do(func() { p.logf("conn %d: client connection cut", conn); cut() }) }
	stop := context.AfterFunc(ctx, func() {
		cut()
		up.SetWriteDeadline(time.Now().Add(p.drain())) // an upstream that reads nothing cannot hold the stop
	})
	defer stop()
	var drainBy atomic.Int64       // when the upstream is closed even if it is still open (unix ns; 0: not yet)
	drained := make(chan struct{}) // closed at drainBy
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.pump(conn, SiteA2H, up, client, hangup, gone, &drainBy, drained)
		if cw, ok := client.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite()
		}
	}()
	// A stopping proxy drops the host's bytes still held by a pause
	// (stall, delay) rather than waiting it out: the host is cut anyway.
	p.pump(conn, SiteH2A, client, up, hangup, ctx.Done(), nil, nil)
	deadline := time.Now().Add(p.drain())
	drainBy.Store(deadline.UnixNano())
	// A pause (stall, late) in the replies ends at the deadline too.
	defer time.AfterFunc(time.Until(deadline), func() { close(drained) }).Stop()
	up.SetReadDeadline(deadline) // wakes the reply pump to take the deadline in
	// A host that half-closed but reads nothing would otherwise block the
	// reply pump in a write for as long as it keeps the connection open.
	client.SetWriteDeadline(deadline)
	if cw, ok := up.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	} else {
		up.Close()
	}
	<-done
	p.logf("conn %d: closed", conn)
}

// pump copies src to dst chunk by chunk, through the faults of dir. Once
// gone is closed, dst is not written, nor waited for. Once drainBy is set,
// src is read until then at most; a pause ends then (when drained is
// closed), with the bytes it holds dropped.
func (p *Proxy) pump(conn int, dir Site, src, dst net.Conn, hangup func(), gone <-chan struct{}, drainBy *atomic.Int64, drained <-chan struct{}) {
	var insts []*faultInst
	seen := map[string]uint64{}
	for i, f := range p.Faults {
		if f.Sites()&(dir|SiteConn) == 0 {
			continue
		}
		purpose := purposeProxy + ":" + dir.String() + ":" + f.Name()
		insts = append(insts, &faultInst{f: f, idx: i, sites: f.Sites(),
			dec: rand.New(streamSource(p.Seed, purpose, uint64(conn)<<16|seen[f.Name()]))})
		seen[f.Name()]++
	}
	idle := p.Idle
	if idle <= 0 {
		idle = 20 * time.Millisecond
	}
	prmSrc := rand.NewPCG(0, 0)
	prm := rand.New(prmSrc)
	start := time.Now()
	var sp splitter
	if dir == SiteH2A {
		sp.dec = qjson.NewDecoder(qjson.BoundaryOnly())
	}
	dstOK := true
	send := func(b []byte) {
		p.count(func(st *ProxyStats) { st.Chunks[dir.String()]++; st.Bytes[dir.String()] += int64(len(b)) })
		c := NewChunk(b, TagNone)
		for _, site := range []Site{dir, SiteConn} {
			op := Opportunity{Site: site, Now: time.Since(start), Chunk: c}
			for _, fi := range insts {
				if fi.sites&site == 0 {
					continue
				}
				fire, seed := fi.roll(0, false)
				if !fire {
					continue
				}
				prmSrc.Seed(seed, 0x5eed)
				if desc := fi.f.Apply(&op, prm); desc != "" {
					p.count(func(st *ProxyStats) { st.Faults[fi.f.Name()]++ })
					p.logf("conn %d %s %s #%d: %s", conn, dir, fi.f.Name(), fi.n, desc)
				}
			}
			if op.Action == ActHangup {
				hangup()
			}
		}
		for _, s := range c.Segs {
			if s.Gap > 0 && dstOK {
				dstOK = pause(s.Gap, gone, drained)
			}
			if dstOK && len(s.Data) > 0 {
				if _, err := dst.Write(s.Data); err != nil {
					dstOK = false // keep reading src: its bytes must be drained
				}
			}
		}
	}
	drainTime := func() time.Time {
		if drainBy == nil {
			return time.Time{}
		}
		if ns := drainBy.Load(); ns != 0 {
			return time.Unix(0, ns)
		}
		return time.Time{}
	}
	// withDrain returns t, or the drain deadline when that comes first (a
	// zero t waits for ever).
	withDrain := func(t time.Time) time.Time {
		if d := drainTime(); !d.IsZero() && (t.IsZero() || d.Before(t)) {
			return d
		}
		return t
	}
	buf := make([]byte, 4096)
	for {
		var deadline time.Time
		if sp.pending() {
			deadline = time.Now().Add(idle)
		}
		deadline = withDrain(deadline)
		src.SetReadDeadline(deadline)
		// serveConn may have set the drain deadline (and woken the
		// read) between the load above and the set, which then undid
		// its wake-up: look again.
		if d := withDrain(deadline); !d.Equal(deadline) {
			src.SetReadDeadline(d)
		}
		n, err := src.Read(buf)
		for _, chunk := range sp.split(buf[:n]) {
			send(chunk)
		}
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				if rest := sp.flush(); len(rest) > 0 {
					send(rest)
				}
				if d := drainTime(); !d.IsZero() && !time.Now().Before(d) {
					p.logf("conn %d %s: still open %v after the host's side ended; closing it", conn, dir, p.drain())
					return
				}
				continue
			}
			if rest := sp.flush(); len(rest) > 0 {
				send(rest)
			}
			if err != io.EOF && !errors.Is(err, net.ErrClosed) {
				p.logf("conn %d %s: %v", conn, dir, err)
			}
			return
		}
	}
}

// pause waits d, and reports whether the bytes after it are still to be
// written: not when gone or drained is closed first.
func pause(d time.Duration, gone, drained <-chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-gone:
		return false
	case <-drained:
		return false
	}
}

// splitter cuts a stream into chunks: after each message (h2a, with dec)
// plus the whitespace that follows it, or after each '\n' (a2h).
type splitter struct {
	dec *qjson.Decoder
	buf []byte
}

const maxChunk = 64 << 10

func (s *splitter) pending() bool { return len(s.buf) > 0 }

func (s *splitter) flush() []byte {
	b := s.buf
	s.buf = nil
	return b
}

func (s *splitter) split(p []byte) [][]byte {
	var out [][]byte
	for len(p) > 0 {
		end := -1
		if s.dec == nil {
			for i, c := range p {
				if c == '\n' {
					end = i + 1
					break
				}
			}
		} else if n, ok := s.dec.Feed(p); ok {
			end = n
			for end < len(p) && (p[end] == ' ' || p[end] == '\n' || p[end] == '\r' || p[end] == '\t') {
				end++
			}
			// Whitespace after a message completes nothing, but the
			// lexer must see it (a LF ends recovery mode).
			for k := n; k < end; {
				m, _ := s.dec.Feed(p[k:end])
				if m == 0 {
					break
				}
				k += m
			}
			if end == 0 {
				// A number or keyword ended by the next byte: the event
				// belongs to what is already buffered.
				if len(s.buf) > 0 {
					out = append(out, s.flush())
				}
				continue
			}
		}
		if end < 0 {
			s.buf = append(s.buf, p...)
			if len(s.buf) >= maxChunk {
				out = append(out, s.flush())
			}
			return out
		}
		s.buf = append(s.buf, p[:end]...)
		out = append(out, s.flush())
		p = p[end:]
	}
	return out
}
