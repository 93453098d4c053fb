package qgatest

import (
	"bytes"
	"net"
	"testing"
	"time"

	"github.com/qgafuzz/qgafuzz/qga"
)

// A Session given too few expected replies, or no way to dial, fails
// before it sends anything instead of panicking mid-stream.
func TestSessionMisuse(t *testing.T) {
	st := Stream{Ops: []Op{{Data: []byte(`{"execute":"guest-ping"}`)}, {Data: Fence}}}
	var s Session
	if _, err := s.Play(st, ReferenceReplies(qga.AgentConfig{}, st)); err == nil {
		t.Error("Play without Dial succeeded")
	}
	dials := 0
	s = Session{Dial: func() (net.Conn, error) { dials++; return nil, net.ErrClosed }}
	if _, err := s.Play(st, nil); err == nil || dials != 0 {
		t.Errorf("Play with no expected replies: err %v after %d dials", err, dials)
	}
}

// lateConn is a connection whose last reply bytes reach its reader only
// after it was closed, as when a read returns just as the host hangs up.
type lateConn struct {
	net.Conn // nil: only the methods below are used
	replies  chan []byte
	closed   chan struct{}
	late     []byte
	slow     time.Duration // the delay of each reply
}

func newLateConn(late string) *lateConn {
	return &lateConn{replies: make(chan []byte, 16), closed: make(chan struct{}), late: []byte(late)}
}

func (c *lateConn) Write(p []byte) (int, error) {
	r := qga.NewAgent(qga.AgentConfig{}).Feed(nil, p)
	time.AfterFunc(c.slow, func() { c.replies <- r })
	return len(p), nil
}

func (c *lateConn) Read(p []byte) (int, error) {
	select {
	case r := <-c.replies:
		return copy(p, r), nil
	case <-c.closed:
	}
	if c.late != nil {
		time.Sleep(30 * time.Millisecond)
		n := copy(p, c.late)
		c.late = nil
		return n, nil
	}
	return 0, net.ErrClosed
}

func (c *lateConn) Close() error {
	select {
	case <-c.closed:
	default:
		close(c.closed)
	}
	return nil
}

func (c *lateConn) SetReadDeadline(time.Time) error  { return nil }
func (c *lateConn) SetWriteDeadline(time.Time) error { return nil }

// Bytes that a connection's reader delivers after the connection was
// closed belong to the stream that used the connection: they must not show
// up in the output of the stream played next.
func TestSessionLateBytesStayInTheirStream(t *testing.T) {
	ping := []byte(`{"execute":"guest-ping"}`)
	conns := []*lateConn{newLateConn("LATE1"), newLateConn("LATE2"), newLateConn("")}
	conns[2].slow = 100 * time.Millisecond // past the second one's late bytes
	dials := 0
	s := Session{Dial: func() (net.Conn, error) { dials++; return conns[dials-1], nil }}
	first := Stream{Ops: []Op{{Data: ping}, {Reconnect: true}, {Data: ping}}}
	got, err := s.Play(first, ReferenceReplies(qga.AgentConfig{}, first))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(got, []byte("LATE1")) {
		t.Errorf("first stream's output %q lacks the bytes its first connection sent before closing", got)
	}
	s.Close() // the second connection's late bytes arrive here
	second := Stream{Ops: []Op{{Data: ping}}}
	got, err = s.Play(second, ReferenceReplies(qga.AgentConfig{}, second))
	if err != nil {
		t.Fatal(err)
	}
	if want := "{\"return\": {}}\n"; string(got) != want {
		t.Errorf("second stream's output is %q, want %q", got, want)
	}
	s.Close()
}
