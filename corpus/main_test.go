package corpus_test

import (
	"os"
	"testing"

	"github.com/qgafuzz/qgafuzz/corpus"
)

// TestMain turns the test binary into the coverage server when
// $QGAFUZZ_COVERAGE_SERVER is 1 (see corpus.Build).
func TestMain(m *testing.M) {
	if os.Getenv(corpus.ServerEnv) == "1" {
		os.Exit(corpus.Serve(os.Stdin, os.Stdout))
	}
	os.Exit(m.Run())
}
