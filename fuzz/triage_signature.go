package fuzz

import "strings"

// This file is the crash signature the nightly job and `qgafuzz repro`
// deduplicate by. Failure.Signature takes the innermost qgafuzz frames of
// the whole stack, so for a short stack it also takes the frames of
// whoever called Run (a native fuzz function, the coverage server, the
// repro command), and the same bug found by two engines got two
// signatures. TriageSignature keeps only the frames above Run: the code
// under test, which do not depend on the engine.

// TriageSignature returns the engine-independent signature of a failure:
// the target and property of a violation, or the target, the panic's kind
// and the top three frames of the code under test (function names only,
// without line numbers or arguments) for a panic.
func TriageSignature(f *Failure) string {
	if f.Violation != nil {
		return f.Signature()
	}
	frames := StackFrames(stackAboveRun(f.Stack), 3)
	return f.Target + "/panic " + panicKind(f.Panic) + " at " + strings.Join(frames, " < ")
}

// stackAboveRun cuts a debug.Stack dump at the frame of Run, so that only
// the frames of the code under test (and the panic machinery) are left.
func stackAboveRun(stack []byte) []byte {
	const run = "\ngithub.com/qgafuzz/qgafuzz/fuzz.Run("
	s := string(stack)
	// The first occurrence is Run's deferred recover (fuzz.Run.func1); the
	// frame of Run itself is the last one.
	if i := strings.LastIndex(s, run); i >= 0 {
		return stack[:i+1]
	}
	return stack
}
