package qjson

// This file holds the scanners of the hot path (fastpath.go): strings
// that need more than its inline copy, keywords, whitespace and numbers.
// Each takes a token only when it ends within the chunk and is valid, and
// otherwise leaves it to the general code.

// anyString returns the index of the closing quote of the string token at
// p[i] and its decoded text, if the token ends within p and both the lexer
// and the parser take it (the lexer's rules are lexString's).
func (pr *parser) anyString(p []byte, i int) (int, string, bool) {
	c := p[i]
	plain := true
	j := i + 1
	for {
		if j = scanString(p, j, len(p), c); j == len(p) {
			return 0, "", false
		}
		switch b := p[j]; {
		case b == c:
			if plain {
				return j, pr.strings.make(p[i+1 : j : len(p)]), true
			}
			s, msg := pr.decodeString(p[i : j+1])
			return j, s, msg == ""
		case b == '\\':
			if j+1 == len(p) || p[j+1] < 0x20 || p[j+1] >= 0xFE {
				return 0, "", false
			}
			plain = false
			j += 2
		case b < 0x20 || b >= 0xFE:
			return 0, "", false
		default: // >= 0x80
			plain = false
			j++
		}
	}
}

// The keywords' first four bytes, as little-endian words.
const (
	kwTrue = 't' | 'r'<<8 | 'u'<<16 | 'e'<<24
	kwNull = 'n' | 'u'<<8 | 'l'<<16 | 'l'<<24
	kwFals = 'f' | 'a'<<8 | 'l'<<16 | 's'<<24
)

// skipSpace returns the index of the first byte from p[i] on that is not
// whitespace, or len(p). Most tokens follow no whitespace or one space, so
// those cases are inline.
func skipSpace(p []byte, i int) int {
	if i < len(p) {
		c := p[i]
		if c > ' ' {
			return i
		}
		if c == ' ' && i+1 < len(p) && p[i+1] > ' ' { // as after qemu-ga's ": " and ", "
			return i + 1
		}
	}
	return skipSpaceLoop(p, i)
}

func skipSpaceLoop(p []byte, i int) int {
	for i < len(p) && startClass[p[i]] == clsSpace {
		i++
	}
	return i
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
