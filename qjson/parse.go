package qjson

import (
	"strconv"
	"unicode/utf8"
)

// This file is qemu-ga's parser: it turns one complete message (a token
// list) into a Value, stopping at the first error in left-to-right order.

type parser struct {
	toks  []token
	text  []byte
	stext string // text as a string, made on first need
	i     int
	off   int64
	err   *Error
	sbuf  []byte // scratch space for decoding strings
	// free is the unused tail of the last block of members handed out to
	// containers. Blocks are never reused, so values stay valid forever.
	free []Member
}

const (
	// memberBlock is the number of members allocated at once for small
	// containers.
	memberBlock = 128
	// maxPresize bounds the members allocated for a container before they
	// are parsed (the lexer's comma count can be wrong for bad input).
	maxPresize = 1024
)

func (p *parser) parse(toks []token, text []byte, off int64) (Value, *Error) {
	p.toks, p.text, p.i, p.off, p.err = toks, text, 0, off, nil
	v := p.value()
	p.toks, p.text, p.stext = nil, nil, ""
	if cap(p.sbuf) > 1<<16 {
		p.sbuf = nil
	}
	if p.err != nil {
		return Value{}, p.err
	}
	return v, nil
}

// maxParseMsg is the longest parse error message qemu-ga produces: on a
// live 7.2 agent an invalid keyword of 1006 letters or more comes back cut
// to 1023 bytes of message, closing quote lost.
const maxParseMsg = 1024 - 1

func (p *parser) fail(msg string) Value {
	if p.err == nil {
		if len(msg) > maxParseMsg {
			msg = msg[:maxParseMsg]
		}
		p.err = newParseError(p.off, msg)
	}
	return Value{}
}

// next returns the next token; ok is false at the end of the message,
// which the streamer makes impossible for qemu-ga's limits.
func (p *parser) next() (token, bool) {
	if p.i >= len(p.toks) {
		return token{}, false
	}
	t := p.toks[p.i]
	p.i++
	return t, true
}

func (p *parser) value() Value {
	t, ok := p.next()
	if !ok {
		return p.fail(msgPrematureEnd)
	}
	switch t.kind {
	case tokLBrace:
		return p.object(t.end)
	case tokLBracket:
		return p.array(t.end)
	case tokPlainString:
		return StringValue(p.plainStr(t))
	case tokInteger:
		return integerValue(p.text[t.start:t.end])
	}
	text := p.text[t.start:t.end]
	switch t.kind {
	case tokString:
		s, ok := p.str(text)
		if !ok {
			return Value{}
		}
		return StringValue(s)
	case tokFloat:
		f, _ := strconv.ParseFloat(string(text), 64) // ±Inf on overflow, like strtod
		return FloatValue(f)
	case tokKeyword:
		switch string(text) {
		case "true":
			return BoolValue(true)
		case "false":
			return BoolValue(false)
		case "null":
			return NullValue()
		}
		return p.fail("invalid keyword '" + string(text) + "'")
	}
	return p.fail(msgExpectingValue)
}

// integerValue classifies an INTEGER token as qemu-ga does: int64 when it
// fits, else uint64 when it has no sign and fits, else a double.
func integerValue(text []byte) Value {
	if len(text) <= 18 { // cannot overflow; the lexer checked the syntax
		digits := text
		if text[0] == '-' {
			digits = text[1:]
		}
		var u uint64
		for _, c := range digits {
			u = u*10 + uint64(c-'0')
		}
		if text[0] == '-' {
			return IntValue(-int64(u))
		}
		return IntValue(int64(u))
	}
	if i, err := strconv.ParseInt(string(text), 10, 64); err == nil {
		return IntValue(i)
	}
	if text[0] != '-' {
		if u, err := strconv.ParseUint(string(text), 10, 64); err == nil {
			return UintValue(u)
		}
	}
	f, _ := strconv.ParseFloat(string(text), 64)
	return FloatValue(f)
}

// array parses an array after its '['; commas is the lexer's count of
// commas directly inside it.
func (p *parser) array(commas uint32) Value {
	if t, ok := p.peek(); ok && t.kind == tokRBracket {
		p.i++
		return Value{kind: Array, list: []Member{}}
	}
	var list []Member
	for n := 0; ; n++ {
		v := p.value()
		if p.err != nil {
			return Value{}
		}
		if n == len(list) {
			list = p.grow(list, commas)
		}
		list[n].Value = v
		t, ok := p.next()
		if ok && t.kind == tokRBracket {
			return Value{kind: Array, list: list[: n+1 : n+1]}
		}
		if !ok || t.kind != tokComma {
			return p.fail(msgListSeparator)
		}
	}
}

// object parses an object after its '{'; commas is the lexer's count of
// commas directly inside it.
func (p *parser) object(commas uint32) Value {
	if t, ok := p.peek(); ok && t.kind == tokRBrace {
		p.i++
		return Value{kind: Object, list: []Member{}}
	}
	var list []Member
	for n := 0; ; n++ {
		k := p.value()
		if p.err == nil && k.kind != String {
			p.fail(msgKeyNotString)
		}
		if p.err == nil {
			if t, ok := p.next(); !ok || t.kind != tokColon {
				p.fail(msgMissingColon)
			}
		}
		var v Value
		if p.err == nil {
			v = p.value()
		}
		if p.err == nil && hasKey(list[:n], k.str) {
			p.fail(msgDuplicateKey)
		}
		if p.err != nil {
			return Value{}
		}
		if n == len(list) {
			list = p.grow(list, commas)
		}
		list[n] = Member{Key: k.str, Value: v}
		t, ok := p.next()
		if ok && t.kind == tokRBrace {
			return Value{kind: Object, list: list[: n+1 : n+1]}
		}
		if !ok || t.kind != tokComma {
			return p.fail(msgDictSeparator)
		}
	}
}

func (p *parser) peek() (token, bool) {
	if p.i >= len(p.toks) {
		return token{}, false
	}
	return p.toks[p.i], true
}

// grow makes room for one more member of a container. The first call,
// once the first member has parsed, allocates as many members as the
// container has commas plus one; the count is only wrong (too low) for
// input that does not parse, or past maxPresize.
func (p *parser) grow(list []Member, commas uint32) []Member {
	if list != nil {
		list = append(list, Member{})
		return list[:cap(list)]
	}
	n := int(min(commas, maxPresize-1)) + 1
	if n > memberBlock/4 {
		return make([]Member, n)
	}
	if n > len(p.free) {
		p.free = make([]Member, memberBlock)
	}
	list = p.free[:n:n]
	p.free = p.free[n:]
	return list
}

func hasKey(members []Member, key string) bool {
	for i := range members {
		if members[i].Key == key {
			return true
		}
	}
	return false
}

// plainStr returns the body of a tokPlainString token, which needs no
// decoding: a common member name, or a substring of the message text.
func (p *parser) plainStr(t token) string {
	body := p.text[t.start+1 : t.end-1]
	if s, ok := internString(body); ok {
		return s
	}
	if p.stext == "" {
		p.stext = string(p.text)
	}
	return p.stext[t.start+1 : t.end-1]
}

// str decodes a string token (quotes included). Raw bytes are validated as
// modified UTF-8 and escapes as qemu-ga does; the first problem wins.
func (p *parser) str(tok []byte) (string, bool) {
	body := tok[1 : len(tok)-1]
	out := p.sbuf[:0]
	for i := 0; i < len(body); {
		c := body[i]
		switch {
		case c >= 0x80:
			r, size, ok := decodeMUTF8(body[i:])
			if !ok {
				p.fail(msgInvalidUTF8)
				return "", false
			}
			out = appendRune(out, r)
			i += size
		case c != '\\':
			out = append(out, c)
			i++
		default:
			var e byte
			if i+1 < len(body) {
				e = body[i+1]
			}
			switch e {
			case '"', '\'', '\\', '/':
				out = append(out, e)
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				r, size := unicodeEscape(body[i:])
				if r < 0 {
					// +1: the text is cut at the end of the token, which
					// includes the closing quote.
					bad := tok[1+i : min(len(tok), 1+i+6)]
					p.fail(string(bad) + invalidUnicodeTail)
					return "", false
				}
				out = appendRune(out, rune(r))
				i += size
				continue
			default:
				p.fail(msgInvalidEscape)
				return "", false
			}
			i += 2
		}
	}
	p.sbuf = out
	return string(out), true
}

func appendRune(dst []byte, r rune) []byte {
	if r == 0 {
		return append(dst, 0)
	}
	return utf8.AppendRune(dst, r)
}

// unicodeEscape decodes a \uXXXX escape (with its low surrogate partner when
// XXXX is a high surrogate) at the start of s. It returns the code point and
// the bytes consumed, or -1 when qemu-ga rejects it.
func unicodeEscape(s []byte) (int32, int) {
	hi := hex4(s, 2)
	if hi < 0 {
		return -1, 0
	}
	r, size := hi, 6
	if hi >= 0xD800 && hi <= 0xDBFF {
		if len(s) < 8 || s[6] != '\\' || s[7] != 'u' {
			return -1, 0
		}
		lo := hex4(s, 8)
		if lo < 0xDC00 || lo > 0xDFFF {
			return -1, 0
		}
		r, size = 0x10000+(hi-0xD800)<<10+(lo-0xDC00), 12
	}
	if !validCodePoint(rune(r)) {
		return -1, 0
	}
	return r, size
}

func hex4(s []byte, at int) int32 {
	if len(s) < at+4 {
		return -1
	}
	var v int32
	for _, c := range s[at : at+4] {
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return -1
		}
		v = v<<4 | int32(d)
	}
	return v
}

// internString avoids allocating for the member names and values every
// request and reply has.
func internString(b []byte) (string, bool) {
	switch string(b) {
	case "execute":
		return "execute", true
	case "arguments":
		return "arguments", true
	case "id":
		return "id", true
	case "return":
		return "return", true
	case "error":
		return "error", true
	case "class":
		return "class", true
	case "desc":
		return "desc", true
	case "guest-sync":
		return "guest-sync", true
	case "guest-sync-delimited":
		return "guest-sync-delimited", true
	case "guest-ping":
		return "guest-ping", true
	case "guest-info":
		return "guest-info", true
	case "":
		return "", true
	}
	return "", false
}
