package qga_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/qgafuzz/qgafuzz/qga"
	"github.com/qgafuzz/qgafuzz/qga/qgatest"
	"github.com/qgafuzz/qgafuzz/qjson"
)

// The client against every hostile agent mode: each call returns the right
// reply or a clear typed error within its deadline, never another
// request's reply. The 1 GiB flood has its own test, which measures heap.

// hostileCase is one mode and what the client must return for a guest-info
// call, then guest-sync calls with distinct ids. nil means success with the
// exact expected value.
type hostileCase struct {
	mode    qgatest.HostileMode
	cfg     qgatest.HostileConfig
	opts    qga.ClientOptions
	oneByte bool // the client reads one byte at a time
	first   string
	want    []error
}

func hostileCases() []hostileCase {
	fail := qga.ClientOptions{Timeout: 400 * time.Millisecond}
	ok := qga.ClientOptions{Timeout: 5 * time.Second}
	m := func(mode qgatest.HostileMode, opts qga.ClientOptions, want ...error) hostileCase {
		return hostileCase{mode: mode, opts: opts, want: want}
	}
	cases := []hostileCase{
		m(qgatest.HostileNone, ok, nil, nil, nil),
		m(qgatest.HostileStaleReplies, ok, nil, nil, nil),
		m(qgatest.HostileStaleDelimited, ok, nil, nil, nil),
		m(qgatest.HostileSplitBytes, ok, nil, nil, nil),
		m(qgatest.HostileHalfReplySilence, fail, qga.ErrTimeout, qga.ErrTimeout, qga.ErrTimeout),
		m(qgatest.HostileRestartMidReply, fail, qga.ErrTimeout, nil, nil),
		m(qgatest.HostileDeepNesting, ok, qga.ErrProtocol, nil, nil),
		m(qgatest.HostileSilence, fail, qga.ErrTimeout, qga.ErrTimeout, qga.ErrTimeout),
		m(qgatest.HostileWrongID, ok, qga.ErrProtocol, qga.ErrProtocol, qga.ErrProtocol),
		m(qgatest.HostileStringID, ok, qga.ErrProtocol, qga.ErrProtocol, qga.ErrProtocol),
		m(qgatest.HostileEOFMidReply, qga.ClientOptions{Timeout: 5 * time.Second, Reconnect: true}, qga.ErrClosed, nil, nil),
		m(qgatest.HostileDuplicate, ok, nil, nil, nil),
	}
	split := m(qgatest.HostileSplitBytes, ok, nil, nil, nil)
	split.oneByte = true
	slow := m(qgatest.HostileSlow, qga.ClientOptions{Timeout: 1200 * time.Millisecond}, qga.ErrTimeout)
	fast := m(qgatest.HostileSlow, ok, nil, nil, nil)
	fast.cfg.Pace = 100 * time.Microsecond
	fast.first = qga.CmdPing
	eof := m(qgatest.HostileEOFMidReply, ok, qga.ErrClosed, qga.ErrClosed, qga.ErrClosed)
	return append(cases, split, slow, fast, eof)
}

func (hc hostileCase) name() string {
	s := hc.mode.String()
	switch {
	case hc.oneByte:
		s += "/one-byte-reads"
	case hc.mode == qgatest.HostileSlow:
		s += "/pace-" + cmp.Or(hc.cfg.Pace, qgatest.DefaultHostilePace).String()
	case hc.mode == qgatest.HostileEOFMidReply:
		s += fmt.Sprintf("/reconnect-%v", hc.opts.Reconnect)
	}
	return s
}

// oneByteConn returns at most one byte per Read.
type oneByteConn struct{ net.Conn }

func (c oneByteConn) Read(p []byte) (int, error) { return c.Conn.Read(p[:min(len(p), 1)]) }

func TestClientHostile(t *testing.T) {
	info := referenceReturn(t, qga.CmdInfo)
	for _, hc := range hostileCases() {
		t.Run(hc.name(), func(t *testing.T) {
			t.Parallel()
			if hc.cfg.Pace == 0 {
				hc.cfg.Pace = time.Second
			}
			addr, _ := qgatest.ServeHostile(t, hc.mode, hc.cfg)
			var c *qga.Client
			if hc.oneByte {
				c = qga.NewClient(oneByteConn{rawConn(t, addr)}, hc.opts)
				t.Cleanup(func() { c.Close() })
			} else {
				c = newTestClient(t, addr, hc.opts)
			}
			first := hc.first
			if first == "" {
				first = qga.CmdInfo
			}
			var outcome []string
			for i, want := range hc.want {
				start := time.Now()
				var v qjson.Value
				var err error
				n := int64(1000 + i)
				if i == 0 {
					v, err = callValue(c, 0, first, nil)
				} else {
					v, err = callValue(c, 0, qga.CmdSync, syncArgs(n))
				}
				took := time.Since(start)
				outcome = append(outcome, summarize(v, err))
				if took > hc.opts.Timeout+time.Second {
					t.Errorf("call %d took %v, beyond its %v deadline", i, took, hc.opts.Timeout)
				}
				switch {
				case want != nil:
					if !errors.Is(err, want) {
						t.Fatalf("call %d: got %v (%s), want an error matching %v", i, err, summarize(v, err), want)
					}
				case err != nil:
					t.Fatalf("call %d: %v", i, err)
				case i == 0 && first == qga.CmdInfo && !qjson.Equal(v, info):
					t.Fatalf("guest-info returned %.100s", v)
				case i == 0 && first == qga.CmdPing && v.Len() != 0:
					t.Fatalf("guest-ping returned %s", v)
				case i > 0:
					wantSync(t, v, err, n)
				}
			}
			t.Logf("%-28s %v  stats %+v", hc.name(), outcome, c.Stats())
			if hc.mode == qgatest.HostileEOFMidReply && hc.opts.Reconnect && c.Stats().Redials != 1 {
				t.Errorf("want one redial, stats %+v", c.Stats())
			}
		})
	}
}

// summarize describes a call's outcome in a few words for the log.
func summarize(v qjson.Value, err error) string {
	var ae *qga.AgentError
	switch {
	case err == nil:
		s := v.String()
		if len(s) > 24 {
			s = s[:24] + "…"
		}
		return "ok " + s
	case errors.As(err, &ae):
		return "agent error"
	case errors.Is(err, qga.ErrTimeout):
		return "ErrTimeout"
	case errors.Is(err, qga.ErrClosed):
		return "ErrClosed"
	case errors.Is(err, qga.ErrReplyTooLarge):
		return "ErrReplyTooLarge"
	case errors.Is(err, qga.ErrProtocol):
		var pe *qga.ProtocolError
		errors.As(err, &pe)
		return "ErrProtocol(" + pe.Reason + ")"
	}
	return "untyped error: " + err.Error()
}

// TestClientHostileFlood: the agent answers with a 1 GiB string, streamed.
// The client fails that call with ErrReplyTooLarge after MaxReplySize
// bytes, the following calls skip at most MaxDiscard bytes each (failing
// with ErrProtocol) until the flood is over, and then succeed. Heap use is
// measured throughout and must stay far below the flood.
func TestClientHostileFlood(t *testing.T) {
	const limit = 64 << 20
	addr, _ := qgatest.ServeHostile(t, qgatest.HostileFlood, qgatest.HostileConfig{})
	c := newTestClient(t, addr, qga.ClientOptions{Timeout: 20 * time.Second})

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	var peak uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			peak = max(peak, m.HeapInuse)
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()

	start := time.Now()
	_, err := callValue(c, 0, qga.CmdInfo, nil)
	wantErr(t, err, qga.ErrReplyTooLarge)
	calls := 1
	for ; calls < 40; calls++ {
		v, err := callValue(c, 0, qga.CmdSync, syncArgs(int64(calls)))
		if err == nil {
			wantSync(t, v, err, int64(calls))
			break
		}
		wantErr(t, err, qga.ErrProtocol)
	}
	took := time.Since(start)
	close(stop)
	wg.Wait()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	alloc := after.TotalAlloc - before.TotalAlloc
	growth := int64(peak) - int64(before.HeapInuse)
	t.Logf("1 GiB flood: %d calls to get through it in %v; allocated %.1f MiB in total, peak heap in use +%.1f MiB; stats %+v",
		calls+1, took.Round(time.Millisecond), float64(alloc)/(1<<20), float64(growth)/(1<<20), c.Stats())
	if calls == 40 {
		t.Fatalf("the client never got through the flood")
	}
	if alloc > limit || growth > limit {
		t.Errorf("memory is not bounded: allocated %d bytes, heap grew %d bytes (limit %d)", alloc, growth, limit)
	}
	if s := c.Stats(); s.Discarded < 1<<30-qga.DefaultMaxReplySize {
		t.Errorf("stats %+v: the flood was not discarded", s)
	}
}

// TestNaiveStrategies shows why the careful client exists: against stale
// replies the naive host returns a reply that belongs to someone else, and
// a plain guest-sync is destroyed by a stale half line; the careful client
// gets the right answer from the same agent.
func TestNaiveStrategies(t *testing.T) {
	addr, _ := qgatest.ServeHostile(t, qgatest.HostileStaleReplies, qgatest.HostileConfig{})
	opts := func(r qga.Resync) qga.ClientOptions {
		return qga.ClientOptions{Resync: r, Timeout: 300 * time.Millisecond}
	}
	c := newTestClient(t, addr, opts(qga.ResyncNone))
	v, err := callValue(c, 0, qga.CmdSync, syncArgs(77))
	if n, ok := v.Int(); err == nil && ok && n == 77 {
		t.Errorf("ResyncNone got the right reply through stale data; the naive model is not naive")
	} else {
		t.Logf("ResyncNone: guest-sync 77 returned %s (a stale reply)", summarize(v, err))
	}
	c.Close()
	c = newTestClient(t, addr, opts(qga.ResyncPlain))
	_, err = callValue(c, 0, qga.CmdSync, syncArgs(78))
	t.Logf("ResyncPlain: guest-sync 78 returned %s", summarize(v, err))
	wantErr(t, err, qga.ErrTimeout)
	c.Close()
	c = newTestClient(t, addr, opts(qga.ResyncDelimited))
	v, err = callValue(c, 0, qga.CmdSync, syncArgs(79))
	wantSync(t, v, err, 79)
}

// TestClientCallDuringSilenceIsBounded checks that the context deadline,
// not only ClientOptions.Timeout, bounds a call.
func TestClientCallDuringSilenceIsBounded(t *testing.T) {
	addr, _ := qgatest.ServeHostile(t, qgatest.HostileSilence, qgatest.HostileConfig{})
	c := newTestClient(t, addr, qga.ClientOptions{Timeout: time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := c.Execute(ctx, qga.CmdPing, nil, nil)
	wantErr(t, err, qga.ErrTimeout)
	if took := time.Since(start); took > time.Second {
		t.Errorf("call took %v with a 150ms context deadline", took)
	}
}
