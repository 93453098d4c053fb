package qgatest

import (
	"net"
	"testing"

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
