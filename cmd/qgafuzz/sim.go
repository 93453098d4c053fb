package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/qgafuzz/qgafuzz/qga"
	"github.com/qgafuzz/qgafuzz/sim"
)

func init() {
	register(&command{name: "sim", summary: "simulate host, faulty channel and agent from a seed; check invariants", run: runSim})
}

const simHelp = `
Usage: qgafuzz sim [--seed N | --seeds A..B | --runs K] [flags]
       qgafuzz sim --replay FILE [--trace FILE]

Runs the real host client (qga.Client), a channel that behaves like virtio-serial
(parser state and unread replies survive host reconnects) with injected faults,
and the reference agent, in one process, in virtual time, driven by a seeded PRNG:
the same seed and flags give the same trace, byte for byte. Every run checks:
  safety    a call never returns a reply that is not its own
  liveness  once faults stop, a call succeeds within 5 round trips
  agent     no panic, bounded memory, well-formed replies
A failure is reported with its seed, fault mix, invariant, a command that
reproduces it, and a minimal schedule found by shrinking (the steps after the
failure cut, then fault events and steps removed while it still fails, within
4000 replays; one that runs out says it may not be minimal). --trace writes the
trace (of the minimal schedule when a failure was shrunk) as JSON Lines whose
first line holds the schedule, so that --replay accepts it; --schedule writes
the schedule alone. --replay takes the seed, client, faults, steps and planted
bug from the file (the flags that set them are refused; so is a schedule no run
could have recorded, exit 2), and compares the replay's trace with the recorded
one: exit 1 if it fails or its trace differs (after a change to the code it
may); qgafuzz repro FILE only says whether the failure still happens.

A batch (--seeds or --runs) lists its lowest 20 failing seeds; the failure
count covers them all. Ctrl-C or SIGTERM stops a batch between seeds: the
summary (and --json) covers the seeds that ran and says it was interrupted,
and the first failure is still shrunk and its files written (a second signal
ends the process at once). Exit status: 0 no failure (interrupted or not),
1 a failing seed, 2 usage.

With no seed flag, seeds 1..100 run. By default each seed enables a random subset
of the faults with random rates (swarm testing); --faults pins a list, e.g.
"dup:rate=0.1,dir=h2a,late", or takes all or none. Fault kinds:
`

const simExamples = `
Examples:
  qgafuzz sim --client plain --runs 1000        # finds stale replies taken as fresh
  qgafuzz sim --client naive --runs 1000
  qgafuzz sim --client delimited --runs 100000  # the careful client: no violation
  qgafuzz sim --seed 3 --client plain --trace /tmp/plain3.jsonl
  qgafuzz sim --replay /tmp/plain3.jsonl
`

// maxSteps bounds --steps (a run keeps its whole workload in memory).
const maxSteps = 1000000

type simFlags struct {
	seed, seeds, faults, client, trace, schedule, replay, plant string
	runs, steps, workers, maxFail                               int
	checkDet, jsonOut, noShrink                                 bool
	progress                                                    time.Duration
}

func runSim(e *env, args []string) int {
	fs := newFlagSet(e, "sim", simHelp+sim.FaultHelp()+simExamples)
	var f simFlags
	fs.StringVar(&f.seed, "seed", "", "run this seed (with --runs: the first seed)")
	fs.StringVar(&f.seeds, "seeds", "", "run seeds `A..B` (inclusive)")
	fs.IntVar(&f.runs, "runs", 0, "run this many seeds")
	fs.StringVar(&f.faults, "faults", "swarm", "fault `LIST`, or swarm, all, none")
	fs.StringVar(&f.client, "client", "delimited", "host strategy: delimited, flush-plain, plain or naive")
	fs.IntVar(&f.steps, "steps", sim.DefaultSteps, "calls in each run's workload")
	fs.StringVar(&f.trace, "trace", "", "write the trace as JSON Lines to `FILE`")
	fs.StringVar(&f.schedule, "schedule", "", "write the (minimal) schedule as JSON to `FILE`")
	fs.StringVar(&f.replay, "replay", "", "replay the schedule in `FILE` (a schedule or a trace)")
	fs.BoolVar(&f.checkDet, "check-determinism", false, "run each seed twice; fail if the traces differ")
	fs.BoolVar(&f.jsonOut, "json", false, "print a machine-readable summary on standard output")
	fs.IntVar(&f.workers, "workers", 0, "parallel runs (default: one per CPU)")
	fs.IntVar(&f.maxFail, "max-failures", 0, "stop after this many failing seeds (0: run them all); seeds already under way finish and count, so with several workers a few more may show")
	fs.BoolVar(&f.noShrink, "no-shrink", false, "do not shrink the first failure")
	fs.StringVar(&f.plant, "plant-bug", "", "plant a bug in the reference agent, one a host can notice (one of: "+simBugList()+")")
	fs.DurationVar(&f.progress, "progress", 2*time.Second, "progress line interval on standard error (0: none)")
	if code, ok := parseFlags(fs, e, args); !ok {
		return code
	}
	usage := func(format string, a ...any) int {
		fmt.Fprintf(e.stderr, "qgafuzz sim: "+format+"\n", a...)
		return exitUsage
	}
	if fs.NArg() > 0 {
		return usage("unexpected argument %q", fs.Arg(0))
	}
	if f.replay != "" {
		var clash []string
		fs.Visit(func(fl *flag.Flag) {
			switch fl.Name {
			case "seed", "seeds", "runs", "faults", "client", "steps", "plant-bug", "workers", "max-failures":
				clash = append(clash, "--"+fl.Name)
			}
		})
		if len(clash) > 0 {
			return usage("--replay takes the seed, client, faults and steps from the file; drop %s", strings.Join(clash, " "))
		}
		if f.schedule != "" {
			return usage("--replay reads its schedule from %s; drop --schedule (--trace writes the replay's trace)", f.replay)
		}
		if f.checkDet {
			return usage("--replay compares the replay's trace with the one recorded in %s; drop --check-determinism", f.replay)
		}
		return simReplay(e, &f)
	}
	o := sim.Options{Client: sim.Strategy(f.client), Faults: f.faults, Steps: f.steps}
	if _, err := sim.ResolveFaults(f.faults, 1); err != nil {
		return usage("--faults: %v", err)
	}
	if !validClient(o.Client) {
		return usage("--client %q: want delimited, flush-plain, plain or naive", f.client)
	}
	if f.steps < 1 || f.steps > maxSteps {
		return usage("--steps must be in 1..%d", maxSteps)
	}
	if f.workers < 0 {
		return usage("--workers %d: want 0 (one per CPU) or more", f.workers)
	}
	if f.maxFail < 0 {
		return usage("--max-failures %d: want 0 (run them all) or more", f.maxFail)
	}
	if f.plant != "" {
		b, ok := qga.ParseBug(f.plant)
		if !ok || b == qga.NoBug {
			return usage("unknown --plant-bug %q (one of: %s)", f.plant, simBugList())
		}
		if err := sim.CheckAgentBug(b); err != nil {
			return usage("--plant-bug: %v", err)
		}
		o.AgentBug = b
	}
	from, to, single, err := seedRange(&f)
	if err != nil {
		return usage("%v", err)
	}
	if f.progress > 0 {
		// Shrinking may take thousands of replays.
		o.ShrinkProgress = func(p sim.ShrinkProgress) {
			fmt.Fprintf(e.stderr, "qgafuzz sim: shrinking: %d/%d replays, now %d fault events and %d steps, %.0fs\n",
				p.Replays, p.Budget, p.Events, p.Steps, p.Elapsed.Seconds())
		}
		o.ShrinkProgressEvery = f.progress
	}
	if single {
		o.Seed = from
		if f.progress > 0 {
			// A long run (up to maxSteps steps) takes a while too.
			o.RunProgress = func(p sim.RunProgress) {
				fmt.Fprintf(e.stderr, "qgafuzz sim: seed %d: %d/%d steps, virtual time %s, %.1fs\n",
					p.Seed, p.Step, p.Steps, p.Virtual.Round(time.Millisecond), p.Elapsed.Seconds())
			}
			o.RunProgressEvery = f.progress
		}
		return simOne(e, &f, o)
	}
	return simBatch(e, &f, o, from, to)
}

func validClient(s sim.Strategy) bool {
	for _, c := range sim.Strategies {
		if c == s {
			return true
		}
	}
	return false
}

// seedRange interprets --seed, --seeds and --runs.
func seedRange(f *simFlags) (from, to uint64, single bool, err error) {
	if f.seeds != "" && (f.seed != "" || f.runs != 0) {
		return 0, 0, false, fmt.Errorf("--seeds excludes --seed and --runs")
	}
	if f.runs < 0 {
		return 0, 0, false, fmt.Errorf("--runs must be positive")
	}
	if f.seeds != "" {
		a, b, ok := strings.Cut(f.seeds, "..")
		from, err1 := strconv.ParseUint(a, 10, 64)
		to, err2 := strconv.ParseUint(b, 10, 64)
		if !ok || err1 != nil || err2 != nil || to < from || to-from >= math.MaxInt32 {
			return 0, 0, false, fmt.Errorf("--seeds %q: want A..B with A <= B", f.seeds)
		}
		return from, to, false, nil
	}
	from = 1
	if f.seed != "" {
		from, err = strconv.ParseUint(f.seed, 10, 64)
		if err != nil {
			return 0, 0, false, fmt.Errorf("--seed %q: want an unsigned integer", f.seed)
		}
		if f.runs == 0 {
			return from, from, true, nil
		}
	}
	n := uint64(f.runs)
	if n == 0 {
		n = 100
	}
	if from > math.MaxUint64-n+1 {
		return 0, 0, false, fmt.Errorf("--seed %d with --runs %d overflows", from, n)
	}
	return from, from + n - 1, false, nil
}

// simJSON is the --json output.
type simJSON struct {
	Mode        string         `json:"mode"` // run, batch or replay
	Client      sim.Strategy   `json:"client"`
	Faults      string         `json:"faults"`
	Steps       int            `json:"steps"`
	Runs        int            `json:"runs"`
	Failures    int            `json:"failures"`
	ByInvariant map[string]int `json:"by_invariant"`
	Seconds     float64        `json:"seconds"`
	SeedsPerSec float64        `json:"seeds_per_second,omitempty"`
	// Determinism is "ok" or "failed" with --check-determinism (and for
	// a replay compared with its recorded hash), else empty.
	Determinism      string   `json:"determinism,omitempty"`
	Nondeterministic []uint64 `json:"nondeterministic,omitempty"`
	// Interrupted: Ctrl-C or SIGTERM stopped the batch; Runs seeds ran.
	Interrupted bool `json:"interrupted,omitempty"`
	// StoppedEarly: --max-failures stopped the batch; Runs seeds ran.
	StoppedEarly bool `json:"stopped_early,omitempty"`
	// FailingSeeds are the lowest failing seeds (a batch keeps
	// sim.DefaultKeepFailures); FailingSeedsOmitted counts those left out,
	// so that it and the list add up to Failures.
	FailingSeeds        []uint64          `json:"failing_seeds,omitempty"`
	FailingSeedsOmitted int               `json:"failing_seeds_omitted,omitempty"`
	FaultEvents         map[string]int    `json:"fault_events,omitempty"`
	First               *sim.Failure      `json:"first_failure,omitempty"`
	Result              *sim.Result       `json:"result,omitempty"`
	TraceHash           string            `json:"trace_sha256,omitempty"`
	Recorded            string            `json:"recorded_sha256,omitempty"`
	Files               map[string]string `json:"files,omitempty"`
}

// emit prints j; a JSON report that cannot be written (a full disk under
// "--json > FILE") is an error, not a run that went fine.
func (j *simJSON) emit(e *env) int {
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(j); err != nil {
		fmt.Fprintln(e.stderr, "qgafuzz sim: --json:", err)
		return exitUsage
	}
	return exitOK
}

func simOne(e *env, f *simFlags, o sim.Options) int {
	o.Trace = f.trace != ""
	start := time.Now()
	r, err := sim.Run(o)
	if err != nil {
		fmt.Fprintln(e.stderr, "qgafuzz sim:", err)
		return exitUsage
	}
	out := reportOut(e, f)
	j := &simJSON{Mode: "run", Client: r.Client, Faults: orSwarm(o.Faults), Steps: len(r.Ops), Runs: 1,
		ByInvariant: map[string]int{}, Result: r, TraceHash: r.TraceHash, Files: map[string]string{}}
	r.WriteText(out)
	code := exitOK
	if f.checkDet {
		again, _ := sim.Run(o)
		j.Determinism = "ok"
		if again == nil || again.TraceHash != r.TraceHash {
			j.Determinism, code = "failed", exitFinding
			fmt.Fprintf(out, "NONDETERMINISTIC: a second run of seed %d gave another trace\n", o.Seed)
		} else {
			fmt.Fprintf(out, "determinism: a second run gave the same trace\n")
		}
	}
	traced := r
	if r.Failed() {
		code, j.Failures = exitFinding, 1
		j.ByInvariant[r.First().Invariant]++
		j.First = sim.NewFailure(r, o, !f.noShrink, f.trace != "")
		j.First.WriteText(out)
		if j.First.MinimalResult != nil {
			traced = j.First.MinimalResult
		}
	}
	j.Seconds = time.Since(start).Seconds()
	if c := writeFiles(e, f, traced, j.First, out, j.Files); c != exitOK {
		return c
	}
	if f.jsonOut {
		if c := j.emit(e); c != exitOK {
			return c
		}
	}
	return code
}

func simBatch(e *env, f *simFlags, o sim.Options, from, to uint64) int {
	b := sim.Batch{Options: o, From: from, To: to, Workers: f.workers,
		CheckDeterminism: f.checkDet, MaxFailures: f.maxFail, ProgressEvery: f.progress}
	if f.progress > 0 {
		b.Progress = func(p sim.Progress) {
			fmt.Fprintf(e.stderr, "qgafuzz sim: %d/%d seeds, %.0f seeds/s, %d failing, %.0fs\n",
				p.Runs, p.Total, p.Rate(), p.Failures, p.Elapsed.Seconds())
		}
	}
	// Ctrl-C and SIGTERM stop the batch between seeds; once it has
	// stopped, the default handling is back, so that a second signal ends
	// a slow shrink.
	ctx, stopSignals := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	s, err := b.RunContext(ctx)
	stopSignals()
	if err != nil {
		fmt.Fprintln(e.stderr, "qgafuzz sim:", err)
		return exitUsage
	}
	out := reportOut(e, f)
	s.WriteText(out)
	j := &simJSON{Mode: "batch", Client: s.Client, Faults: s.Faults, Steps: s.Steps, Runs: s.Runs,
		Failures: s.Failures, ByInvariant: s.ByInvariant, Seconds: s.Elapsed.Seconds(),
		Nondeterministic: s.Nondeterministic, Interrupted: s.Interrupted, StoppedEarly: s.StoppedEarly, FailingSeeds: s.FailingSeeds(),
		FailingSeedsOmitted: s.FailingSeedsOmitted(), FaultEvents: s.FaultEvents, Files: map[string]string{}}
	if s.Elapsed > 0 {
		j.SeedsPerSec = float64(s.Runs) / s.Elapsed.Seconds()
	}
	if f.checkDet {
		j.Determinism = "ok"
		if len(s.Nondeterministic) > 0 {
			j.Determinism = "failed"
		}
	}
	code := exitOK
	if s.Failures > 0 {
		code = exitFinding
	}
	if first := s.FirstFailure(); first != nil && first.Failed() {
		j.First = sim.NewFailure(first, o, !f.noShrink, f.trace != "")
		j.First.WriteText(out)
		// Without a minimal replay (--no-shrink, or shrinking failed) the
		// files are the failing seed's own; the batch dropped its trace.
		traced := j.First.MinimalResult
		if traced == nil {
			traced = first
			if f.trace != "" {
				o.Seed, o.Trace = first.Seed, true
				if traced, err = sim.Run(o); err != nil {
					fmt.Fprintln(e.stderr, "qgafuzz sim: tracing the first failure:", err)
					return exitUsage
				}
			}
		}
		if c := writeFiles(e, f, traced, j.First, out, j.Files); c != exitOK {
			return c
		}
	}
	if s.FirstFailure() == nil && (f.trace != "" || f.schedule != "") {
		fmt.Fprintln(out, "no failure: no trace or schedule written (use --seed N to trace one run)")
	}
	if f.jsonOut {
		if c := j.emit(e); c != exitOK {
			return c
		}
	}
	return code
}

func simReplay(e *env, f *simFlags) int {
	s, err := sim.LoadSchedule(f.replay)
	if err != nil {
		fmt.Fprintln(e.stderr, "qgafuzz sim: --replay:", err)
		return exitUsage
	}
	start := time.Now()
	r, err := sim.Replay(s, f.trace != "")
	if err != nil {
		fmt.Fprintln(e.stderr, "qgafuzz sim: --replay:", err)
		return exitUsage
	}
	out := reportOut(e, f)
	fmt.Fprintf(out, "replay of %s: %s\n", f.replay, s)
	r.WriteText(out)
	j := &simJSON{Mode: "replay", Client: r.Client, Faults: strings.Join(r.Faults, " "), Steps: len(r.Ops), Runs: 1,
		ByInvariant: map[string]int{}, Result: r, TraceHash: r.TraceHash, Recorded: s.TraceHash,
		Seconds: time.Since(start).Seconds(), Files: map[string]string{}}
	code := exitOK
	if r.Failed() {
		code, j.Failures = exitFinding, 1
		j.ByInvariant[r.First().Invariant]++
	}
	if s.TraceHash != "" {
		j.Determinism = "ok"
		if s.TraceHash == r.TraceHash {
			fmt.Fprintln(out, "the replay's trace is the recorded one (same sha256)")
		} else {
			j.Determinism, code = "failed", exitFinding
			fmt.Fprintf(out, "TRACE DIFFERS: the recorded trace had sha256 %s: the code changed since it was recorded, or the run is not deterministic\n", s.TraceHash)
			if s.Violation != nil && !r.Failed() {
				fmt.Fprintf(out, "the recorded failure does not happen (qgafuzz repro %s: fixed?): %s\n", sim.ShellQuote(absPath(f.replay)), s.Violation)
			}
		}
	}
	if c := writeFiles(e, f, r, nil, out, j.Files); c != exitOK {
		return c
	}
	if f.jsonOut {
		if c := j.emit(e); c != exitOK {
			return c
		}
	}
	return code
}

// writeFiles writes --trace (the trace of r) and --schedule (the minimal
// schedule of the failure, else r's schedule). The replay commands it
// prints name the files by absolute path, so that they work from any
// directory.
func writeFiles(e *env, f *simFlags, r *sim.Result, fail *sim.Failure, out io.Writer, files map[string]string) int {
	if f.trace != "" && r != nil {
		if err := sim.WriteTrace(f.trace, r); err != nil {
			fmt.Fprintln(e.stderr, "qgafuzz sim: --trace:", err)
			return exitUsage
		}
		what := "the run"
		if r.Replayed {
			what = "the replay"
		}
		fmt.Fprintf(out, "trace of %s (seed %d, %d lines) written to %s; replay: qgafuzz sim --replay %s\n",
			what, r.Seed, r.TraceLines, f.trace, sim.ShellQuote(absPath(f.trace)))
		files["trace"] = f.trace
	}
	if f.schedule != "" && r != nil {
		s := r.Schedule()
		if fail != nil && fail.Minimal != nil {
			s = fail.Minimal
		}
		if err := s.Save(f.schedule); err != nil {
			fmt.Fprintln(e.stderr, "qgafuzz sim: --schedule:", err)
			return exitUsage
		}
		fmt.Fprintf(out, "schedule written to %s; replay: qgafuzz sim --replay %s\n", f.schedule, sim.ShellQuote(absPath(f.schedule)))
		files["schedule"] = f.schedule
	}
	return exitOK
}

// reportOut is where the text report goes: stdout, or stderr when stdout
// carries JSON.
func reportOut(e *env, f *simFlags) io.Writer {
	if f.jsonOut {
		return e.stderr
	}
	return e.stdout
}

func orSwarm(s string) string {
	if s == "" {
		return "swarm"
	}
	return s
}

// simBugList names the planted bugs a simulation can show.
func simBugList() string {
	var names []string
	for _, b := range qga.Bugs() {
		if sim.CheckAgentBug(b) == nil {
			names = append(names, b.String())
		}
	}
	return strings.Join(names, ", ")
}
