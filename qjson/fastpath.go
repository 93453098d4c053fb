package qjson

import (
	"encoding/binary"
	"math/bits"
	"unsafe"
)

// This file is the full-parse hot path: one loop that lexes, streams and
// parses the tokens of well-formed input lying wholly within the chunk. It
// takes only tokens whose outcome it is sure of; at anything else (a token
// the chunk cuts, an escape or a byte >= 0x80 in a string, any error, a limit
// that might trip) it stops before the token and lets the general code in
// lexer.go take that one token. So it needs no error paths of its own, and
// events cannot depend on which path took a token.

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
// The state stays in d and d.p, not in locals: the loop then keeps only p,
// i and a few temporaries in registers, and a load or store of a field
// costs less than the spills that a dozen loop-carried locals cause around
// every call.
func (d *Decoder) fastTokens(p []byte, i int) (int, bool) {
	pr := &d.p
	for i < len(p) {
		c := p[i]
		if c <= ' ' { // whitespace, or a control that the general code rejects
			for c == ' ' || c == '\n' || c == '\t' || c == '\r' {
				if i++; i == len(p) {
					return i, false
				}
				c = p[i]
			}
		}
		var (
			v       Value
			next    int    // the index after the value's last token
			end     int64  // the offset that completes the value (Event.Offset)
			closing bool   // the value's last token is p[i], its closer
			vkey    string // the value's key, if its container is an object
		)
		switch pr.state {
		case psColon:
			if c != ':' {
				return i, false
			}
			i++
			d.size++
			d.ntok++
			pr.state = psValue
			continue
		case psSep:
			obj := pr.frames[len(pr.frames)-1].object
			if c == ',' {
				i++
				d.size++
				d.ntok++
				pr.state = psValue
				if obj {
					pr.state = psKey
				}
				continue
			}
			if obj && c == '}' || !obj && c == ']' {
				goto closer
			}
			return i, false
		case psKey, psMember:
			if c == '"' || c == '\'' {
				goto str
			}
			if c == '}' && pr.state == psMember {
				goto closer
			}
			return i, false
		}

		// A value, in psValue or psElem.
		switch startClass[c] {
		case clsQuote:
			goto str
		case clsStruct:
			switch {
			case c == '{' || c == '[':
				if !d.fastOpen(c) {
					return i, false
				}
				i++
				d.size++
				d.ntok++
				continue
			case c == ']' && pr.state == psElem:
				goto closer
			}
			return i, false
		case clsDigit, clsZero, clsMinus:
			j, float, ok := fastNumber(p, i)
			if !ok {
				return i, false
			}
			if float {
				v = numberValue(p[i:j])
			} else {
				v = integerValue(p[i:j])
			}
			next, end, vkey = j, d.pos+int64(j), pr.key // ended by look-ahead
		case clsLower:
			j := i + 1
			for j < len(p) && isLower(p[j]) {
				j++
			}
			if j == len(p) {
				return i, false
			}
			switch w := p[i:j]; {
			case len(w) == 4 && string(w) == "true":
				v = Value{kind: Bool, bits: 1}
			case len(w) == 5 && string(w) == "false":
				v = Value{kind: Bool}
			case len(w) == 4 && string(w) == "null":
				v = Value{}
			default:
				return i, false
			}
			next, end, vkey = j, d.pos+int64(j), pr.key
		default:
			return i, false
		}
		goto place

	str:
		// A string token, key or value, at p[i], if its body is ASCII
		// without escapes or controls. The scan of its first word and the
		// copy of a short body are inline: a call here costs more than
		// the work.
		{
			j := i + 1
			if j+8 <= len(p) {
				w := binary.LittleEndian.Uint64(p[j:])
				m := stringStops(w, uint64(c)*lsb)
				if m != 0 {
					j += bits.TrailingZeros64(m) >> 3
				} else {
					j = scanString(p, j+8, len(p), c)
				}
			} else {
				j = scanString(p, j, len(p), c)
			}
			if j == len(p) || p[j] != c {
				return i, false
			}
			var str string
			a := &pr.strings
			if n, l := len(a.buf), j-i-1; l > 0 && l <= 32 && i+33 <= len(p) && cap(a.buf)-n >= 32 {
				// Copy four words, which may take bytes past the body into
				// the free part of the block (see stringArena.make).
				dst, src := a.buf[n:n+32], p[i+1:i+33]
				binary.LittleEndian.PutUint64(dst, binary.LittleEndian.Uint64(src))
				binary.LittleEndian.PutUint64(dst[8:], binary.LittleEndian.Uint64(src[8:]))
				binary.LittleEndian.PutUint64(dst[16:], binary.LittleEndian.Uint64(src[16:]))
				binary.LittleEndian.PutUint64(dst[24:], binary.LittleEndian.Uint64(src[24:]))
				a.buf = a.buf[:n+l]
				str = unsafe.String(&a.buf[n], l)
			} else {
				str = a.make(p[i+1 : j : len(p)])
			}
			j++
			if pr.state >= psKey { // psKey or psMember
				pr.key = str
				d.size += j - i
				d.ntok++
				i = j
				pr.state = psColon
				continue
			}
			v = stringValue(str)
			next, end, vkey = j, d.pos+int64(j-1), pr.key
			goto place
		}

	closer:
		// p[i] closes the innermost container, which the state allows.
		{
			f := &pr.frames[len(pr.frames)-1]
			if f.inKey { // it stands for a key: an error
				return i, false
			}
			v = Value{kind: Array}
			if f.object {
				v.kind = Object
			}
			if blk := pr.levels[len(pr.frames)-1]; f.base < len(blk) {
				v.ptr, v.bits = unsafe.Pointer(&blk[f.base]), uint64(len(blk)-f.base)
			}
			next, end, vkey, closing = i+1, d.pos+int64(i), f.key, true
		}

	place:
		// v is complete; put it in its container, or end the message. The
		// token is taken only past the duplicate check, so that on a
		// duplicate key the general code sees the state before it.
		{
			n := len(pr.frames) - 1
			if closing {
				n--
			}
			if n >= 0 {
				f := &pr.frames[n]
				if f.object && isDuplicate(f, pr.levels[n][f.base:], vkey) {
					return i, false
				}
			}
			if closing {
				if pr.frames[n+1].object {
					d.brace--
				} else {
					d.bracket--
				}
				pr.frames[n+1] = frame{}
				pr.frames = pr.frames[:n+1]
			}
			d.size += next - i
			d.ntok++
			i = next
			if n < 0 { // the message is complete
				pr.state, pr.key = psValue, ""
				d.ev = Event{Offset: end, Value: v}
				d.resetMessage()
				if pr.big {
					pr.reset()
				}
				return i, true
			}
			pr.state = psSep
			blk := pr.levels[n]
			if len(blk) == cap(blk) {
				blk = pr.grow(&pr.frames[n], blk, n)
			}
			blk = blk[:len(blk)+1]
			pr.levels[n] = blk
			m := &blk[len(blk)-1]
			if pr.frames[n].object {
				m.Key = vkey
			}
			m.Value = v
		}
	}
	return i, false
}

// fastOpen opens a container for the hot path, if the depth limit allows.
func (d *Decoder) fastOpen(c byte) bool {
	pr := &d.p
	n := len(pr.frames)
	if n+1 > d.lim.MaxDepth {
		return false
	}
	if n == len(pr.levels) {
		pr.levels = append(pr.levels, nil)
	}
	f := frame{base: len(pr.levels[n]), object: c == '{'}
	if n > 0 && pr.frames[n-1].object {
		f.key = pr.key
	}
	pr.frames = append(pr.frames, f)
	pr.state = psElem
	if f.object {
		pr.state = psMember
		d.brace++
	} else {
		d.bracket++
	}
	return true
}

// fastNumber returns the index after the number token that starts at p[i]
// (a digit or '-') and whether it is a FLOAT token, if the token is valid and
// the byte that ends it is within p. The grammar is the lexer's (see
// numberNext): a leading 0 takes a fraction but no exponent.
func fastNumber(p []byte, i int) (j int, float, ok bool) {
	j = i
	if p[j] == '-' {
		j++
	}
	zero := j < len(p) && p[j] == '0'
	if zero {
		j++ // a leading zero stands alone
		if j == len(p) || isDigit(p[j]) {
			return 0, false, false
		}
	} else if j, ok = digits(p, j); !ok {
		return 0, false, false
	}
	if p[j] == '.' {
		if j, ok = digits(p, j+1); !ok {
			return 0, false, false
		}
		float = true
	} else if zero {
		return j, false, true
	}
	if p[j] == 'e' || p[j] == 'E' {
		j++
		if j < len(p) && (p[j] == '+' || p[j] == '-') {
			j++
		}
		if j, ok = digits(p, j); !ok {
			return 0, false, false
		}
		float = true
	}
	return j, float, true
}

// digits returns the index after the run of digits at p[j], if the run is
// not empty and a byte follows it within p.
func digits(p []byte, j int) (int, bool) {
	start := j
	for j < len(p) && isDigit(p[j]) {
		j++
	}
	return j, j > start && j < len(p)
}
