package qga

import (
	"cmp"
	"context"
	crand "crypto/rand"
	"math"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/qgafuzz/qgafuzz/qjson"
)

// This file is the host client's public face: constructors, the request
// cycle and Close (its options are in client_options.go, the steps of a
// call in client_call.go). The client never returns a reply that belongs to
// another request: whenever it does not know where the channel stands
// (first use, after a timeout, a protocol error or a reconnect) it
// resynchronises with guest-sync-delimited before sending, and every
// request carries a fresh "id" that the reply must echo.
//
// The Client reads no clock or randomness except through ClientOptions, and
// spawns no goroutine except, on a net.Conn or *os.File transport, one to
// interrupt a blocked read when a call's context is cancelled (Close
// interrupts a call from its caller's goroutine); so a simulator that
// supplies a virtual Transport, a virtual clock and a seeded PRNG gets
// bit-for-bit reproducible behaviour.

// Client is a careful host end of a guest-agent channel. It is safe for
// concurrent use; calls are serialised, and a caller waiting for its turn
// gives up when its context is done. Close may be called from any
// goroutine at any time: it ends the call in progress (see Close).
//
// Create one with NewClient or DialClient. The zero Client has no
// transport: its calls fail with ErrClosed, Synced reports false, and
// Stats and Close do nothing.
type Client struct {
	opts   ClientOptions
	resync Resync // opts.Resync, or ResyncFlushPlain after a fallback
	sem    chan struct{}
	t      Transport
	tmu    sync.Mutex // guards t between the call's goroutine and an interrupt (interruptOn)
	rand   rand.Source
	dec    *qjson.Decoder
	in     inbuf
	line   []byte
	wbuf   []byte

	synced bool // the channel is known to be in step
	broken bool // the transport failed; redial or ErrClosed
	closed bool // Close has run (under sem)
	tdead  bool // t was closed by a redial that failed: Close must not close it again
	recent [16]int64
	nrec   int
	rdl    time.Time // read deadline last set on t
	wdl    time.Time
	stats  ClientStats

	// closing is set by Close before it waits for the call in progress;
	// the call sees it between steps (checkTime) and gives up.
	closing atomic.Bool
}

// NewClient returns a Client over t. It sends nothing until the first
// call, which resynchronises first.
//
// t may be nil: with opts.Reconnect and opts.Redial set, the first call
// dials; otherwise calls fail with ErrClosed.
func NewClient(t Transport, opts ClientOptions) *Client {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.MaxReplySize <= 0 {
		opts.MaxReplySize = DefaultMaxReplySize
	}
	// Beyond MaxInt/4 is unlimited in practice, and MaxReplySize+1 must
	// not overflow.
	opts.MaxReplySize = min(max(opts.MaxReplySize, MinReplySize), math.MaxInt/4)
	if opts.MaxDiscard <= 0 {
		opts.MaxDiscard = DefaultMaxDiscard
	}
	opts.MaxDiscard = max(opts.MaxDiscard, MinDiscard)
	if opts.DrainTimeout <= 0 {
		opts.DrainTimeout = DefaultDrainTimeout
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Resync > ResyncNone {
		// An unknown strategy would sync one way and match replies
		// another; the careful default is the only safe reading.
		opts.Resync = ResyncDelimited
	}
	src := opts.Rand
	if src == nil {
		var seed [32]byte
		_, _ = crand.Read(seed[:]) // never fails on supported platforms
		src = rand.NewChaCha8(seed)
	}
	lim := qjson.Limits{
		MaxTokenSize:  opts.MaxReplySize + 1,
		MaxTokenCount: min(max(opts.MaxReplySize/64, 4096), qjson.DefaultLimits.MaxTokenCount),
		MaxDepth:      qjson.DefaultLimits.MaxDepth,
	}
	return &Client{
		opts:   opts,
		resync: opts.Resync,
		sem:    make(chan struct{}, 1),
		t:      t,
		rand:   src,
		dec:    qjson.NewDecoder(qjson.WithLimits(lim)),
		in:     inbuf{buf: make([]byte, readBufSize)},
		// Without a transport the Client starts as after a failed
		// redial: the next call redials, if it may, and nothing is
		// closed.
		broken: t == nil,
		tdead:  t == nil,
	}
}

// DialClient connects to addr (unix:PATH, tcp:HOST:PORT or file:PATH, see
// DialTransport) and returns a Client that redials the same address when
// opts.Reconnect is set and opts.Redial is nil.
func DialClient(ctx context.Context, addr string, opts ClientOptions) (*Client, error) {
	t, err := DialTransport(ctx, addr)
	if err != nil {
		return nil, err
	}
	if opts.Redial == nil {
		timeout := cmp.Or(max(opts.Timeout, 0), DefaultTimeout) // as NewClient reads it
		opts.Redial = func(ctx context.Context) (Transport, error) {
			// Bounded here, on the real network only: the Client itself
			// uses no timers, so that simulations can supply their own.
			ctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			return DialTransport(ctx, addr)
		}
	}
	return NewClient(t, opts), nil
}

// Execute runs command with args and stores its "return" value in result.
//
// args may be nil (no arguments), a qjson.Value object, JSON text as []byte
// or json.RawMessage (parsed with qemu-ga's own parser), or any value that
// encoding/json marshals to an object. result may be nil (discard),
// *qjson.Value, *[]byte or *json.RawMessage (the value in qemu-ga's
// serialisation), or anything encoding/json unmarshals into.
//
// Errors: *AgentError when the agent answered with an error, or one
// matching ErrTimeout, ErrClosed, ErrProtocol, ErrReplyTooLarge or
// ErrInvalidRequest (also for a result that is not nil or a non-nil
// pointer), or context.Canceled when ctx is cancelled (the call ends at
// once on a net.Conn or *os.File transport, else before its next read;
// the next call resynchronises), or ErrClosed when Close is called during
// the call (ended the same way; see Close), or encoding/json's error when
// the reply does not fit result (the channel stays in step). Commands
// that send no reply on success (guest-shutdown, guest-suspend-*) end in
// ErrTimeout.
func (c *Client) Execute(ctx context.Context, command string, args, result any) error {
	if err := checkResult(command, result); err != nil {
		return err
	}
	argText, err := encodeArgs(args)
	if err != nil {
		return err
	}
	if err := c.acquire(ctx); err != nil {
		return err
	}
	defer c.release()
	defer c.interruptOn(ctx)()
	v, err := c.call(ctx, command, argText)
	if err != nil {
		return err
	}
	return decodeResult(command, v, result)
}

// Sync resynchronises now, whatever the channel state.
func (c *Client) Sync(ctx context.Context) error {
	if err := c.acquire(ctx); err != nil {
		return err
	}
	defer c.release()
	defer c.interruptOn(ctx)()
	if c.closed || c.closing.Load() {
		return closedError("sync", errClientClosed)
	}
	c.synced = false
	return c.prepare(ctx, c.deadline(ctx))
}

// Synced reports whether the channel is known to be in step, i.e. the next
// call will not resynchronise first. It is false once Close was called.
func (c *Client) Synced() bool {
	if c.sem == nil { // the zero Client
		return false
	}
	c.sem <- struct{}{}
	defer c.release()
	return c.synced && !c.closed && !c.closing.Load()
}

// Stats returns counters of the Client's activity. Like Synced, it waits
// for a call in progress.
func (c *Client) Stats() ClientStats {
	if c.sem == nil {
		return ClientStats{}
	}
	c.sem <- struct{}{}
	defer c.release()
	return c.stats
}

// Close ends the call in progress, if any, then drains and closes the
// transport. It may be called from any goroutine, any number of times
// (later calls return nil); afterwards every call fails with ErrClosed.
//
// A call in progress ends with an error matching ErrClosed: at once on a
// net.Conn or *os.File transport (Close moves its deadlines to the past,
// as a cancelled context does), and on other transports, whose blocked
// Read or Write cannot be interrupted, before its next read or write (so
// there, as before, a call the agent never answers holds Close until the
// call's deadline, unless its context is cancelled). A reply not read in
// full is never reported as a success. A redial in progress
// (ClientOptions.Redial) is not interrupted either: it ends with the
// call's context.
//
// Draining matters: qemu-ga 7.2 exits when a client closes a connection
// with replies unread, for instance the reply to the call Close just
// interrupted. So once the call has let go, Close shuts down the write
// side when the transport allows it (the agent then answers what it has
// and closes), and reads until EOF, DrainTimeout or MaxDiscard bytes.
// Transports without deadlines, and transports that already failed, are
// closed without draining.
func (c *Client) Close() error {
	if c.sem == nil {
		return nil
	}
	c.interruptForClose()
	c.sem <- struct{}{}
	defer c.release()
	if c.closed {
		return nil
	}
	c.closed = true
	// The interrupt left both deadlines in the past: drain sets its own.
	c.rdl, c.wdl = time.Time{}, time.Time{}
	if c.tdead {
		return nil // closed already; closing again would report a spurious error
	}
	if !c.broken {
		c.drain()
	}
	return c.t.Close()
}

// interruptForClose marks the Client closing and wakes a Read or Write of
// the call in progress by moving the transport's deadlines to the past,
// as interruptOn does for a cancelled context. Only the first Close does
// it, so that a second one cannot cut short the first one's drain. The
// call sees closing in checkTime after setting its own deadline, so
// either it stops there or its deadline is overwritten by this one. With
// no call in progress the past deadlines are harmless: Close resets them.
func (c *Client) interruptForClose() {
	c.tmu.Lock()
	defer c.tmu.Unlock()
	if c.closing.Swap(true) || c.t == nil || !interruptible(c.t) {
		return
	}
	past := time.Unix(1, 0)
	_ = c.t.SetReadDeadline(past)
	_ = c.t.SetWriteDeadline(past)
}

func (c *Client) acquire(ctx context.Context) error {
	if c.sem == nil {
		// The zero Client: sending on its nil semaphore would block
		// for ever.
		return closedError("sending", errNoTransport)
	}
	select {
	case c.sem <- struct{}{}:
		return nil
	default:
	}
	select {
	case c.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctxError("waiting for another call", ctx.Err())
	}
}

func (c *Client) release() { <-c.sem }

// interruptible reports whether t's deadlines may be set from another
// goroutine while it is read.
func interruptible(t Transport) bool {
	switch t.(type) {
	case net.Conn, *os.File:
		return true
	}
	return false
}

// interruptOn makes a cancelled ctx end the call at once, not at its
// deadline: it moves the transport's deadlines to the past, which wakes a
// blocked Read or Write; the call then reports ctx's error. Only net.Conn
// and *os.File promise that deadlines may be set from another goroutine,
// so other transports are checked between reads only, as before. No
// goroutine runs unless ctx is cancelled. The returned function, called
// when the call ends, waits for an interrupt in progress and makes the
// next call set its deadlines again.
func (c *Client) interruptOn(ctx context.Context) (stop func()) {
	// A redial during the call may bring an interruptible transport (the
	// first one, when the Client was made without one).
	mayRedial := c.opts.Reconnect && c.opts.Redial != nil
	if ctx.Done() == nil || !interruptible(c.t) && !mayRedial {
		return func() {}
	}
	done := make(chan struct{})
	unregister := context.AfterFunc(ctx, func() {
		defer close(done)
		past := time.Unix(1, 0)
		c.tmu.Lock()
		defer c.tmu.Unlock()
		if !interruptible(c.t) { // a redial brought another kind
			return
		}
		_ = c.t.SetReadDeadline(past)
		_ = c.t.SetWriteDeadline(past)
	})
	return func() {
		if !unregister() {
			<-done
			c.rdl, c.wdl = time.Time{}, time.Time{}
		}
	}
}

// deadline is the context's deadline, else now + Timeout.
func (c *Client) deadline(ctx context.Context) time.Time {
	if d, ok := ctx.Deadline(); ok {
		return d
	}
	return c.opts.Now().Add(c.opts.Timeout)
}
