package fuzz

import (
	"bytes"
	"strings"

	"github.com/qgafuzz/qgafuzz/qga"
	"github.com/qgafuzz/qgafuzz/qga/qgatest"
	"github.com/qgafuzz/qgafuzz/qjson"
)

// This file classifies a divergence for deduplication: one agent bug hit
// by many inputs should be one signature, and two bugs two. The class is
// the kind of the first difference and the request whose reply it is,
// never ids, numbers or string contents, which change from input to
// input.

// Kinds of the first difference between two reply streams.
const (
	DiffMissing    = "missing-reply"   // the agent did not send a reply the reference sent
	DiffExtra      = "extra-reply"     // the agent sent a reply the reference did not
	DiffErrorKind  = "error-vs-return" // one replied with an error, the other with a return
	DiffErrorClass = "error-class"     // both errors, of different classes
	DiffErrorDesc  = "error-desc"      // both errors of one class, described differently
	DiffShape      = "return-shape"    // both returns, of different structure
	DiffValue      = "return-value"    // both returns, same structure, other values
	DiffFormat     = "formatting"      // same JSON value (or none), different bytes
)

// DivergenceClass classifies the first difference between the reply
// stream of an agent under test (got) and the reference's (ref) to the
// request stream in: "<kind> <request>", where kind is one of the Diff
// constants and request is the command name of the request whose reply
// differs (for an extra reply, "after" the request answered just before
// it). A command the agent does not know is "unknown-command", input that
// is not JSON "parse-error", a JSON value that is no command
// "invalid-request". It returns "" when the streams match.
func DivergenceClass(in qgatest.Stream, ref, got []byte) string {
	if CompareReplies(ref, got) == "" {
		return ""
	}
	rl, gl := splitLines(ref), splitLines(got)
	i := 0
	for i < len(rl) && i < len(gl) && (bytes.Equal(rl[i], gl[i]) || sameInfo(rl[i], gl[i])) {
		i++
	}
	reqs := requestNames(in)
	req := func(k int) string {
		switch {
		case k < 0:
			return "start"
		case k < len(reqs):
			return reqs[k]
		}
		return "unknown-request" // the reference replied more than the model
	}
	after := func(k int) string { return DiffExtra + " after " + req(k-1) }
	switch {
	case i >= len(rl):
		return after(i)
	case i >= len(gl):
		return DiffMissing + " " + req(i)
	}
	// Replies missing or added in the middle shift the rest: a line a
	// few further on one side is then the one the other side holds here.
	for k := 1; k <= maxShift; k++ {
		switch {
		case i+k < len(rl) && bytes.Equal(rl[i+k], gl[i]):
			return DiffMissing + " " + req(i)
		case i+k < len(gl) && bytes.Equal(rl[i], gl[i+k]):
			return after(i)
		}
	}
	return replyDiff(rl[i], gl[i]) + " " + req(i)
}

// maxShift is how many missing or extra replies in a row DivergenceClass
// looks past to tell them from a different reply.
const maxShift = 4

// replyDiff is the kind of difference between two reply lines.
func replyDiff(r, g []byte) string {
	if (len(r) > 0 && r[0] == qga.Delimiter) != (len(g) > 0 && g[0] == qga.Delimiter) {
		return DiffFormat
	}
	rv, rerr := parseLine(r)
	gv, gerr := parseLine(g)
	if rerr != nil || gerr != nil || qjson.Equal(rv, gv) {
		return DiffFormat
	}
	re, rIsErr := rv.Get("error")
	ge, gIsErr := gv.Get("error")
	switch {
	case rIsErr != gIsErr:
		return DiffErrorKind
	case rIsErr:
		rc, _ := re.Get("class")
		gc, _ := ge.Get("class")
		if !qjson.Equal(rc, gc) {
			return DiffErrorClass
		}
		return DiffErrorDesc
	case shape(rv) != shape(gv):
		return DiffShape
	}
	return DiffValue
}

// parseLine parses one reply line without its 0xFF prefix and newline.
func parseLine(b []byte) (qjson.Value, error) {
	b = bytes.TrimPrefix(b, []byte{qga.Delimiter})
	return parseOne(bytes.TrimSuffix(b, []byte("\n")))
}

// shape is the structure of v: kinds and member names, no values.
func shape(v qjson.Value) string {
	var b strings.Builder
	var walk func(v qjson.Value)
	walk = func(v qjson.Value) {
		switch v.Kind() {
		case qjson.Object:
			b.WriteByte('{')
			for _, m := range v.Members() {
				b.WriteString(m.Key)
				b.WriteByte(':')
				walk(m.Value)
				b.WriteByte(',')
			}
			b.WriteByte('}')
		case qjson.Array:
			b.WriteByte('[')
			for k := 0; k < v.Len(); k++ {
				walk(v.Index(k))
				b.WriteByte(',')
			}
			b.WriteByte(']')
		default:
			b.WriteByte(byte('a' + v.Kind()))
		}
	}
	walk(v)
	return b.String()
}

// requestNames names the request of each reply of the faithful reference
// agent to in: the agent answers every parser event with exactly one reply
// line, so the k-th event is the request of the k-th reply.
func requestNames(in qgatest.Stream) []string {
	known := map[string]bool{}
	for _, c := range qga.Commands72() {
		known[c.Name] = true
	}
	d := qjson.NewDecoder(qjson.WithLimits(qjson.DefaultLimits))
	var names []string
	for _, op := range in.Ops {
		for p := op.Data; len(p) > 0; {
			n, ok := d.Feed(p)
			p = p[n:]
			if !ok {
				continue
			}
			ev := d.Event()
			name := "parse-error"
			if ev.Err == nil {
				name = "invalid-request"
				if v, ok := ev.Value.Get("execute"); ok && ev.Value.Kind() == qjson.Object {
					if s, ok := v.Str(); ok {
						name = "unknown-command"
						if known[s] {
							name = s
						}
					}
				}
			}
			names = append(names, name)
		}
	}
	return names
}
