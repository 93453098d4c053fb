package fuzz

// This file triages a failure for the nightly job and `qgafuzz repro`:
// the signature that tells one bug from another, and the shrinking of a
// failing input that keeps the signature.
//
// A signature takes only the stack frames above Run: the code under test,
// not whoever called Run (a native fuzz function, the coverage server, the
// repro command), so that the same bug found by two engines gets one
// signature.
//
// MinimizeInput is delta debugging over the input's bytes (removing chunks
// of halving size, then single bytes), keeping each smaller candidate that
// still fails the same way. "The same way" is the caller's predicate, so
// that a crash is never minimized into a different bug; the nightly job
// compares TriageSignature.

// TriageSignature returns the engine-independent signature of a failure,
// which is Failure.Signature: the target and property of a violation, or
// the target, the panic's kind and the top three frames of the code under
// test (function names only, without line numbers or arguments) for a
// panic.
func TriageSignature(f *Failure) string { return f.Signature() }

// MinimizeInput returns the smallest input found that still satisfies
// fails, trying at most budget candidates (4096 if zero or less). data
// itself must satisfy fails. The second result is the number of tries.
func MinimizeInput(data []byte, fails func([]byte) bool, budget int) ([]byte, int) {
	if budget <= 0 {
		budget = 4096
	}
	tries := 0
	try := func(cand []byte) bool {
		if tries >= budget {
			return false
		}
		tries++
		return fails(cand)
	}
	cur := append([]byte(nil), data...)
	for changed := true; changed && tries < budget; {
		changed = false
		// Chunks of halving size, from the end (trailing junk first).
		for size := len(cur) / 2; size >= 1 && tries < budget; size /= 2 {
			for end := len(cur); end-size >= 0 && tries < budget; {
				start := end - size
				cand := append(append([]byte(nil), cur[:start]...), cur[end:]...)
				if try(cand) {
					cur, changed = cand, true
					end = min(start, len(cur))
					continue
				}
				end = start
			}
		}
		// Simplify bytes: replace each with a space or 'a', which keeps
		// the input readable when the byte's value does not matter.
		for i := 0; i < len(cur) && tries < budget; i++ {
			for _, c := range []byte{' ', 'a'} {
				if cur[i] == c || cur[i] == ' ' {
					break
				}
				cand := append([]byte(nil), cur...)
				cand[i] = c
				if try(cand) {
					cur, changed = cand, true
					break
				}
			}
		}
	}
	return cur, tries
}
