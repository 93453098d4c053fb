package qjson

import (
	"encoding/binary"
	"math/bits"
)

// This file is qemu-ga's lexer: a byte-at-a-time state machine. The start
// state takes whole tokens at once when they lie within the chunk (strings
// eight bytes at a time) and does the streamer's work for them inline; a
// token that runs past the end of the chunk, or has an error, is finished
// one byte at a time by the per-state code.

type lexState uint8

const (
	stStart lexState = iota
	stString
	stEscape
	stSign      // after '-'
	stZero      // after a leading '0'
	stDigits    // integer digits
	stFracStart // after '.'
	stFrac      // fraction digits
	stExpStart  // after 'e' or 'E'
	stExpSign   // after the exponent's sign
	stExp       // exponent digits
	stKeyword   // [a-z]+
	stRecover   // skipping input after a lexical error
)

// Byte classes of the start state.
const (
	clsError uint8 = iota
	clsSpace
	clsStruct
	clsQuote
	clsZero
	clsDigit
	clsMinus
	clsLower
)

var (
	startClass [256]uint8
	// braceDelta and bracketDelta are how a structural byte moves the
	// streamer's counters.
	braceDelta, bracketDelta [256]int8
	// strStop[c] is true for the bytes a string body cannot simply take:
	// controls, the backslash, and bytes >= 0x80 (which make the string
	// need decoding, or are errors). Quotes are checked separately.
	strStop [256]bool
	// recoverSkip[c] is true for bytes that recovery mode discards.
	recoverSkip [256]bool
)

func init() {
	for _, c := range []byte(" \t\r\n") {
		startClass[c] = clsSpace
	}
	for _, c := range []byte("{}[]:,") {
		startClass[c] = clsStruct
	}
	braceDelta['{'], braceDelta['}'] = 1, -1
	bracketDelta['['], bracketDelta[']'] = 1, -1
	startClass['"'], startClass['\''] = clsQuote, clsQuote
	startClass['0'] = clsZero
	for c := '1'; c <= '9'; c++ {
		startClass[c] = clsDigit
	}
	startClass['-'] = clsMinus
	for c := 'a'; c <= 'z'; c++ {
		startClass[c] = clsLower
	}
	for c := 0; c < 256; c++ {
		strStop[c] = c < 0x20 || c == '\\' || c >= 0x80
		recoverSkip[c] = startClass[c] != clsStruct && (c >= 0x20 || c == '\t') && c < 0xFE
	}
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isLower(c byte) bool { return c >= 'a' && c <= 'z' }

// endsInteger reports whether c, after the digits of an integer, ends it.
func endsInteger(c byte) bool { return !isDigit(c) && c != '.' && c != 'e' && c != 'E' }

// Feed consumes bytes from p until one event completes or p is used up. It
// returns the number of bytes consumed and whether an event is ready (see
// Event). Call it again with the rest of p until p is empty: every event is
// reported, in order, one per call.
//
// A number or keyword is complete only when the byte after it arrives, as in
// qemu-ga; that byte is then left unconsumed and processed by the next call.
func (d *Decoder) Feed(p []byte) (n int, ok bool) {
	if d.p.stale {
		d.p.clearStale()
	}
	n, ok = d.feed(p)
	d.pos += int64(n)
	return n, ok
}

// feed is Feed without the offset update: the stream offset of p[i] is
// d.pos+i throughout.
func (d *Decoder) feed(p []byte) (int, bool) {
	i := 0
	for i < len(p) {
		var ok bool
		switch d.state {
		case stStart:
			i, ok = d.lexStart(p, i)
		case stString, stEscape:
			i, ok = d.lexString(p, i, i, d.state == stEscape)
		case stRecover:
			for i < len(p) && recoverSkip[p[i]] {
				i++
			}
			if i < len(p) {
				d.state = stStart
			}
		default: // numbers and keywords
			i, ok = d.lexNumber(p, i, i)
		}
		if ok {
			return i, true
		}
	}
	return i, false
}

// lexStart runs the start state from p[i] until an event completes, the
// chunk ends, or a token needs the per-state code.
func (d *Decoder) lexStart(p []byte, i int) (int, bool) {
	for {
		if d.build && d.p.state < psDone && !noFastPath && d.fastRoom(len(p)-i) {
			var ok bool
			if i, ok = d.fastTokens(p, i); ok || i == len(p) {
				return i, ok
			}
			// The general code below takes the next token.
		}
		for i < len(p) && startClass[p[i]] == clsSpace {
			i++
		}
		if i >= len(p) {
			return i, false
		}
		// A token of this chunk takes bytes below lim without being cut.
		lim := len(p)
		if d.lim.MaxTokenSize < lim-i {
			lim = max(i+d.lim.MaxTokenSize, i+1)
		}
		c := p[i]
		switch startClass[c] {
		case clsStruct:
			d.brace += int(braceDelta[c])
			d.bracket += int(bracketDelta[c])
			i++
			if !d.fits(1) {
				return i, d.tooBig(1, d.pos+int64(i-1))
			}
			d.size++
			d.ntok++
			if d.build {
				// The parser's commonest steps are inline. While the
				// parser has not failed, its open containers are the
				// streamer's, so these never end a message.
				switch pr := &d.p; {
				case c == ':' && pr.state == psColon:
					pr.state = psValue
					continue
				case c == ',' && pr.state == psSep:
					pr.state = psValue
					if pr.frames[len(pr.frames)-1].object {
						pr.state = psKey
					}
					continue
				default:
					pr.structural(c)
				}
			}
			if d.brace > 0 && d.bracket >= 0 || d.bracket > 0 && d.brace >= 0 {
				continue
			}
			return i, d.complete(d.pos + int64(i-1))

		case clsQuote:
			var j int
			if i+9 <= lim {
				// Most strings are short: look at the first word here.
				w := binary.LittleEndian.Uint64(p[i+1:])
				m := stringStops(w, uint64(c)*lsb)
				if m != 0 {
					j = i + 1 + bits.TrailingZeros64(m)>>3
				} else {
					j = scanString(p, i+9, lim, c)
				}
			} else {
				j = scanString(p, i+1, lim, c)
			}
			if j == len(p) || p[j] != c {
				// Escapes, bytes >= 0x80, errors, the cut or the end of
				// the chunk: lex the rest one case at a time.
				d.quote, d.plain = c, true
				return d.lexString(p, j, i, false)
			}
			j++
			if d.build && d.p.wantsValue() && d.fits(j-i) {
				// The parser's step, inline (see parser.string).
				d.size += j - i
				d.ntok++
				pr := &d.p
				s := pr.strings.make(p[i+1 : j-1 : len(p)])
				if pr.inKey() {
					pr.key, pr.state = s, psColon
				} else if v := pr.place(false, pr.key); v != nil {
					*v = stringValue(s)
				}
				if d.brace > 0 && d.bracket >= 0 || d.bracket > 0 && d.brace >= 0 {
					i = j
					continue
				}
				return j, d.complete(d.pos + int64(j-1))
			}
			if d.scalar(tokString, p[i:j], true, d.pos+int64(j-1)) {
				return j, true
			}
			i = j

		case clsDigit, clsLower:
			// Digits or letters up to the cut; the token is done if the
			// look-ahead byte is here and ends it.
			j := i + 1
			kind := tokNumber
			if c >= 'a' {
				kind = tokKeyword
				for j < lim && isLower(p[j]) {
					j++
				}
				if j == len(p) || isLower(p[j]) {
					d.state = stKeyword
					return d.lexNumber(p, j, i)
				}
			} else {
				for j < lim && isDigit(p[j]) {
					j++
				}
				if j == len(p) || !endsInteger(p[j]) {
					d.state = stDigits
					return d.lexNumber(p, j, i)
				}
			}
			if d.scalar(kind, p[i:j], false, d.pos+int64(j)) {
				return j, true
			}
			i = j

		default:
			switch c {
			case '0':
				d.state = stZero
			case '-':
				d.state = stSign
			default:
				return d.errorAt(p, i, i)
			}
			// A one-byte token cannot exceed the size cut.
			return d.lexNumber(p, i+1, i)
		}
	}
}

// The per-state code sees the text of the current token as buf (what came
// in earlier chunks) followed by p[seg:i].

// text returns the whole text of the token that ends before p[i].
func (d *Decoder) text(p []byte, seg, i int) []byte {
	if len(d.buf) == 0 {
		return p[seg:i]
	}
	d.buf = append(d.buf, p[seg:i]...)
	return d.buf
}

// suspend keeps the text of the token the chunk ends in.
func (d *Decoder) suspend(p []byte, seg int, s lexState) (int, bool) {
	d.buf = append(d.buf, p[seg:]...)
	d.state = s
	return len(p), false
}

// errorAt raises a lexical error at p[i] for the current token.
func (d *Decoder) errorAt(p []byte, seg, i int) (int, bool) {
	d.buf = append(d.buf, p[seg:i]...)
	return i + 1, d.lexError(p[i], d.pos+int64(i))
}

// cutIndex returns the index in p from which a byte taken into the current
// token makes it longer than MaxTokenSize, or len(p) if none does.
func (d *Decoder) cutIndex(p []byte, seg int) int {
	room := d.lim.MaxTokenSize - len(d.buf)
	if room < len(p)-seg {
		return seg + room
	}
	return len(p)
}

// lexString lexes the body of the current string token from p[i]; esc says
// that p[i] is the byte after a backslash.
func (d *Decoder) lexString(p []byte, i, seg int, esc bool) (int, bool) {
	quote := d.quote
	lim := d.cutIndex(p, seg)
	for {
		if esc { // p[i] is escaped: any byte but a control, 0xFE or 0xFF
			if i == len(p) {
				return d.suspend(p, seg, stEscape)
			}
			if c := p[i]; c < 0x20 || c >= 0xFE {
				return d.errorAt(p, seg, i)
			}
			if i >= lim {
				return i + 1, d.limitError(d.pos+int64(i), descTokenSize)
			}
			i++
			esc = false
			continue
		}
		i = scanString(p, i, min(lim, len(p)), quote)
		if i == len(p) {
			return d.suspend(p, seg, stString)
		}
		switch c := p[i]; {
		case c == quote: // never cut
			i++
			d.state = stStart
			return i, d.scalar(tokString, d.text(p, seg, i), d.plain, d.pos+int64(i-1))
		case c == '\\':
			d.plain = false
			esc = true
		case c < 0x20 || c >= 0xFE:
			return d.errorAt(p, seg, i)
		case i > lim:
			// Only with MaxTokenSize <= 0, right after the opening quote:
			// there is no room at all for a body byte, which is taken for
			// an error rather than cut.
			return d.errorAt(p, seg, i)
		case c >= 0x80:
			d.plain = false
		}
		if i >= lim {
			return i + 1, d.limitError(d.pos+int64(i), descTokenSize)
		}
		i++
	}
}

// lexNumber runs the number and keyword states from p[i], one byte at a
// time, for the current token.
func (d *Decoder) lexNumber(p []byte, i, seg int) (int, bool) {
	pre := len(d.buf) - seg // the token's length is pre+i
	for i < len(p) {
		c := p[i]
		next := stKeyword
		if d.state != stKeyword {
			next = numberNext(d.state, c)
		} else if !isLower(c) {
			next = stStart
		}
		switch next {
		case stStart: // ended by look-ahead: c is not consumed
			kind := tokNumber
			if d.state == stKeyword {
				kind = tokKeyword
			}
			d.state = stStart
			return i, d.scalar(kind, d.text(p, seg, i), false, d.pos+int64(i))
		case stRecover:
			return d.errorAt(p, seg, i)
		}
		d.state = next
		i++
		if pre+i > d.lim.MaxTokenSize {
			// qemu-ga's token size cut: the token is rejected and the
			// lexer starts afresh on the next byte.
			return i, d.limitError(d.pos+int64(i-1), descTokenSize)
		}
	}
	return d.suspend(p, seg, d.state)
}

// numberNext is the number state machine. It returns the next state:
// stRecover for a lexical error, stStart when c ends the number without
// being part of it.
func numberNext(s lexState, c byte) lexState {
	switch s {
	case stSign:
		switch {
		case c == '0':
			return stZero
		case isDigit(c):
			return stDigits
		}
		return stRecover
	case stZero:
		switch {
		case isDigit(c):
			return stRecover
		case c == '.':
			return stFracStart
		}
		return stStart
	case stDigits:
		switch {
		case isDigit(c):
			return stDigits
		case c == '.':
			return stFracStart
		case c == 'e' || c == 'E':
			return stExpStart
		}
		return stStart
	case stFracStart:
		if isDigit(c) {
			return stFrac
		}
		return stRecover
	case stFrac:
		switch {
		case isDigit(c):
			return stFrac
		case c == 'e' || c == 'E':
			return stExpStart
		}
		return stStart
	case stExpStart:
		switch {
		case c == '+' || c == '-':
			return stExpSign
		case isDigit(c):
			return stExp
		}
		return stRecover
	case stExpSign:
		if isDigit(c) {
			return stExp
		}
		return stRecover
	case stExp:
		if isDigit(c) {
			return stExp
		}
		return stStart
	}
	panic("qjson: not a number state")
}
