package qga_test

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/qgafuzz/qgafuzz/qga"
	"github.com/qgafuzz/qgafuzz/qga/qgatest"
)

// This file tests, directly against a live qemu-ga, inputs that the
// differential stream generator (qgatest.GenStream) never or rarely
// produces: the limits exactly at, below and above their values, numbers
// at the edges of int64, uint64 and double, long error texts, unusual
// string bytes and escapes, members and argument sets of unusual types and
// sizes, and values split at every byte. Each case is fed to qemu-ga and to
// the reference agent, followed by a fence, and the replies must be equal
// byte for byte.

// liveAgent is a connection to a live qemu-ga that collects everything it
// sends.
type liveAgent struct {
	t     *testing.T
	ga    *qgatest.QemuGA
	conn  net.Conn
	mu    sync.Mutex
	got   []byte
	more  chan struct{}
	fence int64 // the last fence id used
}

func newLiveAgent(t *testing.T) *liveAgent {
	l := &liveAgent{t: t, ga: qgatest.StartQemuGA(t), fence: 7_000_000_000}
	if err := l.dial(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.close)
	return l
}

func (l *liveAgent) dial() error {
	c, err := qgatest.DialRetry(l.ga.Dial, 5*time.Second)
	if err != nil {
		return err
	}
	more := make(chan struct{}, 1)
	l.conn, l.more = c, more
	go qgatest.ReadLoop(c, more, func(p []byte, err error) {
		l.mu.Lock()
		l.got = append(l.got, p...)
		l.mu.Unlock()
	})
	return nil
}

// close drains and closes the connection (qemu-ga exits if a client leaves
// replies unread).
func (l *liveAgent) close() {
	if l.conn == nil {
		return
	}
	l.quiet(30 * time.Millisecond)
	l.conn.Close()
	l.conn = nil
}

// quiet waits until nothing has arrived for d.
func (l *liveAgent) quiet(d time.Duration) {
	l.mu.Lock()
	n := len(l.got)
	l.mu.Unlock()
	for {
		time.Sleep(d)
		l.mu.Lock()
		m := len(l.got)
		l.mu.Unlock()
		if m == n {
			return
		}
		n = m
	}
}

// waitLen waits until the output has at least n bytes.
func (l *liveAgent) waitLen(n int, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for {
		l.mu.Lock()
		have := len(l.got)
		l.mu.Unlock()
		if have >= n || time.Now().After(deadline) {
			return
		}
		select {
		case <-l.more:
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// waitSuffix waits until the output ends with suffix.
func (l *liveAgent) waitSuffix(suffix []byte, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		l.mu.Lock()
		ok := bytes.HasSuffix(l.got, suffix)
		l.mu.Unlock()
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no fence reply after %v (agent alive: %v)", timeout, l.ga.Alive())
		}
		select {
		case <-l.more:
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// bsOp is one step of a case: a write, or a reconnect.
type bsOp = qgatest.Op

// bsCase is one blind-spot input.
type bsCase struct {
	name string
	ops  []bsOp
	// big cases take long; their ops are made by lazy, when the case
	// runs, so that only one is in memory at a time.
	big  bool
	lazy func() []bsOp
}

func one(name string, data string) bsCase {
	return bsCase{name: name, ops: []bsOp{{Data: []byte(data)}}}
}

func writes(name string, parts ...string) bsCase {
	c := bsCase{name: name}
	for _, p := range parts {
		c.ops = append(c.ops, bsOp{Data: []byte(p)})
	}
	return c
}

// fenced appends to c's ops a fence of its own: 0xFF ends whatever is
// partial (and LF ends recovery), then a guest-sync whose reply ends the
// case's output.
func (l *liveAgent) fenced(c *bsCase) (reply []byte) {
	l.fence++
	id := strconv.FormatInt(l.fence, 10)
	fence := []byte("\xff\n{\"execute\":\"guest-sync\",\"arguments\":{\"id\":" + id + "}}")
	c.ops = append(c.ops[:len(c.ops):len(c.ops)], bsOp{Data: fence})
	return []byte("{\"return\": " + id + "}\n")
}

// play runs fenced cases on the live agent and returns the output of each
// (up to and including its fence reply). Cases are written back to back in
// one write; those with reconnects must be played alone (before each
// reconnect, play waits for as much output as the reference agent gives).
func (l *liveAgent) play(cs []bsCase, replies [][]byte, timeout time.Duration) ([][]byte, error) {
	l.mu.Lock()
	l.got = nil
	l.mu.Unlock()
	var pending []byte
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		l.conn.SetWriteDeadline(time.Now().Add(timeout))
		_, err := l.conn.Write(pending)
		pending = pending[:0]
		return err
	}
	var err error
	for _, c := range cs {
		// The reference agent tells how much output to wait for before a
		// reconnect.
		var ref *qga.Agent
		if len(cs) == 1 {
			ref = qga.NewAgent(qga.AgentConfig{Version: l.ga.Version()})
		}
		want := 0
		for _, op := range c.ops {
			if !op.Reconnect {
				pending = append(pending, op.Data...)
				if ref != nil && !c.big {
					want += len(ref.Feed(nil, op.Data))
				}
				continue
			}
			if err = flush(); err != nil {
				break
			}
			// Read every reply before closing: qemu-ga 7.2 exits when a
			// client leaves replies unread, and a reply written after the
			// close is lost.
			l.waitLen(want, 2*time.Second)
			l.quiet(20 * time.Millisecond)
			l.conn.Close()
			if err = l.dial(); err != nil {
				break
			}
		}
	}
	if err == nil {
		if err = flush(); err == nil {
			err = l.waitSuffix(replies[len(replies)-1], timeout)
		}
	}
	l.mu.Lock()
	got := bytes.Clone(l.got)
	l.mu.Unlock()
	out := make([][]byte, len(cs))
	for i, r := range replies {
		k := bytes.Index(got, r)
		if k < 0 {
			out[i] = got
			break
		}
		out[i], got = got[:k+len(r)], got[k+len(r):]
	}
	if err != nil {
		// Unknown state: start afresh.
		l.conn.Close()
		l.conn = nil
		if rerr := l.ga.Restart(); rerr != nil {
			l.t.Fatal(rerr)
		}
		if derr := l.dial(); derr != nil {
			l.t.Fatal(derr)
		}
	}
	return out, err
}

func quoteShort(b []byte) string {
	if len(b) > 600 {
		return strconv.Quote(string(b[:300])) + fmt.Sprintf("...(%d bytes)...", len(b)) + strconv.Quote(string(b[len(b)-300:]))
	}
	return strconv.Quote(string(b))
}

// TestBlindSpotsQemuGA feeds each blind-spot case to a live qemu-ga and to
// the reference agent and requires the same replies, also when the
// reference agent reads the input cut in other ways. Big cases (the 64 MiB
// and 2M-token limits) are skipped with -short.
//
//	QGAFUZZ_BLINDSPOT_VERBOSE=1  log every case's time and output size
func TestBlindSpotsQemuGA(t *testing.T) {
	l := newLiveAgent(t)
	verbose := os.Getenv("QGAFUZZ_BLINDSPOT_VERBOSE") != ""
	start := time.Now()
	cases := blindSpotCases()
	a := qga.NewAgent(qga.AgentConfig{Version: l.ga.Version()})
	var out []byte
	mismatches := 0
	check := func(c bsCase, live []byte, err error) {
		var in []byte
		for _, op := range c.ops {
			in = append(in, op.Data...)
		}
		a.Reset()
		ref := out[:0]
		for _, op := range c.ops {
			ref = a.Feed(ref, op.Data)
		}
		out = ref
		if err != nil || !bytes.Equal(live, ref) {
			mismatches++
			t.Errorf("%s: differs (%v)\ninput:   %s\nqemu-ga: %s\nours:    %s", c.name, err, quoteShort(in), quoteShort(live), quoteShort(ref))
			return
		}
		// The reference agent must give the same replies however the
		// input is cut into reads (qemu-ga's do not depend on it).
		for _, chunks := range rechunkings(in) {
			a.Reset()
			got := out[:0]
			for _, p := range chunks {
				got = a.Feed(got, p)
			}
			out = got
			if !bytes.Equal(got, live) {
				mismatches++
				t.Errorf("%s: differs when read in %d chunks (first %d bytes)\ninput:   %s\nqemu-ga: %s\nours:    %s",
					c.name, len(chunks), len(chunks[0]), quoteShort(in), quoteShort(live), quoteShort(got))
				return
			}
		}
	}
	alone := func(c bsCase) bool {
		for _, op := range c.ops {
			if op.Reconnect {
				return true
			}
		}
		return c.big
	}
	var batch []bsCase
	var replies [][]byte
	size := 0
	runBatch := func() {
		if len(batch) == 0 {
			return
		}
		t0 := time.Now()
		lives, err := l.play(batch, replies, 10*time.Second)
		for i, c := range batch {
			check(c, lives[i], err)
		}
		if verbose {
			t.Logf("batch of %d cases (%s...): %v", len(batch), batch[0].name, time.Since(t0).Round(time.Millisecond))
		}
		batch, replies, size = batch[:0], replies[:0], 0
	}
	for _, c := range cases {
		if c.big && testing.Short() {
			continue
		}
		if c.lazy != nil {
			c.ops = c.lazy()
		}
		r := l.fenced(&c)
		if alone(c) {
			runBatch()
			t0 := time.Now()
			timeout := 10 * time.Second
			if c.big {
				timeout = 60 * time.Second
			}
			lives, err := l.play([]bsCase{c}, [][]byte{r}, timeout)
			t1 := time.Now()
			check(c, lives[0], err)
			if verbose {
				t.Logf("%s: qemu-ga %v, reference %v, %d bytes", c.name, t1.Sub(t0).Round(time.Millisecond), time.Since(t1).Round(time.Millisecond), len(lives[0]))
			}
			continue
		}
		batch, replies = append(batch, c), append(replies, r)
		for _, op := range c.ops {
			size += len(op.Data)
		}
		if len(batch) >= 100 || size >= 1<<20 {
			runBatch()
		}
	}
	runBatch()
	t.Logf("%d cases in %v, %d mismatches", len(cases), time.Since(start).Round(time.Millisecond), mismatches)
}

// rechunkings returns ways to cut in into reads: one byte per read (for
// short inputs), two reads split at every position (for shorter ones), and
// reads of 3 bytes, of qemu-ga's 4096 and of a prime size.
func rechunkings(in []byte) [][][]byte {
	var out [][][]byte
	bySize := func(n int) [][]byte {
		var cs [][]byte
		for p := in; len(p) > 0; {
			k := min(n, len(p))
			cs = append(cs, p[:k])
			p = p[k:]
		}
		return cs
	}
	if len(in) <= 1<<12 {
		out = append(out, bySize(1))
	}
	if len(in) <= 160 {
		for k := 1; k < len(in); k++ {
			out = append(out, [][]byte{in[:k], in[k:]})
		}
	}
	for _, n := range []int{3, 4096, 65521} {
		if n < len(in) && (n == 4096 || len(in) <= 1<<20) {
			out = append(out, bySize(n))
		}
	}
	return out
}

func rep(s string, n int) string { return strings.Repeat(s, n) }

func blindSpotCases() []bsCase {
	var cs []bsCase
	for _, f := range []func() []bsCase{errorTextCases, numberCases, stringCases, dispatchCases,
		objectCases, streamCases, limitCases, sizeCases} {
		cs = append(cs, f()...)
	}
	return cs
}
