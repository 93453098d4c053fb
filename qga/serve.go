package qga

import (
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
)

// ErrChannelReset is returned by Server.Serve when a client closed its
// connection with replies unread. qemu-ga 7.2 treats the resulting
// connection reset as a fatal channel error and exits; so does the
// reference server unless SurviveReset is set.
var ErrChannelReset = errors.New("qga: error reading channel: connection reset by client with replies unread (qemu-ga 7.2 exits here)")

// ReadSize is the size of qemu-ga's reads from its channel.
const ReadSize = 4096

// Server serves an Agent on a listener like qemu-ga in unix-listen mode:
// one client at a time (others wait in the listen backlog), parser state
// kept across clients, each reply written as soon as its request completes.
type Server struct {
	Agent *Agent
	// SurviveReset keeps serving after a client resets its connection,
	// instead of stopping as qemu-ga 7.2 does.
	SurviveReset bool
	// OnConnect, if set, is called with each accepted client's address.
	OnConnect func(remote string)
	// OnDisconnect, if set, is called when a client is done, with the
	// reason (nil for a clean EOF).
	OnDisconnect func(remote string, err error)
}

// Serve accepts clients until the listener is closed (then it returns nil)
// or a client resets its connection and SurviveReset is false.
func (s *Server) Serve(l net.Listener) error {
	for {
		c, err := l.Accept()
		if err != nil {
			if isClosed(err) {
				return nil
			}
			return err
		}
		remote := c.RemoteAddr().String()
		if s.OnConnect != nil {
			s.OnConnect(remote)
		}
		err = s.ServeConn(c)
		c.Close()
		if s.OnDisconnect != nil {
			s.OnDisconnect(remote, err)
		}
		if errors.Is(err, ErrChannelReset) && !s.SurviveReset {
			return err
		}
	}
}

// ServeConn serves one client until it closes its side. Replies that cannot
// be written (the client is gone) are lost, as in qemu-ga. It returns nil on
// EOF and ErrChannelReset when the client reset the connection.
func (s *Server) ServeConn(rw io.ReadWriter) error {
	buf := make([]byte, ReadSize)
	writeOK := true
	for {
		n, rerr := rw.Read(buf)
		p := buf[:n]
		if s.Agent.cfg.Bug == BugSplitUTF8 {
			p = trimPartialUTF8(p)
		}
		for len(p) > 0 {
			k, reply := s.Agent.Step(p)
			p = p[k:]
			if reply != nil && writeOK {
				if _, werr := rw.Write(reply); werr != nil {
					writeOK = false // the reply is lost; keep reading what is left
				}
			}
		}
		switch {
		case rerr == nil:
		case rerr == io.EOF:
			return nil
		case errors.Is(rerr, syscall.ECONNRESET):
			return ErrChannelReset
		case isClosed(rerr):
			return nil
		default:
			return fmt.Errorf("qga: reading channel: %w", rerr)
		}
	}
}
