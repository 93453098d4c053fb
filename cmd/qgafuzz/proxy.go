package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/qgafuzz/qgafuzz/qga"
	"github.com/qgafuzz/qgafuzz/sim"
)

func init() {
	register(&command{name: "proxy", summary: "put a real host and a real agent under the simulator's faults", run: runProxy})
}

const proxyHelp = `
Usage: qgafuzz proxy --listen unix:A --upstream unix:B --faults SPEC [--seed N] [flags]

Listens on A and forwards each client connection to a new connection to B (a real
qemu-ga in unix-listen mode, or any agent), applying the simulator's byte faults
to both directions: a seeded, content-aware counterpart of toxiproxy. Requests are
cut into chunks at message boundaries and replies at line ends, and the faults
that hit the n-th chunk of connection c in one direction depend only on the seed,
c, the direction and n. When a client goes away (or the reconnect fault cuts it,
or the proxy is stopped with Ctrl-C or SIGTERM), the upstream connection is
half-closed and drained (for 5s at most) before it is closed, so that qemu-ga 7.2
(which exits when a client leaves replies unread) survives; a client that comes
while the upstream refuses connections because its backlog is full (qemu-ga
serves one at a time, and may still be draining) waits for it for 5s at most.
When it stops, the proxy prints one summary line: connections served, bytes and
chunks in each direction, and how often each fault acted (-v logs each one).

The seed (which also picks the mix for "swarm") fixes the decisions for each
chunk, not a whole run: which bytes make up a chunk depends on real time (a
partial message or line held longer than --idle is sent on as a chunk of its
own), connections are numbered in the order they are accepted, and delays,
stalls and the agent's and host's own timing are real time.

SPEC is a fault list as for "qgafuzz sim --faults" (e.g.
"fragment:rate=1,max=1" or "ff:rate=0.3,dir=h2a,late:rate=0.1"), "swarm" or "all"
(the kinds a proxy can apply), or "none". The agent-side kinds (restart, reboot)
need a simulated agent and are refused. Rates are per chunk. The proxy does not
know the host's deadlines, so late holds a reply for up to extra (set extra above
the host's timeout for a reply that comes after its call gave up). reconnect cuts
the client connection at once, on the chunk that rolled it: on a request chunk
once it has been read from the host (it still reaches the agent, whose reply finds
no one), on a reply chunk before it reaches the host (that reply is lost); the host
reconnects as it will, and the replies left unread are drained, not passed to the
next client. Both strike in a call, so at=call and at=any (the default) are the
same in a proxy; at=idle is refused (the proxy sees only the traffic, not the
host's calls, so it cannot strike between them), and so are within and delay,
which it would not use (the fault list it prints leaves them out). utf8split
acts only on raw UTF-8 in the traffic: qemu-ga escapes every non-ASCII character
of its replies (\uXXXX), and so does "qgafuzz call" in its requests, so between
those two it has nothing to split.

Exit status: 0 stopped by Ctrl-C, SIGTERM or --max-conns (a client whose
upstream connection failed is cut at once and counted in the summary line,
not an error, as long as some client reached the upstream or none came);
2 usage error; 3 cannot listen, or clients came but not one of them could
reach the upstream (as the line after the summary says).

Fault kinds:
`

const proxyExamples = `
Examples (-b: block every RPC but guest-sync, guest-sync-delimited, guest-ping
and guest-info, as listed by qemu-ga -b help; -t and -f keep qemu-ga's state
and pid file out of /var, which only root may write):
  mkdir -p /tmp/qga && qemu-ga -m unix-listen -p /tmp/qga.sock -t /tmp/qga -f /tmp/qga/pid -b ... &
  qgafuzz proxy --listen unix:/tmp/faulty.sock --upstream unix:/tmp/qga.sock \
      --faults 'fragment:rate=1,max=1' --seed 7 -v
  qgafuzz call --connect unix:/tmp/faulty.sock guest-ping
`

func runProxy(e *env, args []string) int {
	fs := newFlagSet(e, "proxy", proxyHelp+sim.FaultHelp()+proxyExamples)
	listen := fs.String("listen", "", "address to listen on: unix:PATH or tcp:HOST:PORT")
	upstream := fs.String("upstream", "", "the agent's address: unix:PATH or tcp:HOST:PORT")
	faults := fs.String("faults", "none", "fault `SPEC`: a list, swarm, all or none")
	seed := fs.Uint64("seed", 1, "seed of the fault decisions (and of the swarm mix)")
	maxConns := fs.Int("max-conns", 0, "exit after serving this many connections (0: run until interrupted)")
	idle := fs.Duration("idle", 20*time.Millisecond, "hold a partial message this long before sending it on")
	verbose := fs.Bool("v", false, "log connections and every fault on standard error")
	if code, ok := parseFlags(fs, e, args); !ok {
		return code
	}
	usage := func(format string, a ...any) int {
		fmt.Fprintf(e.stderr, "qgafuzz proxy: "+format+"\n", a...)
		return exitUsage
	}
	if fs.NArg() > 0 {
		return usage("unexpected argument %q", fs.Arg(0))
	}
	if *listen == "" || *upstream == "" {
		return usage("--listen and --upstream are required")
	}
	if _, _, err := qga.ParseAddr(*upstream); err != nil {
		return usage("--upstream: %v", err)
	}
	if _, _, err := qga.ParseAddr(*listen); err != nil {
		return usage("--listen: %v", err)
	}
	if *maxConns < 0 {
		return usage("--max-conns must not be negative")
	}
	if *idle <= 0 {
		// sim.Proxy takes a non-positive Idle as its default, which
		// would hide the mistake.
		return usage("--idle must be positive")
	}
	fl, err := sim.ProxyFaults(*faults, *seed)
	if err != nil {
		return usage("--faults: %v", err)
	}
	up := *upstream
	var mu sync.Mutex
	logf := func(s string) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintln(e.stderr, "qgafuzz proxy: "+s)
	}
	p, err := sim.NewProxy(fl, *seed, func(ctx context.Context) (net.Conn, error) {
		c, err := dialUpstream(ctx, up, upstreamBusyWait)
		if err != nil && !*verbose && ctx.Err() == nil {
			// The proxy logs it only with -v; without, a wrong
			// --upstream would show only as clients cut at once.
			logf("upstream: " + err.Error())
		}
		return c, err
	})
	if err != nil {
		return usage("--faults: %v", err)
	}
	p.MaxConns, p.Idle = *maxConns, *idle
	if *verbose {
		p.Log = logf
	}
	l, err := qga.Listen(*listen)
	if err != nil {
		fmt.Fprintln(e.stderr, "qgafuzz proxy:", errText(err))
		return exitTransport
	}
	defer l.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logf("listening on " + listenAddr(l) + ", upstream " + up + ", faults " + specList(fl) + ", seed " + strconv.FormatUint(*seed, 10))
	start := time.Now()
	err = p.Serve(ctx, l)
	st := p.Stats()
	logf(proxySummary(st, time.Since(start)))
	if err != nil {
		fmt.Fprintln(e.stderr, "qgafuzz proxy:", errText(err))
		return exitTransport
	}
	if noneReached(st) {
		// A run in which every client was cut at once is not a good
		// run, whatever stopped it: a script must tell it from one.
		logf("no client connection could reach the upstream " + up)
		return exitTransport
	}
	return exitOK
}

// noneReached reports whether the proxy served clients but could not
// reach the upstream for a single one of them (a wrong --upstream, or an
// agent that is not running), which the proxy exits with exitTransport.
func noneReached(st sim.ProxyStats) bool {
	return st.Conns > 0 && st.Failed == st.Conns
}

// upstreamBusyWait bounds how long a client's upstream connection waits
// for an agent whose listen backlog is full. qemu-ga serves one client at
// a time with a backlog of one, and the proxy itself keeps the connection
// of a client that has left open while it drains it (for up to
// sim.Proxy.Drain, 5s), so a host that reconnects at once, or a few hosts
// in turn, would otherwise be refused with EAGAIN and cut.
const upstreamBusyWait = 5 * time.Second

// dialUpstream dials addr, waiting for up to wait while the listener's
// backlog is full, as a blocking connect to qemu-ga's socket would wait.
func dialUpstream(ctx context.Context, addr string, wait time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	return retryBusy(ctx, func() (net.Conn, error) { return qga.Dial(ctx, addr) })
}

// retryBusy calls dial until it succeeds, fails other than with EAGAIN (a
// unix socket whose listen backlog is full: qemu-ga serves one client at a
// time with a backlog of one) or ctx ends; it returns dial's last result.
func retryBusy[T any](ctx context.Context, dial func() (T, error)) (T, error) {
	for pause := 100 * time.Microsecond; ; pause = min(2*pause, 20*time.Millisecond) {
		c, err := dial()
		if err == nil || !errors.Is(err, syscall.EAGAIN) {
			return c, err
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return c, err
		case <-t.C:
		}
	}
}

// proxySummary is the line the proxy prints when it stops: what it
// served and which faults acted, so that a run without -v still says
// whether the faults did anything.
func proxySummary(st sim.ProxyStats, elapsed time.Duration) string {
	conns := "connections"
	if st.Conns == 1 {
		conns = "connection"
	}
	s := fmt.Sprintf("served %d %s in %.1fs", st.Conns, conns, elapsed.Seconds())
	if st.Failed > 0 {
		s += fmt.Sprintf(" (%d could not reach the upstream)", st.Failed)
	}
	for _, d := range []struct{ key, name string }{{"h2a", "host to agent"}, {"a2h", "agent to host"}} {
		s += fmt.Sprintf("; %s: %d bytes in %d chunks", d.name, st.Bytes[d.key], st.Chunks[d.key])
	}
	if len(st.Faults) == 0 {
		return s + "; no fault acted"
	}
	kinds := slices.Sorted(maps.Keys(st.Faults))
	s += "; faults:"
	for _, k := range kinds {
		s += fmt.Sprintf(" %s %d", k, st.Faults[k])
	}
	return s
}

func specList(fl []sim.Fault) string {
	if len(fl) == 0 {
		return "none"
	}
	s := ""
	for i, f := range fl {
		if i > 0 {
			s += " "
		}
		s += sim.ProxySpec(f) // without the parameters the proxy does not use
	}
	return s
}
