package qga

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"

	"github.com/qgafuzz/qgafuzz/qjson"
)

// This file converts between Go values and the wire: requests are encoded
// so that qemu-ga always parses them as an object (and therefore always
// echoes their id), and reply lines are parsed with qemu-ga's own parser
// under limits derived from MaxReplySize, so a hostile reply costs bounded
// memory and time and never recurses deeper than 1024 levels.

// parseLine parses one reply line (without its '\n') as exactly one JSON
// value. off is the stream offset of line[0].
func (c *Client) parseLine(line []byte, off int64) (qjson.Value, error) {
	d := c.dec
	d.Reset()
	var ev qjson.Event
	got := false
	// The '\n' that ended the line is fed too: it releases a trailing
	// number or keyword, which qemu-ga's lexer completes only on look-ahead.
	for _, p := range [2][]byte{line, {'\n'}} {
		for len(p) > 0 && (ev.Err == nil) {
			n, ok := d.Feed(p)
			p = p[n:]
			if !ok {
				continue
			}
			if got {
				return qjson.Value{}, protocolError(off, line, int(d.Event().Offset), "more than one JSON value on one reply line")
			}
			ev, got = d.Event(), true
		}
	}
	switch {
	case !got && !d.Pending():
		return qjson.Value{}, protocolError(off, line, 0, "empty reply line")
	case !got || (ev.Err == nil && d.Pending()):
		return qjson.Value{}, protocolError(off, line, len(line), "incomplete JSON value at the end of the reply line")
	}
	if e := ev.Err; e != nil {
		if e.Kind == qjson.LimitError && e.Desc != "JSON nesting depth limit exceeded" {
			lim := d.Limits()
			if e.Desc == "JSON token count limit exceeded" {
				return qjson.Value{}, &ReplyTooLargeError{Limit: int64(lim.MaxTokenCount), Tokens: true, Offset: off}
			}
			return qjson.Value{}, &ReplyTooLargeError{Limit: int64(lim.MaxTokenSize - 1), Offset: off}
		}
		return qjson.Value{}, protocolError(off, line, int(e.Offset), "invalid JSON: %s", strconv.QuoteToASCII(cut(e.Desc, maxDescQuoted)))
	}
	return ev.Value, nil
}

// replyResult turns a reply object into its "return" value or an
// *AgentError.
func replyResult(v qjson.Value, line []byte, off int64) (qjson.Value, error) {
	if v.Kind() != qjson.Object {
		return qjson.Value{}, protocolError(off, line, 0, "reply is a JSON %s, not an object", v.Kind())
	}
	r, hasRet := v.Get("return")
	e, hasErr := v.Get("error")
	switch {
	case hasRet && !hasErr:
		return r, nil
	case hasErr && !hasRet:
		class, ok1 := e.Get("class")
		desc, ok2 := e.Get("desc")
		cs, ok3 := class.Str()
		ds, ok4 := desc.Str()
		if !ok1 || !ok2 || !ok3 || !ok4 {
			return qjson.Value{}, protocolError(off, line, 0, "error reply without string class and desc")
		}
		return qjson.Value{}, &AgentError{Class: cs, Desc: ds}
	}
	if hasRet {
		return qjson.Value{}, protocolError(off, line, 0, "reply has both \"return\" and \"error\"")
	}
	return qjson.Value{}, protocolError(off, line, 0, "reply has neither \"return\" nor \"error\"")
}

// appendRequest appends {"execute":command[,"arguments":args][,"id":id]}\n.
func appendRequest(dst []byte, command string, args []byte, id int64, withID bool) []byte {
	dst = append(dst, `{"execute":`...)
	dst = qjson.AppendString(dst, command)
	if args != nil {
		dst = append(dst, `,"arguments":`...)
		dst = append(dst, args...)
	}
	if withID {
		dst = append(dst, `,"id":`...)
		dst = strconv.AppendInt(dst, id, 10)
	}
	return append(dst, "}\n"...)
}

// encodeArgs returns the arguments object as text qemu-ga parses, or nil
// for none. The value is checked against qemu-ga's input limits (with room
// for the request around it), because a request the agent cannot parse
// gets an error reply without the id, which the client could not match.
func encodeArgs(args any) ([]byte, error) {
	var v qjson.Value
	switch a := args.(type) {
	case nil:
		return nil, nil
	case qjson.Value:
		v = a
	case []byte:
		p, err := parseArgs(a)
		if err != nil {
			return nil, err
		}
		v = p
	case json.RawMessage:
		return encodeArgs([]byte(a))
	default:
		b, err := json.Marshal(a)
		if err != nil {
			return nil, fmt.Errorf("%w: arguments: %v", ErrInvalidRequest, err)
		}
		return encodeArgs(b)
	}
	switch v.Kind() {
	case qjson.Null:
		return nil, nil
	case qjson.Object:
	default:
		return nil, fmt.Errorf("%w: arguments must be a JSON object, not %s", ErrInvalidRequest, v.Kind())
	}
	const room = 16 // tokens and levels of the request around the arguments
	lim := qjson.DefaultLimits
	tokens, err := checkArgs(v, 2, lim.MaxDepth)
	if err != nil {
		return nil, err
	}
	out := qjson.AppendValue(nil, v)
	if tokens+room > lim.MaxTokenCount || len(out)+1024 > lim.MaxTokenSize {
		return nil, fmt.Errorf("%w: arguments exceed qemu-ga's input limits (%d tokens, %d bytes)", ErrInvalidRequest, tokens, len(out))
	}
	return out, nil
}

func parseArgs(b []byte) (qjson.Value, error) {
	d := qjson.NewDecoder()
	var ev qjson.Event
	n, ok := d.Feed(b)
	if !ok {
		_, ok = d.Feed([]byte{'\n'})
		n = len(b)
	}
	if ok {
		ev = d.Event()
	}
	rest := b[min(n, len(b)):]
	if !ok || ev.Err != nil || len(trimSpace(rest)) > 0 {
		why := "not one complete JSON value"
		if ev.Err != nil {
			why = ev.Err.Desc
		}
		return qjson.Value{}, fmt.Errorf("%w: arguments: %s", ErrInvalidRequest, strconv.QuoteToASCII(why))
	}
	return ev.Value, nil
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\n' || b[0] == '\r') {
		b = b[1:]
	}
	return b
}

// checkArgs counts the tokens of v and rejects what qemu-ga would not
// parse back to the same value: nesting beyond its depth limit and
// non-finite numbers (serialised as inf/nan, which are not JSON).
func checkArgs(v qjson.Value, depth, maxDepth int) (int, error) {
	switch v.Kind() {
	case qjson.Float:
		if f, _ := v.Float(); math.IsInf(f, 0) || math.IsNaN(f) {
			return 0, fmt.Errorf("%w: arguments hold a non-finite number", ErrInvalidRequest)
		}
	case qjson.Array, qjson.Object:
		if depth > maxDepth {
			return 0, fmt.Errorf("%w: arguments nest deeper than qemu-ga's limit of %d", ErrInvalidRequest, maxDepth)
		}
		if v.Kind() == qjson.Object {
			if key, dup := duplicateKey(v.Members()); dup {
				// qemu-ga would refuse the request without its id, and
				// the call could not tell that answer from a stale one.
				return 0, fmt.Errorf("%w: arguments hold the key %q twice", ErrInvalidRequest, key)
			}
		}
		n := 2 + max(v.Len()-1, 0) // brackets and commas
		for i := range v.Len() {
			var elem qjson.Value
			if v.Kind() == qjson.Object {
				elem = v.Members()[i].Value
				n += 2 // key and colon
			} else {
				elem = v.Index(i)
			}
			k, err := checkArgs(elem, depth+1, maxDepth)
			if err != nil {
				return 0, err
			}
			n += k
		}
		return n, nil
	}
	return 1, nil
}

// duplicateKey returns a key that two members share, if any: a Value built
// by hand (qjson.ObjectValue) is not checked as a parsed one is.
func duplicateKey(members []qjson.Member) (string, bool) {
	if len(members) < 16 {
		for i := range members {
			for j := range i {
				if members[i].Key == members[j].Key {
					return members[i].Key, true
				}
			}
		}
		return "", false
	}
	seen := make(map[string]bool, len(members))
	for _, m := range members {
		if seen[m.Key] {
			return m.Key, true
		}
		seen[m.Key] = true
	}
	return "", false
}

// maxDescQuoted is the most of a parser error's description a
// ProtocolError quotes: the description holds the offending token, which
// a hostile reply can make as long as MaxReplySize, and quoting can make
// each of its bytes four.
const maxDescQuoted = 256

// cut returns s, or its first n bytes and "...".
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// checkResult refuses, before anything is sent, a result that cannot hold
// a value: anything but nil or a non-nil pointer (as json.Unmarshal does).
func checkResult(command string, result any) error {
	if result == nil {
		return nil
	}
	if rv := reflect.ValueOf(result); rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("%w: the result for %s must be nil or a non-nil pointer, not %T", ErrInvalidRequest, command, result)
	}
	return nil
}

// decodeResult stores a "return" value in result (see Execute), which
// checkResult accepted.
func decodeResult(command string, v qjson.Value, result any) error {
	switch r := result.(type) {
	case nil:
		return nil
	case *qjson.Value:
		*r = v
		return nil
	case *[]byte:
		*r = qjson.AppendValue(nil, v)
		return nil
	case *json.RawMessage:
		*r = qjson.AppendValue(nil, v)
		return nil
	}
	if err := json.Unmarshal(qjson.AppendValue(nil, v), result); err != nil {
		return fmt.Errorf("qga: decoding the reply to %s: %w", command, err)
	}
	return nil
}
