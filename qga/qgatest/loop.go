package qgatest

import (
	"io"
	"os"
	"time"
)

// This file is an in-memory channel for driving a qga.Client in a single
// goroutine, in virtual time: what the client writes is handed at once to a
// peer function (an agent), whose output is queued for the client to read.
// When the queue is empty nothing can ever arrive (there is no other
// goroutine), so a read fails at once with os.ErrDeadlineExceeded and the
// virtual clock jumps to the read deadline, exactly as a real read would
// end after waiting. Model-based tests and the simulator use it to run the
// real client deterministically and fast.

// VirtualClock is a clock that moves only when told. Pass its Now method
// as qga.ClientOptions.Now.
type VirtualClock struct{ t time.Time }

// NewVirtualClock returns a clock set to an arbitrary fixed instant.
func NewVirtualClock() *VirtualClock {
	return &VirtualClock{t: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)}
}

// Now returns the virtual time.
func (c *VirtualClock) Now() time.Time { return c.t }

// Advance moves the clock forward by d.
func (c *VirtualClock) Advance(d time.Duration) { c.t = c.t.Add(d) }

// advanceTo moves the clock to t if t is later.
func (c *VirtualClock) advanceTo(t time.Time) {
	if t.After(c.t) {
		c.t = t
	}
}

// LoopTransport is a qga.Transport whose other end is Peer. It is not safe
// for concurrent use, by design.
type LoopTransport struct {
	// Peer consumes the client's bytes and returns the bytes sent back.
	Peer func(p []byte) []byte
	// Clock is advanced to the read deadline when a read would block.
	Clock *VirtualClock
	// MaxRead, if positive, caps the bytes one Read returns (1 splits
	// every reply into single bytes).
	MaxRead int

	queue  []byte
	rdl    time.Time
	eof    bool // the peer hung up: reads drain the queue, then io.EOF
	closed bool
	// Written counts every byte the client wrote.
	Written int64
}

// NewLoopTransport connects a client to peer under clock.
func NewLoopTransport(peer func([]byte) []byte, clock *VirtualClock) *LoopTransport {
	return &LoopTransport{Peer: peer, Clock: clock}
}

// Inject queues bytes for the client as if the peer had sent them earlier:
// stale data left in the channel.
func (t *LoopTransport) Inject(p []byte) { t.queue = append(t.queue, p...) }

// Pending returns the bytes queued for the client but not yet read.
func (t *LoopTransport) Pending() []byte { return t.queue }

// Hangup makes the peer close its side: the client reads what is queued,
// then EOF, and its writes fail.
func (t *LoopTransport) Hangup() { t.eof = true }

// Read implements io.Reader.
func (t *LoopTransport) Read(p []byte) (int, error) {
	if t.closed {
		return 0, os.ErrClosed
	}
	if len(t.queue) == 0 {
		if t.eof {
			return 0, io.EOF
		}
		if !t.rdl.IsZero() && t.Clock != nil {
			t.Clock.advanceTo(t.rdl)
		}
		return 0, os.ErrDeadlineExceeded
	}
	n := len(p)
	if t.MaxRead > 0 {
		n = min(n, t.MaxRead)
	}
	n = copy(p[:n], t.queue)
	t.queue = t.queue[n:]
	if len(t.queue) == 0 {
		t.queue = nil // let a large queue be collected
	}
	return n, nil
}

// Write implements io.Writer: p goes to Peer at once.
func (t *LoopTransport) Write(p []byte) (int, error) {
	switch {
	case t.closed:
		return 0, os.ErrClosed
	case t.eof:
		return 0, io.ErrClosedPipe
	}
	t.Written += int64(len(p))
	if t.Peer != nil {
		t.queue = append(t.queue, t.Peer(p)...)
	}
	return len(p), nil
}

// Close implements io.Closer.
func (t *LoopTransport) Close() error {
	t.closed = true
	return nil
}

// SetReadDeadline records the deadline a blocked read jumps to.
func (t *LoopTransport) SetReadDeadline(d time.Time) error {
	t.rdl = d
	return nil
}

// SetWriteDeadline is accepted and ignored: writes never block.
func (t *LoopTransport) SetWriteDeadline(time.Time) error { return nil }

// CloseWrite lets the client's Close drain without waiting: the peer has
// nothing more to say once the client stops talking.
func (t *LoopTransport) CloseWrite() error {
	t.eof = true
	return nil
}
