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
	i     int
	off   int64
	err   *Error
	stack []Member // scratch space shared by all open containers
	sbuf  []byte   // scratch space for decoding strings
}

func (p *parser) parse(toks []token, text []byte, off int64) (Value, *Error) {
	p.toks, p.text, p.i, p.off, p.err = toks, text, 0, off, nil
	v := p.value()
	p.toks, p.text = nil, nil
	if cap(p.stack) > 1<<16 {
		p.stack = nil
	}
	if cap(p.sbuf) > 1<<16 {
		p.sbuf = nil
	}
	if p.err != nil {
		return Value{}, p.err
	}
	return v, nil
}

func (p *parser) fail(msg string) Value {
	if p.err == nil {
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
	text := p.text[t.start:t.end]
	switch t.kind {
	case tokLBrace:
		return p.object()
	case tokLBracket:
		return p.array()
	case tokString:
		s, ok := p.str(text)
		if !ok {
			return Value{}
		}
		return StringValue(s)
	case tokInteger:
		return integerValue(text)
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

func (p *parser) array() Value {
	base := len(p.stack)
	if t, ok := p.peek(); ok && t.kind == tokRBracket {
		p.i++
		return Value{kind: Array, list: []Member{}}
	}
	for {
		v := p.value()
		if p.err != nil {
			p.stack = p.stack[:base]
			return Value{}
		}
		p.stack = append(p.stack, Member{Value: v})
		t, ok := p.next()
		if ok && t.kind == tokRBracket {
			break
		}
		if !ok || t.kind != tokComma {
			p.stack = p.stack[:base]
			return p.fail(msgListSeparator)
		}
	}
	return Value{kind: Array, list: p.pop(base)}
}

func (p *parser) object() Value {
	base := len(p.stack)
	if t, ok := p.peek(); ok && t.kind == tokRBrace {
		p.i++
		return Value{kind: Object, list: []Member{}}
	}
	for {
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
		if p.err == nil && p.hasKey(base, k.str) {
			p.fail(msgDuplicateKey)
		}
		if p.err != nil {
			p.stack = p.stack[:base]
			return Value{}
		}
		p.stack = append(p.stack, Member{Key: k.str, Value: v})
		t, ok := p.next()
		if ok && t.kind == tokRBrace {
			break
		}
		if !ok || t.kind != tokComma {
			p.stack = p.stack[:base]
			return p.fail(msgDictSeparator)
		}
	}
	return Value{kind: Object, list: p.pop(base)}
}

func (p *parser) peek() (token, bool) {
	if p.i >= len(p.toks) {
		return token{}, false
	}
	return p.toks[p.i], true
}

// pop moves the members collected since base into a slice of their own.
func (p *parser) pop(base int) []Member {
	list := make([]Member, len(p.stack)-base)
	copy(list, p.stack[base:])
	clear(p.stack[base:])
	p.stack = p.stack[:base]
	return list
}

func (p *parser) hasKey(base int, key string) bool {
	for _, m := range p.stack[base:] {
		if m.Key == key {
			return true
		}
	}
	return false
}

// str decodes a string token (quotes included). Raw bytes are validated as
// modified UTF-8 and escapes as qemu-ga does; the first problem wins.
func (p *parser) str(tok []byte) (string, bool) {
	body := tok[1 : len(tok)-1]
	plain := true
	for _, c := range body {
		if c == '\\' || c >= 0x80 {
			plain = false
			break
		}
	}
	if plain {
		return internString(body), true
	}
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

// internString avoids allocating for the member names every request has.
func internString(b []byte) string {
	switch string(b) {
	case "execute":
		return "execute"
	case "arguments":
		return "arguments"
	case "id":
		return "id"
	case "return":
		return "return"
	case "error":
		return "error"
	case "class":
		return "class"
	case "desc":
		return "desc"
	case "guest-sync":
		return "guest-sync"
	case "guest-sync-delimited":
		return "guest-sync-delimited"
	case "guest-ping":
		return "guest-ping"
	case "guest-info":
		return "guest-info"
	}
	return string(b)
}
