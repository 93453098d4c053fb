package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/qgafuzz/qgafuzz/corpus"
	"github.com/qgafuzz/qgafuzz/fuzz"
	"github.com/qgafuzz/qgafuzz/sim"
)

func runCapture(args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := run(&env{stdout: &stdout, stderr: &stderr}, args)
	return code, stdout.String(), stderr.String()
}

// TestReproFormats replays a passing input in every engine's format, with
// the target taken from each place it can come from.
func TestReproFormats(t *testing.T) {
	dir := t.TempDir()
	input := []byte("{\"execute\":\"guest-ping\"}\x00|\xff{}")
	write := func(rel string, b []byte) string {
		p := filepath.Join(dir, rel)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	gofuzz := write("workdir/crashers/"+corpus.SHA1Name(input), input)
	write("workdir/crashers/"+corpus.SHA1Name(input)+".output", []byte("panic: fuzz/agent: property x violated\n"))
	cases := []struct {
		args       []string
		format, by string
	}{
		{[]string{write("fuzz/testdata/fuzz/FuzzParser/582528ddfad69eb5", corpus.EncodeNative(input))}, "native", "target parser (from the path)"},
		{[]string{write("out/crashers/delimiter/sig-1/minimized", input)}, "raw", "target delimiter (from the path)"},
		{[]string{"--target", "differential", write("crash-"+corpus.SHA1Name(input), input)}, "libfuzzer", "target differential (from --target)"},
		{[]string{gofuzz}, "gofuzz", "target agent (from "},
		{[]string{write("x/crash-aaa", input), "--target", "parser"}, "raw", "target parser (from --target)"},
		// Go's engine reads native files with CRLF line ends too.
		{[]string{write("fuzz/testdata/fuzz/FuzzAgent/crlf", fmt.Appendf(nil, "go test fuzz v1\r\n[]byte(%q)\r\n", input))}, "native", "29 bytes, target agent (from the path)"},
		// Schedule-like names in a request, and --target says what it is.
		{[]string{"--target", "agent", write("x/request", []byte(`{"execute":"guest-info","arguments":{"version":1,"seed":2,"ops":[]}}`))}, "raw", "target agent (from --target)"},
		// A JSON input that names "version" (as guest-info's reply does),
		// outside crashers/<target>/ (fuzz --out DIR): the report beside
		// it tells the target; it is no broken schedule.
		{[]string{reportedCrasher(t, dir)}, "raw", "target parser (from crash-1a2b3c4d.txt)"},
	}
	for _, c := range cases {
		code, out, errOut := runCapture(append([]string{"repro"}, c.args...)...)
		if code != exitOK || !strings.Contains(out, c.format+" input of") || !strings.Contains(out, c.by) || !strings.Contains(out, "PASS") {
			t.Errorf("repro %v: exit %d\n%s%s", c.args, code, out, errOut)
		}
	}
}

// reportedCrasher writes a raw crasher that holds JSON naming "version",
// with the report qgafuzz fuzz stores beside it, and returns its path.
func reportedCrasher(t *testing.T, dir string) string {
	p := filepath.Join(dir, "elsewhere", "crash-1a2b3c4d")
	os.MkdirAll(filepath.Dir(p), 0o755)
	if err := os.WriteFile(p, []byte(`{"return": {"version": "7.2.0", "supported_commands": []}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p+".txt", []byte("fuzz/parser: property x violated\nsignature: parser/x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestReproNoGuess checks that a directory merely named after a target,
// here the working directory, is not taken for the target.
func TestReproNoGuess(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "agent", "triage")
	os.MkdirAll(dir, 0o755)
	if err := os.WriteFile(filepath.Join(dir, "input"), []byte("\xff\xff"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	code, out, errOut := runCapture("repro", "input")
	if code != exitUsage || !strings.Contains(errOut, "give --target") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
}

// TestReproSimulation replays a failing seed and its schedule file (exit
// 1), and a passing seed (exit 0).
func TestReproSimulation(t *testing.T) {
	code, out, _ := runCapture("repro", "--seed", "7", "--client", "plain")
	if code != exitFinding || !strings.Contains(out, "safety") {
		t.Fatalf("seed 7 plain: exit %d\n%s", code, out)
	}
	r, err := sim.Run(sim.Options{Seed: 7, Client: sim.Plain})
	if err != nil || !r.Failed() {
		t.Fatalf("seed 7 plain does not fail: %v", err)
	}
	p := filepath.Join(t.TempDir(), "schedule.json")
	if err := r.Schedule().Save(p); err != nil {
		t.Fatal(err)
	}
	code, out, _ = runCapture("repro", p)
	if code != exitFinding || !strings.Contains(out, "schedule "+p) || !strings.Contains(out, "FAIL") {
		t.Fatalf("schedule: exit %d\n%s", code, out)
	}
	code, out, _ = runCapture("repro", "--seed", "7")
	if code != exitOK || !strings.Contains(out, "PASS") {
		t.Fatalf("seed 7 delimited: exit %d\n%s", code, out)
	}
}

// TestReproQuietPhase: a violation found in the simulation's quiet phase
// (after the workload) is described as "qgafuzz sim" describes it, "in the
// quiet phase", not at a step number past the workload's end, both in the
// text and in the --json failure.
func TestReproQuietPhase(t *testing.T) {
	var r *sim.Result
	for seed := uint64(1); seed <= 200 && r == nil; seed++ {
		res, err := sim.Run(sim.Options{Seed: seed, Client: sim.Plain})
		if err != nil {
			t.Fatal(err)
		}
		if res.Failed() && res.Violations[0].Step > len(res.Ops) {
			r = res
		}
	}
	if r == nil {
		t.Fatal("no seed in 1..200 of the plain client violates first in the quiet phase")
	}
	var simOut bytes.Buffer
	r.WriteText(&simOut)
	want := r.Violations[0].Describe(len(r.Ops))
	if !strings.Contains(want, "in the quiet phase") || !strings.Contains(simOut.String(), want) {
		t.Fatalf("seed %d: sim does not report %q:\n%s", r.Seed, want, simOut.String())
	}
	p := filepath.Join(t.TempDir(), "schedule.json")
	if err := r.Schedule().Save(p); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCapture("repro", p)
	step := fmt.Sprintf("(step %d)", r.Violations[0].Step)
	if code != exitFinding || !strings.Contains(out, "  "+want+"\n") || strings.Contains(out, step) {
		t.Fatalf("seed %d: exit %d, want %d and %q as sim says it:\n%s%s", r.Seed, code, exitFinding, want, out, errOut)
	}
	code, out, errOut = runCapture("repro", "--json", p)
	j := decodeReproJSON(t, code, out, errOut)
	if code != exitFinding || j.Failure != firstLine(want) {
		t.Fatalf("seed %d --json: exit %d, failure %q, want %q", r.Seed, code, j.Failure, firstLine(want))
	}
}

// TestReproErrors checks the messages for what cannot be replayed.
func TestReproErrors(t *testing.T) {
	dir := t.TempDir()
	anon := filepath.Join(dir, "input")
	os.WriteFile(anon, []byte("x"), 0o644)
	bad := filepath.Join(dir, "bad")
	os.WriteFile(bad, []byte("go test fuzz v1\nint(3)\n"), 0o644)
	sched := filepath.Join(dir, "schedule.json")
	r, err := sim.Run(sim.Options{Seed: 7, Client: sim.Plain})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Schedule().Save(sched); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"repro"}, "want one FILE"},
		{[]string{"repro", filepath.Join(dir, "missing")}, "cannot read the crash file"},
		{[]string{"repro", anon}, "cannot tell the target"},
		{[]string{"repro", "--target", "nope", anon}, `no target "nope"`},
		{[]string{"repro", "--target", "parser", bad}, "unsupported value"},
		{[]string{"repro", "--agent", "bug:nope", anon}, "want bug:NAME"},
		{[]string{"repro", "--seed", "3", anon}, "not both"},
		// Flags that would be ignored are refused.
		{[]string{"repro", "--seed", "3", "--target", "parser"}, "--target and --agent qemu-ga are for FILE"},
		{[]string{"repro", "--seed", "3", "--agent", "qemu-ga"}, "--target and --agent qemu-ga are for FILE"},
		{[]string{"repro", "--target", "parser", "--client", "plain", anon}, "go with --seed"},
		{[]string{"repro", "--faults", "drop", anon}, "go with --seed"},
		{[]string{"repro", "--steps", "100", anon}, "go with --seed"},
		{[]string{"repro", "--seed", "3", "--steps", "0"}, "--steps must be in"},
		{[]string{"repro", "--agent", "bug:silent-flush", sched}, "carries its own agent bug"},
	} {
		code, _, errOut := runCapture(c.args...)
		if code != exitUsage || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, %q; want 2 and %q", c.args, code, errOut, c.want)
		}
	}
}

// TestReproEditedSchedule: a schedule edited into one whose fault event
// can never fire (a step past the workload) is a usage error naming the
// file, not a replay without the event that passes and reads as fixed.
func TestReproEditedSchedule(t *testing.T) {
	r, err := sim.Run(sim.Options{Seed: 7, Client: sim.Plain})
	if err != nil || !r.Failed() || len(r.Events) == 0 {
		t.Fatalf("seed 7 plain: %v", err)
	}
	s := r.Schedule()
	s.Events = append([]sim.Event(nil), s.Events...)
	for i := range s.Events {
		s.Events[i].Step += len(s.Ops)
	}
	p := filepath.Join(t.TempDir(), "schedule.json")
	if err := s.Save(p); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCapture("repro", p)
	if code != exitUsage || !strings.Contains(errOut, p) || !strings.Contains(errOut, "could never fire") {
		t.Fatalf("exit %d, want %d\n%s%s", code, exitUsage, out, errOut)
	}
}

// TestReproBrokenSchedule: a truncated or hand-broken schedule or trace
// is reported with what is wrong with it (file, line), not as a fuzz
// input whose target cannot be told.
func TestReproBrokenSchedule(t *testing.T) {
	r, err := sim.Run(sim.Options{Seed: 7, Client: sim.Plain, Trace: true})
	if err != nil || !r.Failed() {
		t.Fatalf("seed 7 plain: %v", err)
	}
	dir := t.TempDir()
	sched, trace := filepath.Join(dir, "schedule.json"), filepath.Join(dir, "trace.jsonl")
	if err := r.Schedule().Save(sched); err != nil {
		t.Fatal(err)
	}
	if err := sim.WriteTrace(trace, r); err != nil {
		t.Fatal(err)
	}
	good, _ := os.ReadFile(sched)
	tr, _ := os.ReadFile(trace)
	head, rest, _ := bytes.Cut(tr, []byte("\n"))
	for _, c := range []struct {
		name string
		b    []byte
		want string
	}{
		{"truncated.json", good[:len(good)/2], "ends early"},
		{"edited.json", bytes.Replace(good, []byte(`"seed": 7`), []byte(`"seed": seven`), 1), "line 3, column "},
		// The header's string is cut by the end of its line: the error
		// is that newline's, on line 1 (not the line after it).
		{"trace.jsonl", slices.Concat(head[:len(head)/2], []byte("\n"), rest), fmt.Sprintf("line 1, column %d: ", len(head)/2+1)},
	} {
		p := filepath.Join(dir, c.name)
		if err := os.WriteFile(p, c.b, 0o644); err != nil {
			t.Fatal(err)
		}
		code, out, errOut := runCapture("repro", p)
		if code != exitUsage || !strings.Contains(errOut, p+": sim: ") || !strings.Contains(errOut, c.want) || strings.Contains(errOut, "cannot tell the target") {
			t.Errorf("%s: exit %d, want %d and %q\n%s%s", c.name, code, exitUsage, c.want, out, errOut)
		}
	}
}

// TestReproAgentBugInProcess: "repro --agent bug:NAME" plants the bug for
// its own replay only: it leaves the environment as it was, and a later
// replay in the same process runs the agent without the bug.
func TestReproAgentBugInProcess(t *testing.T) {
	before, wasSet := os.LookupEnv(fuzz.PlantBugEnv)
	t.Cleanup(func() {
		if wasSet {
			os.Setenv(fuzz.PlantBugEnv, before)
		} else {
			os.Unsetenv(fuzz.PlantBugEnv)
		}
	})
	p := filepath.Join(t.TempDir(), "input")
	if err := os.WriteFile(p, []byte(`{"execute":"guest-ping","id":1}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCapture("repro", "--target", "differential", "--agent", "bug:duplicate-reply", p)
	if code != exitFinding || !strings.Contains(out, "repro: FAIL") {
		t.Fatalf("with the bug: exit %d, want %d\n%s%s", code, exitFinding, out, errOut)
	}
	if now, set := os.LookupEnv(fuzz.PlantBugEnv); now != before || set != wasSet {
		t.Errorf("$%s is %q (set %v) after the replay, was %q (set %v)", fuzz.PlantBugEnv, now, set, before, wasSet)
	}
	if before == "" {
		code, out, errOut = runCapture("repro", "--target", "differential", p)
		if code != exitOK || !strings.Contains(out, "repro: PASS") {
			t.Errorf("without the bug: exit %d, want %d\n%s%s", code, exitOK, out, errOut)
		}
	}
}

// TestReproSeedSteps: a seed that fails only past the default workload
// (seed 8, plain, at step 86 of 100) replays with the --steps it ran with;
// without them it would pass and read as fixed.
func TestReproSeedSteps(t *testing.T) {
	t.Setenv(fuzz.PlantBugEnv, "") // a planted bug from outside would change the run
	code, out, errOut := runCapture("repro", "--seed", "8", "--client", "plain", "--steps", "100")
	if code != exitFinding || !strings.Contains(out, "100 steps") || !strings.Contains(out, "safety") {
		t.Fatalf("exit %d, want %d\n%s%s", code, exitFinding, out, errOut)
	}
}

// TestReproNightlyPlantedBug: a crash directory that qgafuzz nightly
// stored on a night with --agent bug:NAME names the bug in its repro.txt;
// "repro FILE" in it plants the bug again, or it would pass and call the
// crash fixed.
func TestReproNightlyPlantedBug(t *testing.T) {
	t.Setenv(fuzz.PlantBugEnv, "") // a planted bug from outside would change the run
	dir := filepath.Join(t.TempDir(), "crashers", "differential", "replies-match-83f9f095")
	os.MkdirAll(dir, 0o755)
	min := filepath.Join(dir, "minimized")
	os.WriteFile(min, []byte(`{"execute":""}`), 0o644) // CommandNotFound, sent without its newline
	os.WriteFile(filepath.Join(dir, "repro.txt"), []byte(fuzz.PlantBugEnv+"=dropped-newline qgafuzz repro --target differential "+min+"\n"), 0o644)
	code, out, errOut := runCapture("repro", min)
	if code != exitFinding || !strings.Contains(out, "planted bug dropped-newline (from repro.txt)") {
		t.Fatalf("exit %d, want %d (the bug of repro.txt planted)\n%s%s", code, exitFinding, out, errOut)
	}
	// Without a planted bug in repro.txt the same input passes.
	os.WriteFile(filepath.Join(dir, "repro.txt"), []byte("qgafuzz repro --target differential "+min+"\n"), 0o644)
	if code, out, errOut := runCapture("repro", min); code != exitOK {
		t.Errorf("without a planted bug: exit %d, want %d\n%s%s", code, exitOK, out, errOut)
	}
}
