package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/qgafuzz/qgafuzz/fuzz"
	"github.com/qgafuzz/qgafuzz/qga/qgatest"
)

// reproJSONSchema is the documented --json object of qgafuzz repro,
// written out apart from reproJSON so that a field added, renamed or
// dropped there fails decodeReproJSON until the tests and docs follow.
type reproJSONSchema struct {
	Mode       string   `json:"mode"`
	File       string   `json:"file"`
	Format     string   `json:"format"`
	Bytes      *int     `json:"bytes"`
	Target     string   `json:"target"`
	TargetFrom string   `json:"target_from"`
	PlantedBug string   `json:"planted_bug"`
	Seed       *uint64  `json:"seed"`
	Client     string   `json:"client"`
	Faults     string   `json:"faults"`
	Steps      *int     `json:"steps"`
	QemuGA     string   `json:"qemu_ga"`
	Writes     *int     `json:"writes"`
	Verdict    string   `json:"verdict"`
	Failure    string   `json:"failure"`
	Signature  string   `json:"signature"`
	Violations *int     `json:"violations"`
	Seconds    *float64 `json:"seconds"`
	ExitCode   *int     `json:"exit_code"`
	Error      string   `json:"error"`
}

// decodeReproJSON checks that stdout holds one object of the schema and
// nothing else, with the exit code the command returned and the verdict
// that goes with it.
func decodeReproJSON(t *testing.T, code int, stdout, stderr string) reproJSONSchema {
	t.Helper()
	j := decodeOneJSON[reproJSONSchema](t, stdout, stderr)
	if j.ExitCode == nil || *j.ExitCode != code {
		t.Errorf("exit_code wrong or missing, but the command exited %d:\n%s", code, stdout)
	}
	if j.Seconds == nil || *j.Seconds <= 0 {
		t.Errorf("seconds missing or 0, want the replay's time:\n%s", stdout)
	}
	want := map[int]string{exitOK: "passes", exitFinding: "fails"}[code]
	if j.Verdict != want {
		t.Errorf("verdict %q for exit %d, want %q:\n%s", j.Verdict, code, want, stdout)
	}
	return j
}

// TestReproJSON: repro --json of a crashing input (a planted bug) gives
// verdict "fails", exit 1, the failure and its signature; of a passing
// input verdict "passes", exit 0; the target's source is named; the text
// goes to stderr.
func TestReproJSON(t *testing.T) {
	t.Setenv(fuzz.PlantBugEnv, "") // a planted bug from outside would change the run
	p := filepath.Join(t.TempDir(), "input")
	if err := os.WriteFile(p, []byte(`{"execute":"guest-ping","id":1}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCapture("repro", "--target", "differential", "--agent", "bug:duplicate-reply", p, "--json")
	if code != exitFinding {
		t.Fatalf("crashing input: exit %d, want %d\n%s\n%s", code, exitFinding, stdout, stderr)
	}
	j := decodeReproJSON(t, code, stdout, stderr)
	if j.Mode != "input" || j.File != p || j.Format != "raw" || !is(j.Bytes, 32) || j.Target != "differential" ||
		j.TargetFrom != "--target" || j.PlantedBug != "duplicate-reply" || j.Error != "" {
		t.Errorf("crashing input: want mode input, raw, 32 bytes, differential from --target, bug duplicate-reply:\n%s", stdout)
	}
	if !strings.HasPrefix(j.Signature, "differential/") || !strings.Contains(stderr, "deduplication signature: "+j.Signature) ||
		j.Failure == "" || !strings.Contains(stderr, j.Failure) || strings.Contains(j.Failure, "\n") {
		t.Errorf("crashing input: signature %q and failure %q not those printed:\n%s", j.Signature, j.Failure, stderr)
	}
	if !strings.Contains(stderr, "repro: FAIL") {
		t.Errorf("the verdict is not on stderr:\n%s", stderr)
	}

	code, stdout, stderr = runCapture("repro", "--target", "differential", p, "--json")
	j = decodeReproJSON(t, code, stdout, stderr)
	if code != exitOK || j.PlantedBug != "" || j.Failure != "" || j.Signature != "" || !strings.Contains(stderr, "repro: PASS") {
		t.Errorf("passing input: exit %d, want %d and no failure:\n%s\n%s", code, exitOK, stdout, stderr)
	}

	// The target from the path.
	dir := filepath.Join(t.TempDir(), "out", "crashers", "parser", "sig-1")
	os.MkdirAll(dir, 0o755)
	min := filepath.Join(dir, "minimized")
	os.WriteFile(min, []byte("\xff\xff"), 0o644)
	code, stdout, stderr = runCapture("repro", "--json", min)
	j = decodeReproJSON(t, code, stdout, stderr)
	if code != exitOK || j.Target != "parser" || j.TargetFrom != "the path" || !is(j.Bytes, 2) {
		t.Errorf("target from the path: exit %d:\n%s\n%s", code, stdout, stderr)
	}
}

// TestReproJSONSimulation: a failing seed gives verdict "fails", the
// seed and its flags, the violations and the simulation's signature; a
// schedule of it the same, with mode "schedule".
func TestReproJSONSimulation(t *testing.T) {
	t.Setenv(fuzz.PlantBugEnv, "")
	code, stdout, stderr := runCapture("repro", "--seed", "7", "--client", "plain", "--json")
	j := decodeReproJSON(t, code, stdout, stderr)
	if code != exitFinding || j.Mode != "seed" || !is(j.Seed, uint64(7)) || j.Client != "plain" || j.Faults != "swarm" ||
		!is(j.Steps, 40) || j.Violations == nil || *j.Violations < 1 || !strings.HasPrefix(j.Signature, "sim/safety") ||
		!strings.HasPrefix(j.Failure, "safety at ") || j.File != "" {
		t.Errorf("seed 7 plain: exit %d, want %d, the seed, its violations and signature:\n%s\n%s", code, exitFinding, stdout, stderr)
	}
	code, stdout, stderr = runCapture("repro", "--seed", "7", "--json")
	j = decodeReproJSON(t, code, stdout, stderr)
	if code != exitOK || !is(j.Violations, 0) || j.Client != "delimited" {
		t.Errorf("seed 7 delimited: exit %d, want %d and no violation:\n%s", code, exitOK, stdout)
	}
}

// TestReproJSONQemuGA: --agent qemu-ga --json gives mode "qemu-ga", the
// qemu-ga version and the stream's writes; a planted bug (from the
// environment) makes the replies differ: verdict "fails", exit 1, the
// first difference as the failure.
func TestReproJSONQemuGA(t *testing.T) {
	if _, err := qgatest.FindQemuGA(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s (CI is set, so this is fatal): %v", qgatest.MissingQemuGAMessage, err)
		}
		t.Skipf("%s (%v)", qgatest.MissingQemuGAMessage, err)
	}
	t.Setenv(fuzz.PlantBugEnv, "")
	p := filepath.Join(t.TempDir(), "input")
	os.WriteFile(p, []byte(`{"execute":"guest-ping","id":1}`+"\n"), 0o644)
	code, stdout, stderr := runCapture("repro", "--agent", "qemu-ga", p, "--json")
	j := decodeReproJSON(t, code, stdout, stderr)
	if code != exitOK || j.Mode != "qemu-ga" || j.QemuGA == "" || !is(j.Writes, 1) || j.Target != "" || !strings.Contains(stderr, "repro: PASS") {
		t.Errorf("guest-ping to qemu-ga: exit %d, want %d:\n%s\n%s", code, exitOK, stdout, stderr)
	}
	t.Setenv(fuzz.PlantBugEnv, "duplicate-reply")
	code, stdout, stderr = runCapture("repro", "--agent", "qemu-ga", p, "--json")
	j = decodeReproJSON(t, code, stdout, stderr)
	if code != exitFinding || j.PlantedBug != "duplicate-reply" || !strings.HasPrefix(j.Failure, "divergence: ") || !strings.Contains(stderr, "repro: FAIL") {
		t.Errorf("duplicate-reply against qemu-ga: exit %d, want %d:\n%s\n%s", code, exitFinding, stdout, stderr)
	}
}

// TestReproJSONErrors: a file that cannot be replayed gives the object
// with exit_code 2, the error and no verdict; a usage error prints none.
func TestReproJSONErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing")
	code, stdout, stderr := runCapture("repro", missing, "--json")
	j := decodeReproJSON(t, code, stdout, stderr)
	if code != exitUsage || !strings.Contains(j.Error, "cannot read the crash file") || j.File != missing {
		t.Errorf("missing file: exit %d:\n%s", code, stdout)
	}
	noTarget := filepath.Join(dir, "input")
	os.WriteFile(noTarget, []byte("x"), 0o644)
	code, stdout, stderr = runCapture("repro", noTarget, "--json")
	j = decodeReproJSON(t, code, stdout, stderr)
	if code != exitUsage || !strings.Contains(j.Error, "give --target") || j.Format != "raw" || !strings.Contains(stderr, "give --target") {
		t.Errorf("no target: exit %d:\n%s\n%s", code, stdout, stderr)
	}
	for _, args := range [][]string{{"repro", "--json"}, {"repro", "--seed", "1", noTarget, "--json"}, {"repro", "--seed", "1", "--client", "nope", "--json"}} {
		code, stdout, stderr := runCapture(args...)
		if code != exitUsage || stdout != "" || stderr == "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want a usage error and no JSON", args, code, stdout, stderr)
		}
	}
}

// TestReproJSONDocumented: every field of repro --json is named in repro
// --help and in README.md, and the test schema has them all.
func TestReproJSONDocumented(t *testing.T) {
	checkJSONDocumented(t, "repro", reproHelp, reflect.TypeFor[reproJSON]())
	checkSchemaMatches(t, reflect.TypeFor[reproJSON](), reflect.TypeFor[reproJSONSchema]())
}
