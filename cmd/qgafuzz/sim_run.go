package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/qgafuzz/qgafuzz/sim"
)

// This file runs qgafuzz sim's three modes once its flags are checked (one
// seed, a batch of seeds, a replay) and reports them: the text report, the
// --json summary and the --trace and --schedule files.

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
	return writeJSON(e.stdout, e.stderr, "sim", j, exitOK)
}

func simOne(e *env, f *simFlags, o sim.Options) int {
	var spool *traceSpool
	if f.trace != "" {
		spool = newTraceSpool(f.trace)
		defer spool.remove()
		spool.stream(&o)
	}
	start := time.Now()
	r, err := sim.Run(o)
	if err != nil {
		fmt.Fprintln(e.stderr, "qgafuzz sim:", errText(err))
		return exitUsage
	}
	if spool != nil {
		spool.res = r
	}
	out := reportOut(e, f)
	j := &simJSON{Mode: "run", Client: r.Client, Faults: orSwarm(o.Faults), Steps: len(r.Ops), Runs: 1,
		ByInvariant: map[string]int{}, Result: r, TraceHash: r.TraceHash, Files: map[string]string{}}
	r.WriteText(out)
	code := exitOK
	if f.checkDet {
		// The hash is the same whether or not the trace is kept.
		o.Trace, o.TraceTo = false, nil
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
		j.First = shrinkFailure(e, f, r, o)
		j.First.WriteText(out)
		if j.First.MinimalResult != nil {
			traced = j.First.MinimalResult
		}
	}
	j.Seconds = time.Since(start).Seconds()
	if c := writeFiles(e, f, traced, j.First, out, j.Files, spool); c != exitOK {
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
	// Ctrl-C and SIGTERM stop the batch between seeds; the first failure
	// is still shrunk, and the next signal stops shrinking (shrinkSignals,
	// watching from before this one stops, so that no signal falls in
	// between).
	ctx, stopSignals := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	s, err := b.RunContext(ctx)
	shrinkCtx, stopShrink := shrinkSignals(f)
	defer stopShrink()
	stopSignals()
	if err != nil {
		fmt.Fprintln(e.stderr, "qgafuzz sim:", errText(err))
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
		j.First = shrinkFailureContext(shrinkCtx, e, f, first, o)
		stopShrink()
		j.First.WriteText(out)
		// Without a minimal replay (--no-shrink, or shrinking failed) the
		// files are the failing seed's own; the batch dropped its trace.
		traced := j.First.MinimalResult
		var spool *traceSpool
		if traced == nil {
			traced = first
			if f.trace != "" {
				spool = newTraceSpool(f.trace)
				defer spool.remove()
				o.Seed = first.Seed
				spool.stream(&o)
				if traced, err = sim.Run(o); err != nil {
					fmt.Fprintln(e.stderr, "qgafuzz sim: tracing the first failure:", errText(err))
					return exitUsage
				}
				if spool != nil {
					spool.res = traced
				}
			}
		}
		if c := writeFiles(e, f, traced, j.First, out, j.Files, spool); c != exitOK {
			return c
		}
	}
	stopShrink()
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
		fmt.Fprintln(e.stderr, "qgafuzz sim: --replay:", errText(err))
		return exitUsage
	}
	start := time.Now()
	var progress func(sim.RunProgress)
	if f.progress > 0 {
		// A long replay (up to maxSteps steps) takes a while too.
		progress = func(p sim.RunProgress) {
			fmt.Fprintf(e.stderr, "qgafuzz sim: replay of seed %d: %d/%d steps, virtual time %s, %.1fs\n",
				p.Seed, p.Step, p.Steps, p.Virtual.Round(time.Millisecond), p.Elapsed.Seconds())
		}
	}
	var spool *traceSpool
	if f.trace != "" {
		spool = newTraceSpool(f.trace)
		defer spool.remove()
	}
	var r *sim.Result
	if w := spool.writer(); w != nil {
		r, err = sim.ReplayTo(s, w, progress, f.progress)
	} else {
		r, err = sim.ReplayReporting(s, f.trace != "", progress, f.progress)
	}
	if spool != nil {
		spool.res = r
	}
	if err != nil {
		fmt.Fprintln(e.stderr, "qgafuzz sim: --replay:", errText(err))
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
		// The replay's failure, shrunk from the schedule it replayed
		// (a schedule no run recorded, say one edited or not shrunk,
		// need not be minimal); it reproduces with this replay.
		o := sim.Options{Client: r.Client, AgentBug: r.AgentBug}
		simProgress(e, f, &o)
		j.First = shrinkFailure(e, f, r, o)
		j.First.Reproduce = selfLine("sim", "--replay", absPath(f.replay))
		j.First.WriteText(out)
	}
	if s.TraceHash != "" {
		j.Determinism = "ok"
		if s.TraceHash == r.TraceHash {
			fmt.Fprintln(out, "the replay's trace is the recorded one (same sha256)")
		} else {
			j.Determinism, code = "failed", exitFinding
			fmt.Fprintf(out, "TRACE DIFFERS: the recorded trace had sha256 %s: the code changed since it was recorded, or the run is not deterministic\n", s.TraceHash)
			if s.Violation != nil && !r.Failed() {
				fmt.Fprintf(out, "the recorded failure does not happen (%s: fixed?): %s\n", selfLine("repro", absPath(f.replay)), s.Violation)
			}
		}
	}
	// --trace is the replay's own trace, the one compared above;
	// --schedule the minimal schedule of its failure.
	traceOnly := *f
	traceOnly.schedule = ""
	if c := writeFiles(e, &traceOnly, r, nil, out, j.Files, spool); c != exitOK {
		return c
	}
	if f.schedule != "" {
		if j.First == nil || j.First.Minimal == nil {
			fmt.Fprintln(out, "no minimal schedule (the replay did not fail, or shrinking failed): --schedule not written")
		} else if c := writeFiles(e, &simFlags{schedule: f.schedule}, r, j.First, out, j.Files, nil); c != exitOK {
			return c
		}
	}
	if f.jsonOut {
		if c := j.emit(e); c != exitOK {
			return c
		}
	}
	return code
}

// shrinkSignals watches for Ctrl-C and SIGTERM while a failure is
// shrunk (not with --no-shrink): the context ends at the first, which
// stops shrinking. stop restores the default handling, so that another
// signal ends the process at once.
func shrinkSignals(f *simFlags) (ctx context.Context, stop func()) {
	if f.noShrink {
		return context.Background(), func() {}
	}
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// shrinkFailure describes the failing run r, shrunk unless --no-shrink,
// watching for Ctrl-C and SIGTERM while it shrinks (shrinkFailureContext).
func shrinkFailure(e *env, f *simFlags, r *sim.Result, o sim.Options) *sim.Failure {
	ctx, stop := shrinkSignals(f)
	defer stop()
	return shrinkFailureContext(ctx, e, f, r, o)
}

// shrinkFailureContext describes the failing run r, shrunk unless
// --no-shrink. When ctx ends (shrinkSignals: Ctrl-C or SIGTERM),
// shrinking stops between two replays: the failure then has the smallest
// failing schedule found so far, reported and written as a finished
// shrink's, and its ShrinkStats say it was stopped.
func shrinkFailureContext(ctx context.Context, e *env, f *simFlags, r *sim.Result, o sim.Options) *sim.Failure {
	fail := sim.NewFailureContext(ctx, r, o, !f.noShrink, f.trace != "")
	// As every printed command: this qgafuzz, wherever it is.
	fail.Reproduce = self() + strings.TrimPrefix(fail.Reproduce, "qgafuzz")
	if fail.Shrink != nil && fail.Shrink.Stopped {
		fmt.Fprintf(e.stderr, "qgafuzz sim: interrupted: shrinking stopped after %d replays; the smallest failing schedule found so far (%d of %d fault events, %d of %d steps) is the one reported (and written by --schedule); it may not be minimal\n",
			fail.Shrink.Replays, fail.Shrink.Events, fail.Shrink.EventsBefore, fail.Shrink.Steps, fail.Shrink.StepsBefore)
	}
	return fail
}

// writeFiles writes --trace (the trace of r) and --schedule (the minimal
// schedule of the failure, else r's schedule). r's trace lines are in
// spool if it holds r's, else kept in r. The replay commands it prints
// name the files by absolute path, so that they work from any directory.
func writeFiles(e *env, f *simFlags, r *sim.Result, fail *sim.Failure, out io.Writer, files map[string]string, spool *traceSpool) int {
	if f.trace != "" && r != nil {
		lines, err := spool.lines(r)
		if err == nil {
			if lines != nil {
				err = sim.WriteTraceFrom(f.trace, r, lines)
			} else {
				err = sim.WriteTrace(f.trace, r)
			}
		}
		if err != nil {
			fmt.Fprintln(e.stderr, "qgafuzz sim: --trace:", errText(err))
			return exitUsage
		}
		what := "the run"
		if r.Replayed {
			what = "the replay"
		}
		fmt.Fprintf(out, "trace of %s (seed %d, %d lines) written to %s; replay: %s\n",
			what, r.Seed, r.TraceLines, f.trace, selfLine("sim", "--replay", absPath(f.trace)))
		files["trace"] = f.trace
	}
	if f.schedule != "" && r != nil {
		s := r.Schedule()
		if fail != nil && fail.Minimal != nil {
			s = fail.Minimal
		}
		if err := s.Save(f.schedule); err != nil {
			fmt.Fprintln(e.stderr, "qgafuzz sim: --schedule:", errText(err))
			return exitUsage
		}
		fmt.Fprintf(out, "schedule written to %s; replay: %s\n", f.schedule, selfLine("sim", "--replay", absPath(f.schedule)))
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
