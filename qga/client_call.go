package qga

import (
	"context"
	"errors"
	"time"

	"github.com/qgafuzz/qgafuzz/qjson"
)

// This file is one request cycle of the Client, step by step: get in step
// (redialling a failed transport, resynchronising when the state is
// unknown), send, read the matching reply, then update what is known about
// the channel; and the fresh ids that let it tell its own replies apart.

// call is one request cycle: get in step, send, read the matching reply.
func (c *Client) call(ctx context.Context, command string, args []byte) (qjson.Value, error) {
	if c.closed || c.closing.Load() {
		return qjson.Value{}, closedError("sending "+command, errClientClosed)
	}
	if err := ctx.Err(); err != nil {
		return qjson.Value{}, ctxError("sending "+command, err)
	}
	c.stats.Calls++
	dl := c.deadline(ctx)
	if err := c.prepare(ctx, dl); err != nil {
		return qjson.Value{}, err
	}
	id := c.newID()
	careful := c.resync.careful()
	c.wbuf = appendRequest(c.wbuf[:0], command, args, id, careful)
	err := c.write(ctx, dl, c.wbuf, "sending "+command)
	var v qjson.Value
	if err == nil {
		v, err = c.readReply(ctx, dl, command, id, careful)
	}
	c.remember(id) // a late reply to this request is recognised as stale
	c.afterCall(err)
	return v, err
}

// afterCall updates the channel state after a call and releases buffers
// that one large message grew.
func (c *Client) afterCall(err error) {
	if !channelKnown(err) {
		c.synced = false
		// A call that Close interrupted leaves a working transport,
		// which Close drains.
		if errors.Is(err, ErrClosed) && !errors.Is(err, errClientClosed) {
			c.broken = true
		}
	}
	if cap(c.line) > 1<<20 {
		c.line = nil
	}
	if cap(c.wbuf) > 1<<20 {
		c.wbuf = nil
	}
}

// prepare makes the channel usable: redial a failed transport (when
// allowed) and resynchronise when the state is unknown. A transport that
// dies during the sync is redialled once.
func (c *Client) prepare(ctx context.Context, dl time.Time) error {
	redialed := false
	for {
		if c.broken {
			if !c.opts.Reconnect || c.opts.Redial == nil {
				if c.t == nil {
					return closedError("sending", errNoTransport)
				}
				return closedError("sending", errBroken)
			}
			if err := c.redial(ctx); err != nil {
				return err
			}
			redialed = true
		}
		if c.synced {
			return nil
		}
		err := c.sync(ctx, dl)
		if err == nil {
			return nil
		}
		c.afterCall(err)
		if !c.broken || redialed || !c.opts.Reconnect || c.opts.Redial == nil {
			return err
		}
	}
}

func (c *Client) redial(ctx context.Context) error {
	if !c.tdead {
		_ = c.t.Close()
		c.tdead = true
	}
	t, err := c.opts.Redial(ctx)
	if err == nil && t == nil {
		err = errNoRedialTransport
	}
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return ctxError("reconnecting", cerr)
		}
		return closedError("reconnecting", err)
	}
	c.stats.Redials++
	c.tmu.Lock()
	c.t = t
	c.tmu.Unlock()
	c.broken, c.synced, c.tdead = false, false, false
	c.rdl, c.wdl = time.Time{}, time.Time{}
	c.in.reset()
	return nil
}

// newID returns a fresh id in [0, 2^63-1] (spec §7.1: larger values are
// rejected by guest-sync).
func (c *Client) newID() int64 { return int64(c.rand.Uint64() >> 1) }

// remember records an id this client used; replies carrying it later are
// stale and skipped instead of failing the call.
func (c *Client) remember(id int64) {
	c.recent[c.nrec%len(c.recent)] = id
	c.nrec++
}

func (c *Client) isRecent(id int64) bool {
	for i := 0; i < min(c.nrec, len(c.recent)); i++ {
		if c.recent[i] == id {
			return true
		}
	}
	return false
}
