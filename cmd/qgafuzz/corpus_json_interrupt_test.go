//go:build unix

package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestCorpusJSONMinimizeInterrupted: Ctrl-C while minimize --json
// measures the corpus it has written still prints the JSON object, with
// interrupted, exit_code 130 and the output that was written.
func TestCorpusJSONMinimizeInterrupted(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the coverage server")
	}
	if !fuzzInstrumented() {
		t.Skip("no fuzzing instrumentation on this GOARCH")
	}
	out := filepath.Join(t.TempDir(), "min")
	var stdout bytes.Buffer
	stderr := &interruptOnSecondMeasure{}
	code := run(&env{stdout: &stdout, stderr: stderr}, []string{"corpus", "minimize", "--target", "parser", "../../corpus/parser", "--out", out, "--json"})
	if !stderr.fired {
		t.Fatalf("minimize measured once only (exit %d):\n%s%s", code, &stdout, stderr)
	}
	if code != exitInterrupted {
		t.Fatalf("exit %d, want %d:\n%s%s", code, exitInterrupted, &stdout, stderr)
	}
	j := decodeCorpusJSON(t, code, stdout.String(), stderr.String())
	if !j.Interrupted || j.Output != out || j.Error != "" || j.FilesAfter != nil {
		t.Errorf("want interrupted, output %s, no error and no counts:\n%s", out, &stdout)
	}
	if ents, _ := os.ReadDir(out); len(ents) == 0 {
		t.Errorf("nothing in %s", out)
	}
}
