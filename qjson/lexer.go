package qjson

// This file is qemu-ga's lexer: a byte-at-a-time state machine, written as
// one loop over the chunk with fast paths for runs of string body bytes and
// for bytes skipped in recovery mode.

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
	// strBody[q][c] is true when c continues a string closed by quote q
	// (index 0 for '"', 1 for '\'') without ending it or escaping.
	strBody [2][256]bool
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
	for c := 0x20; c <= 0xFD; c++ {
		strBody[0][c] = c != '"' && c != '\\'
		strBody[1][c] = c != '\'' && c != '\\'
	}
	for c := 0; c < 256; c++ {
		recoverSkip[c] = startClass[c] != clsStruct && (c >= 0x20 || c == '\t') && c < 0xFE
	}
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// Feed consumes bytes from p until one event completes or p is used up. It
// returns the number of bytes consumed and whether an event is ready (see
// Event). Call it again with the rest of p until p is empty: every event is
// reported, in order, one per call.
//
// A number or keyword is complete only when the byte after it arrives, as in
// qemu-ga; that byte is then left unconsumed and processed by the next call.
func (d *Decoder) Feed(p []byte) (n int, ok bool) {
	base := d.pos
	i := 0
	defer func() { d.pos = base + int64(n) }()
	for i < len(p) {
		c := p[i]
		switch d.state {
		case stStart:
			switch startClass[c] {
			case clsSpace:
				i++
				continue
			case clsStruct:
				d.tokStart = len(d.buf)
				d.buf = append(d.buf, c)
				i++
				if d.push(structKind[c], base+int64(i-1)) {
					return i, true
				}
				continue
			case clsQuote:
				d.state, d.quote = stString, c
			case clsZero:
				d.state = stZero
			case clsDigit:
				d.state = stDigits
			case clsMinus:
				d.state = stSign
			case clsLower:
				d.state = stKeyword
			default:
				d.tokStart = len(d.buf)
				i++
				return i, d.lexError(c, base+int64(i-1))
			}
			d.tokStart = len(d.buf)
			d.buf = append(d.buf, c)
			i++
			continue // a one-byte token cannot exceed the size cut

		case stString:
			body := &strBody[0]
			if d.quote == '\'' {
				body = &strBody[1]
			}
			// Take the run of plain body bytes at once, but never past the
			// point where the token-size cut must happen.
			room := d.lim.MaxTokenSize + 1 - (len(d.buf) - d.tokStart)
			j := i
			for j < len(p) && j-i < room && body[p[j]] {
				j++
			}
			if j > i {
				d.buf = append(d.buf, p[i:j]...)
				i = j
				if d.cut(base + int64(i-1)) {
					return i, true
				}
				continue
			}
			i++
			switch {
			case c == d.quote:
				d.buf = append(d.buf, c)
				d.state = stStart
				if d.push(tokString, base+int64(i-1)) {
					return i, true
				}
				continue
			case c == '\\':
				d.state = stEscape
			default:
				return i, d.lexError(c, base+int64(i-1))
			}

		case stEscape:
			i++
			if c < 0x20 || c >= 0xFE {
				return i, d.lexError(c, base+int64(i-1))
			}
			d.state = stString

		case stRecover:
			for i < len(p) && recoverSkip[p[i]] {
				i++
			}
			if i < len(p) {
				d.state = stStart
			}
			continue

		case stKeyword:
			if c >= 'a' && c <= 'z' {
				i++
				break
			}
			d.state = stStart
			if d.push(tokKeyword, base+int64(i)) {
				return i, true
			}
			continue

		default: // number states
			next, kind := numberNext(d.state, c)
			if kind != 0 { // ended by look-ahead: c is not consumed
				d.state = stStart
				if d.push(kind, base+int64(i)) {
					return i, true
				}
				continue
			}
			i++
			if next == stRecover {
				return i, d.lexError(c, base+int64(i-1))
			}
			d.state = next
		}
		// c was consumed as part of the current token.
		d.buf = append(d.buf, c)
		if d.cut(base + int64(i-1)) {
			return i, true
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

// cut applies qemu-ga's token size cut: a token that has grown past
// MaxTokenSize is handed to the streamer (which rejects it) and the lexer
// starts afresh on the next byte.
func (d *Decoder) cut(off int64) bool {
	if len(d.buf)-d.tokStart <= d.lim.MaxTokenSize {
		return false
	}
	d.state = stStart
	return d.push(tokCut, off)
}
