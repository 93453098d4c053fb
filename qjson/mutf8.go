package qjson

// qemu-ga stores strings as "modified UTF-8": standard UTF-8, except that
// U+0000 is written as the overlong pair C0 80, and that the decoder rejects
// surrogates, noncharacters and anything above U+10FFFF. The same decoder
// validates raw string bytes in the parser and renders arbitrary bytes (error
// token text) in the serializer, so both live here.

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
