package qga

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/qgafuzz/qgafuzz/qjson"
)

// This file is the heart of the careful host: resynchronisation (spec §7.1)
// and matching a reply to its request. The rule that makes stale replies
// harmless: after a sync, a reply is accepted only if it echoes the
// request's fresh random id; the client's own earlier ids are recognised
// and skipped; anything else means the channel is out of step.

// syncLineMax is the longest line accepted as a sync reply:
// {"return": -9223372036854775808} is 32 bytes; the rest is slack for
// agents that space their output differently.
const syncLineMax = 128

// refusedError is raised when the agent refuses guest-sync-delimited. The
// refusal has been consumed, so that the next sync, which may find an agent
// that was only misread (a corrupted request or reply), starts after it.
type refusedError struct {
	offset int64 // where the refusal's line starts in the stream
}

func (e *refusedError) Error() string {
	return "qga: the agent does not implement guest-sync-delimited"
}

// sync runs the configured strategy.
func (c *Client) sync(ctx context.Context, dl time.Time) error {
	c.stats.Syncs++
	switch c.resync {
	case ResyncNone:
		c.synced = true
		return nil
	case ResyncPlain:
		return c.syncPlain(ctx, dl, false)
	case ResyncFlushPlain:
		return c.syncPlain(ctx, dl, true)
	}
	err := c.syncDelimited(ctx, dl)
	var refused *refusedError
	if !errors.As(err, &refused) {
		return err
	}
	if c.opts.FallbackPlain {
		c.resync = ResyncFlushPlain
		return c.syncPlain(ctx, dl, true)
	}
	return &ProtocolError{Offset: refused.offset, Reason: "the agent answered guest-sync-delimited with CommandNotFound " +
		"(use guest-sync: ClientOptions.FallbackPlain or qgafuzz call --no-delimited)"}
}

// syncDelimited sends 0xFF + guest-sync-delimited and waits for
// 0xFF {"return": id}. Everything before a 0xFF is discarded unread (stale
// replies, the agent's error reply to our own 0xFF); a line after a 0xFF
// that is not our reply (an older sync's, or garbage) is discarded too.
func (c *Client) syncDelimited(ctx context.Context, dl time.Time) error {
	const op = "resynchronising (guest-sync-delimited)"
	id := c.newID()
	c.wbuf = append(c.wbuf[:0], Delimiter)
	c.wbuf = appendSyncRequest(c.wbuf, CmdSyncDelimited, id)
	if err := c.write(ctx, dl, c.wbuf, op); err != nil {
		return err
	}
	d := c.newDiscard()
	var w lineWatch
	for {
		if err := c.skipToDelimiter(ctx, dl, &d, &w, op); err != nil {
			return err
		}
		line, off, res, err := c.nextLine(ctx, dl, syncLineMax, true, &d, op)
		if err != nil {
			return err
		}
		if res == lineOK && c.isSyncReply(line, off, id) {
			c.synced = true
			c.remember(id)
			return nil
		}
		n := len(line)
		if res == lineOK {
			n++ // the '\n' was consumed too
		}
		if err := d.skip(n, op); err != nil {
			return err
		}
	}
}

// syncPlain sends guest-sync (after a 0xFF when flush is set) and reads
// lines until {"return": id}. The naive form (flush false) reads lines as
// they come; the careful form restarts a line at each 0xFF and skips
// over-long lines instead of buffering them.
func (c *Client) syncPlain(ctx context.Context, dl time.Time, flush bool) error {
	const op = "resynchronising (guest-sync)"
	id := c.newID()
	c.wbuf = c.wbuf[:0]
	if flush {
		c.wbuf = append(c.wbuf, Delimiter)
	}
	c.wbuf = appendSyncRequest(c.wbuf, CmdSync, id)
	if err := c.write(ctx, dl, c.wbuf, op); err != nil {
		return err
	}
	d := c.newDiscard()
	limit := c.opts.MaxReplySize
	if flush {
		limit = syncLineMax
	}
	for {
		line, off, res, err := c.nextLine(ctx, dl, limit, flush, &d, op)
		if err != nil {
			return err
		}
		if res == lineTooLong {
			if !flush {
				return &ReplyTooLargeError{Limit: int64(limit), Offset: off}
			}
			if err := d.skip(len(line), op); err != nil {
				return err
			}
			if err := c.skipLine(ctx, dl, &d, op); err != nil {
				return err
			}
			continue
		}
		if c.isSyncReply(line, off, id) {
			c.synced = true
			c.remember(id)
			return nil
		}
		if err := d.skip(len(line)+1, op); err != nil {
			return err
		}
	}
}

// skipLine discards input up to the end of the current line: a '\n', or a
// 0xFF, which starts a new line.
func (c *Client) skipLine(ctx context.Context, dl time.Time, d *discard, op string) error {
	for {
		seg := c.in.pending()
		if i := bytes.IndexAny(seg, "\n\xff"); i >= 0 {
			n := i
			if seg[i] == '\n' {
				n++ // a 0xFF is left for nextLine to see
			}
			c.in.advance(n)
			return d.skip(n, op)
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

// isSyncReply reports whether line is exactly {"return": id}.
func (c *Client) isSyncReply(line []byte, off, id int64) bool {
	if len(bytes.TrimLeft(line, " \t\r")) == 0 {
		// Blank: not parsed, as the error made for it would be garbage
		// for every line of a flood of newlines.
		return false
	}
	v, err := c.parseLine(line, off)
	if err != nil || v.Kind() != qjson.Object || v.Len() != 1 {
		return false
	}
	r, ok := v.Get("return")
	n, isInt := r.Int()
	return ok && isInt && n == id
}

// readReply reads the reply to the request with the given id. Careful
// strategies require the echoed id, skip the client's own stale replies
// (recognised by id) and duplicates of its sync replies, and fail with a
// ProtocolError on anything else. Naive strategies take the next line.
func (c *Client) readReply(ctx context.Context, dl time.Time, command string, id int64, careful bool) (qjson.Value, error) {
	op := "waiting for the reply to " + command
	d := c.newDiscard()
	for {
		line, off, res, err := c.nextLine(ctx, dl, c.opts.MaxReplySize, false, &d, op)
		if err != nil {
			return qjson.Value{}, err
		}
		if res == lineTooLong {
			return qjson.Value{}, &ReplyTooLargeError{Limit: int64(c.opts.MaxReplySize), Offset: off}
		}
		body, boff := line, off
		if careful {
			// Whatever precedes a 0xFF is junk; what follows it is a
			// delimited reply (ours for guest-sync-delimited, or a
			// duplicate of our own sync reply).
			if k := bytes.LastIndexByte(line, Delimiter); k >= 0 {
				body, boff = line[k+1:], off+int64(k)+1
			}
		}
		v, err := c.parseLine(body, boff)
		if err != nil {
			return qjson.Value{}, err
		}
		if !careful {
			return replyResult(v, body, boff)
		}
		rid, hasID := v.Get("id")
		n, intID := rid.Int()
		if hasID && intID && n == id {
			return replyResult(v, body, boff)
		}
		stale := hasID && intID && c.isRecent(n)
		if !hasID && v.Len() == 1 {
			// {"return": n} for an id of ours: a late or duplicated reply
			// to one of our syncs (delimited or not).
			r, _ := v.Get("return")
			sid, ok := r.Int()
			stale = ok && c.isRecent(sid)
		}
		if !stale {
			what := "no id"
			if hasID {
				what = "id " + string(qjson.AppendValue(nil, rid))
			}
			return qjson.Value{}, protocolError(boff, body, 0,
				"reply with %s does not answer this request (id %d): the channel is out of step", what, id)
		}
		c.stats.StaleReplies++
		if err := d.skip(len(line)+1, op); err != nil {
			return qjson.Value{}, err
		}
	}
}

// lineWatch looks at the lines skipped before a 0xFF for the agent's
// CommandNotFound reply to guest-sync-delimited. It keeps only the start of
// the current line, so it costs no memory however long the lines are.
type lineWatch struct {
	buf  [160]byte
	n    int
	long bool
}

func (w *lineWatch) reset() { w.n, w.long = 0, false }

// scan consumes seg and reports whether a completed line was the refusal.
// If so, end is the index in seg just past the refusal's '\n', and length
// the length of its line (which may have begun in an earlier seg); the
// rest of seg is left unscanned.
func (w *lineWatch) scan(seg []byte) (end, length int, refused bool) {
	for end < len(seg) {
		i := bytes.IndexByte(seg[end:], '\n')
		part := seg[end:]
		if i >= 0 {
			part = part[:i]
		}
		if !w.long {
			if w.n+len(part) > len(w.buf) {
				w.long = true
			} else {
				w.n += copy(w.buf[w.n:], part)
			}
		}
		if i < 0 {
			return len(seg), 0, false
		}
		end += i + 1
		if !w.long && isRefusal(w.buf[:w.n]) {
			length = w.n + 1
			w.reset()
			return end, length, true
		}
		w.reset()
	}
	return end, 0, false
}

// isRefusal reports whether line is qemu-ga's CommandNotFound error for
// guest-sync-delimited: unknown, or disabled (newer versions may append
// ": reason" to the latter).
func isRefusal(line []byte) bool {
	if !bytes.Contains(line, []byte(`"class": "CommandNotFound"`)) {
		return false
	}
	if bytes.Contains(line, []byte(`"desc": "The command guest-sync-delimited has not been found"`)) {
		return true
	}
	const disabled = `"desc": "Command guest-sync-delimited has been disabled`
	i := bytes.Index(line, []byte(disabled))
	return i >= 0 && i+len(disabled) < len(line) && (line[i+len(disabled)] == '"' || line[i+len(disabled)] == ':')
}

// appendSyncRequest appends {"execute":name,"arguments":{"id":id}}\n.
func appendSyncRequest(dst []byte, name string, id int64) []byte {
	dst = append(dst, `{"execute":"`...)
	dst = append(dst, name...)
	dst = append(dst, `","arguments":{"id":`...)
	dst = strconv.AppendInt(dst, id, 10)
	return append(dst, "}}\n"...)
}
