package stack

import (
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
