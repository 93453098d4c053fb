// Package stack reads the function names out of a debug.Stack dump, for
// the signatures that tell one panic from another: the fuzz targets'
// crash signatures and the simulator's, which shrinking keeps.
//
//	frames := stack.Frames(stack.Above(dump, "example.com/pkg.Run"), 3)
package stack

import "strings"

// Frames returns up to n function names from a debug.Stack dump, innermost
// first, without the runtime, the panic machinery, and the functions whose
// names start with one of skip (a harness and its deferred recover).
func Frames(dump string, n int, skip ...string) []string {
	var out []string
	for _, line := range strings.Split(dump, "\n") {
		if line == "" || line[0] == '\t' || strings.HasPrefix(line, "goroutine ") {
			continue
		}
		fn := line
		if i := strings.LastIndexByte(fn, '('); i > 0 {
			fn = fn[:i]
		}
		if strings.HasPrefix(fn, "runtime.") || strings.HasPrefix(fn, "panic") ||
			strings.HasPrefix(fn, "runtime/debug.") || hasAnyPrefix(fn, skip) {
			continue
		}
		out = append(out, fn)
		if len(out) == n {
			break
		}
	}
	return out
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// Above cuts a dump at the frame of fn, the function whose deferred
// recover took it, so that only the frames of the code it called (and the
// panic machinery) are left. The first mention of fn is its deferred
// function (fn.func1); the frame of fn itself is the last one.
func Above(dump, fn string) string {
	if i := strings.LastIndex(dump, "\n"+fn+"("); i >= 0 {
		return dump[:i+1]
	}
	return dump
}
