package main

import (
	"flag"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/qgafuzz/qgafuzz/qga"
	"github.com/qgafuzz/qgafuzz/sim"
)

// This file is qgafuzz sim's command line: its help, its flags and their
// checks, and the seeds they select; the modes it runs are in sim_run.go.

func init() {
	register(&command{name: "sim", summary: "simulate host, faulty channel and agent from a seed; check invariants", run: runSim})
}

const simHelp = `
Usage: qgafuzz sim [--seed N | --seeds A..B | --runs K] [flags]
       qgafuzz sim --replay FILE [--trace FILE] [--schedule FILE] [--no-shrink] [flags]

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
may); qgafuzz repro FILE only says whether the failure still happens. A replay
that fails is shrunk as a failing seed is (not with --no-shrink), its reproduce
command the replay: --schedule then writes its minimal schedule (with
--no-shrink it is refused), --trace the replay's own trace; --progress also
reports a long replay's steps.

A batch (--seeds or --runs) lists its lowest 20 failing seeds; the failure
count covers them all. Ctrl-C or SIGTERM stops a batch between seeds: the
summary (and --json) covers the seeds that ran and says it was interrupted,
and the first failure is still shrunk and its files written. Ctrl-C or SIGTERM
while a failure (of a seed, a batch or a replay) is shrunk stops shrinking at
the next replay: the smallest failing schedule found so far is reported and
written, said to be stopped and maybe not minimal (--json: "stopped" in
first_failure.shrink); a signal after that ends the process at once, as one
during a single run or replay does. Exit status: 0 no failure (interrupted or
not), 1 a failing seed, 2 usage.

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
		if f.schedule != "" && f.noShrink {
			return usage("--replay reads its schedule from %s; --schedule writes the minimal schedule of a failing replay, which --no-shrink turns off: drop one of them (--trace writes the replay's trace)", f.replay)
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
	simProgress(e, &f, &o)
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

// simProgress sets o to report shrinking's progress every --progress.
func simProgress(e *env, f *simFlags, o *sim.Options) {
	if f.progress > 0 {
		// Shrinking may take thousands of replays.
		o.ShrinkProgress = func(p sim.ShrinkProgress) {
			fmt.Fprintf(e.stderr, "qgafuzz sim: shrinking: %d/%d replays, now %d fault events and %d steps, %.0fs\n",
				p.Replays, p.Budget, p.Events, p.Steps, p.Elapsed.Seconds())
		}
		o.ShrinkProgressEvery = f.progress
	}
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
