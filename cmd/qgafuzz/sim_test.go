package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qgafuzz/qgafuzz/sim"
)

// runSimCommand runs "qgafuzz sim ARGS" in process.
func runSimCommand(args ...string) (code int, stdout, stderr string) {
	var out, errb syncBuffer
	e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb}
	code = run(e, append([]string{"sim"}, args...))
	return code, out.String(), errb.String()
}

func TestSimFailingSeed(t *testing.T) {
	dir := t.TempDir()
	trace, sched := filepath.Join(dir, "t.jsonl"), filepath.Join(dir, "s.json")
	code, out, errs := runSimCommand("--seed", "1", "--client", "plain", "--trace", trace, "--schedule", sched)
	if code != exitFinding {
		t.Fatalf("exit %d, want %d\n%s%s", code, exitFinding, out, errs)
	}
	for _, want := range []string{"FAIL seed 1: safety violated", "fault mix: ",
		"reproduce: qgafuzz sim --seed 1 --client plain --faults swarm --steps 40",
		"minimal schedule (1 of ", "then safety at", "replay: qgafuzz sim --replay " + trace} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// The trace and the schedule both replay the minimal schedule to the
	// recorded trace, and the failure is still there.
	for _, file := range []string{trace, sched} {
		code, out, _ := runSimCommand("--replay", file)
		if code != exitFinding || !strings.Contains(out, "the replay's trace is the recorded one") ||
			!strings.Contains(out, "violation: safety") {
			t.Fatalf("--replay %s: exit %d\n%s", file, code, out)
		}
	}
	lines := readLines(t, trace)
	if len(lines) < 5 || !strings.Contains(lines[0], `"event":"schedule"`) {
		t.Fatalf("trace %s:\n%s", trace, strings.Join(lines, "\n"))
	}
	for _, l := range lines[1:] {
		var tl sim.TraceLine
		if err := json.Unmarshal([]byte(l), &tl); err != nil || tl.Actor == "" || tl.Event == "" {
			t.Fatalf("trace line %q: %v", l, err)
		}
	}
}

// TestSimReplayReproducesSeed: a failing seed's full trace (no shrinking)
// replays to the same trace.
func TestSimReplayReproducesSeed(t *testing.T) {
	trace := filepath.Join(t.TempDir(), "t.jsonl")
	code, out, _ := runSimCommand("--seed", "2", "--client", "naive", "--no-shrink", "--trace", trace)
	if code != exitFinding || strings.Contains(out, "minimal schedule") {
		t.Fatalf("exit %d\n%s", code, out)
	}
	hash := field(out, "trace sha256 ")
	code, out, _ = runSimCommand("--replay", trace, "--json")
	var j struct {
		Determinism string
		TraceSHA256 string `json:"trace_sha256"`
		Failures    int
	}
	if err := json.Unmarshal([]byte(out), &j); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if code != exitFinding || j.Determinism != "ok" || j.TraceSHA256 != hash || j.Failures != 1 {
		t.Fatalf("exit %d, %+v, run hash %s", code, j, hash)
	}
}

func field(out, prefix string) string {
	i := strings.Index(out, prefix)
	if i < 0 {
		return ""
	}
	f := strings.Fields(out[i+len(prefix):])
	return f[0]
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

func TestSimBatch(t *testing.T) {
	code, out, errs := runSimCommand("--seeds", "1..60", "--client", "delimited", "--check-determinism", "--progress", "1ms")
	if code != exitOK || !strings.Contains(out, "60 seeds (1..60), client delimited, faults swarm, 40 steps: 0 failing") {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	if !strings.Contains(errs, "seeds/s") || !strings.Contains(errs, "failing") {
		t.Fatalf("no progress line on stderr:\n%s", errs)
	}
	code, out, _ = runSimCommand("--runs", "200", "--client", "naive", "--json", "--progress", "0")
	var j struct {
		Mode         string
		Runs         int
		Failures     int
		ByInvariant  map[string]int `json:"by_invariant"`
		FailingSeeds []uint64       `json:"failing_seeds"`
		First        *sim.Failure   `json:"first_failure"`
	}
	if err := json.Unmarshal([]byte(out), &j); err != nil {
		t.Fatalf("--json: %v\n%s", err, out)
	}
	if code != exitFinding || j.Mode != "batch" || j.Runs != 200 || j.Failures == 0 || j.ByInvariant["safety"] == 0 {
		t.Fatalf("exit %d: %+v", code, j)
	}
	f := j.First
	if f == nil || f.Seed != j.FailingSeeds[0] || f.Minimal == nil || len(f.Minimal.Events) == 0 ||
		!strings.HasPrefix(f.Reproduce, "qgafuzz sim --seed ") || f.Invariant == "" {
		t.Fatalf("first failure: %+v", f)
	}
	// The reproduce command reproduces.
	args := strings.Fields(strings.TrimPrefix(f.Reproduce, "qgafuzz sim "))
	code, out, _ = runSimCommand(append(args, "--no-shrink")...)
	if code != exitFinding || !strings.Contains(out, f.Message) {
		t.Fatalf("%s: exit %d\n%s\nwant %s", f.Reproduce, code, out, f.Message)
	}
	// Without faults even the naive host is fine.
	if code, out, _ := runSimCommand("--runs", "30", "--client", "naive", "--faults", "none"); code != exitOK {
		t.Fatalf("naive without faults: exit %d\n%s", code, out)
	}
}

func TestSimUsage(t *testing.T) {
	for _, args := range [][]string{
		{"--client", "reckless"}, {"--seeds", "5..1"}, {"--seeds", "1..5", "--seed", "2"},
		{"--faults", "bogus"}, {"--faults", "dup:rate=7"}, {"--plant-bug", "nope"}, {"--steps", "0"},
		{"--seed", "-1"}, {"--replay", "/nonexistent/schedule.json"}, {"extra"}, {"--steps", "2000000"},
		{"--replay", "x.json", "--seed", "3"},
	} {
		code, _, errs := runSimCommand(args...)
		if code != exitUsage || errs == "" {
			t.Errorf("%v: exit %d, stderr %q", args, code, errs)
		}
	}
	code, out, _ := runSimCommand("--help")
	if code != exitOK || !strings.Contains(out, "reconnect") || !strings.Contains(out, "check-determinism") {
		t.Fatalf("--help: exit %d\n%s", code, out)
	}
}

// TestSimPlantedBug: the agent invariants catch a planted agent bug.
func TestSimPlantedBug(t *testing.T) {
	code, out, _ := runSimCommand("--seed", "1", "--faults", "none", "--plant-bug", "dropped-newline", "--no-shrink")
	if code != exitFinding || !strings.Contains(out, "agent-reply") {
		t.Fatalf("exit %d\n%s", code, out)
	}
}
