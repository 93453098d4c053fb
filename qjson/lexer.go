package qjson

import (
	"encoding/binary"
	"math/bits"
)

// This file is qemu-ga's lexer: a byte-at-a-time state machine. The start
// state takes whole tokens at once when they lie within the chunk (strings
// eight bytes at a time); a token that runs past the end of the chunk is
// buffered and finished by the per-state code on the next call.

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
	structKind [256]tokKind
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
	for c, k := range map[byte]tokKind{'{': tokLBrace, '}': tokRBrace, '[': tokLBracket, ']': tokRBracket, ':': tokColon, ',': tokComma} {
		startClass[c] = clsStruct
		structKind[c] = k
	}
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
	}
	for c := 0; c < 256; c++ {
		recoverSkip[c] = startClass[c] != clsStruct && (c >= 0x20 || c == '\t') && c < 0xFE
	}
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isLower(c byte) bool { return c >= 'a' && c <= 'z' }

// endsToken reports whether c, after the digits of an integer or the letters
// of a keyword, ends the token (as look-ahead).
func endsToken(k tokKind, c byte) bool {
	if k == tokKeyword {
		return !isLower(c)
	}
	return !isDigit(c) && c != '.' && c != 'e' && c != 'E'
}

// Feed consumes bytes from p until one event completes or p is used up. It
// returns the number of bytes consumed and whether an event is ready (see
// Event). Call it again with the rest of p until p is empty: every event is
// reported, in order, one per call.
//
// A number or keyword is complete only when the byte after it arrives, as in
// qemu-ga; that byte is then left unconsumed and processed by the next call.
func (d *Decoder) Feed(p []byte) (n int, ok bool) {
	n, ok = d.feed(p)
	d.pos += int64(n)
	return n, ok
}

// feed is Feed without the offset update: the stream offset of p[i] is
// d.pos+i throughout.
//
// Token text is kept as qemu-ga keeps it, but lazily: the text of the token
// being lexed is d.buf[d.tokStart:] followed by the bytes of p taken since,
// and those are appended to d.buf only when the token is queued (build
// mode), when the chunk ends inside it, or when an error needs its text.
func (d *Decoder) feed(p []byte) (int, bool) {
	i := 0
	for i < len(p) {
		var ok bool
		switch d.state {
		case stStart:
			i, ok = d.lexStart(p, i)
		case stString:
			i, ok = d.lexString(p, i, i, false)
		case stEscape:
			i, ok = d.lexString(p, i, i, true)
		case stRecover:
			for i < len(p) && recoverSkip[p[i]] {
				i++
			}
			if i < len(p) {
				d.state = stStart
			}
		default: // numbers and keywords
			i, ok = d.lexNumber(p, i)
		}
		if ok {
			return i, true
		}
	}
	return i, false
}

// cutIndex returns the index in p from which a byte taken into the current
// token, whose text is d.buf[d.tokStart:] followed by p[seg:], makes the
// token longer than MaxTokenSize, or len(p) if none does.
func (d *Decoder) cutIndex(p []byte, seg int) int {
	room := d.lim.MaxTokenSize - (len(d.buf) - d.tokStart)
	if room < len(p)-seg {
		return seg + room
	}
	return len(p)
}

// lexStart runs the start state from p[i] until an event completes, the
// chunk ends, or a token is left unfinished in another state. It takes whole
// tokens that lie within p and does the streamer's work for them inline, on
// local copies of the streamer state; everything else goes through the
// per-state code and push.
func (d *Decoder) lexStart(p []byte, i int) (int, bool) {
	var (
		build          = d.build
		buf            = d.buf
		queue          = d.queue
		open           = d.open
		ntok, size     = d.ntok, d.size
		brace, bracket = d.brace, d.bracket
		maxSize        = d.lim.MaxTokenSize
	)
	for i < len(p) {
		c := p[i]
		cls := startClass[c]
		if cls == clsSpace {
			i++
			continue
		}
		// Find the token's kind, length and end (the index after it), and
		// the offset of the byte that completes it.
		var (
			kind      tokKind
			tlen, end int
			at        = i
			start     = len(buf)
		)
		switch cls {
		case clsStruct:
			kind, tlen, end = structKind[c], 1, i+1
			switch kind {
			case tokLBrace:
				brace++
			case tokRBrace:
				brace--
			case tokLBracket:
				bracket++
			case tokRBracket:
				bracket--
			}
		case clsQuote:
			lim := len(p)
			if maxSize < lim-i {
				lim = i + maxSize
			}
			j := scanString(p, i+1, max(lim, i+1), c)
			if j == len(p) || p[j] != c {
				// Escapes, bytes >= 0x80, errors, the cut or the end of
				// the chunk: lex the rest one case at a time.
				d.buf, d.queue, d.open = buf, queue, open
				d.ntok, d.size, d.brace, d.bracket = ntok, size, brace, bracket
				d.tokStart = start
				d.quote, d.plain = c, true
				return d.lexString(p, j, i, false)
			}
			kind, end, at = tokPlainString, j+1, j
			tlen = end - i
		case clsDigit, clsLower:
			// Digits or letters up to the cut; the token is done if the
			// look-ahead byte is here and ends it.
			lim := len(p)
			if maxSize < lim-i {
				lim = max(i+maxSize, i+1)
			}
			j := i + 1
			kind = tokInteger
			if c >= 'a' {
				kind = tokKeyword
				for j < lim && isLower(p[j]) {
					j++
				}
			} else {
				for j < lim && isDigit(p[j]) {
					j++
				}
			}
			if j == len(p) || !endsToken(kind, p[j]) {
				d.buf, d.queue, d.open = append(buf, p[i:j]...), queue, open
				d.ntok, d.size, d.brace, d.bracket = ntok, size, brace, bracket
				d.tokStart = start
				d.state = stDigits
				if kind == tokKeyword {
					d.state = stKeyword
				}
				return j, false
			}
			tlen, end, at = j-i, j, j
		default:
			d.buf, d.queue, d.open = buf, queue, open
			d.ntok, d.size, d.brace, d.bracket = ntok, size, brace, bracket
			d.tokStart = start
			switch cls {
			case clsZero:
				d.state = stZero
			case clsMinus:
				d.state = stSign
			default:
				return i + 1, d.lexError(c, d.pos+int64(i))
			}
			d.buf = append(d.buf, c)
			return i + 1, false // a one-byte token cannot exceed the size cut
		}
		i = end

		// The streamer (see push).
		switch {
		case size+tlen+1 > maxSize:
			return i, d.limitError(d.pos+int64(at), descTokenSize)
		case ntok+1 > d.lim.MaxTokenCount:
			return i, d.limitError(d.pos+int64(at), descTokenCount)
		case brace+bracket > d.lim.MaxDepth:
			return i, d.limitError(d.pos+int64(at), descNestingDepth)
		}
		ntok++
		size += tlen
		if build {
			if kind >= tokString {
				buf = append(buf, p[i-tlen:i]...)
			}
			// The text of a structural token is not kept: its end counts
			// the commas of an open container instead, from which the
			// parser sizes the container's members.
			end := uint32(len(buf))
			if kind < tokString {
				start, end = 0, 0
			}
			queue = append(queue, token{kind, uint32(start), end})
			switch kind {
			case tokLBrace, tokLBracket:
				open = append(open, int32(len(queue)-1))
			case tokRBrace, tokRBracket:
				if len(open) > 0 {
					open = open[:len(open)-1]
				}
			case tokComma:
				if len(open) > 0 {
					queue[open[len(open)-1]].end++
				}
			}
		}
		if brace > 0 && bracket >= 0 || bracket > 0 && brace >= 0 {
			continue
		}
		d.buf, d.queue, d.open = buf, queue, open
		d.tokStart = len(buf)
		return i, d.complete(d.pos + int64(at))
	}
	d.buf, d.queue, d.open = buf, queue, open
	d.ntok, d.size, d.brace, d.bracket = ntok, size, brace, bracket
	d.tokStart = len(buf)
	return i, false
}

// lexString lexes the body of the string token whose text is
// d.buf[d.tokStart:] followed by p[seg:i], from p[i]; esc says that p[i] is
// the byte after a backslash. It returns in stStart when the string ends or
// an event completes, else in stString or stEscape at the end of p.
func (d *Decoder) lexString(p []byte, i, seg int, esc bool) (int, bool) {
	quote := d.quote
	lim := d.cutIndex(p, seg)
	for {
		if esc { // p[i] is escaped: any byte but a control, 0xFE or 0xFF
			if i == len(p) {
				d.buf = append(d.buf, p[seg:]...)
				d.state = stEscape
				return i, false
			}
			if c := p[i]; c < 0x20 || c >= 0xFE {
				d.buf = append(d.buf, p[seg:i]...)
				return i + 1, d.lexError(c, d.pos+int64(i))
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
			d.buf = append(d.buf, p[seg:]...)
			d.state = stString
			return i, false
		}
		switch c := p[i]; {
		case c == quote: // never cut
			i++
			kind := tokString
			if d.plain {
				kind = tokPlainString
			}
			tlen := len(d.buf) - d.tokStart + i - seg
			if d.build {
				d.buf = append(d.buf, p[seg:i]...)
			}
			d.state = stStart
			return i, d.push(kind, tlen, d.pos+int64(i-1))
		case c == '\\':
			d.plain = false
			esc = true
		case c < 0x20 || c >= 0xFE:
			d.buf = append(d.buf, p[seg:i]...)
			return i + 1, d.lexError(c, d.pos+int64(i))
		default: // a byte >= 0x80, or a body byte at the cut
			if c >= 0x80 {
				d.plain = false
			}
			if i > lim {
				// Only with MaxTokenSize <= 0, right after the opening
				// quote: the old lexer found no room for a body byte and
				// took it for an error.
				d.buf = append(d.buf, p[seg:i]...)
				return i + 1, d.lexError(c, d.pos+int64(i))
			}
		}
		if i >= lim {
			return i + 1, d.limitError(d.pos+int64(i), descTokenSize)
		}
		i++
	}
}

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// scanString returns the index of the first byte of p[i:end] that is not a
// plain string body byte (see strStop) or is quote, or end if there is none.
// It looks at eight bytes at a time: for each test below, the lowest flagged
// byte of the word is exact (borrows only carry out of flagged bytes).
func scanString(p []byte, i, end int, quote byte) int {
	q := uint64(quote) * lsb
	for ; i+8 <= end; i += 8 {
		w := binary.LittleEndian.Uint64(p[i:])
		// bytes < 0x20 or >= 0x80, == quote, == '\\'
		m := ((w - 0x20*lsb) | w | (w ^ q - lsb) | (w ^ ('\\' * lsb) - lsb)) & msb
		if m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
	}
	for ; i < end; i++ {
		if c := p[i]; strStop[c] || c == quote {
			return i
		}
	}
	return i
}

// lexNumber runs the number and keyword states, one byte at a time.
func (d *Decoder) lexNumber(p []byte, i int) (int, bool) {
	for i < len(p) {
		c := p[i]
		next, kind := stKeyword, tokKind(0)
		if d.state == stKeyword {
			if !isLower(c) {
				next, kind = stStart, tokKeyword
			}
		} else {
			next, kind = numberNext(d.state, c)
		}
		if kind != 0 { // ended by look-ahead: c is not consumed
			d.state = stStart
			return i, d.push(kind, len(d.buf)-d.tokStart, d.pos+int64(i))
		}
		i++
		if next == stRecover {
			return i, d.lexError(c, d.pos+int64(i-1))
		}
		d.state = next
		d.buf = append(d.buf, c)
		if len(d.buf)-d.tokStart > d.lim.MaxTokenSize {
			// qemu-ga's token size cut: the token is rejected and the
			// lexer starts afresh on the next byte.
			return i, d.limitError(d.pos+int64(i-1), descTokenSize)
		}
	}
	return i, false
}

// numberNext is the number state machine. It returns the next state
// (stRecover meaning a lexical error), or the kind of the token that c ends
// without being part of it.
func numberNext(s lexState, c byte) (lexState, tokKind) {
	switch s {
	case stSign:
		switch {
		case c == '0':
			return stZero, 0
		case isDigit(c):
			return stDigits, 0
		}
		return stRecover, 0
	case stZero:
		switch {
		case isDigit(c):
			return stRecover, 0
		case c == '.':
			return stFracStart, 0
		}
		return stStart, tokInteger
	case stDigits:
		switch {
		case isDigit(c):
			return stDigits, 0
		case c == '.':
			return stFracStart, 0
		case c == 'e' || c == 'E':
			return stExpStart, 0
		}
		return stStart, tokInteger
	case stFracStart:
		if isDigit(c) {
			return stFrac, 0
		}
		return stRecover, 0
	case stFrac:
		switch {
		case isDigit(c):
			return stFrac, 0
		case c == 'e' || c == 'E':
			return stExpStart, 0
		}
		return stStart, tokFloat
	case stExpStart:
		switch {
		case c == '+' || c == '-':
			return stExpSign, 0
		case isDigit(c):
			return stExp, 0
		}
		return stRecover, 0
	case stExpSign:
		if isDigit(c) {
			return stExp, 0
		}
		return stRecover, 0
	case stExp:
		if isDigit(c) {
			return stExp, 0
		}
		return stStart, tokFloat
	}
	panic("qjson: not a number state")
}

