package corpus_test

import (
	"errors"
	"testing"

	"github.com/qgafuzz/qgafuzz/corpus"
)

// TestProblemStringEscapesControls: a corpus file's name cannot put
// terminal escapes or bytes that are not UTF-8 into the output and
// summary.md.
func TestProblemStringEscapesControls(t *testing.T) {
	p := corpus.Problem{Path: "/c/evil\x1b]0;PWNED\x07\x1b[2J\xff\x00 é\uFFFD", Err: errors.New("too big\x1b[31m")}
	s := p.String()
	for _, c := range s {
		if c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0) {
			t.Fatalf("%q holds the control character %U", s, c)
		}
	}
	if want := `skipping /c/evil\u001B]0;PWNED\u0007\u001B[2J\xff\u0000 é` + "\uFFFD" + `: too big\u001B[31m`; s != want {
		t.Errorf("got  %s\nwant %s", s, want)
	}
}
