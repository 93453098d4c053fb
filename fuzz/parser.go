package fuzz

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"unsafe"

	"github.com/qgafuzz/qgafuzz/qjson"
)

// The parser target: the input's byte stream goes through qjson in several
// chunkings (the input's own split points, one byte at a time, all at once)
// and in boundary-only mode; the events must be identical in all of them,
// every value must survive serialization and re-parsing, and a decoder with
// small limits must honour them and stay within a memory budget.

func init() {
	register(Target{
		Name: "parser",
		Doc:  "qjson on the input in random chunkings: identical events, values round-trip, limits and memory hold",
		Fn:   fuzzParser,
	})
}

// smallLimits make the limit paths reachable with short inputs.
var smallLimits = qjson.Limits{MaxTokenSize: 200, MaxTokenCount: 40, MaxDepth: 8}

// maxByteAtATime bounds the input fed one byte per Feed call (that run is
// the slowest).
const maxByteAtATime = 64 << 10

// parserMemBudget is the heap allocation allowed for decoding n bytes with
// small limits: a fixed part for the decoder, its first buffers and the
// measurement's slack, and a part proportional to the input for the values
// and errors built (an input of stray closers makes one error per byte).
// A decoder that copies its pending token on every Feed, or buffers beyond
// its limits, exceeds it on inputs of a few KiB.
func parserMemBudget(n int) uint64 { return 1<<20 + 256*uint64(n) }

// parserBufs are the event lists and the one-byte chunking of a run of
// the parser target (see scratch): growing them event by event was a
// third of what the target allocated.
type parserBufs struct {
	ref, alt, small []event
	one             [][]byte
}

var parserScratch scratch[parserBufs]

func fuzzParser(data []byte) error {
	const name = "parser"
	all, cuts := joined(Chunks(data))
	chunked := splitAt(all, cuts)
	bufs := parserScratch.get()
	bufs.ref, bufs.alt, bufs.small, bufs.one = bufs.ref[:0], bufs.alt[:0], bufs.small[:0], bufs.one[:0]
	defer func() {
		// An input of stray closers makes an event per byte.
		events := len(bufs.ref) + len(bufs.alt) + len(bufs.small)
		if events*int(unsafe.Sizeof(event{}))+len(bufs.one)*int(unsafe.Sizeof([]byte(nil))) <= scratchKept {
			parserScratch.put(bufs)
		}
	}()
	one := bytesOf(bufs.one, all, maxByteAtATime)
	bufs.one = one

	ref, err := decodeAll(bufs.ref[:0], chunked, nil, true)
	bufs.ref = ref
	if err != nil {
		return violation(name, "round-trip", "%v", err)
	}
	for _, alt := range []struct {
		what   string
		chunks [][]byte
	}{
		{"all at once", [][]byte{all}},
		{"one byte per Feed", one},
	} {
		if alt.chunks == nil || len(alt.chunks) == len(chunked) {
			continue // not a different chunking
		}
		got, _ := decodeAll(bufs.alt[:0], alt.chunks, nil, false)
		bufs.alt = got
		if d := diffEvents(ref, got); d != "" {
			return violation(name, "chunking-independence", "split at %v vs %s: %s", cuts, alt.what, d)
		}
	}

	// Boundary-only mode finds the same message ends and the same lexical
	// and limit errors; it does not detect parse errors.
	bnd, _ := decodeAll(bufs.alt[:0], chunked, []qjson.Option{qjson.BoundaryOnly()}, false)
	bufs.alt = bnd
	if d := diffBoundaries(ref, bnd); d != "" {
		return violation(name, "boundary-mode", "%s", d)
	}

	// Small limits: the same events in every chunking, every value within
	// the limits, and bounded memory (measured on the decoder alone, fed
	// one byte at a time, its most demanding use).
	lim := []qjson.Option{qjson.WithLimits(smallLimits)}
	if one != nil {
		budget := parserMemBudget(len(all))
		if used := allocatedBy(func() { countEvents(one, lim) }, budget, 3); used > budget {
			return violation(name, "memory", "decoding %d bytes one byte at a time with limits %+v allocated %d bytes (budget %d)",
				len(all), smallLimits, used, budget)
		}
	}
	small, _ := decodeAll(bufs.small[:0], chunked, lim, false)
	bufs.small = small
	if len(chunked) > 1 {
		smallAll, _ := decodeAll(bufs.alt[:0], [][]byte{all}, lim, false)
		bufs.alt = smallAll
		if d := diffEvents(small, smallAll); d != "" {
			return violation(name, "chunking-independence", "limits %+v, split at %v vs all at once: %s", smallLimits, cuts, d)
		}
	}
	for _, e := range small {
		if e.limitErr != "" {
			return violation(name, "limits", "event at offset %d: %s", e.off, e.limitErr)
		}
	}
	return nil
}

// countEvents feeds the chunks to a fresh decoder and only counts events.
func countEvents(chunks [][]byte, opts []qjson.Option) int {
	d := qjson.NewDecoder(opts...)
	n := 0
	for _, c := range chunks {
		for len(c) > 0 {
			k, ok := d.Feed(c)
			c = c[k:]
			if ok {
				n++
			}
		}
	}
	return n
}

// event is one decoder event, recorded exactly.
type event struct {
	off      int64
	err      *qjson.Error // the error, or nil (compared by value)
	sig      string       // exact structure of the value (kinds, bits, key order)
	text     string       // qemu-ga serialization of the value
	limitErr string       // a small-limits violation found in the value
}

func (e event) String() string {
	if e.err != nil {
		return fmt.Sprintf("@%d error %v/%s@%d %q", e.off, e.err.Kind, e.err.Class, e.err.Offset, e.err.Desc)
	}
	if e.text == "" {
		return fmt.Sprintf("@%d value %q", e.off, e.sig)
	}
	return fmt.Sprintf("@%d value %s", e.off, e.text)
}

// decodeAll feeds the chunks to a fresh decoder and appends every event
// to evs. With roundTrip set, it also re-parses each value's serialization
// and returns an error if that does not give back an equal value.
func decodeAll(evs []event, chunks [][]byte, opts []qjson.Option, roundTrip bool) ([]event, error) {
	d := qjson.NewDecoder(opts...)
	for _, c := range chunks {
		for len(c) > 0 {
			n, ok := d.Feed(c)
			c = c[n:]
			if !ok {
				continue
			}
			ev := d.Event()
			e := event{off: ev.Offset}
			if ev.Err != nil {
				e.err = ev.Err
			} else {
				e.sig = string(appendSig(nil, ev.Value))
				e.limitErr = checkLimits(ev.Value, d.Limits())
				if roundTrip {
					e.text = ev.Value.String()
					if err := checkRoundTrip(ev.Value, e.text); err != nil {
						return evs, fmt.Errorf("value at offset %d: %w", ev.Offset, err)
					}
				}
			}
			evs = append(evs, e)
		}
	}
	return evs, nil
}

// checkRoundTrip re-parses the serialization of v. Values holding a
// non-finite double serialize as inf/-inf (not JSON, as in qemu-ga) and are
// only checked to fail.
func checkRoundTrip(v qjson.Value, text string) error {
	d := qjson.NewDecoder()
	in := []byte(text + " ")
	n, ok := d.Feed(in)
	if !v.Finite() {
		return nil
	}
	if !ok {
		return fmt.Errorf("serialization %q gives no value", text)
	}
	ev := d.Event()
	if ev.Err != nil {
		return fmt.Errorf("serialization %q does not re-parse: %v", text, ev.Err)
	}
	if !qjson.Equal(v, ev.Value) {
		return fmt.Errorf("serialization %q re-parses as a different value %s", text, ev.Value)
	}
	if rest := in[n:]; len(bytes.TrimSpace(rest)) != 0 {
		return fmt.Errorf("serialization %q leaves %q after the value", text, rest)
	}
	return nil
}

// appendSig writes v's exact structure: kinds, integer and float bits,
// string bytes and member order.
func appendSig(dst []byte, v qjson.Value) []byte {
	switch v.Kind() {
	case qjson.Null:
		return append(dst, 'n')
	case qjson.Bool:
		return strconv.AppendBool(append(dst, 'b'), v.Bool())
	case qjson.Int:
		i, _ := v.Int()
		return strconv.AppendInt(append(dst, 'i'), i, 10)
	case qjson.Uint:
		u, _ := v.Uint()
		return strconv.AppendUint(append(dst, 'u'), u, 10)
	case qjson.Float:
		f, _ := v.Float()
		return strconv.AppendUint(append(dst, 'f'), math.Float64bits(f), 16)
	case qjson.String:
		s, _ := v.Str()
		dst = strconv.AppendInt(append(dst, 's'), int64(len(s)), 10)
		return append(append(dst, ':'), s...)
	case qjson.Array:
		dst = append(dst, '[')
		for i := 0; i < v.Len(); i++ {
			dst = append(appendSig(dst, v.Index(i)), ',')
		}
		return append(dst, ']')
	case qjson.Object:
		dst = append(dst, '{')
		for _, m := range v.Members() {
			dst = strconv.AppendInt(dst, int64(len(m.Key)), 10)
			dst = append(append(append(dst, ':'), m.Key...), '=')
			dst = append(appendSig(dst, m.Value), ',')
		}
		return append(dst, '}')
	}
	return append(dst, '?')
}

// checkLimits verifies that a parsed value could have passed the limits:
// nesting within MaxDepth, no more values than MaxTokenCount tokens, and
// string text (each token is at least its decoded bytes plus two quotes)
// within MaxTokenSize.
func checkLimits(v qjson.Value, lim qjson.Limits) string {
	var depth, nodes, text int
	var walk func(v qjson.Value, d int)
	walk = func(v qjson.Value, d int) {
		nodes++
		switch v.Kind() {
		case qjson.String:
			s, _ := v.Str()
			text += len(s) + 2
		case qjson.Array, qjson.Object:
			depth = max(depth, d+1)
			nodes++ // the closer is a token too
			for i := 0; i < v.Len(); i++ {
				if v.Kind() == qjson.Object {
					m := v.Members()[i]
					nodes += 2 // key and colon
					text += len(m.Key) + 2
					walk(m.Value, d+1)
				} else {
					walk(v.Index(i), d+1)
				}
			}
		}
	}
	walk(v, 0)
	switch {
	case depth > lim.MaxDepth:
		return fmt.Sprintf("nesting %d exceeds MaxDepth %d", depth, lim.MaxDepth)
	case nodes > lim.MaxTokenCount:
		return fmt.Sprintf("at least %d tokens exceed MaxTokenCount %d", nodes, lim.MaxTokenCount)
	case text >= lim.MaxTokenSize:
		return fmt.Sprintf("at least %d bytes of string tokens reach MaxTokenSize %d", text, lim.MaxTokenSize)
	}
	return ""
}

// diffEvents describes the first difference between two event lists.
func diffEvents(a, b []event) string {
	for i := 0; i < max(len(a), len(b)); i++ {
		switch {
		case i >= len(a):
			return fmt.Sprintf("event %d: none vs %v", i, b[i])
		case i >= len(b):
			return fmt.Sprintf("event %d: %v vs none", i, a[i])
		case a[i].off != b[i].off || !sameErr(a[i].err, b[i].err) || a[i].sig != b[i].sig:
			return fmt.Sprintf("event %d: %v vs %v", i, a[i], b[i])
		}
	}
	return ""
}

// diffBoundaries compares full events with boundary-only events: the same
// offsets, the same lexical and limit errors, and a message wherever a
// value or a parse error was reported.
func diffBoundaries(full, bnd []event) string {
	for i := 0; i < max(len(full), len(bnd)); i++ {
		if i >= len(full) || i >= len(bnd) {
			return fmt.Sprintf("%d events vs %d in boundary mode", len(full), len(bnd))
		}
		f, b := full[i], bnd[i]
		wantErr := f.err
		if wantErr != nil && wantErr.Kind == qjson.ParseError {
			wantErr = nil
		}
		if f.off != b.off || !sameErr(wantErr, b.err) {
			return fmt.Sprintf("event %d: %v vs boundary mode %v", i, f, b)
		}
	}
	return ""
}

func sameErr(a, b *qjson.Error) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// bytesOf appends to dst the one-byte chunks of b, or returns nil when b
// is longer than max. It never returns nil otherwise, even when dst is nil
// and b empty.
func bytesOf(dst [][]byte, b []byte, max int) [][]byte {
	if len(b) > max {
		return nil
	}
	if len(b) == 0 {
		return [][]byte{}
	}
	for i := range b {
		dst = append(dst, b[i:i+1])
	}
	return dst
}
