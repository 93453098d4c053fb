package qjson

import (
	"encoding/binary"
	"math/bits"
	"unicode/utf8"
)

// qemu-ga stores strings as "modified UTF-8": standard UTF-8, except that
// U+0000 is written as the overlong pair C0 80, and that the decoder rejects
// surrogates, noncharacters and anything above U+10FFFF. The same decoder
// validates raw string bytes in the parser and renders arbitrary bytes (error
// token text) in the serializer, so both live here, with the rest of what
// the lexer and the parser do with string bytes: finding a string's end,
// and decoding string tokens.

// isNoncharacter reports whether r is one of the Unicode noncharacters that
// qemu-ga refuses: U+FDD0..U+FDEF and every U+xxFFFE / U+xxFFFF.
func isNoncharacter(r rune) bool {
	return (r >= 0xFDD0 && r <= 0xFDEF) || r&0xFFFE == 0xFFFE
}

// validCodePoint reports whether qemu-ga accepts r as a character.
func validCodePoint(r rune) bool {
	if r < 0 || r > 0x10FFFF {
		return false
	}
	if r >= 0xD800 && r <= 0xDFFF {
		return false
	}
	return !isNoncharacter(r)
}

// decodeMUTF8 decodes the sequence at the start of b, which must be
// non-empty. It returns the code point, the number of bytes the sequence
// occupies and whether it is valid. For an invalid sequence, size follows the
// serializer's rule: a bad lead byte counts alone; a lead followed by too few
// continuation bytes consumes the lead and the continuations present; a
// complete but invalid sequence (overlong, surrogate, noncharacter, beyond
// U+10FFFF, 5- and 6-byte forms) is consumed whole.
func decodeMUTF8[T ~string | ~[]byte](b T) (r rune, size int, ok bool) {
	c := b[0]
	if c < 0x80 {
		return rune(c), 1, true
	}
	var need int
	var min rune
	switch {
	case c < 0xC0: // lone continuation byte
		return 0xFFFD, 1, false
	case c < 0xE0:
		need, r, min = 1, rune(c&0x1F), 0x80
	case c < 0xF0:
		need, r, min = 2, rune(c&0x0F), 0x800
	case c < 0xF8:
		need, r, min = 3, rune(c&0x07), 0x10000
	case c < 0xFC:
		need, r, min = 4, rune(c&0x03), 0x200000
	case c < 0xFE:
		need, r, min = 5, rune(c&0x01), 0x4000000
	default: // 0xFE, 0xFF are never part of a sequence
		return 0xFFFD, 1, false
	}
	i := 1
	for ; i <= need; i++ {
		if i >= len(b) || b[i]&0xC0 != 0x80 {
			return 0xFFFD, i, false
		}
		r = r<<6 | rune(b[i]&0x3F)
	}
	if need == 1 && r == 0 { // C0 80: the one overlong form allowed, U+0000
		return 0, 2, true
	}
	if need > 3 || r < min || !validCodePoint(r) {
		return 0xFFFD, i, false
	}
	return r, i, true
}

// Masks for looking at eight bytes at a time.
const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// stringStops flags, by the high bit of its byte, each of the eight string
// body bytes in w (little-endian) that a plain body cannot simply take: a
// control, a byte >= 0x80, the backslash, or the quote q (repeated in every
// byte, as uint64(quote)*lsb). Only the lowest flag is exact, as borrows
// carry out of flagged bytes only; that is the one scans want.
func stringStops(w, q uint64) uint64 {
	return ((w - 0x20*lsb) | w | (w ^ q - lsb) | (w ^ ('\\' * lsb) - lsb)) & msb
}

// scanString returns the index of the first byte of p[i:end] that is not a
// plain string body byte (see strStop) or is quote, or end if there is none
// (or i, if end < i). It looks at eight bytes at a time (see stringStops).
func scanString(p []byte, i, end int, quote byte) int {
	if end <= i {
		return i
	}
	q := uint64(quote) * lsb
	for i+8 <= len(p) { // words may run past end, not past p
		m := stringStops(binary.LittleEndian.Uint64(p[i:]), q)
		if m != 0 {
			return min(i+bits.TrailingZeros64(m)>>3, end)
		}
		if i += 8; i >= end {
			return end
		}
	}
	for ; i < end; i++ {
		if c := p[i]; strStop[c] || c == quote {
			return i
		}
	}
	return i
}

// str decodes a string token (quotes included). Raw bytes are validated as
// modified UTF-8 and escapes as qemu-ga does; the first problem fails the
// message.
func (p *parser) str(tok []byte) (string, bool) {
	s, msg := p.decodeString(tok)
	if msg != "" {
		p.fail(msg)
		return "", false
	}
	return s, true
}

// decodeString decodes a string token as str does, returning the error
// message of its first problem instead of failing.
func (p *parser) decodeString(tok []byte) (s, msg string) {
	body := tok[1 : len(tok)-1]
	out := p.sbuf[:0]
	for i := 0; i < len(body); {
		c := body[i]
		switch {
		case c >= 0x80:
			r, size, ok := decodeMUTF8(body[i:])
			if !ok {
				return "", msgInvalidUTF8
			}
			out = appendRune(out, r)
			i += size
		case c != '\\': // a run of plain bytes, copied at once
			j := i + 1
			for j < len(body) && body[j] < 0x80 && body[j] != '\\' {
				j++
			}
			out = append(out, body[i:j]...)
			i = j
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
					// size is the length of the text quoted: 6 bytes, or
					// 12 for a surrogate pair. +1: the text is cut at
					// the end of the token, which includes the closing
					// quote.
					bad := tok[1+i : min(len(tok), 1+i+size)]
					return "", string(bad) + invalidUnicodeTail
				}
				out = appendRune(out, rune(r))
				i += size
				continue
			default:
				return "", msgInvalidEscape
			}
			i += 2
		}
	}
	p.sbuf = out
	return p.strings.make(out), ""
}

func appendRune(dst []byte, r rune) []byte {
	if r == 0 {
		return append(dst, 0)
	}
	return utf8.AppendRune(dst, r)
}

// unicodeEscape decodes a \uXXXX escape (with its low surrogate partner when
// XXXX is a high surrogate) at the start of s. It returns the code point and
// the bytes consumed, or -1 when qemu-ga rejects it and the length of the
// text its error quotes: the escape's 6 bytes, or the 12 bytes of a
// surrogate pair that combines into a noncharacter (as qemu-ga 7.2 quotes
// "\udbff\udfff", U+10FFFF, whole).
func unicodeEscape(s []byte) (int32, int) {
	hi := hex4(s, 2)
	if hi < 0 {
		return -1, 6
	}
	r, size := hi, 6
	if hi >= 0xD800 && hi <= 0xDBFF {
		if len(s) < 8 || s[6] != '\\' || s[7] != 'u' {
			return -1, 6
		}
		lo := hex4(s, 8)
		if lo < 0xDC00 || lo > 0xDFFF {
			return -1, 6
		}
		r, size = 0x10000+(hi-0xD800)<<10+(lo-0xDC00), 12
	}
	if !validCodePoint(rune(r)) {
		return -1, size
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
