package qjson

import (
	"encoding/binary"
	"math/bits"
	"unsafe"
)

// This file is the full-parse hot path: one loop that lexes, streams and
// parses the tokens of well-formed input lying wholly within the chunk. It
// takes only tokens whose outcome it is sure of; at anything else (a token
// the chunk cuts, a top-level scalar, any error, a duplicate key, a limit
// that might trip) it stops before the token and lets the general code in
// lexer.go take that one token. So it needs no error paths of its own, and
// events cannot depend on which path took a token (TestFastPathEdges and
// TestFastPathMatchesGeneralPath compare the two).

// noFastPath turns the hot path off, for tests that compare it with the
// general code.
var noFastPath bool

// fastRoom reports whether no size or count limit can trip within the next
// n bytes, whatever tokens they hold, so that the hot path can skip the
// checks. Depth is still checked at every opener.
func (d *Decoder) fastRoom(n int) bool {
	return d.size+n+1 <= d.lim.MaxTokenSize && d.ntok+n < d.lim.MaxTokenCount
}

// fastTokens runs the hot path from p[i]. It returns the index of the first
// byte it did not take, and whether an event completed there (see Feed).
// The caller must have checked that the Decoder builds values, that the
// parser expects a token (it has neither failed nor finished), and
// fastRoom(len(p)-i).
//
// Each parser state is a label, and a token goes straight to the state
// that follows it, so the loop does not dispatch on the state per token; a
// label stores its state in d.p first, so that any return leaves the
// parser where the general code expects it. Besides p and i, only the
// innermost container (top, lv) lives in locals; counters stay in d, where
// a load or store costs less than the spills that loop-carried locals cause
// around calls. Calls are kept off the common paths for the same reason.
func (d *Decoder) fastTokens(p []byte, i int) (int, bool) {
	pr := &d.p
	var (
		c   byte
		j   int
		v   Value     // a complete value, for push
		top *frame    // the innermost open container
		lv  *[]Member // the block of top's level
	)
	if n := len(pr.frames) - 1; n >= 0 {
		top, lv = &pr.frames[n], &pr.levels[n]
	}
	switch pr.state {
	case psValue:
		goto value
	case psElem:
		goto elem
	case psKey:
		goto key
	case psMember:
		goto member
	case psColon:
		goto colon
	case psSep:
		goto sep
	}
	return i, false

colon:
	pr.state = psColon
	if i = skipSpace(p, i); i == len(p) || p[i] != ':' {
		return i, false
	}
	i++
	d.size++
	d.ntok++
	goto value

sep:
	pr.state = psSep
	if i = skipSpace(p, i); i == len(p) {
		return i, false
	}
	switch c = p[i]; c {
	case ',':
		i++
		d.size++
		d.ntok++
		if top.object {
			goto key
		}
		goto value
	case '}', ']':
		if top.object == (c == '}') {
			goto closer
		}
	}
	return i, false

member:
	pr.state = psMember
	goto anyKey
key:
	pr.state = psKey
anyKey:
	// A key, or in psMember also '}'.
	if i = skipSpace(p, i); i == len(p) {
		return i, false
	}
	switch c = p[i]; {
	case c == '"' || c == '\'':
		goto str
	case c == '}' && pr.state == psMember:
		goto closer
	}
	return i, false

elem:
	pr.state = psElem
	goto anyValue
value:
	pr.state = psValue
anyValue:
	// A value, or in psElem also ']'. A member's key is checked here,
	// before its value: the token is not taken on a duplicate, so that
	// the general code sees the state before it.
	if i = skipSpace(p, i); i == len(p) {
		return i, false
	}
	c = p[i]
	if top == nil { // the message's value: here only a container
		if c == '{' || c == '[' {
			goto open
		}
		return i, false
	}
	// The filter's bit is set only if an earlier key may be the same.
	if top.object && top.keys&keyBit(pr.key) != 0 && isDuplicate(top, (*lv)[top.base:], pr.key) {
		return i, false
	}
	switch startClass[c] {
	case clsQuote:
		goto str
	case clsStruct:
		if c == '{' || c == '[' {
			goto open
		}
		if c == ']' && pr.state == psElem {
			goto closer
		}
		return i, false
	case clsDigit:
		// An integer of up to 18 digits cannot overflow: it is converted
		// as it is scanned. Anything else takes fastNumber.
		u := uint64(c - '0')
		for j = i + 1; j < len(p) && isDigit(p[j]); j++ {
			u = u*10 + uint64(p[j]-'0')
		}
		if j < len(p) && j-i <= 18 && p[j] != '.' && p[j]|0x20 != 'e' {
			v = scalarValue(Int, u)
			goto push
		}
		goto number
	case clsZero, clsMinus:
		goto number
	case clsLower:
		// The keywords are compared a word at a time; the keyword label takes
		// what this does not.
		if i+6 <= len(p) {
			switch binary.LittleEndian.Uint32(p[i:]) {
			case kwTrue:
				v, j = scalarValue(Bool, 1), i+4
			case kwNull:
				v, j = Value{}, i+4
			case kwFals:
				v, j = scalarValue(Bool, 0), i+5
				if p[i+4] != 'e' {
					return i, false
				}
			default:
				return i, false
			}
			if isLower(p[j]) {
				return i, false
			}
			goto push
		}
		goto keyword
	}
	return i, false

number:
	{
		var float, ok bool
		if j, float, ok = fastNumber(p, i); !ok {
			return i, false
		}
		if float {
			v = numberValue(p[i:j])
		} else {
			v = integerValue(p[i:j])
		}
		goto push
	}

keyword:
	{
		j = i + 1
		for j < len(p) && isLower(p[j]) {
			j++
		}
		if j == len(p) {
			return i, false
		}
		switch w := p[i:j]; {
		case len(w) == 4 && string(w) == "true":
			v = scalarValue(Bool, 1)
		case len(w) == 5 && string(w) == "false":
			v = scalarValue(Bool, 0)
		case len(w) == 4 && string(w) == "null":
			v = Value{}
		default:
			return i, false
		}
		goto push
	}

push:
	// v, the token p[i:j], is complete: append it to top, under the key
	// pr.key in an object.
	{
		blk := *lv
		if len(blk) == cap(blk) {
			blk = pr.grow(top, blk, len(pr.frames)-1)
		}
		*lv = blk[:len(blk)+1]
		m := &blk[:len(blk)+1][len(blk)]
		if top.object {
			m.Key = pr.key
			top.addKey(pr.key)
		}
		m.Value = v
		d.size += j - i
		d.ntok++
		i = j
		goto sep
	}

open:
	// p[i] opens a container where the state wants a value (whose key,
	// if any, was checked).
	{
		n := len(pr.frames)
		if n+1 > d.lim.MaxDepth {
			return i, false
		}
		if n == len(pr.levels) {
			pr.levels = append(pr.levels, nil)
			pr.big = pr.big || n >= keptLevels // see parser.structural
		}
		// The frame is written field by field in place: built aside and
		// copied, it would be read back in wider loads than it was
		// written with, which stalls store forwarding.
		if n == cap(pr.frames) {
			pr.frames = append(pr.frames, frame{})
		}
		pr.frames = pr.frames[:n+1]
		f := &pr.frames[n]
		f.base, f.object, f.inKey, f.checked, f.keys, f.seen = len(pr.levels[n]), c == '{', false, true, 0, nil
		f.key = ""
		if top != nil && top.object {
			f.key = pr.key
		}
		top, lv = f, &pr.levels[n]
		i++
		d.size++
		d.ntok++
		if c == '{' {
			d.brace++
			goto member
		}
		d.bracket++
		goto elem
	}

str:
	// A string token, key or value, at p[i]. A body of up to 31 bytes of
	// ASCII without escapes or controls is scanned a word at a time and
	// copied inline; the rest takes the one call, so that registers are
	// saved around it only on that path.
	{
		var s string
		a := &pr.strings
		ok := false
		if n := len(a.buf); i+33 <= len(p) && n+32 <= cap(a.buf) {
			q := uint64(c) * lsb
			// Little-endian loads and stores, not word casts: the scan
			// needs the first byte lowest on every machine, and casts
			// would fault where unaligned words do.
			src := p[i+1 : i+33 : i+33]
			w0, w1 := binary.LittleEndian.Uint64(src), binary.LittleEndian.Uint64(src[8:])
			w2, w3 := binary.LittleEndian.Uint64(src[16:]), binary.LittleEndian.Uint64(src[24:])
			// The first word with a stop, unrolled.
			var l int
			var m, w uint64
			if m = stringStops(w0, q); m != 0 {
				w = w0
			} else if m = stringStops(w1, q); m != 0 {
				w, l = w1, 8
			} else if m = stringStops(w2, q); m != 0 {
				w, l = w2, 16
			} else if m = stringStops(w3, q); m != 0 {
				w, l = w3, 24
			}
			sh := bits.TrailingZeros64(m) &^ 7
			if ok = m != 0 && byte(w>>sh) == c; ok {
				// Copy 32 bytes, which may take bytes past the body into
				// the free part of the block (see stringArena.make).
				l += sh >> 3
				dst := a.buf[n : n+32 : n+32]
				binary.LittleEndian.PutUint64(dst, w0)
				binary.LittleEndian.PutUint64(dst[8:], w1)
				binary.LittleEndian.PutUint64(dst[16:], w2)
				binary.LittleEndian.PutUint64(dst[24:], w3)
				a.buf = a.buf[:n+l]
				s = unsafe.String(&dst[0], l)
				j = i + 1 + l
			}
		}
		if !ok {
			if j, s, ok = pr.anyString(p, i); !ok {
				return i, false
			}
		}
		j++                    // the closing quote
		if pr.state >= psKey { // psKey or psMember
			pr.key = s
			d.size += j - i
			d.ntok++
			i = j
			goto colon
		}
		v = stringValue(s)
		goto push
	}

closer:
	// p[i] closes the innermost container, which the state allows. The
	// container becomes a member of its parent, or the message's value.
	{
		if top.inKey { // it stands for a key: an error
			return i, false
		}
		n := len(pr.frames) - 2
		var (
			parent *frame
			plv    *[]Member
		)
		if n >= 0 {
			parent, plv = &pr.frames[n], &pr.levels[n]
			// A container the general code opened has its key unchecked.
			if !top.checked && parent.object && isDuplicate(parent, (*plv)[parent.base:], top.key) {
				return i, false
			}
		}
		v = Value{bits: uint64(Array) << kindShift}
		if top.object {
			v.bits = uint64(Object) << kindShift
			d.brace--
		} else {
			d.bracket--
		}
		if blk := *lv; top.base < len(blk) {
			v.ptr, v.bits = unsafe.Pointer(&blk[top.base]), v.bits|uint64(len(blk)-top.base)
		}
		key := top.key
		*top = frame{}
		pr.frames = pr.frames[:n+1]
		top, lv = parent, plv
		if n >= 0 {
			pr.key, j = key, i+1
			goto push
		}
		// The message is complete.
		d.size++
		d.ntok++
		i++
		pr.state, pr.key = psValue, ""
		d.ev = Event{Offset: d.pos + int64(i-1), Value: v}
		d.resetMessage()
		if pr.big || pr.pinning() {
			pr.reset()
		}
		return i, true
	}
}
