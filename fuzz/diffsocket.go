package fuzz

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/qgafuzz/qgafuzz/qga"
	"github.com/qgafuzz/qgafuzz/qga/qgatest"
)

// This file holds the differential driver's endpoints for agents behind
// sockets: one already listening (SocketEndpoint), or a command that the
// driver starts and restarts (CommandEndpoint, in command_endpoint.go). An
// agent behind a socket must see the writes of a stream as separate reads
// wherever the stream splits them (qemu-ga's behaviour differs from a buggy
// agent's only then, for example inside a UTF-8 sequence), so the player
// waits after each write for the replies it expects or, when none is
// expected, until the agent has read the write (unix sockets on Linux) or a
// short pause, before the next write. A stream that ends with the fence is
// closed by a barrier, not a pause: a guest-sync probe whose reply comes
// after anything else the agent sends for the stream.

// Endpoint is one side of a differential comparison.
type Endpoint interface {
	// Name is shown in reports.
	Name() string
	// Play sends a stream and returns every reply byte received for it.
	// pace holds the replies the reference agent gives to each op; a
	// socket endpoint uses it to pace its writes and to know when the
	// replies are complete. An error means the agent is in an unknown
	// state (dead, hung, disconnected); the driver calls Reset next.
	Play(st qgatest.Stream, pace [][]byte) ([]byte, error)
	// Reset brings the agent back to a usable state after an error or a
	// divergence: reconnect, restart, flush.
	Reset() error
	Close() error
}

// inProcess is an in-process agent: a fresh qga.Agent per stream, fed one
// op at a time.
type inProcess struct {
	name string
	cfg  qga.AgentConfig
}

// InProcessEndpoint returns an endpoint for an in-process reference agent
// built with cfg (cfg.Bug plants a bug).
func InProcessEndpoint(cfg qga.AgentConfig) Endpoint {
	name := "built-in reference agent"
	if cfg.Bug != qga.NoBug {
		name = "built-in agent with planted bug " + cfg.Bug.String()
	}
	return &inProcess{name: name, cfg: cfg}
}

func (p *inProcess) Name() string { return p.name }
func (p *inProcess) Play(st qgatest.Stream, _ [][]byte) ([]byte, error) {
	return bytes.Join(qgatest.ReferenceReplies(p.cfg, st), nil), nil
}
func (p *inProcess) Reset() error { return nil }
func (p *inProcess) Close() error { return nil }

// SocketOptions tune how a socket endpoint waits.
type SocketOptions struct {
	// Hang is the longest wait for the replies of one stream (default 2 s);
	// an agent that has not sent them by then is reported as hung.
	Hang time.Duration
	// Idle ends the wait early when the agent has sent nothing for this
	// long after the last write (default 100 ms): an agent that answers
	// less than the reference is reported without waiting for Hang.
	Idle time.Duration
	// Pause is the gap after a write that expects no reply, so that the
	// agent reads it separately from the next one (default 2 ms), where
	// the player cannot see when the agent has read it (TCP, or outside
	// Linux).
	Pause time.Duration
	// Oracle marks the reference (a real qemu-ga), trusted to send its
	// replies and nothing more: a stream that ends with qgatest.Fence is
	// complete once the fence's reply has arrived, as a qemu-ga answers in
	// order. An agent under test may send more (a reply sent twice, or
	// late): after such a stream's fence reply it is sent qgatest.Probe,
	// and what comes before the probe's reply is the stream's. A stream
	// that does not end with the fence (the driver's all do; Play takes
	// any) is watched for 5×Pause after its last expected reply instead.
	Oracle bool
}

func (o *SocketOptions) defaults() {
	if o.Hang <= 0 {
		o.Hang = 2 * time.Second
	}
	if o.Idle <= 0 {
		o.Idle = 100 * time.Millisecond
	}
	if o.Pause <= 0 {
		o.Pause = 2 * time.Millisecond
	}
}

// ErrUnreachable marks a failure to connect to an agent before a stream's
// first write: nothing reached the agent, so it is a transport error, not
// a finding about how the agent handles the stream.
var ErrUnreachable = errors.New("cannot reach the agent")

// errHang marks an agent that did not send the replies of a stream, or
// did not read its writes, within Opts.Hang.
var errHang = errors.New("hang")

// SocketEndpoint is an agent listening on addr (unix:PATH or tcp:HOST:PORT).
type SocketEndpoint struct {
	Addr string
	Opts SocketOptions
	// restart, when set, restarts the agent process (CommandEndpoint).
	restart func() error

	conn net.Conn
	mu   sync.Mutex
	got  []byte
	eof  error
	more chan struct{}
	// afterFence counts the bytes the agent sent, in the last Play,
	// between the fence's reply and the probe's: bytes that the stream
	// did not ask for, reported with a word on the probe.
	afterFence int

	// intr is closed, and intrAt (unix ns) set, by Interrupt.
	intr     chan struct{}
	intrOnce sync.Once
	intrAt   atomic.Int64
}

// NewSocketEndpoint returns an endpoint for an agent listening on addr.
func NewSocketEndpoint(addr string, o SocketOptions) *SocketEndpoint {
	o.defaults()
	return &SocketEndpoint{Addr: addr, Opts: o, intr: make(chan struct{})}
}

// interruptGrace is how long a stream that is being played when the run
// is interrupted (Ctrl-C) may still take: enough for a live agent to send
// the replies to what it was sent (qemu-ga 7.2 exits when a client closes
// with replies unread), not the whole --hang a silent agent would take.
const interruptGrace = 500 * time.Millisecond

// Interrupt cuts the stream being played, if any, and every later one
// short: each ends interruptGrace from now at the latest. It may be
// called from any goroutine.
func (s *SocketEndpoint) Interrupt() {
	if s.intr == nil {
		return
	}
	s.intrOnce.Do(func() {
		at := time.Now().Add(interruptGrace)
		s.intrAt.Store(at.UnixNano())
		close(s.intr)
		s.mu.Lock()
		if s.conn != nil {
			_ = s.conn.SetWriteDeadline(at) // a write the agent does not read
		}
		s.mu.Unlock()
	})
}

// until returns deadline, or the end of the grace after an interrupt if
// that comes first.
func (s *SocketEndpoint) until(deadline time.Time) time.Time {
	if at := s.intrAt.Load(); at != 0 && at < deadline.UnixNano() {
		return time.Unix(0, at)
	}
	return deadline
}

// Name is "agent at ADDR".
func (s *SocketEndpoint) Name() string { return "agent at " + s.Addr }

func (s *SocketEndpoint) dial() error {
	network, address, err := qga.ParseAddr(s.Addr)
	if err != nil {
		return err
	}
	c, err := qgatest.DialRetry(func() (net.Conn, error) { return net.Dial(network, address) }, 5*time.Second)
	if err != nil {
		return fmt.Errorf("connecting to %s: %w", s.Addr, err)
	}
	more := make(chan struct{}, 1)
	s.mu.Lock()
	s.conn, s.eof, s.more = c, nil, more
	s.mu.Unlock()
	go s.read(c, more)
	return nil
}

func (s *SocketEndpoint) read(c net.Conn, more chan struct{}) {
	qgatest.ReadLoop(c, more, func(p []byte, err error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.conn == c { // bytes of an abandoned connection are dropped
			s.got = append(s.got, p...)
			if err != nil {
				s.eof = err
			}
		}
	})
}

// wait waits until n bytes have arrived, the connection ended, nothing
// arrived for idle, or the deadline passed. It reports the byte count.
func (s *SocketEndpoint) wait(n int, idle time.Duration, deadline time.Time) (int, error) {
	return s.waitFor(n, nil, idle, deadline)
}

// waitFor is wait, done when done(replies) says so instead of at n bytes
// if done is not nil.
func (s *SocketEndpoint) waitFor(n int, done func([]byte) bool, idle time.Duration, deadline time.Time) (int, error) {
	last := -1
	quiet := time.Now().Add(idle)
	intr := s.intr
	for {
		s.mu.Lock()
		have, eof := len(s.got), s.eof
		ended := done != nil && done(s.got)
		s.mu.Unlock()
		now := time.Now()
		end := s.until(deadline)
		switch {
		case ended || done == nil && have >= n:
			return have, nil
		case eof != nil:
			return have, fmt.Errorf("connection closed by the agent (%v) after %d of %d reply bytes", eof, have, n)
		case now.After(end) && end.Before(deadline):
			return have, fmt.Errorf("interrupted: %d of %d reply bytes", have, n)
		case now.After(end):
			return have, fmt.Errorf("%w: %d of %d reply bytes after %v", errHang, have, n, s.Opts.Hang)
		case have != last:
			last, quiet = have, now.Add(idle)
		case now.After(quiet):
			return have, nil // the agent went quiet: compare what it sent
		}
		t := time.NewTimer(min(time.Until(quiet), time.Until(end)) + time.Millisecond)
		select {
		case <-s.more:
		case <-t.C:
		case <-intr:
			intr = nil // closed for good: the new end is computed above
		}
		t.Stop()
	}
}

// Play writes the stream op by op and collects the replies. pace (one
// entry per op, the reference's replies) says how many reply bytes each
// write should bring: Play waits for them before the next write, until
// the agent has been silent for Opts.Idle and at most until Opts.Hang
// after the stream began. After a write that expects no reply it waits
// until the agent has read it, or Opts.Pause where that cannot be seen.
// A stream that ends with qgatest.Fence is done at the last fence's
// reply, and then, unless Opts.Oracle, at the reply to qgatest.Probe
// (see probe), which is left out of the replies returned.
func (s *SocketEndpoint) Play(st qgatest.Stream, pace [][]byte) ([]byte, error) {
	s.mu.Lock()
	s.got = s.got[:0]
	s.afterFence = 0
	s.mu.Unlock()
	if s.conn == nil {
		if err := s.dial(); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrUnreachable, err)
		}
	}
	deadline := time.Now().Add(s.Opts.Hang)
	expect := 0
	var err error
	for i, op := range st.Ops {
		if op.Reconnect {
			// Read every reply first: qemu-ga 7.2 exits when a client
			// closes with replies unread.
			if _, err = s.wait(expect, s.Opts.Idle, deadline); err != nil {
				break
			}
			s.closeConn()
			if err = s.dial(); err != nil {
				break
			}
			continue
		}
		if err = s.write(op.Data, deadline); err != nil {
			break
		}
		if i < len(pace) {
			expect += len(pace[i])
		}
		if i < len(pace) && len(pace[i]) > 0 {
			if _, err = s.wait(expect, s.Opts.Idle, deadline); err != nil {
				break
			}
		} else if i+1 < len(st.Ops) && !waitUnread(s.conn, func() time.Time { return s.until(deadline) }) {
			time.Sleep(s.Opts.Pause)
		}
	}
	probeAt := -1
	switch {
	case err != nil:
	case len(st.Ops) > 0 && bytes.Equal(st.Ops[len(st.Ops)-1].Data, qgatest.Fence):
		// Every reply asked for is in once the last fence's is. Counted,
		// for a stream with a fence before its last.
		fences := 0
		for _, op := range st.Ops {
			if bytes.Equal(op.Data, qgatest.Fence) {
				fences++
			}
		}
		// A guest-sync of the fence's id inside the stream (not an op of
		// its own) is answered with the fence's reply too: count those
		// the pace expects as well, or an earlier one passes for the last.
		n := 0
		for _, p := range pace {
			n += bytes.Count(p, qgatest.FenceReply)
		}
		fences = max(fences, n)
		fenceEnd := -1
		allIn := func(got []byte) bool {
			if bytes.HasSuffix(got, qgatest.FenceReply) && bytes.Count(got, qgatest.FenceReply) >= fences {
				fenceEnd = len(got)
			}
			return fenceEnd >= 0
		}
		_, err = s.waitFor(expect, allIn, s.Opts.Idle, deadline)
		// An agent that did not answer the fence has been quiet for
		// Opts.Idle: its replies differ from the reference's as they are.
		if err == nil && fenceEnd >= 0 && !s.Opts.Oracle {
			probeAt, err = s.probe(fenceEnd)
		}
	default:
		// All expected bytes, then a short pause for any extra ones.
		if _, err = s.wait(expect, s.Opts.Idle, deadline); err == nil {
			_, err = s.wait(expect+1, s.Opts.Pause*5, deadline)
		}
	}
	s.mu.Lock()
	got := bytes.Clone(s.got)
	s.mu.Unlock()
	if probeAt >= 0 {
		got = append(got[:probeAt], got[probeAt+len(qgatest.ProbeReply):]...)
	}
	return got, err
}

// write writes data, giving up at the stream's deadline (or sooner, after
// an interrupt).
func (s *SocketEndpoint) write(data []byte, deadline time.Time) error {
	end := s.until(deadline)
	_ = s.conn.SetWriteDeadline(end)
	if again := s.until(deadline); !again.Equal(end) {
		// Interrupt came between the two lines above, and its own
		// deadline may have been overwritten with the later one.
		_ = s.conn.SetWriteDeadline(again)
	}
	_, err := s.conn.Write(data)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, os.ErrDeadlineExceeded) && !s.until(deadline).Before(deadline):
		// Not cut short by an interrupt: the agent has not read for the
		// whole of Opts.Hang.
		return fmt.Errorf("%w: the agent does not read: writing to it: %w", errHang, err)
	}
	return fmt.Errorf("writing to the agent: %w", err)
}

// probe is the barrier at the end of a fenced stream, the fence's reply
// having ended at fenceEnd in s.got: it writes qgatest.Probe and waits
// for its reply, which it returns the offset of. An agent that answers in
// order sends whatever else the stream brings (a reply sent twice, or
// late) before reading the probe, so the bytes in between stay in the
// replies, as the stream's; a pause could only hope to see them. A probe
// that is not answered (the agent closed the connection, went quiet for
// Opts.Idle, or answered something else) is an error that says what
// qgafuzz sent, since the agent's last bytes may answer it rather than
// the stream.
func (s *SocketEndpoint) probe(fenceEnd int) (int, error) {
	deadline := time.Now().Add(s.Opts.Hang)
	// The fence's reply says the agent has read the fence, unless an
	// earlier request gave the same reply: the probe must not reach the
	// agent in the fence's read.
	waitUnread(s.conn, func() time.Time { return s.until(deadline) })
	what := fmt.Sprintf("the guest-sync probe %s that qgafuzz sends after each stream's fence, to catch replies sent late or twice", qgatest.Probe)
	if err := s.write(qgatest.Probe, deadline); err != nil {
		return -1, fmt.Errorf("after the stream's fence was answered, sending %s: %w", what, err)
	}
	at := -1
	answered := func(got []byte) bool {
		if i := bytes.Index(got[fenceEnd:], qgatest.ProbeReply); i >= 0 {
			at = fenceEnd + i
		}
		return at >= 0
	}
	have, err := s.waitFor(fenceEnd+len(qgatest.ProbeReply), answered, s.Opts.Idle, deadline)
	s.mu.Lock()
	after := bytes.Clone(s.got[fenceEnd:min(have, len(s.got))])
	if at >= 0 {
		s.afterFence = at - fenceEnd
	}
	s.mu.Unlock()
	switch {
	case err != nil:
		return -1, fmt.Errorf("after the stream, waiting for the reply to %s (the agent sent %q after the fence's reply): %w", what, clip(after), err)
	case at < 0:
		return -1, fmt.Errorf("the agent did not answer %s (it sent %q after the fence's reply, then nothing for %v)", what, clip(after), s.Opts.Idle)
	}
	return at, nil
}

// sentAfterFence reports how many bytes the agent sent, in the last Play,
// after the fence's reply and before the probe's.
func (s *SocketEndpoint) sentAfterFence() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.afterFence
}

func (s *SocketEndpoint) closeConn() {
	if s.conn == nil {
		return
	}
	s.mu.Lock()
	c := s.conn
	s.conn = nil
	s.mu.Unlock()
	_ = c.Close()
}

// Reset reconnects and flushes the agent's parser with the stream fence;
// a command endpoint restarts its agent instead.
func (s *SocketEndpoint) Reset() error {
	s.closeConn()
	if s.restart != nil {
		// A fresh agent is in its start state, with no parser to flush,
		// and whether it answers is the next stream's to judge: an agent
		// that hangs (on every stream, even) is killed, restarted and
		// reported once per stream rather than ending the run.
		if err := s.restart(); err != nil {
			return err
		}
		return s.dial()
	}
	if err := s.dial(); err != nil {
		return err
	}
	fence := qgatest.Stream{Ops: []qgatest.Op{{Data: qgatest.Fence}}}
	got, err := s.Play(fence, qgatest.ReferenceReplies(qga.AgentConfig{}, fence))
	if err == nil && !bytes.HasSuffix(got, qgatest.FenceReply) {
		err = fmt.Errorf("agent does not answer the fence after a reset (got %q); an agent that qgafuzz did not start "+
			"cannot be restarted when it hangs", clip(got))
	}
	return err
}

// Close closes the connection. The agent itself is not the endpoint's to
// stop.
func (s *SocketEndpoint) Close() error {
	s.closeConn()
	return nil
}
