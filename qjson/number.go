package qjson

import (
	"math"
	"strconv"
	"strings"
	"unsafe"
)

// This file converts number tokens as qemu-ga does: an INTEGER token is an
// int64 when it fits, else a uint64 when it has no sign and fits, else a
// double; a FLOAT token is a double as strtod makes it (±Inf beyond range),
// whatever the token's length.

// numberValue converts a number token.
func numberValue(text []byte) Value {
	for _, c := range text {
		if c == '.' || c == 'e' || c == 'E' {
			return FloatValue(parseFloat(unsafe.String(unsafe.SliceData(text), len(text))))
		}
	}
	return integerValue(text)
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
	// A view, not a copy: a hostile token is up to 64 MiB, and strconv
	// keeps nothing of it (its errors clone what they quote, which is why
	// integers of more than 20 digits skip the integer parsers). The lexer
	// admits no leading zero, so the digit count is the magnitude.
	view := unsafe.String(unsafe.SliceData(text), len(text))
	digits := strings.TrimPrefix(view, "-")
	if len(digits) > 309 { // at least 1e309: beyond any double
		if text[0] == '-' {
			return FloatValue(math.Inf(-1))
		}
		return FloatValue(math.Inf(1))
	}
	if len(digits) <= 20 {
		if i, err := strconv.ParseInt(view, 10, 64); err == nil {
			return IntValue(i)
		}
		if text[0] != '-' {
			if u, err := strconv.ParseUint(view, 10, 64); err == nil {
				return UintValue(u)
			}
		}
	}
	return FloatValue(parseFloat(view))
}

// parseFloat converts like strtod: ±Inf beyond range. s is a number token
// the lexer accepted.
func parseFloat(s string) float64 {
	if len(s) > maxFloatDigits {
		// strconv gets long tokens wrong (more than 800 digits before
		// the point: "1" + 800 zeros + "e-800" is 0.1; an exponent
		// beyond 10000 cancelled by as many zeros: Go issue 42436),
		// and its range error clones what it quotes: a 64 MiB token
		// that overflows would cost a copy of itself.
		var buf [maxFloatDigits + 32]byte
		s = shortFloat(buf[:0], s)
	}
	f, _ := strconv.ParseFloat(s, 64)
	return f
}

// maxFloatDigits is the longest token parseFloat hands to strconv as it
// is, and the significant digits shortFloat keeps of a longer one: a
// double halfway between two others has at most 767 of them, so the rest
// only matters as "zero or not".
const maxFloatDigits = 800

// shortFloat writes to dst a number with the value of the token s rounded
// the same way: its first maxFloatDigits significant digits, then a 1 if
// any digit it dropped is not 0 (the sticky digit), then the exponent.
func shortFloat(dst []byte, s string) string {
	neg := s[0] == '-'
	if neg {
		s = s[1:]
	}
	mant, exp := s, int64(0)
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		mant = s[:i]
		e := s[i+1:]
		eneg := e != "" && e[0] == '-'
		if e != "" && (e[0] == '-' || e[0] == '+') {
			e = e[1:]
		}
		for _, c := range []byte(e) {
			if exp < 1e12 { // beyond any double either way; no overflow
				exp = exp*10 + int64(c-'0')
			}
		}
		if eneg {
			exp = -exp
		}
	}
	intPart, frac, _ := strings.Cut(mant, ".")
	// value = 0.D × 10^(len(intPart)+exp), D = intPart+frac.
	exp += int64(len(intPart))
	if neg {
		dst = append(dst, '-')
	}
	dst = append(dst, '0', '.')
	kept, sticky := 0, false
	for _, part := range [2]string{intPart, frac} {
		for i := 0; i < len(part); i++ {
			c := part[i]
			switch {
			case kept == 0 && c == '0':
				exp-- // a leading zero of D
			case kept < maxFloatDigits:
				dst = append(dst, c)
				kept++
			case c != '0':
				sticky = true
			}
			if sticky {
				break
			}
		}
	}
	if kept == 0 {
		dst = append(dst, '0')
		exp = 0
	}
	if sticky {
		dst = append(dst, '1')
	}
	dst = append(dst, 'e')
	dst = strconv.AppendInt(dst, exp, 10)
	return string(dst)
}
