package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/qgafuzz/qgafuzz/corpus"
	"github.com/qgafuzz/qgafuzz/fuzz"
	"github.com/qgafuzz/qgafuzz/nightly"
	"github.com/qgafuzz/qgafuzz/qga"
	"github.com/qgafuzz/qgafuzz/qga/qgatest"
	"github.com/qgafuzz/qgafuzz/sim"
)

func init() {
	register(&command{name: "repro", summary: "replay a crasher (any engine's format) or a simulation schedule; exit 1 while it fails", run: runRepro})
}

const reproHelp = `
Usage: qgafuzz repro FILE [--target T] [--agent bug:NAME|qemu-ga] [--json]
       qgafuzz repro --seed N [--client C] [--faults LIST] [--steps K] [--agent bug:NAME] [--json]

Replays one crash and prints the panic stack or the violated property or
invariant. FILE may be a raw crasher (qgafuzz's crashers/, corpus files), a
native "go test fuzz v1" file (testdata/fuzz/FuzzX/...), a go-fuzz crasher,
a libFuzzer crash-<sha1> file, or a simulation schedule or trace (qgafuzz
sim --schedule/--trace, crashers/sim/.../schedule.json). The target is taken
from --target, else from the path (FuzzParser/, crashers/<target>/,
corpus/<target>/), else from a report file beside FILE; a planted bug the
report beside FILE (qgafuzz fuzz --plant-bug) or the repro.txt of its crash
directory (qgafuzz nightly --agent bug:NAME) names is planted again. --seed replays a
simulation seed instead, with the --client, --faults and --steps it ran
with. --agent qemu-ga plays FILE (a request stream, as the differential
target reads it) to a live qemu-ga and to the built-in agent and compares
their replies, as the nightly job's qemu-ga share does.

--json prints one JSON object on standard output at the end (any replay
past its flags, one that cannot run too), and the text on standard error.
Fields left out are ones the replay did not get to:
  mode             "input" (a fuzz input), "schedule" (a simulation
                   schedule or trace), "seed" (--seed) or "qemu-ga"
  file             FILE as given
  format           as detected: raw, native, gofuzz, libfuzzer or sim
  bytes            the decoded input's size
  target           the fuzz target; target_from: "--target", "the path",
                   or the report beside FILE that named it
  planted_bug      the bug planted in the agent (--agent bug:NAME, the
                   environment, or the report or repro.txt beside FILE)
  seed, client, faults, steps
                   a simulation's (--seed, or the schedule's)
  qemu_ga, writes  --agent qemu-ga: its version; the stream's writes
  verdict          "fails" (exit 1) or "passes" (exit 0)
  failure          the failure's first line (property or panic, first
                   invariant violation, or first difference of the replies)
  signature        the deduplication signature, as qgafuzz nightly files it
  violations       how many invariant violations a simulation had
  seconds          wall-clock time of the replay
  exit_code        the exit status; error: why the replay could not run
                   (exit 2 or 3; no verdict then)

Examples:
  qgafuzz repro out/crashers/parser/panic-.../minimized
  qgafuzz repro fuzz/testdata/fuzz/FuzzAgent/582528ddfad69eb5
  qgafuzz repro --target agent crash-3f786850e387550fdab836ed7e6dc881de23001b
  qgafuzz repro out/crashers/sim/safety-1a2b3c4d/schedule.json
  qgafuzz repro --seed 7 --client plain
  qgafuzz repro out/crashers/parser/panic-.../minimized --json > repro.json

Exit codes: 0 it no longer fails (fixed), 1 it still fails, 2 usage error, a
file that cannot be read or decoded or whose target cannot be told, or (--agent
qemu-ga) a qemu-ga that cannot be started, 3 qemu-ga failed mid-stream.`

func runRepro(e *env, args []string) int {
	fs := newFlagSet(e, "repro", reproHelp)
	target := fs.String("target", "", "the fuzz target (default: from the path)")
	agent := fs.String("agent", "", "bug:NAME plants a bug in the agent under test (differential target, simulation); qemu-ga compares with a live qemu-ga")
	seed := fs.Uint64("seed", 0, "replay this simulation seed")
	client := fs.String("client", "delimited", "simulation client strategy (with --seed)")
	faults := fs.String("faults", "swarm", "simulation faults (with --seed)")
	steps := fs.Int("steps", sim.DefaultSteps, "simulation workload length (with --seed)")
	jsonOut := fs.Bool("json", false, jsonUsage)
	pos, code, ok := parseInterleaved(fs, e, args)
	if !ok {
		return code
	}
	usage := func(format string, a ...any) int {
		fmt.Fprintf(e.stderr, "qgafuzz repro: "+format+"\n", a...)
		return exitUsage
	}
	bug := qga.NoBug
	if b, ok := qga.ParseBug(os.Getenv(fuzz.PlantBugEnv)); ok {
		bug = b
	}
	if *agent != "" && *agent != "builtin" && *agent != "qemu-ga" {
		b, ok := qga.ParseBug(strings.TrimPrefix(*agent, "bug:"))
		if !ok || b == qga.NoBug {
			return usage("--agent %q: want bug:NAME with NAME one of %v", *agent, qga.Bugs())
		}
		bug = b
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	// With --json, standard output carries the JSON object alone: begin,
	// called once the flags are checked, sends the text to standard
	// error; done prints the object (usage errors print none).
	j := &reproJSON{}
	stdout, start := e.stdout, time.Now()
	begin := func() {
		if *jsonOut {
			e = e.textOnStderr()
		}
		start = time.Now()
	}
	done := func(code int) int {
		if *jsonOut {
			return j.emit(stdout, e.stderr, code, time.Since(start))
		}
		return code
	}
	if set["seed"] {
		if len(pos) > 0 {
			return usage("give FILE or --seed, not both")
		}
		if set["target"] || *agent == "qemu-ga" {
			return usage("--seed replays a simulation seed: --target and --agent qemu-ga are for FILE")
		}
		if *steps < 1 || *steps > maxSteps {
			return usage("--steps must be in 1..%d", maxSteps)
		}
		begin()
		r, err := sim.Run(sim.Options{Seed: *seed, Client: sim.Strategy(*client), Faults: *faults, Steps: *steps, AgentBug: bug})
		if err != nil {
			// A --client or --faults that sim does not know: a usage
			// error, with no JSON object.
			return usage("%v", err)
		}
		j.Mode, j.Seed, j.Client, j.Faults, j.Steps = "seed", ptr(*seed), *client, *faults, ptr(*steps)
		return done(reportSim(e, fmt.Sprintf("seed %d (client %s, faults %s, %d steps)", *seed, *client, *faults, *steps), r, j))
	}
	if len(pos) != 1 {
		return usage("want one FILE (or --seed N); run 'qgafuzz repro --help'")
	}
	if set["client"] || set["faults"] || set["steps"] {
		return usage("--client, --faults and --steps go with --seed (a schedule file carries its own)")
	}
	begin()
	j.Mode, j.File = "input", pos[0]
	return done(reproFile(e, pos[0], *target, *agent, bug, j))
}

// reproFile replays the crash file path (repro FILE) and records what it
// found in j; what cannot be replayed is a usage error (exit 2) that j
// records as its error.
func reproFile(e *env, path, target, agent string, bug qga.Bug, j *reproJSON) int {
	usage := func(format string, a ...any) int {
		msg := fmt.Sprintf(format, a...)
		fmt.Fprintf(e.stderr, "qgafuzz repro: %s\n", msg)
		j.setError(msg)
		return exitUsage
	}
	b, err := corpus.ReadFile(path)
	if err != nil {
		return usage("cannot read the crash file: %v", err)
	}
	format := corpus.Detect(path, b)
	defer func() { j.Format = string(format) }()
	if format == corpus.SimTrace && target != "" {
		// The user says what the file is: a fuzz input that happens to
		// look like a schedule.
		format = corpus.Raw
	}
	if format == corpus.Raw && target == "" && brokenSchedule(path, b) {
		// A truncated or hand-edited schedule or trace: what is wrong
		// with it says more than that it has no target.
		format = corpus.SimTrace
	}
	if format == corpus.SimTrace {
		j.Mode = "schedule"
		if agent != "" {
			return usage("%s is a simulation schedule, which carries its own agent bug: --agent does not apply", path)
		}
		s, err := sim.ParseSchedule(b)
		if err != nil {
			return usage("%s: %v", path, err)
		}
		r, err := sim.Replay(s, false)
		if err != nil {
			return usage("%s: %v", path, err)
		}
		return reportSim(e, fmt.Sprintf("schedule %s (seed %d, %d steps, %d fault events)", path, s.Seed, len(s.Ops), len(s.Events)), r, j)
	}
	data, err := corpus.Decode(format, b)
	if err != nil {
		return usage("%s: %v", path, err)
	}
	j.Bytes = ptr(len(data))
	if agent == "qemu-ga" {
		j.Mode = "qemu-ga"
		return reproQemuGA(e, path, data, bug, j)
	}
	name, how := target, "--target"
	report := reportBeside(path)
	if name == "" && agent == "" {
		// A divergence of an outside agent (fuzz --agent/--agent-cmd)
		// replays only against that agent: the built-in one would pass
		// and call it fixed.
		if line := externalReplay(report); line != "" {
			return usage("%s is a divergence of an outside agent; replay it against that agent with:\n  %s", path, line)
		}
	}
	if name == "" {
		name, how = detectTarget(path)
	}
	if name == "" {
		return usage("cannot tell the target of %s from its path; give --target (one of %s)", path, targetNames())
	}
	t, ok := fuzz.Lookup(name)
	if !ok {
		return usage("no target %q (one of %s)", name, targetNames())
	}
	j.Target, j.TargetFrom = name, how
	fmt.Fprintf(e.stdout, "repro: %s: %s input of %d bytes, target %s (from %s)\n", path, format, len(data), name, how)
	if agent == "" && bug == qga.NoBug {
		// A crasher found with a planted bug names it in its report, or
		// (a crash directory of qgafuzz nightly) in the repro.txt beside
		// it; without it the crasher would pass and look fixed.
		if b := plantedFromReport(report); b != qga.NoBug {
			bug = b
			fmt.Fprintf(e.stdout, "repro: agent with the planted bug %s (from %s)\n", b, filepath.Base(path)+".txt")
		} else if b := plantedFromRepro(filepath.Join(filepath.Dir(path), "repro.txt")); b != qga.NoBug {
			bug = b
			fmt.Fprintf(e.stdout, "repro: agent with the planted bug %s (from repro.txt)\n", b)
		}
	}
	if bug != qga.NoBug && t.Name == "differential" {
		// The bug goes to the target itself: set in the environment, it
		// would outlive this call.
		t = fuzz.DifferentialTarget(bug)
	}
	if bug != qga.NoBug {
		j.PlantedBug = bug.String()
	}
	f := fuzz.Run(t, data)
	if f == nil {
		fmt.Fprintf(e.stdout, "repro: PASS: the input does not fail (for a crasher: the bug is fixed)\n")
		return exitOK
	}
	j.Failure, j.Signature = firstLine(f.Error()), fuzz.TriageSignature(f)
	fmt.Fprintf(e.stdout, "repro: FAIL (deduplication signature: %s)\n%s", fuzz.TriageSignature(f), f.Report())
	return exitFinding
}

// reportSim prints a simulation result, and records it in j.
func reportSim(e *env, what string, r *sim.Result, j *reproJSON) int {
	if j.Seed == nil {
		j.Seed, j.Client, j.Faults, j.Steps = ptr(r.Seed), string(r.Client), strings.Join(r.Faults, " "), ptr(len(r.Ops))
	}
	if r.AgentBug != qga.NoBug {
		j.PlantedBug = r.AgentBug.String()
	}
	j.Violations = ptr(len(r.Violations))
	if !r.Failed() {
		fmt.Fprintf(e.stdout, "repro: PASS: %s: no invariant violated (%d calls)\n", what, r.Stats.Calls)
		return exitOK
	}
	// As "qgafuzz sim" says it: a violation after the workload is "in the
	// quiet phase", not at a step number past its end.
	j.Failure, j.Signature = firstLine(r.Violations[0].Describe(len(r.Ops))), nightly.SimSignature(r)
	fmt.Fprintf(e.stdout, "repro: FAIL: %s: %d invariant violation(s)\n", what, len(r.Violations))
	for _, v := range r.Violations {
		fmt.Fprintf(e.stdout, "  %s\n", v.Describe(len(r.Ops)))
		if v.Detail != "" {
			fmt.Fprintf(e.stdout, "%s\n", v.Detail)
		}
	}
	return exitFinding
}

// brokenSchedule reports whether b, which corpus.Detect did not take for
// a schedule or a trace, still looks like one (a JSON object that names
// the schedule's version key) and neither its path nor a report beside it
// names a fuzz target (a crasher of JSON input, stored by fuzz --out DIR).
func brokenSchedule(path string, b []byte) bool {
	if name, _ := detectTarget(path); name != "" {
		return false
	}
	t := bytes.TrimSpace(b)
	return len(t) > 0 && t[0] == '{' && bytes.Contains(t, []byte(`"version"`))
}

// reportTargetRE finds target names in reports ("fuzz/parser: ...",
// "signature: parser/panic ...").
var reportTargetRE = regexp.MustCompile(`\b([a-z]+)[/:]`)

// detectTarget finds the target of a crash file from its path, or from a
// report beside it (qgafuzz's failure.txt, signature.txt, crash-X.txt, or
// go-fuzz's X.output).
func detectTarget(path string) (string, string) {
	if t, ok := corpus.TargetFromPath(path); ok {
		return t, "the path"
	}
	dir := filepath.Dir(path)
	for _, side := range []string{filepath.Join(dir, "signature.txt"), filepath.Join(dir, "failure.txt"), path + ".txt", path + ".output"} {
		b, err := corpus.ReadFile(side)
		if err != nil {
			continue
		}
		for _, m := range reportTargetRE.FindAllStringSubmatch(string(b), -1) {
			if _, ok := fuzz.Lookup(m[1]); ok {
				return m[1], filepath.Base(side)
			}
		}
	}
	return "", ""
}

// reportBeside returns the report qgafuzz fuzz stores beside a crasher
// (FILE.txt), or "".
func reportBeside(path string) string {
	b, err := corpus.ReadFile(path + ".txt")
	if err != nil {
		return ""
	}
	return string(b)
}

// externalReplay returns the reproduce line of a crasher's report when it
// replays against an outside agent (qgafuzz fuzz ... --replay), else "".
func externalReplay(report string) string {
	for _, line := range strings.Split(report, "\n") {
		if _, cmd, ok := strings.Cut(line, "reproduce with: "); ok && strings.Contains(cmd, " fuzz ") && strings.Contains(cmd, " --replay ") {
			return strings.TrimSpace(cmd)
		}
	}
	return ""
}

// plantedFromReport returns the planted bug a crasher's report names
// ("engine environment: QGAFUZZ_PLANT_BUG=NAME", as qgafuzz fuzz writes
// it).
func plantedFromReport(report string) qga.Bug {
	prefix := "engine environment: " + fuzz.PlantBugEnv + "="
	for _, line := range strings.Split(report, "\n") {
		if name, ok := strings.CutPrefix(line, prefix); ok {
			if bug, ok := qga.ParseBug(strings.TrimSpace(name)); ok {
				return bug
			}
		}
	}
	return qga.NoBug
}

// plantedFromRepro returns the planted bug that a nightly crash
// directory's repro.txt sets in the environment of its command
// ("QGAFUZZ_PLANT_BUG=NAME qgafuzz repro ..."), or qga.NoBug.
func plantedFromRepro(path string) qga.Bug {
	b, err := corpus.ReadFile(path)
	if err != nil {
		return qga.NoBug
	}
	for _, field := range strings.Fields(strings.SplitN(string(b), "\n", 2)[0]) {
		name, ok := strings.CutPrefix(field, fuzz.PlantBugEnv+"=")
		if !ok {
			if !strings.Contains(field, "=") {
				break // the command: the environment is before it
			}
			continue
		}
		if bug, ok := qga.ParseBug(name); ok {
			return bug
		}
	}
	return qga.NoBug
}

// reproQemuGA plays a stream to a fresh qemu-ga and to the built-in agent
// and compares the replies.
func reproQemuGA(e *env, path string, data []byte, bug qga.Bug, j *reproJSON) int {
	if bug != qga.NoBug {
		j.PlantedBug = bug.String()
	}
	g, err := qgatest.StartQemuGAProcess(context.Background(), "")
	if err != nil {
		fmt.Fprintf(e.stderr, "qgafuzz repro: --agent qemu-ga: cannot start qemu-ga: %v\n", errText(err))
		j.setError(fmt.Sprintf("--agent qemu-ga: cannot start qemu-ga: %v", err))
		return exitUsage
	}
	j.QemuGA = g.Version()
	defer g.Close()
	st := fuzz.Chunks(data)
	pace := qgatest.ReferenceReplies(qga.AgentConfig{}, st)
	ref := fuzz.NewSocketEndpoint("unix:"+g.Socket, fuzz.SocketOptions{Oracle: true})
	defer ref.Close()
	j.Writes = ptr(len(st.Ops))
	want, err := ref.Play(st, pace)
	if err != nil {
		fmt.Fprintf(e.stderr, "qgafuzz repro: qemu-ga %s: %v\n", g.Version(), errText(err))
		j.setError(fmt.Sprintf("qemu-ga %s: %v", g.Version(), err))
		return exitTransport
	}
	got, _ := fuzz.InProcessEndpoint(qga.AgentConfig{Bug: bug}).Play(st, pace)
	fmt.Fprintf(e.stdout, "repro: %s: stream of %d writes played to qemu-ga %s and the built-in agent\n", path, len(st.Ops), g.Version())
	if d := fuzz.CompareReplies(want, got); d != "" {
		dv := fuzz.Divergence{Input: st, Reference: want, Agent: got, Detail: d}
		j.Failure = firstLine("divergence: " + d)
		fmt.Fprintf(e.stdout, "repro: FAIL: the replies differ\n%s", dv.Report())
		return exitFinding
	}
	fmt.Fprintf(e.stdout, "repro: PASS: identical replies\n")
	return exitOK
}
