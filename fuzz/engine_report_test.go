package fuzz

import (
	"os"
	"strings"
	"testing"
	"time"
)

// TestEngineStoreReport: a crasher of an engine run with a planted bug is
// stored with a report that starts with the command reproducing it and
// names the engine's environment, and the command is returned with it.
func TestEngineStoreReport(t *testing.T) {
	target, _ := Lookup("differential")
	o := EngineOptions{Target: target, Out: t.TempDir(), Env: []string{PlantBugEnv + "=split-utf8"},
		Repro: func(crasher string) string { return "qgafuzz repro --agent bug:split-utf8 " + crasher }}
	data := []byte("input")
	c, err := o.store(data, "found by a test engine\n")
	if err != nil {
		t.Fatal(err)
	}
	want := "qgafuzz repro --agent bug:split-utf8 " + c.Path
	if c.Repro != want {
		t.Errorf("Crasher.Repro %q, want %q", c.Repro, want)
	}
	report, err := os.ReadFile(c.Report)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(report), "differential: reproduce with: "+want+"\n") {
		t.Errorf("the report does not start with the reproduce line:\n%s", report)
	}
	if !strings.Contains(string(report), PlantBugEnv+"=split-utf8") || !strings.Contains(string(report), "found by a test engine") {
		t.Errorf("the report lacks the planted bug or the engine's header:\n%s", report)
	}
}

// TestWithoutScratchRerun: native Go fuzzing's advice to re-run a file of
// its scratch directory, gone after the run, gives way to the reproduce
// command.
func TestWithoutScratchRerun(t *testing.T) {
	out := strings.Join([]string{
		"--- FAIL: FuzzDifferential (0.05s)",
		"    Failing input written to testdata/fuzz/FuzzDifferential/582528ddfad69eb5",
		"    To re-run:",
		"    go test -run=FuzzDifferential/582528ddfad69eb5",
		"FAIL",
	}, "\n")
	got := withoutScratchRerun(out, "qgafuzz repro X")
	if strings.Contains(got, "go test -run=") || !strings.Contains(got, "    To re-run: qgafuzz repro X\nFAIL") {
		t.Errorf("with a command:\n%s", got)
	}
	if got := withoutScratchRerun(out, ""); strings.Contains(got, "To re-run") || !strings.HasSuffix(got, "582528ddfad69eb5\nFAIL") {
		t.Errorf("without a command:\n%s", got)
	}
}

// go-fuzz writes a crasher only once it has minimized it: in a run of
// --time D it minimizes for a quarter of D (1 s to its default 1 min), so
// that a crash found in the first three quarters of the run is reported.
func TestGoFuzzMinimize(t *testing.T) {
	for d, want := range map[time.Duration]time.Duration{
		time.Second:      time.Second,
		14 * time.Second: 3500 * time.Millisecond,
		time.Minute:      15 * time.Second,
		time.Hour:        time.Minute,
	} {
		if got := goFuzzMinimize(d); got != want {
			t.Errorf("goFuzzMinimize(%v) = %v, want %v", d, got, want)
		}
	}
}
