package fuzz_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/qgafuzz/qgafuzz/fuzz"
)

// TestMinimizeInput shrinks an input to the bytes the predicate needs,
// and never to an input that fails another way.
func TestMinimizeInput(t *testing.T) {
	in := []byte(`{"execute":"guest-ping","arguments":{"id":` + "\xff\xff" + `12345}}`)
	fails := func(b []byte) bool { return bytes.Contains(b, []byte("\xff\xff")) && bytes.Count(b, []byte("{")) >= 1 }
	got, tries := fuzz.MinimizeInput(in, fails, 0)
	if !fails(got) || len(got) != 3 {
		t.Fatalf("minimized to %q in %d tries", got, tries)
	}
	// A budget stops it early, with an input that still fails.
	got, tries = fuzz.MinimizeInput(in, fails, 5)
	if tries != 5 || !fails(got) {
		t.Fatalf("budget 5: %q in %d tries", got, tries)
	}
}

// TestTriageSignatureIgnoresCaller checks that the signature does not
// depend on who called Run: the frames below Run are not in it.
func TestTriageSignatureIgnoresCaller(t *testing.T) {
	tg := fuzz.Target{Name: "boom", Fn: func(b []byte) error {
		var m map[string]int
		if len(b) > 0 {
			//lint:ignore SA5000 the panic is the point: a target that crashes
			m["x"]++
		}
		return nil
	}}
	direct := fuzz.Run(tg, []byte("a"))
	var nested *fuzz.Failure
	func() { func() { nested = fuzz.Run(tg, []byte("bb")) }() }()
	if direct == nil || nested == nil {
		t.Fatal("no failure")
	}
	a, b := fuzz.TriageSignature(direct), fuzz.TriageSignature(nested)
	if a != b || !strings.HasPrefix(a, "boom/panic ") || strings.Contains(a, " < ") {
		t.Fatalf("signatures %q and %q", a, b)
	}
	v := &fuzz.Failure{Target: "parser", Violation: &fuzz.Violation{Target: "parser", Property: "round-trip", Detail: "x"}}
	if fuzz.TriageSignature(v) != "parser/round-trip" {
		t.Fatal(fuzz.TriageSignature(v))
	}
}
