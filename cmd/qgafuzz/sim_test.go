package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode"

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
		"reproduce: " + self() + " sim --seed 1 --client plain --faults swarm --steps 40",
		"minimal schedule (1 of ", "then safety at", "replay: " + self() + " sim --replay " + trace} {
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
	// encoding/json matches keys without regard to case, so the decode
	// above would accept Go field names: the raw keys must be the
	// snake_case of the rest of the schema (first_failure.shrink had
	// "Replays", "EventsBefore", ...).
	var raw any
	if err := json.Unmarshal([]byte(out), &raw); err != nil {
		t.Fatal(err)
	}
	if bad := upperKeys(raw, ""); len(bad) > 0 {
		t.Errorf("--json has keys that are not snake_case: %v", bad)
	}
	shrink, _ := raw.(map[string]any)["first_failure"].(map[string]any)["shrink"].(map[string]any)
	for _, k := range []string{"replays", "events_before", "events", "steps_before", "steps"} {
		if _, ok := shrink[k]; !ok {
			t.Errorf("first_failure.shrink has no %q: %v", k, shrink)
		}
	}
	f := j.First
	if f == nil || f.Seed != j.FailingSeeds[0] || f.Minimal == nil || len(f.Minimal.Events) == 0 ||
		!strings.HasPrefix(f.Reproduce, self()+" sim --seed ") || f.Invariant == "" {
		t.Fatalf("first failure: %+v", f)
	}
	// The reproduce command reproduces.
	args := strings.Fields(strings.TrimPrefix(f.Reproduce, self()+" sim "))
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
		{"--replay", "x.json", "--seed", "3"}, {"--faults", "stall:rate=NaN"}, {"--faults", "dup:rate=inf"},
		{"--seeds", "1..3", "--workers", "-1"}, {"--seeds", "1..3", "--max-failures", "-1"},
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

// TestSimJSONWriteError: a --json report that cannot be written (a full
// disk under "--json > FILE") fails the command, rather than leaving an
// empty or cut file behind an exit status that says all went fine.
func TestSimJSONWriteError(t *testing.T) {
	for _, args := range [][]string{{"--seed", "1"}, {"--seeds", "1..2"}} {
		var errb syncBuffer
		e := &env{stdin: strings.NewReader(""), stdout: failingWriter{}, stderr: &errb}
		code := run(e, append([]string{"sim", "--json", "--progress", "0"}, args...))
		if code != exitUsage || !strings.Contains(errb.String(), "--json: no space left on device") {
			t.Errorf("%v: exit %d, stderr %q", args, code, errb.String())
		}
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, syscall.ENOSPC }

// TestSimPlantedBug: the agent invariants catch a planted agent bug.
func TestSimPlantedBug(t *testing.T) {
	code, out, _ := runSimCommand("--seed", "1", "--faults", "none", "--plant-bug", "dropped-newline", "--no-shrink")
	if code != exitFinding || !strings.Contains(out, "agent-reply") {
		t.Fatalf("exit %d\n%s", code, out)
	}
}

// TestSimSignalStopsBatch: SIGTERM and SIGINT (Ctrl-C) stop a long batch
// between seeds; the summary and the --json output still come, cover the
// seeds that ran and say the batch was interrupted. The exit status is 1
// when a seed failed, else 0.
func TestSimSignalStopsBatch(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command and runs it for seconds")
	}
	bin := buildQgafuzz(t)
	for _, c := range []struct {
		sig    syscall.Signal
		client string
		exit   int
	}{
		{syscall.SIGTERM, "delimited", exitOK},
		{syscall.SIGINT, "plain", exitFinding},
	} {
		sched := filepath.Join(t.TempDir(), "s.json")
		cmd := exec.Command(bin, "sim", "--runs", "1000000", "--json", "--workers", "1", "--progress", "50ms",
			"--client", c.client, "--schedule", sched)
		var stdout, stderr syncBuffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// A progress line means the batch, and its signal handling, runs.
		for deadline := time.Now().Add(30 * time.Second); !strings.Contains(stderr.String(), "seeds/s"); {
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				t.Fatalf("%s: no progress line in 30s:\n%s", c.sig, stderr.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
		cmd.Process.Signal(c.sig)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		var err error
		select {
		case err = <-done:
		case <-time.After(60 * time.Second):
			cmd.Process.Kill()
			t.Fatalf("%s: still running 60s after the signal:\n%s", c.sig, stderr.String())
		}
		code := 0
		if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
			code = ee.ExitCode() // -1 when the signal killed it
		} else if err != nil {
			t.Fatal(err)
		}
		var j struct {
			Runs        int
			Failures    int
			Interrupted bool
			Files       map[string]string
		}
		if err := json.Unmarshal([]byte(stdout.String()), &j); err != nil {
			t.Fatalf("%s: exit %d, --json: %v\nstdout: %q\nstderr:\n%s", c.sig, code, err, stdout.String(), stderr.String())
		}
		if code != c.exit || !j.Interrupted || j.Runs == 0 || j.Runs >= 1000000 || (j.Failures > 0) != (c.exit == exitFinding) {
			t.Fatalf("%s: exit %d (want %d), %+v\n%s", c.sig, code, c.exit, j, stderr.String())
		}
		if want := "INTERRUPTED after "; !strings.Contains(stderr.String(), want) {
			t.Fatalf("%s: summary lacks %q:\n%s", c.sig, want, stderr.String())
		}
		if c.exit == exitFinding && j.Files["schedule"] != sched {
			t.Fatalf("%s: the first failure's schedule was not written: %+v", c.sig, j)
		}
	}
}

// TestSimBatchWritesScheduleUnshrunk: with --no-shrink, a batch still
// writes the schedule of its first failing seed, which replays to it.
func TestSimBatchWritesScheduleUnshrunk(t *testing.T) {
	sched := filepath.Join(t.TempDir(), "s.json")
	code, out, errs := runSimCommand("--client", "plain", "--runs", "5", "--no-shrink", "--schedule", sched,
		"--json", "--progress", "0")
	var j struct {
		First *sim.Failure      `json:"first_failure"`
		Files map[string]string `json:"files"`
	}
	if err := json.Unmarshal([]byte(out), &j); err != nil {
		t.Fatalf("--json: %v\n%s", err, out)
	}
	if code != exitFinding || j.First == nil || j.Files["schedule"] != sched ||
		!strings.Contains(errs, "schedule written to "+sched) {
		t.Fatalf("exit %d, files %v\n%s", code, j.Files, errs)
	}
	s, err := sim.LoadSchedule(sched)
	if err != nil || s.Seed != j.First.Seed || len(s.Ops) != sim.DefaultSteps {
		t.Fatalf("schedule %s: %v, %+v", sched, err, s)
	}
	code, out, _ = runSimCommand("--replay", sched)
	if code != exitFinding || !strings.Contains(out, "the replay's trace is the recorded one") ||
		!strings.Contains(out, j.First.Message) {
		t.Fatalf("--replay %s: exit %d\n%s", sched, code, out)
	}
}

// TestSimReplaySchedule: with --replay, the schedule is the input, and
// --schedule writes the minimal schedule of a failing replay (shrunk
// from it); with --no-shrink there is none, so the pair is a usage error
// rather than a silently ignored flag, and a replay that does not fail
// writes none and says so.
func TestSimReplaySchedule(t *testing.T) {
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.json"), filepath.Join(dir, "out.json")
	if code, _, errs := runSimCommand("--seed", "1", "--client", "plain", "--no-shrink", "--schedule", in); code != exitFinding {
		t.Fatalf("exit %d\n%s", code, errs)
	}
	code, _, errs := runSimCommand("--replay", in, "--no-shrink", "--schedule", out)
	if code != exitUsage || !strings.Contains(errs, "--schedule") || !strings.Contains(errs, "--no-shrink") {
		t.Fatalf("--no-shrink --schedule: exit %d, stderr %q", code, errs)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatalf("%s: %v, want no file", out, err)
	}
	code, stdout, errs := runSimCommand("--replay", in, "--schedule", out, "--progress", "0")
	if code != exitFinding || !strings.Contains(stdout, "schedule written to "+out) {
		t.Fatalf("exit %d\n%s%s", code, stdout, errs)
	}
	orig, err1 := sim.LoadSchedule(in)
	min, err2 := sim.LoadSchedule(out)
	if err1 != nil || err2 != nil || len(min.Ops) >= len(orig.Ops) || min.Violation == nil || min.Violation.Invariant != orig.Violation.Invariant {
		t.Fatalf("%s: %v %v: %d steps of %d, violation %v (want %v)", out, err1, err2, len(min.Ops), len(orig.Ops), min.Violation, orig.Violation)
	}
	clean, none := filepath.Join(dir, "clean.json"), filepath.Join(dir, "none.json")
	if code, _, errs := runSimCommand("--seed", "1", "--schedule", clean); code != exitOK {
		t.Fatalf("exit %d\n%s", code, errs)
	}
	code, stdout, _ = runSimCommand("--replay", clean, "--schedule", none)
	if code != exitOK || !strings.Contains(stdout, "--schedule not written") {
		t.Fatalf("a replay that does not fail: exit %d\n%s", code, stdout)
	}
	if _, err := os.Stat(none); !os.IsNotExist(err) {
		t.Fatalf("%s: %v, want no file", none, err)
	}
}

// TestSimReplayShrinksWithProgress: a failing --replay is shrunk as a
// failing seed is (its reproduce line is the replay), with --progress
// lines for the replay and for shrinking; --no-shrink and --progress 0
// turn them off. The flags used to be ignored with --replay.
func TestSimReplayShrinksWithProgress(t *testing.T) {
	in := filepath.Join(t.TempDir(), "in.json")
	if code, _, errs := runSimCommand("--seed", "1", "--client", "plain", "--steps", "300", "--no-shrink", "--schedule", in); code != exitFinding {
		t.Fatalf("exit %d\n%s", code, errs)
	}
	code, out, errs := runSimCommand("--replay", in, "--progress", "1ns", "--json")
	var j struct {
		First *sim.Failure `json:"first_failure"`
	}
	if err := json.Unmarshal([]byte(out), &j); err != nil {
		t.Fatalf("--json: %v\n%s", err, out)
	}
	if code != exitFinding || j.First == nil || j.First.Minimal == nil || j.First.Shrink == nil || j.First.Shrink.Steps >= 300 ||
		j.First.Reproduce != self()+" sim --replay "+sim.ShellQuote(in) {
		t.Fatalf("exit %d, first failure %+v\n%s", code, j.First, errs)
	}
	for _, want := range []string{"qgafuzz sim: replay of seed 1: ", "/300 steps, virtual time ", "qgafuzz sim: shrinking: ", "minimal schedule ("} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errs)
		}
	}
	code, out, errs = runSimCommand("--replay", in, "--progress", "0", "--no-shrink")
	if code != exitFinding || errs != "" || strings.Contains(out, "minimal schedule") || !strings.Contains(out, "FAIL seed 1") {
		t.Fatalf("--no-shrink --progress 0: exit %d, stderr %q\n%s", code, errs, out)
	}
}

// TestSimReplayRejectsCheckDeterminism: --replay already compares the
// replay's trace with the recorded one, and does not run twice, so
// --check-determinism with it is a usage error rather than ignored.
func TestSimReplayRejectsCheckDeterminism(t *testing.T) {
	in := filepath.Join(t.TempDir(), "in.json")
	if code, _, errs := runSimCommand("--seed", "1", "--client", "plain", "--no-shrink", "--schedule", in); code != exitFinding {
		t.Fatalf("exit %d\n%s", code, errs)
	}
	code, out, errs := runSimCommand("--replay", in, "--check-determinism")
	if code != exitUsage || !strings.Contains(errs, "--replay") || !strings.Contains(errs, "--check-determinism") || out != "" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errs)
	}
}

// TestSimFailingSeedsCapIsExplicit: the JSON list of failing seeds is cut
// to the lowest ones, and says how many it leaves out; so does the text.
func TestSimFailingSeedsCapIsExplicit(t *testing.T) {
	code, out, errs := runSimCommand("--client", "plain", "--runs", "60", "--no-shrink", "--json", "--progress", "0")
	var j struct {
		Failures     int
		FailingSeeds []uint64 `json:"failing_seeds"`
		Omitted      int      `json:"failing_seeds_omitted"`
	}
	if err := json.Unmarshal([]byte(out), &j); err != nil {
		t.Fatalf("--json: %v\n%s", err, out)
	}
	kept := sim.DefaultKeepFailures
	if code != exitFinding || j.Failures <= kept || len(j.FailingSeeds) != kept || j.Omitted != j.Failures-kept {
		t.Fatalf("exit %d: %d failures, %d seeds listed, %d omitted", code, j.Failures, len(j.FailingSeeds), j.Omitted)
	}
	if want := "only the lowest 20 are kept"; !strings.Contains(errs, want) {
		t.Fatalf("text summary lacks %q:\n%s", want, errs)
	}
}

// upperKeys returns the paths of the object keys in v that start with an
// upper-case letter (Go field names that lack a json tag).
func upperKeys(v any, path string) []string {
	var bad []string
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			if k != "" && unicode.IsUpper(rune(k[0])) {
				bad = append(bad, path+"."+k)
			}
			bad = append(bad, upperKeys(e, path+"."+k)...)
		}
	case []any:
		for i, e := range v {
			bad = append(bad, upperKeys(e, fmt.Sprintf("%s[%d]", path, i))...)
		}
	}
	return bad
}

// TestSimReplayAfterFix: a schedule replayed once the bug it shows is gone
// (here: a planted bug dropped from the file) has another trace. That is
// not evidence of nondeterminism: the report says the trace differs and
// that the recorded failure no longer happens.
func TestSimReplayAfterFix(t *testing.T) {
	p := filepath.Join(t.TempDir(), "s.json")
	if code, out, errs := runSimCommand("--seed", "2", "--plant-bug", "duplicate-reply", "--schedule", p); code != exitFinding {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	s, err := sim.LoadSchedule(p)
	if err != nil || s.AgentBug == "" {
		t.Fatalf("%s: %v, %+v", p, err, s)
	}
	s.AgentBug = ""
	if err := s.Save(p); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runSimCommand("--replay", p)
	if code != exitFinding || strings.Contains(out, "NONDETERMINISTIC") || !strings.Contains(out, "TRACE DIFFERS") ||
		!strings.Contains(out, "the recorded failure does not happen") || !strings.Contains(out, "ok: every invariant held") {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
}

// TestSimShrinkProgress: shrinking prints progress lines on standard
// error (every --progress; none with --progress 0), never on standard
// output.
func TestSimShrinkProgress(t *testing.T) {
	code, out, errs := runSimCommand("--seed", "1", "--client", "plain", "--progress", "1ns")
	if code != exitFinding || !strings.Contains(errs, "qgafuzz sim: shrinking: ") || !strings.Contains(errs, "/4000 replays, now ") ||
		strings.Contains(out, "shrinking:") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	if code, _, errs := runSimCommand("--seed", "1", "--client", "plain", "--progress", "0"); code != exitFinding || errs != "" {
		t.Fatalf("--progress 0: exit %d, stderr %q", code, errs)
	}
}

// TestSimRunProgress: a single run prints progress lines (steps done of
// the total, virtual and real time) on standard error every --progress,
// and its report on standard output is the same with or without them.
// A single run used to print none, however long it took.
func TestSimRunProgress(t *testing.T) {
	code, out, errs := runSimCommand("--seed", "1", "--steps", "300", "--progress", "1ns")
	if code != exitOK || !strings.Contains(errs, "qgafuzz sim: seed 1: ") || !strings.Contains(errs, "/300 steps, virtual time ") ||
		strings.Contains(out, "steps, virtual time") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	code, quiet, errs := runSimCommand("--seed", "1", "--steps", "300", "--progress", "0")
	if code != exitOK || errs != "" || quiet != out {
		t.Fatalf("--progress 0: exit %d, stderr %q, stdout\n%s\nwith progress:\n%s", code, errs, quiet, out)
	}
}
