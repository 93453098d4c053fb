package stack

import (
	"bytes"
	"math"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
)

func harness(f func()) (dump string) {
	defer func() {
		if recover() != nil {
			dump = string(debug.Stack())
		}
	}()
	f()
	return ""
}

func inner()  { panic("x") }
func middle() { inner() }
func outer()  { middle() }

const pkg = "github.com/qgafuzz/qgafuzz/internal/stack."

// The frames of a recovered panic are the code that panicked, innermost
// first: not the runtime, not the recovering harness, and nothing below
// it once the dump is cut there.
func TestFramesOfARecoveredPanic(t *testing.T) {
	dump := harness(outer)
	if !strings.Contains(dump, pkg+"harness(") {
		t.Fatalf("the dump does not show the harness:\n%s", dump)
	}
	got := Frames(Above(dump, pkg+"harness"), 5, pkg+"harness.")
	if want := []string{pkg + "inner", pkg + "middle", pkg + "outer"}; !slices.Equal(got, want) {
		t.Errorf("Frames = %q, want %q", got, want)
	}
	if got := Frames(dump, 2); !slices.Equal(got, []string{pkg + "harness.func1", pkg + "inner"}) {
		t.Errorf("uncut, two frames: %q", got)
	}
	if got := Above("no such frame", pkg+"harness"); got != "no such frame" {
		t.Errorf("Above without fn's frame: %q", got)
	}
}

// Two different bugs that both overflow a bytes.Buffer panic three frames
// deep in the standard library (ErrTooLarge, re-panicked in growSlice):
// their frames must be their own, not the library's three they share.
func growFromA() { var b bytes.Buffer; b.Grow(math.MaxInt - 1) }
func growFromB() { var b bytes.Buffer; b.Grow(math.MaxInt - 1) }

func TestFramesOnlyOfThisModule(t *testing.T) {
	a := Frames(Above(harness(growFromA), pkg+"harness"), 3, pkg+"harness.")
	b := Frames(Above(harness(growFromB), pkg+"harness"), 3, pkg+"harness.")
	if len(a) == 0 || a[0] != pkg+"growFromA" || len(b) == 0 || b[0] != pkg+"growFromB" {
		t.Errorf("frames of a panic inside bytes.Buffer:\n  A: %q\n  B: %q\nwant each to start at its own caller in this module", a, b)
	}
	for _, fn := range append(a, b...) {
		if !strings.HasPrefix(fn, Module) {
			t.Errorf("frame %q is not of this module", fn)
		}
	}
	// Without a frame of this module, the dump's first frames are kept.
	dump := "goroutine 1 [running]:\nbytes.growSlice(...)\n\t/go/bytes.go:1\nmain.main()\n\t/x.go:2\n"
	if got := Frames(dump, 3); !slices.Equal(got, []string{"bytes.growSlice", "main.main"}) {
		t.Errorf("no frame of this module: %q", got)
	}
}
