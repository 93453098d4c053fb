package fuzz

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sort"
	"strings"

	"github.com/qgafuzz/qgafuzz/internal/stack"
)

// This file is the target registry and the one way to run an input: every
// engine (native Go fuzzing, go-fuzz, libFuzzer, rapid, the differential
// driver, crash replay) goes through Run, so a failure looks the same
// whichever engine found it.

// Target is one fuzz target: a body that takes arbitrary bytes and checks
// properties on what qgafuzz's code does with them.
type Target struct {
	// Name is the target's name on the command line and the name of its
	// seed corpus directory (corpus/<Name>) and native fuzz function
	// (Fuzz + Name with an upper-case first letter, see FuncName).
	Name string
	// Doc is a one-line description.
	Doc string
	// Fn runs one input. It returns nil when every property held, a
	// *Violation when one did not, and panics on a crash of the code under
	// test. It must be deterministic and must not keep state between calls
	// that changes its verdict.
	Fn func(data []byte) error
}

// FuncName is the name of the target's entry point in every engine:
// FuzzParser for "parser", in native_test.go (native) and in gofuzz.go
// (go-fuzz and libFuzzer). A Target without a Name has none: "".
func (t Target) FuncName() string {
	if t.Name == "" {
		return ""
	}
	return "Fuzz" + strings.ToUpper(t.Name[:1]) + t.Name[1:]
}

var registry []Target

// register adds a target; it is called from the targets' init functions.
func register(t Target) {
	for _, o := range registry {
		if o.Name == t.Name {
			panic("fuzz: target " + t.Name + " registered twice")
		}
	}
	registry = append(registry, t)
	sort.Slice(registry, func(i, j int) bool { return registry[i].Name < registry[j].Name })
}

// Targets returns every target, sorted by name.
func Targets() []Target { return append([]Target(nil), registry...) }

// Lookup returns the target with the given name.
func Lookup(name string) (Target, bool) {
	for _, t := range registry {
		if t.Name == name {
			return t, true
		}
	}
	return Target{}, false
}

// Violation is a property that did not hold. Target and Property are
// stable identifiers (no input-dependent text), so Target+"/"+Property is a
// deduplication key; Detail describes this occurrence.
type Violation struct {
	Target   string
	Property string
	Detail   string
}

func (v *Violation) Error() string {
	return "fuzz/" + v.Target + ": property " + v.Property + " violated: " + v.Detail
}

// violation is shorthand for the targets.
func violation(target, property, format string, args ...any) *Violation {
	return &Violation{Target: target, Property: property, Detail: fmt.Sprintf(format, args...)}
}

// Failure is the outcome of an input that failed: a property violation,
// or a panic of the code under test.
type Failure struct {
	Target string
	Input  []byte
	// Violation is set when a property did not hold.
	Violation *Violation
	// Panic and Stack are set when the code under test panicked.
	Panic any
	Stack []byte
}

func (f *Failure) Error() string {
	if f.Violation != nil {
		return f.Violation.Error()
	}
	return fmt.Sprintf("fuzz/%s: panic: %v", f.Target, f.Panic)
}

// Signature is a stable key for deduplicating failures: for a violation the
// target and property, for a panic the target, the panic's type and the
// innermost frames of the code under test (above Run: not the runtime, not
// the harness, not the engine that called Run), which change neither with
// the input nor with the engine.
func (f *Failure) Signature() string {
	if f.Violation != nil {
		return f.Target + "/" + f.Violation.Property
	}
	return f.Target + "/panic " + panicKind(f.Panic) + " at " + strings.Join(stack.Frames(stack.Above(string(f.Stack), runFrame), 3, runFrame, checkFrame), " < ")
}

// Report renders the failure for a person: what failed, the input in hex,
// and the stack for a panic.
func (f *Failure) Report() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\nsignature: %s\ninput (%d bytes, hex): %s\n", f.Error(), f.Signature(), len(f.Input), hexDump(f.Input, 4096))
	if f.Stack != nil {
		fmt.Fprintf(&b, "stack:\n%s", f.Stack)
	}
	return b.String()
}

func panicKind(v any) string {
	switch e := v.(type) {
	case runtime.Error:
		// "index out of range [5] with length 3" -> "index out of range"
		s := e.Error()
		if i := strings.IndexAny(s, "[0123456789"); i > 0 {
			s = strings.TrimSpace(s[:i])
		}
		return "runtime error: " + strings.TrimPrefix(s, "runtime error: ")
	case error:
		return fmt.Sprintf("%T", e)
	}
	return fmt.Sprintf("%T", v)
}

// StackFrames returns up to n function names from a debug.Stack dump,
// innermost first, skipping the runtime, the panic machinery and this
// package's harness (Run, Check).
func StackFrames(dump []byte, n int) []string {
	return stack.Frames(string(dump), n, runFrame, checkFrame)
}

// The harness's functions, whose frames no signature shows.
const (
	runFrame   = "github.com/qgafuzz/qgafuzz/fuzz.Run"
	checkFrame = "github.com/qgafuzz/qgafuzz/fuzz.Check"
)

// Run runs one input through t and returns its failure, or nil. A panic is
// recovered and returned with its stack.
func Run(t Target, data []byte) (f *Failure) {
	defer func() {
		if r := recover(); r != nil {
			f = &Failure{Target: t.Name, Input: bytes.Clone(data), Panic: r, Stack: debug.Stack()}
		}
	}()
	err := t.Fn(data)
	if err == nil {
		return nil
	}
	var v *Violation
	if !errors.As(err, &v) {
		v = &Violation{Target: t.Name, Property: "error", Detail: err.Error()}
	}
	return &Failure{Target: t.Name, Input: bytes.Clone(data), Violation: v}
}

// Check runs data through the named target and panics with the failure's
// report if it fails: the contract of go-fuzz and libFuzzer entry points,
// which only see crashes. It returns go-fuzz's priority hint, always 0 (no
// preference: coverage alone decides what the engine keeps).
func Check(name string, data []byte) int {
	t, ok := Lookup(name)
	if !ok {
		panic("fuzz: no target " + name)
	}
	if f := Run(t, data); f != nil {
		// The report carries the original stack of a panic, since the
		// engine's own dump shows only this re-panic.
		panic(f.Report())
	}
	return 0
}

func hexDump(b []byte, max int) string {
	const digits = "0123456789abcdef"
	n := min(len(b), max)
	out := make([]byte, 0, 2*n+16)
	for _, c := range b[:n] {
		out = append(out, digits[c>>4], digits[c&15])
	}
	if n < len(b) {
		out = fmt.Appendf(out, "...(%d more bytes)", len(b)-n)
	}
	return string(out)
}

var allocSample = []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}

// heapAllocs returns the bytes allocated on the heap so far by the whole
// process. Small allocations are counted per span, so a difference of two
// readings is exact only to a few hundred KiB: budgets built on it keep a
// fixed allowance of at least 1 MiB.
func heapAllocs() uint64 {
	metrics.Read(allocSample)
	return allocSample[0].Value.Uint64()
}

// allocatedBy returns the heap bytes f allocates, as far as heapAllocs can
// tell. The reading is process-wide, so the fuzzing engine's own goroutines
// can add to it: a reading over budget is taken again, up to tries times,
// and the least is returned. A real excess shows in every reading.
func allocatedBy(f func(), budget uint64, tries int) uint64 {
	least := ^uint64(0)
	for range tries {
		before := heapAllocs()
		f()
		least = min(least, heapAllocs()-before)
		if least <= budget {
			break
		}
	}
	return least
}
