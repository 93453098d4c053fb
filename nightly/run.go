package nightly

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/qgafuzz/qgafuzz/corpus"
	"github.com/qgafuzz/qgafuzz/fuzz"
	"github.com/qgafuzz/qgafuzz/qga"
	"github.com/qgafuzz/qgafuzz/sim"
)

// This file is the night itself: check the options, split the budget,
// fuzz each target and run the simulation, triage what they found, and
// write the reports whatever happened (Ctrl-C included).

// Options configure a night. Budget and Out are required (see Check).
type Options struct {
	// Budget is the night's total time, building and triage included
	// (only a build that alone takes it stretches the night).
	Budget time.Duration
	// Out is the output directory: reports, crashers and, by default,
	// the corpus. One night at a time holds it (see BusyError).
	Out string
	// Corpus is the persistent corpus, one directory per target
	// (Out/corpus if empty).
	Corpus  string
	Targets []string // every target if empty
	// Agent is the agent under test: "builtin" (the reference agent) or
	// "bug:NAME" (the reference agent with a planted bug, qga.Bugs), or
	// "qemu-ga" (the built-in agent, with a live qemu-ga as the
	// differential reference).
	Agent        string
	SimRuns      int    // seeds to simulate (0: as many as the share allows)
	SimSeed      uint64 // first seed (0: from the clock)
	NoSim        bool   // skip the simulation
	Suppressions string // file of known signatures
	Root         string // the qgafuzz source tree
	// Repro is the command line prefix that runs qgafuzz, for repro.txt.
	Repro string
	// Stdout receives the progress lines (nil: discarded).
	Stdout io.Writer
	// Terminal adds a progress bar, redrawn in place below the progress
	// lines, for a Stdout that is a terminal.
	Terminal      bool
	ProgressEvery time.Duration // 5s if zero
	// MinimizeBudget bounds the replays spent minimizing one crash
	// (4096 if zero).
	MinimizeBudget int
}

// UsageError is a bad option.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// agentBug returns the planted bug named by Agent.
func (o *Options) agentBug() (qga.Bug, error) {
	switch a := o.Agent; {
	case a == "" || a == "builtin" || a == "qemu-ga":
		return qga.NoBug, nil
	case strings.HasPrefix(a, "bug:"):
		if b, ok := qga.ParseBug(strings.TrimPrefix(a, "bug:")); ok && b != qga.NoBug {
			return b, nil
		}
		return 0, &UsageError{fmt.Sprintf("--agent %s: no such planted bug (want one of %v)", a, qga.Bugs())}
	}
	return 0, &UsageError{fmt.Sprintf("--agent %q: want builtin, qemu-ga or bug:NAME", o.Agent)}
}

// Check validates the options before anything is touched.
func (o *Options) Check() error {
	if o.Budget <= 0 {
		return &UsageError{"--budget must be positive (for example --budget 2m)"}
	}
	if o.Out == "" {
		return &UsageError{"--out DIR is required"}
	}
	if o.SimRuns < 0 {
		return &UsageError{fmt.Sprintf("--sim-runs %d: want 0 (as many as the budget allows) or more", o.SimRuns)}
	}
	if o.MinimizeBudget < 0 {
		return &UsageError{fmt.Sprintf("--minimize-budget %d: want 0 (the default) or more", o.MinimizeBudget)}
	}
	seen := map[string]bool{}
	for _, t := range o.Targets {
		// A target named twice would run twice, splitting the budget
		// and reporting it twice; it is a typo, not a request.
		if seen[t] {
			return &UsageError{fmt.Sprintf("--targets: %q is listed twice", t)}
		}
		seen[t] = true
		if _, ok := fuzz.Lookup(t); !ok {
			var names []string
			for _, t := range fuzz.Targets() {
				names = append(names, t.Name)
			}
			return &UsageError{fmt.Sprintf("--targets: no target %q (targets: %s)", t, strings.Join(names, ", "))}
		}
	}
	bug, err := o.agentBug()
	if err != nil {
		return err
	}
	if bug != qga.NoBug && !o.bugCanShow(bug) {
		return &UsageError{fmt.Sprintf("--agent %s: no part of this run can notice the planted bug (only the differential target and, for some bugs, the simulation run the agent under test); add differential to --targets", o.Agent)}
	}
	return nil
}

// bugCanShow reports whether a planted bug reaches any part of the run:
// the differential target, or the simulation when it can show the bug.
// The other targets never run the agent under test, so a night of them
// alone would report "all fine" for any bug.
func (o *Options) bugCanShow(bug qga.Bug) bool {
	if len(o.Targets) == 0 || slices.Contains(o.Targets, "differential") {
		return true
	}
	return !o.NoSim && sim.CheckAgentBug(bug) == nil
}

// night is the state of one run.
type night struct {
	o       Options
	bug     qga.Bug
	rep     *Report
	board   *board
	store   crashStore
	supp    *Suppressions
	work    string
	engine  *fuzz.NativeEngine
	server  *corpus.Server
	deadln  time.Time
	reserve time.Duration
	// builtLate is set when building took the budget (less the reserve):
	// each part then gets its minimum share rather than none.
	builtLate bool
	// keptUntriaged holds the paths keepUntriaged wrote.
	keptUntriaged map[string]bool
	// storeFailures counts the crashes triage could not store; while it
	// grows, the untriaged crashers replayed are not removed either.
	storeFailures int
}

// wrapUp is the end of the budget kept for storing what triage has and
// writing the reports: triage and minimization stop before it.
const wrapUp = time.Second

// minTriage is the least time triage gets, even past the budget: enough
// to replay and store what was found, if not to minimize it.
const minTriage = 2 * time.Second

// triageContext is the context of triage (what: "triage", "shrinking")
// that starts now. It outlives Ctrl-C, so that what was found is kept, but
// ends by triageDeadline, and triageAfterInterrupt after a Ctrl-C that
// comes while it runs rather than at the rest of its minute. stopped says,
// when it has ended, why: "<what> stopped at the budget", at its time
// limit, or after the interruption.
func (n *night) triageContext(ctx context.Context, what string) (tctx context.Context, cancel context.CancelFunc, stopped func() string) {
	dl := n.triageDeadline(ctx)
	tctx, cancelDeadline := context.WithDeadline(context.WithoutCancel(ctx), dl)
	stopAfter := context.AfterFunc(ctx, func() {
		cut := time.AfterFunc(triageTime(ctx), cancelDeadline)
		context.AfterFunc(tctx, func() { cut.Stop() })
	})
	limited := dl.Before(n.deadln.Add(-wrapUp))
	stopped = func() string {
		switch {
		case ctx.Err() != nil:
			return what + " stopped after the interruption"
		case limited:
			return fmt.Sprintf("%s stopped at its time limit (%v a target)", what, triageTime(ctx))
		}
		return what + " stopped at the budget"
	}
	return tctx, func() { stopAfter(); cancelDeadline() }, stopped
}

// triageDeadline is when triage that starts now must end: within
// triageTime, and by the end of the budget less wrapUp, but not sooner
// than minTriage from now.
func (n *night) triageDeadline(ctx context.Context) time.Time {
	now := time.Now()
	end := n.deadln.Add(-wrapUp)
	if t := now.Add(triageTime(ctx)); t.Before(end) {
		end = t
	}
	if t := now.Add(minTriage); end.Before(t) {
		end = t
	}
	return end
}

// Run runs the night and returns its report (also written to Out). The
// report's ExitCode is the process's exit code. Options that fail Check
// give a report with ExitCode 2 and the problem in Errors, and nothing is
// touched.
func Run(ctx context.Context, o Options) *Report {
	rep := &Report{Schema: SchemaVersion, Start: time.Now(), Budget: Duration(o.Budget), Agent: o.Agent,
		GoVersion: runtime.Version(), Targets: []Target{}, Crashes: []Crash{}}
	if rep.Agent == "" {
		rep.Agent = "builtin"
	}
	if err := o.Check(); err != nil {
		// Without a budget the night would still build and fuzz for the
		// 2s minimum share of every target, and without Out it would
		// write into the working directory.
		rep.End, rep.ExitCode = time.Now(), 2
		rep.Errors = append(rep.Errors, err.Error())
		return rep
	}
	if o.Stdout == nil {
		o.Stdout = io.Discard
	}
	n := &night{o: o, rep: rep, board: newBoard(o.Stdout, o.Terminal, o.Budget),
		deadln: rep.Start.Add(o.Budget)}
	n.reserve = min(max(o.Budget/20, 5*time.Second), 30*time.Second)
	release, err := lockOut(o.Out)
	if err != nil {
		// The reports in Out, if any, belong to the night that holds
		// it; this one leaves them alone.
		rep.End, rep.ExitCode = time.Now(), 2
		rep.Errors = append(rep.Errors, err.Error())
		return rep
	}
	defer release()
	// The reports in Out are the last night's: with the lock held, they
	// go now, so that a night that dies before finish (kill -9, a power
	// cut) does not leave them for CI to publish as tonight's. finish
	// writes this night's, whatever happens before it.
	removeReports(o.Out)
	if err := n.setup(ctx); err != nil {
		if errors.Is(err, errBuildInterrupted) {
			// Ctrl-C killed the build: an interruption, as during
			// fuzzing, not an internal error.
			rep.Notes = append(rep.Notes, firstLine(err.Error()))
		} else {
			rep.Errors = append(rep.Errors, err.Error())
		}
	} else {
		n.board.tick(n.progressEvery())
		n.fuzzAll(ctx)
		n.board.stop()
	}
	if n.server != nil {
		n.server.Close()
	}
	if n.work != "" {
		os.RemoveAll(n.work)
	}
	return n.finish(ctx)
}

func (n *night) progressEvery() time.Duration {
	if n.o.ProgressEvery > 0 {
		return n.o.ProgressEvery
	}
	return 5 * time.Second
}

// setup prepares the output directory, recovers what a killed run left,
// and builds the engine and the coverage server.
func (n *night) setup(ctx context.Context) error {
	o := &n.o
	var err error
	if n.bug, err = o.agentBug(); err != nil {
		return err
	}
	if o.Corpus == "" {
		o.Corpus = filepath.Join(o.Out, "corpus")
	}
	// A full disk or a read-only directory shows here, before an hour of
	// fuzzing, rather than when the crashers are stored.
	if err := fuzz.WriteFileAtomic(filepath.Join(o.Out, ".write-check"), make([]byte, 64<<10)); err != nil {
		return fmt.Errorf("the output directory is not writable (full disk?): %w", err)
	}
	os.Remove(filepath.Join(o.Out, ".write-check"))
	n.store = crashStore{dir: filepath.Join(o.Out, "crashers")}
	// A file where the crash store should be would only show when the
	// first crash is stored, at the end of a target's share.
	if st, err := os.Stat(n.store.dir); err == nil && !st.IsDir() {
		return fmt.Errorf("%s is not a directory: move it away (crashes are stored there)", n.store.dir)
	}
	n.rep.Notes = append(n.rep.Notes, removeStaleWork(o.Out)...)
	n.rep.Notes = append(n.rep.Notes, n.store.recover()...)
	n.rep.Notes = append(n.rep.Notes, removeStaleTemp(o.Out)...)
	for _, msg := range n.rep.Notes {
		n.board.printf("nightly: %s", msg)
	}
	if n.supp, err = LoadSuppressions(o.Suppressions); err != nil {
		return err
	}
	if n.work, err = os.MkdirTemp(o.Out, ".work-"); err != nil {
		return err
	}
	env := n.engineEnv()
	n.board.printf("nightly: building the fuzzing engine and the coverage server (go test -c -fuzz=.)")
	built := time.Now()
	if n.engine, err = fuzz.BuildNative(ctx, o.Root, n.work); err != nil {
		return buildError(ctx, err)
	}
	bin, err := corpus.Build(ctx, o.Root, n.work)
	if err != nil {
		return buildError(ctx, err)
	}
	n.server = &corpus.Server{Bin: bin, Env: env}
	took := time.Since(built).Round(100 * time.Millisecond)
	// The reserve is kept for triage and reports at the end.
	if left := (time.Until(n.deadln) - n.reserve).Round(time.Second); left > 0 {
		n.board.printf("nightly: built in %s; %s left for fuzzing and simulation (%s kept for triage and reports)", took, left, n.reserve)
	} else {
		n.builtLate = true
		n.board.printf("nightly: built in %s, past the budget: each part gets its minimum share (2s); raise --budget", took)
	}
	return nil
}

// errBuildInterrupted marks a build that Ctrl-C (or SIGTERM) stopped.
var errBuildInterrupted = errors.New("interrupted while building")

// buildError is err of a build, marked when ctx stopped it.
func buildError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%w: %v", errBuildInterrupted, err)
	}
	return err
}

// engineEnv is the environment that selects the agent under test in the
// engine and server processes.
func (n *night) engineEnv() []string {
	var env []string
	if n.bug != qga.NoBug {
		env = append(env, fuzz.PlantBugEnv+"="+n.bug.String())
	}
	return env
}

// fuzzAll gives each target, then the simulation, its share of what is
// left of the budget.
func (n *night) fuzzAll(ctx context.Context) {
	targets := n.o.Targets
	if len(targets) == 0 {
		for _, t := range fuzz.Targets() {
			targets = append(targets, t.Name)
		}
	}
	// The parts of the night, in order; each runs in its share of what
	// is left when its turn comes.
	type part struct {
		name, kind string
		run        func(left int)
	}
	var parts []part
	for _, name := range targets {
		t, _ := fuzz.Lookup(name)
		parts = append(parts, part{name, "fuzz", func(left int) { n.fuzzTarget(ctx, t, n.share(left)) }})
	}
	if n.o.Agent == "qemu-ga" {
		parts = append(parts, part{"qemu-ga", "qemu-ga", func(left int) { n.againstQemuGA(ctx, n.share(left)) }})
	}
	if !n.o.NoSim {
		parts = append(parts, part{"sim", "sim", func(left int) { n.simulate(ctx, n.share(left)) }})
	}
	// A part left out is in the report as skipped, so that a CI system
	// reading report.json or junit.xml sees it did not run (and the same
	// test cases every night), not just a note: after a Ctrl-C, or when
	// the budget is used up (the minimum share and its triage would
	// overrun it; a night whose build took the budget still runs every
	// part briefly).
	var skipped []string
	for i, p := range parts {
		switch {
		case ctx.Err() != nil:
			n.rep.Targets = append(n.rep.Targets, skippedTarget(p.name, p.kind, "not run: the night was interrupted before it"))
		case !n.builtLate && time.Until(n.deadln) < 2*time.Second+wrapUp:
			skipped = append(skipped, p.name)
			n.rep.Targets = append(n.rep.Targets, skippedTarget(p.name, p.kind, budgetUsedUp+"; raise --budget"))
		default:
			p.run(len(parts) - i)
		}
	}
	if len(skipped) > 0 {
		msg := fmt.Sprintf("%s: %s; raise --budget", budgetUsedUp, strings.Join(skipped, ", "))
		n.rep.Notes = append(n.rep.Notes, msg)
		n.board.printf("nightly: %s", msg)
	}
}

// budgetUsedUp is why fuzzAll left a part out.
const budgetUsedUp = "not run tonight, the budget was used up by the parts before (their minimum shares, their triage)"

// skippedTarget is the report's entry for a part of the night that did
// not run, and why. The simulation's has its failing_runs (none), as a
// simulation that ran no seed does.
func skippedTarget(name, kind, why string) Target {
	tr := Target{Name: name, Kind: kind, Crashes: []string{}, Skipped: why}
	if kind == "sim" {
		tr.Failing = new(int)
	}
	return tr
}

// share is the time for the next item when left items remain.
func (n *night) share(left int) time.Duration {
	d := time.Until(n.deadln) - n.reserve
	return max(d/time.Duration(left), 2*time.Second)
}

// finish triages nothing more, decides the exit code and writes the
// reports.
func (n *night) finish(ctx context.Context) *Report {
	rep := n.rep
	rep.End = time.Now()
	rep.Interrupted = ctx.Err() != nil
	sort.SliceStable(rep.Crashes, func(i, j int) bool { return rep.Crashes[i].New && !rep.Crashes[j].New })
	rep.NewCrashes = 0
	for _, c := range rep.Crashes {
		if c.New {
			rep.NewCrashes++
		}
	}
	switch {
	case rep.NewCrashes > 0:
		rep.ExitCode = 1
	case len(rep.Problems()) > 0:
		rep.ExitCode = 2
	}
	if n.o.Out != "" {
		err := os.MkdirAll(n.o.Out, 0o755)
		if err == nil {
			err = WriteReports(n.o.Out, rep)
		}
		if err != nil {
			rep.Errors = append(rep.Errors, "writing the reports: "+err.Error())
			rep.ExitCode = max(rep.ExitCode, 2)
			if errors.Is(err, os.ErrPermission) {
				rep.Errors = append(rep.Errors, "the output directory is not writable")
			}
		} else {
			rep.Written = true
		}
	}
	return rep
}
