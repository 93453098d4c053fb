package sim

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/qgafuzz/qgafuzz/qga"
	"github.com/qgafuzz/qgafuzz/qjson"
)

// This file checks the invariants that concern replies. Safety rests on
// provenance: every byte in flight carries the number of the host write it
// came from, every reply the number of the write whose bytes completed its
// request, and the checker watches the lines the client actually read. A
// value (or agent error) returned by call k must be the content of a line
// the client read that came from the reply to call k's request (its last
// write); a value found only in other replies (to earlier calls, to a
// resynchronisation, to another writer) is a stale or foreign reply passed
// off as fresh. A request corrupted in flight is still the call's own, so
// whatever the agent answers to it is too.

// Invariants.
const (
	InvSafety      = "safety"       // a call returned a reply that was not its own
	InvLiveness    = "liveness"     // after faults stopped, no call succeeded in time
	InvAgentPanic  = "agent-panic"  // the agent panicked
	InvAgentMemory = "agent-memory" // the agent held input beyond its limits
	InvAgentReply  = "agent-reply"  // the agent sent a malformed reply
	InvPanic       = "panic"        // the client or the simulator panicked
	InvDeterminism = "determinism"  // the same seed gave two different traces
)

// Violation is one broken invariant.
type Violation struct {
	Invariant string        `json:"invariant"`
	T         time.Duration `json:"t_ns"`
	Step      int           `json:"step"`
	Call      int32         `json:"call,omitempty"`
	Message   string        `json:"message"`
	// Detail holds a stack trace for panics; it is not part of the trace.
	Detail string `json:"detail,omitempty"`
}

func (v Violation) String() string {
	return fmt.Sprintf("%s at %s (step %d): %s", v.Invariant, fmtDur(v.T), v.Step, v.Message)
}

// maxViolations bounds what one run records.
const maxViolations = 16

func (w *world) violate(inv, msg string) {
	w.tr.add(w.now, "check", inv, nil, msg)
	if len(w.viol) < maxViolations {
		w.viol = append(w.viol, Violation{Invariant: inv, T: w.now, Step: w.step, Call: w.call, Message: msg})
	}
}

// checker assembles the lines the client reads, per session, and keeps
// them with their provenance. Lines are parsed only when a call's result
// is checked, and then only those the call's own replies contributed to.
//
// It keeps only the lines a call can still return (see startCall), so
// that its memory does not grow with the length of a run: at most about
// 2*readWindow bytes of text.
type checker struct {
	dec      *qjson.Decoder
	lines    []seenLine
	fed      int64 // bytes the session's client has read
	window   int64 // readWindow; tests widen it to keep every line
	line     []byte
	lineTags []int32
	body     int // start of the text after the last 0xFF in line, or -1
	bodyTags []int32
	long     bool
}

// seenLine is a line the client read (or the text after a 0xFF in it,
// which careful clients take as the reply), with the calls it came from.
type seenLine struct {
	text []byte
	tags []int32
	end  int64 // checker.fed once its last byte was read
}

// readWindow is how many bytes read before a call began the checker still
// looks at: the lines that ended earlier are forgotten. The client
// consumes its input in order and holds at most its read buffer (32 KiB
// in qga) read and not yet consumed, so a line that ended further back
// was consumed by an earlier call and no call can return it any more;
// twice that leaves a margin. What the checks look for is then always
// kept: a call's own reply is read after its request was written, during
// the call, and the line a returned value came from (which whose names,
// the most recent line with that content) is in the window.
const readWindow = 64 << 10

// The checker's decoder reuses its memory from one line to the next
// (ReuseValues): it parses every reply the agent sends, and building each
// one's members and strings anew was the largest allocation of a run.
// Every value is used up inside parse's callback, before the next Feed.
// (A decoder kept from one run to the next would make the code a run
// executes, and so the coverage of the scenario target, depend on the
// runs before it.)
func newChecker() checker {
	return checker{dec: qjson.NewDecoder(qjson.ReuseValues()), body: -1, window: readWindow}
}

// newSession forgets what the previous client read: a new client starts
// reading afresh, with an empty buffer.
func (c *checker) newSession() {
	c.resetLine()
	clear(c.lines)
	c.lines, c.fed = c.lines[:0], 0
}

// startCall forgets the lines that ended more than readWindow bytes
// before the call begins. They go in bulk, once they are at least half
// of those kept, so that forgetting costs O(1) a line; until then a few
// more are kept, which changes no answer of find (see readWindow).
func (c *checker) startCall() {
	i := sort.Search(len(c.lines), func(i int) bool { return c.lines[i].end >= c.fed-c.window })
	if i == 0 || 2*i < len(c.lines) {
		return
	}
	n := copy(c.lines, c.lines[i:])
	clear(c.lines[n:])
	c.lines = c.lines[:n]
}

func (c *checker) resetLine() {
	c.line, c.lineTags, c.body, c.bodyTags, c.long = c.line[:0], c.lineTags[:0], -1, c.bodyTags[:0], false
}

// maxLine is the longest line the client accepts (its MaxReplySize).
const maxLine = qga.DefaultMaxReplySize

// feed takes bytes the client read, with their provenance.
func (c *checker) feed(data []byte, tag int32) {
	for len(data) > 0 {
		i := indexLineEnd(data)
		part := data
		if i >= 0 {
			part = data[:i+1]
		}
		data = data[len(part):]
		c.fed += int64(len(part))
		c.lineTags = addTag(c.lineTags, tag)
		if c.body >= 0 {
			c.bodyTags = addTag(c.bodyTags, tag)
		}
		if len(c.line)+len(part) > maxLine+2 {
			c.long = true
		} else {
			c.line = append(c.line, part...)
		}
		if i < 0 {
			return
		}
		switch part[len(part)-1] {
		case 0xff:
			c.body, c.bodyTags = len(c.line), c.bodyTags[:0]
		case '\n':
			if !c.long {
				text := c.line[: len(c.line)-1 : len(c.line)-1]
				c.lines = append(c.lines, seenLine{text, slices.Clone(c.lineTags), c.fed})
				if c.body >= 0 {
					c.lines = append(c.lines, seenLine{text[min(c.body, len(text)):], slices.Clone(c.bodyTags), c.fed})
				}
				c.line = nil // text keeps the buffer
			}
			c.resetLine()
		}
	}
}

// indexLineEnd returns the index of the first '\n' or 0xFF in b, or -1.
// bytes.IndexAny(b, "\n\xff") did the same (it also stopped at invalid
// UTF-8, which feed passes over), a rune at a time: it was a tenth of a
// run of the scenario target.
func indexLineEnd(b []byte) int {
	i := bytes.IndexByte(b, '\n')
	head := b
	if i >= 0 {
		head = b[:i]
	}
	if j := bytes.IndexByte(head, 0xff); j >= 0 {
		return j
	}
	return i
}

// addTag adds a write tag to a small set; other tags are not host writes.
func addTag(tags []int32, t int32) []int32 {
	if t <= 0 || slices.Contains(tags, t) {
		return tags
	}
	return append(tags, t)
}

// find reports whether a line the client read with tag among its write
// tags (any line if tag is 0) has content key, and returns one such
// line's first write tag (0 if none). Recent lines are looked at first.
func (c *checker) find(key string, tag int32) (found bool, from int32) {
	for i := len(c.lines) - 1; i >= 0; i-- {
		l := &c.lines[i]
		if tag != 0 && !slices.Contains(l.tags, tag) {
			continue
		}
		if fastMatch(key, l.text) {
			return true, firstTag(l.tags)
		}
		if k, ok := c.replyKey(l.text); ok && k == key {
			if len(l.tags) > 0 {
				return true, l.tags[0]
			}
			return true, 0
		}
	}
	return false, 0
}

func firstTag(tags []int32) int32 {
	if len(tags) > 0 {
		return tags[0]
	}
	return 0
}

// fastMatch recognises, without parsing, the two canonical lines qemu-ga
// writes for a return value: {"return": V} and {"return": V, "id": N}.
// Anything else goes to the parser.
func fastMatch(key string, line []byte) bool {
	const pre, mid = `{"return": `, `, "id": `
	if len(key) == 0 || key[0] != 'R' || !bytes.HasPrefix(line, []byte(pre)) {
		return false
	}
	rest, ok := bytes.CutPrefix(line[len(pre):], []byte(key[1:]))
	if !ok {
		return false
	}
	if string(rest) == "}" {
		return true
	}
	digits, ok := bytes.CutPrefix(rest, []byte(mid))
	if !ok || len(digits) < 2 || digits[len(digits)-1] != '}' {
		return false
	}
	for _, c := range digits[:len(digits)-1] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// parse parses b as exactly one JSON value with qemu-ga's parser and
// reports whether it is one. use is called with the value as soon as it
// is complete (what follows it is fed afterwards), and what it found
// counts only if parse reports true. The value is valid only during the
// call, since the next Feed may reuse its memory.
func (c *checker) parse(b []byte, use func(qjson.Value)) bool {
	d := c.dec
	d.Reset()
	got := false
	for _, p := range [2][]byte{b, {'\n'}} {
		for len(p) > 0 {
			n, ok := d.Feed(p)
			p = p[n:]
			if !ok {
				continue
			}
			if got || d.Event().Err != nil {
				return false
			}
			got = true
			use(d.Event().Value)
		}
	}
	return got && !d.Pending()
}

// replyKey returns the comparable content of a reply line: "R" and the
// return value, or "E", the class, NUL and the desc of an error.
func (c *checker) replyKey(line []byte) (string, bool) {
	var key string
	var keyOK bool
	ok := c.parse(line, func(v qjson.Value) { key, keyOK = valueKey(v) })
	if !ok {
		return "", false
	}
	return key, keyOK
}

// valueKey is replyKey for a parsed line.
func valueKey(v qjson.Value) (string, bool) {
	if v.Kind() != qjson.Object {
		return "", false
	}
	r, hasRet := v.Get("return")
	e, hasErr := v.Get("error")
	switch {
	case hasRet && !hasErr:
		return "R" + string(qjson.AppendValue(nil, r)), true
	case hasErr && !hasRet:
		class, _ := e.Get("class")
		desc, _ := e.Get("desc")
		cs, ok1 := class.Str()
		ds, ok2 := desc.Str()
		return "E" + cs + "\x00" + ds, ok1 && ok2
	}
	return "", false
}

// resultKey is replyKey for what Execute returned; ok is false for errors
// that are not agent replies (timeouts, protocol errors, closed channels).
func resultKey(raw []byte, err error) (string, bool) {
	if err == nil {
		return "R" + string(raw), true
	}
	var ae *qga.AgentError
	if errors.As(err, &ae) {
		return "E" + ae.Class + "\x00" + ae.Desc, true
	}
	return "", false
}

// checkCall checks that what call k returned came from the reply to the
// request call k sent (not to its resynchronisation, not to another call).
func (w *world) checkCall(k int32, raw []byte, err error) {
	key, ok := resultKey(raw, err)
	if !ok {
		return
	}
	if req := w.request(k); req > 0 {
		if found, _ := w.chk.find(key, req); found {
			return
		}
	}
	w.violate(InvSafety, fmt.Sprintf("call #%d (%s) returned %s, which is %s", k, w.callOp(k).describe(), showKey(key), w.whose(key)))
}

// whose names the reply the client read that has content key.
func (w *world) whose(key string) string {
	found, tag := w.chk.find(key, 0)
	switch {
	case !found:
		return "a value that no reply the client read carries"
	case tag <= 0 || tag > w.writes:
		return "the reply to bytes no call wrote (another writer on the channel)"
	}
	j := w.writeCall(tag)
	if j <= 0 || int(j) > len(w.calls) {
		return fmt.Sprintf("the reply to host write %d", tag)
	}
	if tag == w.request(j) {
		return fmt.Sprintf("the reply to call #%d (%s)", j, w.callOp(j).describe())
	}
	return fmt.Sprintf("the reply to a resynchronisation request sent by call #%d", j)
}

func showKey(key string) string {
	if key == "" {
		return "?"
	}
	if key[0] == 'R' {
		return strconv.Quote(string(clip([]byte(key[1:]), 80)))
	}
	class, desc, _ := bytes.Cut([]byte(key[1:]), []byte{0})
	return "error " + string(class) + " " + strconv.Quote(string(clip(desc, 80)))
}

// validateReply checks that b is one well-formed qemu-ga reply line: an
// optional 0xFF (only before a delimited sync's integer return), printable
// ASCII, one JSON object with exactly one of "return" and "error" (with
// string "class" and "desc" and nothing else) and maybe "id", then '\n'.
func (c *checker) validateReply(b []byte) string {
	if len(b) == 0 || b[len(b)-1] != '\n' {
		return "does not end in a newline"
	}
	body := b[:len(b)-1]
	ff := len(body) > 0 && body[0] == qga.Delimiter
	if ff {
		body = body[1:]
	}
	for i, ch := range body {
		if ch < 0x20 || ch > 0x7e {
			return fmt.Sprintf("byte 0x%02x at %d is not printable ASCII", ch, i)
		}
	}
	var msg string
	if !c.parse(body, func(v qjson.Value) { msg = checkReplyValue(v, ff) }) {
		return "is not one JSON object"
	}
	return msg
}

// checkReplyValue is validateReply for a parsed line; ff says it followed
// a 0xFF.
func checkReplyValue(v qjson.Value, ff bool) string {
	if v.Kind() != qjson.Object {
		return "is not one JSON object"
	}
	hasRet, hasErr := false, false
	for _, m := range v.Members() {
		switch m.Key {
		case "return":
			hasRet = true
		case "error":
			hasErr = true
			if m.Value.Kind() != qjson.Object || m.Value.Len() != 2 {
				return "error is not an object of class and desc"
			}
			class, _ := m.Value.Get("class")
			desc, _ := m.Value.Get("desc")
			if _, ok := class.Str(); !ok {
				return "error has no string class"
			}
			if _, ok := desc.Str(); !ok {
				return "error has no string desc"
			}
		case "id":
		default:
			return "unexpected member " + strconv.Quote(m.Key)
		}
	}
	if hasRet == hasErr {
		return "has not exactly one of return and error"
	}
	if ff {
		r, _ := v.Get("return")
		if _, isInt := r.Int(); !isInt {
			return "0xFF prefix on a reply that is not a delimited sync's"
		}
	}
	return ""
}
