package qga

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"time"
)

// This file is the Client's byte layer: the Transport it talks over, one
// fixed read buffer, reads and writes under deadlines taken from the call's
// context, and the two ways of consuming input (lines of bounded length,
// and skipping to a 0xFF). Memory is bounded by construction: the read
// buffer never grows, and a line is copied out only up to the caller's
// limit.

// Transport is the byte stream a Client talks over. net.Conn satisfies it,
// and so does an *os.File opened on a character device such as a
// virtio-serial port (Go registers such files with its poller, so deadlines
// work; on files that do not support them the Set*Deadline calls fail with
// os.ErrNoDeadline, which the Client tolerates).
//
// The Client calls SetReadDeadline/SetWriteDeadline before every blocking
// call and expects a call that hits the deadline to fail with an error
// matching os.ErrDeadlineExceeded. A simulator implements Transport over
// virtual time to drive the Client deterministically.
type Transport interface {
	io.ReadWriteCloser
	SetReadDeadline(t time.Time) error
	SetWriteDeadline(t time.Time) error
}

// NoDeadlines adapts an io.ReadWriteCloser that has no deadline support.
//
// Limitation: a Read or Write blocked on such a stream cannot be
// interrupted by the Client (it has no deadline to move, and uses no timers),
// so a silent agent blocks a call until the stream delivers data, fails, or
// is closed by someone else. The Client still checks its deadline between
// reads, so an agent that drips bytes slowly cannot keep a call alive past
// its deadline. Prefer a net.Conn or a pollable *os.File.
func NoDeadlines(rwc io.ReadWriteCloser) Transport { return noDeadlines{rwc} }

type noDeadlines struct{ io.ReadWriteCloser }

func (noDeadlines) SetReadDeadline(time.Time) error  { return os.ErrNoDeadline }
func (noDeadlines) SetWriteDeadline(time.Time) error { return os.ErrNoDeadline }

// DialTransport connects to a client address:
//
//	unix:PATH        a unix stream socket (qemu-ga -m unix-listen)
//	tcp:HOST:PORT    a TCP socket
//	file:PATH        a character device opened read-write, e.g.
//	                 file:/dev/virtio-ports/org.qemu.guest_agent.0 on the host
//	                 side of a chardev, or a serial port
//
// A "file:" transport has no connection to redial: the channel is the
// device, and stale bytes from earlier users stay in it, which is exactly
// what the Client's resynchronisation handles.
func DialTransport(ctx context.Context, addr string) (Transport, error) {
	if path, ok := strings.CutPrefix(addr, "file:"); ok {
		if path == "" {
			return nil, fmt.Errorf("qga: address %q: want file:PATH", addr)
		}
		// O_NOCTTY: a tty (a pty, a serial port) must not become the
		// controlling terminal of a process without one (a daemon, a
		// systemd service), or the agent's side hanging up would kill
		// it with SIGHUP. O_NONBLOCK: open must not wait for a serial
		// port's carrier, where no deadline applies yet; the poller
		// wants the descriptor non-blocking anyway.
		f, err := os.OpenFile(path, os.O_RDWR|syscall.O_NOCTTY|syscall.O_NONBLOCK, 0)
		if err != nil {
			return nil, fmt.Errorf("qga: %w", err)
		}
		// Anything else (a regular file, a disk) would have its first
		// bytes overwritten by the resynchronisation.
		if fi, err := f.Stat(); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
			f.Close()
			if err != nil {
				return nil, fmt.Errorf("qga: %w", err)
			}
			return nil, fmt.Errorf("qga: %s is not a character device (file:PATH is for a virtio-serial port or a serial line)", path)
		}
		return f, nil
	}
	network, address, err := ParseAddr(addr)
	if err != nil {
		return nil, fmt.Errorf("%w (or file:PATH)", err)
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, network, address)
	if err != nil {
		return nil, fmt.Errorf("qga: %w", err)
	}
	return c, nil
}

// closeWriter is implemented by *net.UnixConn and *net.TCPConn.
type closeWriter interface{ CloseWrite() error }

// transportError maps an error from the transport to the Client's typed
// errors: a deadline is a timeout, and anything else (EOF, reset, an I/O
// error) means the stream is unusable, which the Client reports as
// ErrClosed with the cause attached.
func transportError(op string, err error) error {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return timeoutError(op, err)
	}
	return closedError(op, err)
}

// ioError maps an error of a Read or Write: ErrClosed when Close is
// under way (interruptForClose moved the deadline to wake it), ctx's error
// when the call was cancelled (interruptOn did), else the transport's.
func (c *Client) ioError(ctx context.Context, op string, err error) error {
	if c.closing.Load() {
		return closedError(op, errClientClosed)
	}
	if cerr := ctx.Err(); cerr != nil {
		return ctxError(op, cerr)
	}
	return transportError(op, err)
}

const (
	readBufSize = 32 << 10
	// maxEmptyReads ends a call on a transport that keeps returning no
	// data and no error (io.Reader allows it; a healthy one does not).
	maxEmptyReads = 100
)

// inbuf holds bytes read but not yet consumed: buf[r:w]. consumed is the
// stream offset of buf[r] on the current transport.
type inbuf struct {
	buf      []byte
	r, w     int
	consumed int64
}

func (in *inbuf) pending() []byte { return in.buf[in.r:in.w] }

func (in *inbuf) advance(n int) {
	in.r += n
	in.consumed += int64(n)
}

func (in *inbuf) reset() { in.r, in.w, in.consumed = 0, 0, 0 }

// checkTime fails when the Client is closing, the context is done or the
// deadline has passed. It runs before every blocking step, so that a
// transport without deadline support, or an agent that drips bytes, cannot
// stretch a call.
func (c *Client) checkTime(ctx context.Context, dl time.Time, op string) error {
	if c.closing.Load() {
		return closedError(op, errClientClosed)
	}
	if err := ctx.Err(); err != nil {
		return ctxError(op, err)
	}
	if !c.opts.Now().Before(dl) {
		return timeoutError(op, os.ErrDeadlineExceeded)
	}
	return nil
}

// setDeadline applies dl through set unless it is already in force. A
// transport without deadline support is tolerated (see NoDeadlines).
func setDeadline(set func(time.Time) error, last *time.Time, dl time.Time, op string) error {
	if dl.Equal(*last) {
		return nil
	}
	if err := set(dl); err != nil && !errors.Is(err, os.ErrNoDeadline) {
		return transportError(op, err)
	}
	*last = dl
	return nil
}

// fill reads once from the transport into the free end of the buffer,
// moving pending bytes to the front when the end is reached.
func (c *Client) fill(ctx context.Context, dl time.Time, op string) error {
	in := &c.in
	if in.r == in.w {
		in.r, in.w = 0, 0
	} else if in.w == len(in.buf) {
		n := copy(in.buf, in.buf[in.r:in.w])
		in.r, in.w = 0, n
	}
	for empty := 0; ; empty++ {
		// The deadline is set before the time check, so that a
		// cancellation (interruptOn) either is seen by the check or
		// moves the deadline after it was set.
		if err := setDeadline(c.t.SetReadDeadline, &c.rdl, dl, op); err != nil {
			return err
		}
		if err := c.checkTime(ctx, dl, op); err != nil {
			return err
		}
		n, err := c.t.Read(in.buf[in.w:])
		in.w += n
		if n > 0 {
			return nil // an error, if lasting, comes back on the next read
		}
		if err != nil {
			return c.ioError(ctx, op, err)
		}
		if empty == maxEmptyReads {
			return closedError(op, io.ErrNoProgress)
		}
	}
}

// write sends all of p under the call's deadline.
func (c *Client) write(ctx context.Context, dl time.Time, p []byte, op string) error {
	for len(p) > 0 {
		if err := setDeadline(c.t.SetWriteDeadline, &c.wdl, dl, op); err != nil {
			return err
		}
		if err := c.checkTime(ctx, dl, op); err != nil {
			return err
		}
		n, err := c.t.Write(p)
		p = p[n:]
		if err != nil {
			return c.ioError(ctx, op, err)
		}
	}
	return nil
}

// discard tracks the bytes one call skips, against MaxDiscard.
type discard struct {
	left int64
	c    *Client
}

func (c *Client) newDiscard() discard { return discard{c.opts.MaxDiscard, c} }

func (d *discard) skip(n int, op string) error {
	d.left -= int64(n)
	d.c.stats.Discarded += int64(n)
	if d.left < 0 {
		return &ProtocolError{Offset: d.c.in.consumed, Excerpt: excerpt(d.c.in.pending(), 0),
			Reason: "skipped more than MaxDiscard bytes while " + op}
	}
	return nil
}

// skipToDelimiter discards input up to and including the next 0xFF. When w
// is not nil it watches the discarded lines for the agent's refusal of
// guest-sync-delimited and, if it sees one, returns a *refusedError with
// the input consumed up to the end of the refusal.
func (c *Client) skipToDelimiter(ctx context.Context, dl time.Time, d *discard, w *lineWatch, op string) error {
	for {
		seg := c.in.pending()
		i := bytes.IndexByte(seg, Delimiter)
		upto := seg
		if i >= 0 {
			upto = seg[:i]
		}
		if w != nil {
			if end, length, refused := w.scan(upto); refused {
				start := c.in.consumed + int64(end-length)
				c.in.advance(end)
				if err := d.skip(end, op); err != nil {
					return err
				}
				return &refusedError{offset: start}
			}
		}
		if i >= 0 {
			c.in.advance(i + 1)
			if w != nil {
				w.reset()
			}
			return d.skip(i+1, op)
		}
		c.in.advance(len(seg))
		if err := d.skip(len(seg), op); err != nil {
			return err
		}
		if err := c.fill(ctx, dl, op); err != nil {
			return err
		}
	}
}

// lineResult says how nextLine ended.
type lineResult uint8

const (
	lineOK      lineResult = iota
	lineTooLong            // longer than the limit; nothing past it consumed
)

// nextLine returns the next line without its '\n' and the stream offset of
// its first byte. The slice is valid until the next read.
//
// With ffStarts, a 0xFF byte discards the line collected so far (counted in
// d) and starts a new one after it, because a 0xFF in the reply stream is
// always a delimiter. A line longer than limit ends in lineTooLong with the
// first limit bytes consumed; the caller decides whether that is an error.
func (c *Client) nextLine(ctx context.Context, dl time.Time, limit int, ffStarts bool, d *discard, op string) ([]byte, int64, lineResult, error) {
	c.line = c.line[:0]
	off := c.in.consumed
	for {
		seg := c.in.pending()
		i := bytes.IndexByte(seg, '\n')
		if ffStarts {
			end := len(seg)
			if i >= 0 {
				end = i
			}
			if k := bytes.LastIndexByte(seg[:end], Delimiter); k >= 0 {
				if err := d.skip(len(c.line)+k+1, op); err != nil {
					return nil, off, lineOK, err
				}
				c.line = c.line[:0]
				c.in.advance(k + 1)
				off = c.in.consumed
				continue
			}
		}
		n := len(seg)
		if i >= 0 {
			n = i
		}
		if len(c.line)+n > limit {
			take := limit - len(c.line)
			c.line = appendCapped(c.line, seg[:take], limit)
			c.in.advance(take)
			return c.line, off, lineTooLong, nil
		}
		if i >= 0 {
			var line []byte
			if len(c.line) == 0 {
				line = seg[:i] // no copy for a line that sits in the buffer
			} else {
				c.line = appendCapped(c.line, seg[:i], limit)
				line = c.line
			}
			c.in.advance(i + 1)
			return line, off, lineOK, nil
		}
		c.line = appendCapped(c.line, seg, limit)
		c.in.advance(len(seg))
		if err := c.fill(ctx, dl, op); err != nil {
			return nil, off, lineOK, err
		}
	}
}

// appendCapped appends p to line, doubling its capacity but never beyond
// limit, so that collecting an n-byte line allocates under 2n bytes in all
// (append's gentler growth for large slices would allocate about 5n).
func appendCapped(line, p []byte, limit int) []byte {
	if need := len(line) + len(p); need > cap(line) {
		grown := make([]byte, len(line), min(max(2*cap(line), need, 512), max(limit, need)))
		copy(grown, line)
		line = grown
	}
	return append(line, p...)
}

// drain reads and discards whatever the agent still sends, so that closing
// does not reset a connection with replies unread (which stops qemu-ga
// 7.2). With a write side that can be shut down, the agent sees EOF,
// answers what it has and closes, so the drain ends at EOF.
func (c *Client) drain() {
	dl := c.opts.Now().Add(c.opts.DrainTimeout)
	if err := c.t.SetReadDeadline(dl); err != nil {
		return // no deadlines: a read could block for ever
	}
	cw, halfClose := c.t.(closeWriter)
	if halfClose {
		halfClose = cw.CloseWrite() == nil
	}
	if !halfClose && c.synced && c.in.r == c.in.w {
		return // in step: nothing is owed to us, and no EOF would come
	}
	left := c.opts.MaxDiscard
	for left > 0 && c.opts.Now().Before(dl) {
		n, err := c.t.Read(c.in.buf)
		left -= int64(n)
		if err != nil {
			break
		}
	}
	c.in.reset()
}
