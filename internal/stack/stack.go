// Package stack reads the function names out of a debug.Stack dump, for
// the signatures that tell one panic from another: the fuzz targets'
// crash signatures and the simulator's, which shrinking keeps.
//
//	frames := stack.Frames(stack.Above(dump, "example.com/pkg.Run"), 3)
package stack

import "strings"

// Module prefixes the functions of this module.
const Module = "github.com/qgafuzz/qgafuzz/"

// Frames returns up to n function names of this module from a debug.Stack
// dump, innermost first, without the functions whose names start with
// one of skip (a harness and its deferred recover). Frames of other
// packages (the standard library's) are left out: a panic deep inside,
// say, bytes.Buffer would otherwise fill all n frames with the standard
// library's, giving every caller in this module, each a different bug,
// one signature, and a signature that a new Go release renames. A dump
// with no frame of this module gives its first n frames outside the
// runtime and the panic machinery.
func Frames(dump string, n int, skip ...string) []string {
	var own, other []string
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
		if !strings.HasPrefix(fn, Module) {
			if len(other) < n {
				other = append(other, fn)
			}
			continue
		}
		own = append(own, fn)
		if len(own) == n {
			break
		}
	}
	if len(own) == 0 {
		return other
	}
	return own
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
