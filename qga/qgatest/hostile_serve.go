package qgatest

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// This file plays a HostileAgent on real connections. Reading and writing
// run in two goroutines so that a paced or flooding writer never stops the
// agent from reading (a client's request is always consumed), and so that
// stale data queued at connect cannot deadlock an unbuffered net.Pipe.

// hostileServer is the serving state of a HostileAgent.
type hostileServer struct {
	mu     sync.Mutex
	conn   net.Conn // the client being served
	stop   chan struct{}
	closed bool
}

func newHostileServer() hostileServer { return hostileServer{stop: make(chan struct{})} }

// errHangup ends a connection the agent closed on purpose.
var errHangup = errors.New("qgatest: hostile agent hung up")

// Serve serves clients one at a time, like qemu-ga in unix-listen mode,
// until the listener or the agent is closed.
func (h *HostileAgent) Serve(l net.Listener) error {
	for {
		c, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || h.isClosed() {
				return nil
			}
			return err
		}
		_ = h.ServeConn(c)
	}
}

// ServeConn serves one client until it closes its side, the agent hangs up
// (HostileEOFMidReply) or Close is called. It closes c.
func (h *HostileAgent) ServeConn(c net.Conn) error {
	h.srv.mu.Lock()
	if h.srv.closed {
		h.srv.mu.Unlock()
		return c.Close()
	}
	h.srv.conn = c
	h.srv.mu.Unlock()
	defer func() {
		h.srv.mu.Lock()
		h.srv.conn = nil
		h.srv.mu.Unlock()
	}()

	outs := make(chan []Output, 64)
	werr := make(chan error, 1)
	go func() { werr <- h.writeLoop(c, outs) }()
	if o := h.Connect(); len(o) > 0 {
		outs <- o
	}
	buf := make([]byte, 4096) // qemu-ga's read size
	var rerr error
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if o := h.Feed(buf[:n]); len(o) > 0 {
				outs <- o
			}
		}
		if err != nil {
			rerr = err
			break
		}
	}
	close(outs)
	err := <-werr
	c.Close()
	if err != nil {
		return err
	}
	return rerr
}

// writeLoop plays outputs until the channel is closed. After a failed
// write or a hangup it keeps consuming outputs without writing, so the
// reader never blocks on it.
func (h *HostileAgent) writeLoop(c net.Conn, outs <-chan []Output) error {
	var failed error
	var fill []byte
	for batch := range outs {
		for _, o := range batch {
			if failed != nil {
				continue
			}
			if o.Delay > 0 && !h.sleep(o.Delay) {
				failed = net.ErrClosed
				continue
			}
			if _, err := c.Write(o.Data); err != nil {
				failed = err
				continue
			}
			for left := o.FillLen; left > 0 && failed == nil; {
				if fill == nil || fill[0] != o.Fill {
					fill = make([]byte, 64<<10)
					for i := range fill {
						fill[i] = o.Fill
					}
				}
				n, err := c.Write(fill[:min(left, int64(len(fill)))])
				left -= int64(n)
				failed = err
			}
			if o.Hangup && failed == nil {
				failed = errHangup
				c.Close()
			}
		}
	}
	if failed == errHangup {
		return nil
	}
	return failed
}

// sleep waits d, or returns false when the agent is closed first.
func (h *HostileAgent) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-h.srv.stop:
		return false
	}
}

func (h *HostileAgent) isClosed() bool {
	h.srv.mu.Lock()
	defer h.srv.mu.Unlock()
	return h.srv.closed
}

// Close stops serving: the current connection is closed and pending
// pauses end. Close the listener too to end Serve.
func (h *HostileAgent) Close() error {
	h.srv.mu.Lock()
	defer h.srv.mu.Unlock()
	if !h.srv.closed {
		h.srv.closed = true
		close(h.srv.stop)
	}
	if h.srv.conn != nil {
		h.srv.conn.Close()
	}
	return nil
}

// ServeHostile starts a HostileAgent on a unix socket in a fresh short
// temporary directory and returns its client address ("unix:PATH"). The
// agent and the socket are closed when the test ends.
func ServeHostile(tb testing.TB, mode HostileMode, cfg HostileConfig) (string, *HostileAgent) {
	tb.Helper()
	dir, err := os.MkdirTemp("", "qgah")
	if err != nil {
		tb.Fatal(err)
	}
	path := filepath.Join(dir, "agent.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		os.RemoveAll(dir)
		tb.Fatal(err)
	}
	h := NewHostileAgent(mode, cfg)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = h.Serve(l)
	}()
	tb.Cleanup(func() {
		h.Close()
		l.Close()
		<-done
		os.RemoveAll(dir)
	})
	return "unix:" + path, h
}
