package qga

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"syscall"
	"time"
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
	Agent *Agent // answers the requests (required)
	// SurviveReset keeps serving after a client resets its connection,
	// instead of stopping as qemu-ga 7.2 does.
	SurviveReset bool
	// OnConnect, if set, is called with each accepted client's address.
	OnConnect func(remote string)
	// OnDisconnect, if set, is called when a client is done, with the
	// reason (nil for a clean EOF).
	OnDisconnect func(remote string, err error)

	mu        sync.Mutex
	listeners map[net.Listener]bool // being served
	conns     map[net.Conn]bool     // clients being served, one per Serve
	closed    bool
}

// errNoAgent is returned by a Server without an Agent.
var errNoAgent = errors.New("qga: Server has no Agent")

// errNilConn is returned by Serve and ServeConn when given nothing to
// serve, which would otherwise panic at the first Accept or Read.
var errNilConn = errors.New("qga: Server: nil listener or connection")

// Serve accepts clients until the listener or the server is closed (then
// it returns nil) or a client resets its connection and SurviveReset is
// false.
//
// Serve may run on several listeners at once, but they then share one
// Agent and one parser state, which only makes sense if one client at a
// time is active across them.
func (s *Server) Serve(l net.Listener) error {
	if s.Agent == nil {
		return errNoAgent
	}
	if l == nil {
		return errNilConn
	}
	if !s.hold(l, nil) {
		return nil
	}
	defer s.release(l, nil)
	var backoff time.Duration
	for {
		c, err := l.Accept()
		if err != nil {
			if isClosed(err) {
				return nil
			}
			if !acceptRetryable(err) {
				return err
			}
			// Out of descriptors or memory for a moment (a fuzzer's
			// other processes, say): an agent that stopped here would
			// look like a crash. Wait and try again, as net/http does.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		if !s.hold(nil, c) {
			return nil
		}
		remote := c.RemoteAddr().String()
		if s.OnConnect != nil {
			s.OnConnect(remote)
		}
		err = s.ServeConn(c)
		s.release(nil, c)
		c.Close()
		if s.OnDisconnect != nil {
			s.OnDisconnect(remote, err)
		}
		if s.stopped() {
			return nil
		}
		if errors.Is(err, ErrChannelReset) && !s.SurviveReset {
			return err
		}
	}
}

// acceptRetryable reports whether an Accept error passes with time: the
// process or the system out of descriptors or memory, or a client that
// gave up while waiting in the backlog.
func acceptRetryable(err error) bool {
	for _, e := range []error{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM, syscall.ECONNABORTED} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// Close stops Serve: it closes the listeners and the connections of the
// clients being served, as qemu-ga leaves its client when it is told to
// stop. It returns nil.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for l := range s.listeners {
		l.Close()
	}
	for c := range s.conns {
		c.Close()
	}
	return nil
}

// hold records a listener or a connection being served, for Close to
// find; if the server is closed already, it closes it and returns false.
func (s *Server) hold(l net.Listener, c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		if l != nil {
			l.Close()
		}
		if c != nil {
			c.Close()
		}
		return false
	}
	if s.listeners == nil {
		s.listeners, s.conns = map[net.Listener]bool{}, map[net.Conn]bool{}
	}
	if l != nil {
		s.listeners[l] = true
	}
	if c != nil {
		s.conns[c] = true
	}
	return true
}

// release forgets a listener or a connection no longer served.
func (s *Server) release(l net.Listener, c net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.listeners, l)
	delete(s.conns, c)
}

func (s *Server) stopped() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// ServeConn serves one client until it closes its side. Replies that cannot
// be written (the client is gone) are lost, as in qemu-ga. It returns nil on
// EOF and ErrChannelReset when the client reset the connection.
func (s *Server) ServeConn(rw io.ReadWriter) error {
	if s.Agent == nil {
		return errNoAgent
	}
	if rw == nil {
		return errNilConn
	}
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
