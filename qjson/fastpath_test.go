package qjson

import "testing"

// lexNumberRef runs the lexer's number state machine over p from its first
// byte: it returns the index of the byte that ends the token, and false on
// a lexical error or when p ends first.
func lexNumberRef(p []byte) (int, bool) {
	s := stSign
	switch {
	case p[0] == '0':
		s = stZero
	case isDigit(p[0]):
		s = stDigits
	}
	for j := 1; j < len(p); j++ {
		switch next := numberNext(s, p[j]); next {
		case stStart:
			return j, true
		case stRecover:
			return 0, false
		default:
			s = next
		}
	}
	return 0, false
}

// TestFastNumberGrammar checks fastNumber against the lexer's state machine
// on every string of up to 7 bytes over the bytes that matter to numbers.
func TestFastNumberGrammar(t *testing.T) {
	alphabet := []byte("019-+.eE,")
	checked := 0
	var walk func(p []byte)
	walk = func(p []byte) {
		if len(p) > 0 && (isDigit(p[0]) || p[0] == '-') {
			want, wantOK := lexNumberRef(p)
			got, float, ok := fastNumber(p, 0)
			if ok != wantOK || ok && got != want {
				t.Fatalf("fastNumber(%q) = %d, %v; the lexer says %d, %v", p, got, ok, want, wantOK)
			}
			if ok {
				text := p[:got]
				isFloat := false
				for _, c := range text {
					isFloat = isFloat || c == '.' || c == 'e' || c == 'E'
				}
				if float != isFloat {
					t.Fatalf("fastNumber(%q): float %v for %q", p, float, text)
				}
			}
			checked++
		}
		if len(p) == 7 {
			return
		}
		for _, c := range alphabet {
			walk(append(p, c))
		}
	}
	walk(nil)
	if checked < 100000 {
		t.Fatalf("only %d strings checked", checked)
	}
}
