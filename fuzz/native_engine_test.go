package fuzz

import (
	"strings"
	"testing"
)

// TestDeadlineRace checks the classifier of Go 1.26's end-of-fuzztime race
// on real engine output: the bare deadline failure is the race; a failure
// with a failing input, a panic, or another message is not.
func TestDeadlineRace(t *testing.T) {
	race := `fuzz: elapsed: 9s, execs: 14434 (335/sec), new interesting: 30 (total: 224)
fuzz: elapsed: 11s, execs: 16881 (1375/sec), new interesting: 35 (total: 229)
--- FAIL: FuzzParser (10.79s)
    context deadline exceeded
FAIL`
	crash := `fuzz: elapsed: 2s, execs: 1000 (500/sec), new interesting: 3 (total: 200)
--- FAIL: FuzzParser (2.01s)
    --- FAIL: FuzzParser (0.00s)
        parser.go:40: events differ
    Failing input written to testdata/fuzz/FuzzParser/0123abcd
    To re-run:
    go test -run=FuzzParser/0123abcd
FAIL`
	panicked := `--- FAIL: FuzzAgent (3.00s)
    context deadline exceeded
panic: runtime error: index out of range [3] with length 3
FAIL`
	other := `--- FAIL: FuzzAgent (3.00s)
    fuzzing process hung or terminated unexpectedly: exit status 2
FAIL`
	cases := []struct {
		name, out string
		want      bool
	}{
		{"race", race, true},
		{"crash", crash, false},
		{"panic", panicked, false},
		{"other", other, false},
		{"no failure", "fuzz: elapsed: 3s, execs: 10 (3/sec)\nPASS", false},
	}
	for _, c := range cases {
		if got := deadlineRace(strings.Split(c.out, "\n")); got != c.want {
			t.Errorf("%s: deadlineRace = %v, want %v", c.name, got, c.want)
		}
	}
}
