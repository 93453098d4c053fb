package qgatest

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/qgafuzz/qgafuzz/qga"
)

// This file plays streams against an agent behind a socket (a live qemu-ga,
// or any agent under test) and against the in-process reference agent, so
// that the two outputs can be compared byte for byte.

// ReferenceReplies feeds s to a fresh reference agent and returns the
// replies that each op produced.
func ReferenceReplies(cfg qga.AgentConfig, s Stream) [][]byte {
	a := qga.NewAgent(cfg)
	out := make([][]byte, len(s.Ops))
	for i, op := range s.Ops {
		out[i] = a.Feed(nil, op.Data)
	}
	return out
}

// ErrIncomplete means the agent sent fewer bytes than expected before the
// deadline.
var ErrIncomplete = errors.New("qgatest: agent stopped replying before the expected output was complete")

// Session keeps a connection to an agent across streams.
type Session struct {
	// Dial opens a connection to the agent (required), e.g. QemuGA.Dial
	// or DialUnix(path).
	Dial func() (net.Conn, error)
	// Timeout bounds the wait for the expected replies of one op
	// (default 5 s).
	Timeout time.Duration

	conn    net.Conn
	stopped chan struct{} // closed when conn's reader has delivered its last bytes
	mu      sync.Mutex
	got     []byte
	more    chan struct{} // signalled when got grows or the reader stops
	done    bool          // the reader stopped (EOF or error)
}

func (s *Session) open() error {
	c, err := DialRetry(s.Dial, 5*time.Second)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.conn, s.done, s.more = c, false, make(chan struct{}, 1)
	s.stopped = make(chan struct{})
	go s.read(c, s.more, s.stopped)
	s.mu.Unlock()
	return nil
}

func (s *Session) read(c net.Conn, more chan struct{}, stopped chan struct{}) {
	defer close(stopped)
	ReadLoop(c, more, func(p []byte, err error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.got = append(s.got, p...)
		if err != nil {
			s.done = true
		}
	})
}

// closeConn closes the connection and waits for its reader to stop, so
// that every byte read from it counts in the stream being played and none
// in the next one.
func (s *Session) closeConn() {
	s.conn.Close()
	<-s.stopped
	s.conn = nil
}

// ReadLoop reads c until a read fails, handing every read's bytes and error
// to deliver and then signalling more without blocking (more holds one
// signal), so that a caller can wait for replies with a deadline of its own
// instead of blocking in Read. It returns after delivering the error.
func ReadLoop(c net.Conn, more chan<- struct{}, deliver func(p []byte, err error)) {
	buf := make([]byte, 64<<10)
	for {
		n, err := c.Read(buf)
		deliver(buf[:n], err)
		select {
		case more <- struct{}{}:
		default:
		}
		if err != nil {
			return
		}
	}
}

// waitFor waits until at least n bytes have been received, the reader
// stopped, or the timeout passed.
func (s *Session) waitFor(n int) error {
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		have, done := len(s.got), s.done
		s.mu.Unlock()
		if have >= n {
			return nil
		}
		if done {
			return fmt.Errorf("%w (connection closed after %d of %d bytes)", ErrIncomplete, have, n)
		}
		select {
		case <-s.more:
		case <-deadline.C:
			return fmt.Errorf("%w (%d of %d bytes after %v)", ErrIncomplete, have, n, timeout)
		}
	}
}

// Play writes s to the agent and returns everything it sent back. want
// holds the replies expected after each op (from ReferenceReplies): before
// a reconnect Play waits for the replies so far, because qemu-ga 7.2 exits
// when a client closes with replies unread, and at the end it waits for all
// of them. The comparison is left to the caller. want must have one entry
// per op of st, and s.Dial must be set; otherwise Play fails before
// sending anything.
func (s *Session) Play(st Stream, want [][]byte) ([]byte, error) {
	if s.Dial == nil {
		return nil, errors.New("qgatest: Session.Dial is nil")
	}
	if len(want) != len(st.Ops) {
		return nil, fmt.Errorf("qgatest: Session.Play: %d expected replies for %d ops", len(want), len(st.Ops))
	}
	s.mu.Lock()
	s.got = s.got[:0]
	s.mu.Unlock()
	if s.conn == nil {
		if err := s.open(); err != nil {
			return nil, err
		}
	}
	expect := 0
	var err error
	for i, op := range st.Ops {
		if op.Reconnect {
			if err = s.waitFor(expect); err != nil {
				break
			}
			s.closeConn()
			if err = s.open(); err != nil {
				break
			}
			continue
		}
		s.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
		if _, err = s.conn.Write(op.Data); err != nil {
			break
		}
		expect += len(want[i])
	}
	if err == nil {
		err = s.waitFor(expect)
	}
	s.mu.Lock()
	got := bytes.Clone(s.got)
	s.mu.Unlock()
	if err != nil {
		s.Close()
	}
	return got, err
}

// DialRetry calls dial until it succeeds, retrying while the listener's
// backlog is full (EAGAIN: qemu-ga has a backlog of one and accepts the next
// client only after it noticed that the previous one left), for up to
// timeout.
func DialRetry(dial func() (net.Conn, error), timeout time.Duration) (net.Conn, error) {
	deadline := time.Now().Add(timeout)
	for wait := 100 * time.Microsecond; ; wait = min(2*wait, 20*time.Millisecond) {
		c, err := dial()
		if err == nil || !errors.Is(err, syscall.EAGAIN) || time.Now().After(deadline) {
			return c, err
		}
		time.Sleep(wait)
	}
}

// Close closes the connection (after a short drain, so that a live qemu-ga
// does not see unread replies).
func (s *Session) Close() {
	if s.conn == nil {
		return
	}
	s.conn.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	time.Sleep(20 * time.Millisecond)
	s.closeConn()
}
