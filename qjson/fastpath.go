package qjson

import (
	"encoding/binary"
	"math/bits"
	"unsafe"
)

// This file is the full-parse hot path: one loop that lexes, streams and
// parses the tokens of well-formed input lying wholly within the chunk,
// keeping the streamer's counters and the parser's state in locals. It
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
func (d *Decoder) fastTokens(p []byte, i int) (int, bool) {
	pr := &d.p
	state := pr.state
	frames := pr.frames
	levels := pr.levels
	key := pr.key
	size, ntok := d.size, d.ntok
	brace, bracket := d.brace, d.bracket
	maxDepth := d.lim.MaxDepth

	var (
		v       Value
		next    int    // the index after the value's last token
		end     int64  // the offset that completes the value (Event.Offset)
		closing bool   // the value's last token is p[i], its closer
		vkey    string // the value's key, if its container is an object
	)
	for {
		if i >= len(p) {
			break
		}
		c := p[i]
		if c <= ' ' { // whitespace, or a control that the general code rejects
			for c == ' ' || c == '\n' || c == '\t' || c == '\r' {
				if i++; i == len(p) {
					goto stop
				}
				c = p[i]
			}
		}
		switch state {
		case psColon:
			if c != ':' {
				goto stop
			}
			i++
			size++
			ntok++
			state = psValue
			continue
		case psSep:
			obj := frames[len(frames)-1].object
			if c == ',' {
				i++
				size++
				ntok++
				state = psValue
				if obj {
					state = psKey
				}
				continue
			}
			if obj && c == '}' || !obj && c == ']' {
				goto closer
			}
			goto stop
		case psKey, psMember:
			if c == '"' || c == '\'' {
				j, ok := fastPlainString(p, i)
				if !ok {
					goto stop
				}
				key = pr.strings.make(p[i+1 : j-1 : len(p)])
				size += j - i
				ntok++
				i = j
				state = psColon
				continue
			}
			if c == '}' && state == psMember {
				goto closer
			}
			goto stop
		}

		// A value, in psValue or psElem.
		switch startClass[c] {
		case clsQuote:
			j, ok := fastPlainString(p, i)
			if !ok {
				goto stop
			}
			v = stringValue(pr.strings.make(p[i+1 : j-1 : len(p)]))
			next, end, vkey = j, d.pos+int64(j-1), key
		case clsStruct:
			switch {
			case c == '{' || c == '[':
				n := len(frames)
				if n+1 > maxDepth {
					goto stop
				}
				if n == len(levels) {
					levels = append(levels, nil)
				}
				f := frame{base: len(levels[n]), object: c == '{'}
				if n > 0 && frames[n-1].object {
					f.key = key
				}
				frames = append(frames, f)
				state = psElem
				if f.object {
					state = psMember
					brace++
				} else {
					bracket++
				}
				i++
				size++
				ntok++
				continue
			case c == ']' && state == psElem:
				goto closer
			}
			goto stop
		case clsDigit, clsZero, clsMinus:
			j, float, ok := fastNumber(p, i)
			if !ok {
				goto stop
			}
			if float {
				v = numberValue(p[i:j])
			} else {
				v = integerValue(p[i:j])
			}
			next, end, vkey = j, d.pos+int64(j), key // ended by look-ahead
		case clsLower:
			j := i + 1
			for j < len(p) && isLower(p[j]) {
				j++
			}
			if j == len(p) {
				goto stop
			}
			switch w := p[i:j]; {
			case len(w) == 4 && string(w) == "true":
				v = Value{kind: Bool, bits: 1}
			case len(w) == 5 && string(w) == "false":
				v = Value{kind: Bool}
			case len(w) == 4 && string(w) == "null":
				v = Value{}
			default:
				goto stop
			}
			next, end, vkey = j, d.pos+int64(j), key
		default:
			goto stop
		}
		goto place

	closer:
		// p[i] closes the innermost container, which the state allows.
		{
			n := len(frames) - 1
			f := &frames[n]
			if f.inKey { // it stands for a key: an error
				goto stop
			}
			v = Value{kind: Array}
			if f.object {
				v.kind = Object
			}
			if blk := levels[n]; f.base < len(blk) {
				v.ptr, v.bits = unsafe.Pointer(&blk[f.base]), uint64(len(blk)-f.base)
			}
			next, end, vkey, closing = i+1, d.pos+int64(i), f.key, true
		}

	place:
		// v is complete; put it in its container, or end the message. The
		// token is taken only past the duplicate check, so that on a
		// duplicate key the general code sees the state before it.
		{
			n := len(frames) - 1
			if closing {
				n--
			}
			if n >= 0 {
				f := &frames[n]
				if f.object && isDuplicate(f, levels[n][f.base:], vkey) {
					closing = false
					goto stop
				}
			}
			if closing {
				closing = false
				if frames[n+1].object {
					brace--
				} else {
					bracket--
				}
				frames[n+1] = frame{}
				frames = frames[:n+1]
			}
			size += next - i
			ntok++
			i = next
			if n < 0 { // the message is complete
				pr.frames, pr.levels, pr.state, pr.key = frames, levels, psValue, ""
				d.ev = Event{Offset: end, Value: v}
				d.resetMessage()
				if pr.big {
					pr.reset()
				}
				return i, true
			}
			f := &frames[n]
			blk := levels[n]
			if len(blk) == cap(blk) {
				blk = pr.grow(f, blk, n)
			}
			blk = blk[:len(blk)+1]
			levels[n] = blk
			m := &blk[len(blk)-1]
			if f.object {
				m.Key = vkey
			}
			m.Value = v
			state = psSep
		}
	}

stop:
	pr.state, pr.frames, pr.levels, pr.key = state, frames, levels, key
	d.size, d.ntok, d.brace, d.bracket = size, ntok, brace, bracket
	return i, false
}

// fastPlainString returns the index after the string token that starts at
// p[i] (a quote), if the token ends within p and its body is ASCII without
// escapes or controls.
func fastPlainString(p []byte, i int) (int, bool) {
	q := p[i]
	j := i + 1
	// Most strings are short: look at the first words here.
	for k := 0; k < 3 && j+8 <= len(p); k++ {
		w := binary.LittleEndian.Uint64(p[j:])
		m := ((w - 0x20*lsb) | w | (w ^ uint64(q)*lsb - lsb) | (w ^ ('\\' * lsb) - lsb)) & msb
		if m != 0 {
			j += bits.TrailingZeros64(m) >> 3
			goto found
		}
		j += 8
	}
	j = scanString(p, j, len(p), q)
found:
	if j == len(p) || p[j] != q {
		return 0, false
	}
	return j + 1, true
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
