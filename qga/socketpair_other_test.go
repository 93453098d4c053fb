//go:build !unix

package qga_test

import "testing"

// socketPairFDs needs unix socket pairs; the tests that use it are
// skipped elsewhere.
func socketPairFDs(t *testing.T) [2]int {
	t.Helper()
	t.Skip("needs a unix socket pair")
	return [2]int{}
}
