package nightly

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/qgafuzz/qgafuzz/fuzz"
	"github.com/qgafuzz/qgafuzz/qga"
	"github.com/qgafuzz/qgafuzz/sim"
)

// This file runs the swarm simulation share of a night: batches of seeds
// (each with its own random fault mix) until the share's time or the seed
// count is used up, then one shrunk schedule per violated invariant; the
// schedules stored by earlier nights are replayed too. The replays and the
// shrinking are the share's triage: they end by the triage deadline, as the
// fuzz targets' do (see triageDeadline), and a schedule whose shrinking
// was cut is stored as it is then, never dropped.

// simStatus is the simulation's progress.
type simStatus struct {
	Runs, Failures int
	Rate           float64
}

// simOutcome is what the simulation share found.
type simOutcome struct {
	status   simStatus
	first    uint64
	last     uint64
	failures map[string][]*sim.Result // by signature, lowest seeds first, keptPerSignature at most
	hits     map[string]int           // failing seeds by signature, all of them
	elapsed  time.Duration
	err      error
}

// keptPerSignature is how many failing results of one signature the
// simulation share keeps (the lowest seeds): the first is shrunk and
// stored, the others are counted only.
const keptPerSignature = 4

// SimSignature is the deduplication signature of a failing run: the
// invariant, and for a panic the top frames of its stack.
func SimSignature(r *sim.Result) string {
	v := r.First()
	sig := "sim/" + v.Invariant
	if v.Detail != "" && (v.Invariant == sim.InvPanic || v.Invariant == sim.InvAgentPanic) {
		if fr := fuzz.StackFrames([]byte(v.Detail), 3); len(fr) > 0 {
			sig += " at " + strings.Join(fr, " < ")
		}
	}
	return sig
}

// runSim runs seeds from first on until d has passed, ctx is done, or
// maxRuns seeds ran (0: no limit): a seed count never stretches the run
// past its time. d <= 0 sets no time limit (then maxRuns must be set).
func runSim(ctx context.Context, first uint64, d time.Duration, maxRuns int, bug qga.Bug, onStatus func(simStatus)) simOutcome {
	out := simOutcome{first: first, failures: map[string][]*sim.Result{}, hits: map[string]int{}}
	start := time.Now()
	deadline := start.Add(d)
	next := first
	chunk := uint64(16)
	for ctx.Err() == nil && (d <= 0 || time.Now().Before(deadline)) {
		if maxRuns > 0 && out.status.Runs >= maxRuns {
			break
		}
		n := chunk
		if maxRuns > 0 {
			n = min(n, uint64(maxRuns-out.status.Runs))
		}
		// Every failing result of the batch is kept, to count it under its
		// signature; only a few per signature are kept past the batch.
		b := sim.Batch{Options: sim.Options{Client: sim.Delimited, Faults: "swarm", AgentBug: bug},
			From: next, To: next + n - 1, KeepFailures: int(n)}
		t0 := time.Now()
		sum, err := b.Run()
		if err != nil {
			out.err = err
			break
		}
		next += n
		out.status.Runs += sum.Runs
		for _, r := range sum.Failed {
			if !r.Failed() {
				continue // nondeterminism is recorded by the batch, not here
			}
			sig := SimSignature(r)
			out.hits[sig]++
			if len(out.failures[sig]) < keptPerSignature {
				out.failures[sig] = append(out.failures[sig], r)
			}
			out.status.Failures++
		}
		// Aim at about a second per batch, so that the deadline and
		// Ctrl-C are noticed quickly.
		if el := time.Since(t0); el < 500*time.Millisecond && chunk < 1<<14 {
			chunk *= 2
		} else if el > 2*time.Second && chunk > 1 {
			chunk /= 2
		}
		out.elapsed = time.Since(start)
		if out.elapsed > 0 {
			out.status.Rate = float64(out.status.Runs) / out.elapsed.Seconds()
		}
		if onStatus != nil {
			onStatus(out.status)
		}
	}
	out.last = next - 1
	out.elapsed = time.Since(start)
	for _, rs := range out.failures {
		sort.Slice(rs, func(i, j int) bool { return rs[i].Seed < rs[j].Seed })
	}
	return out
}

// shrinkSim shrinks a failing run until ctx ends (a variable for the
// tests, which need a shrink slower than the planted bugs give).
var shrinkSim = sim.ShrinkContext

// simCrashFiles shrinks a failing run, until ctx ends, and returns the
// files of its crash directory (without repro.txt), a one-line summary,
// and whether the shrinking was whole. A shrink that fails (an error is
// returned then too) leaves the run's own schedule, which failed, to store
// as the schedule: the files are returned whenever the schedule can be
// written. stopped says why a shrink that was cut stopped (triageContext's
// wording, shared with the night's note so that the two cannot disagree).
func simCrashFiles(ctx context.Context, r *sim.Result, sig string, count int, stopped func() string) (files map[string][]byte, summary string, whole bool, err error) {
	orig, err := json.MarshalIndent(r.Schedule(), "", "  ")
	if err != nil {
		return nil, "", false, err
	}
	shrunk, res, stats, shrinkErr := shrinkSim(ctx, r, 0)
	var min []byte
	if shrinkErr == nil {
		min, err = json.MarshalIndent(shrunk, "", "  ")
		if err != nil {
			return nil, "", false, err
		}
	} else {
		shrinkErr = fmt.Errorf("shrinking seed %d: %w (the unshrunk schedule is stored)", r.Seed, shrinkErr)
		min, res = orig, r
	}
	v := res.First()
	var b strings.Builder
	fmt.Fprintf(&b, "simulation: invariant %s violated\nsignature: %s\nseed %d (swarm faults, client %s); %d failing seeds hit this signature this run\n\n",
		v.Invariant, sig, r.Seed, r.Client, count)
	if shrinkErr != nil {
		fmt.Fprintf(&b, "violation (unshrunk schedule): %s\n", v)
	} else {
		fmt.Fprintf(&b, "violation (shrunk schedule): %s\n", v)
	}
	if v.Detail != "" {
		fmt.Fprintf(&b, "%s\n", v.Detail)
	}
	switch {
	case shrinkErr != nil:
		fmt.Fprintf(&b, "\nnot shrunk: %v\n", shrinkErr)
		summary = fmt.Sprintf("%s (seed %d, not shrunk)", v, r.Seed)
	case stats.Stopped:
		why := stopped()
		fmt.Fprintf(&b, "\n%s, the schedule stored is the smallest failing one by then: %s\nschedule: %s\n", why, stats, shrunk)
		summary = fmt.Sprintf("%s (seed %d, %s: %s)", v, r.Seed, why, stats)
	default:
		fmt.Fprintf(&b, "\nshrunk: %s\nschedule: %s\n", stats, shrunk)
		summary = fmt.Sprintf("%s (seed %d, shrunk to %s)", v, r.Seed, stats)
	}
	return map[string][]byte{
		FileSchedule:  append(min, '\n'),
		FileOrigSched: append(orig, '\n'),
		FileFailure:   []byte(b.String()),
		FileSignature: []byte(sig + "\n"),
	}, summary, shrinkErr == nil && !stats.Stopped, shrinkErr
}

// simTarget is the report's entry for a simulation share of budget d.
func simTarget(res simOutcome, d time.Duration) Target {
	tr := Target{Name: "sim", Kind: "sim", Budget: Duration(d), Elapsed: Duration(res.elapsed),
		Execs: int64(res.status.Runs), ExecsPerSec: res.status.Rate, Failing: &res.status.Failures, Crashes: []string{}}
	if res.status.Runs > 0 { // else there is no range (last would be first-1)
		tr.SeedFrom, tr.SeedTo = &res.first, &res.last
	}
	if res.err != nil {
		tr.Error = res.err.Error()
	}
	return tr
}

// simPhase is the progress phase of the simulation share.
const simPhase = "swarm"

// simulate runs the swarm simulation for d and stores one shrunk schedule
// per violated invariant.
func (n *night) simulate(ctx context.Context, d time.Duration) {
	seed := n.o.SimSeed
	if seed == 0 {
		seed = uint64(time.Now().Unix()) * 1000
	}
	if err := sim.CheckAgentBug(n.bug); err != nil {
		// In the report as skipped, so that CI sees the simulation did
		// not run; the note is for the person reading summary.md.
		n.rep.Targets = append(n.rep.Targets, skippedTarget("sim", "sim", "not run: "+err.Error()))
		n.rep.Notes = append(n.rep.Notes, "sim: share skipped: "+err.Error())
		n.board.printf("nightly: sim skipped: %v", err)
		return
	}
	n.board.begin("sim", d)
	res := runSim(ctx, seed, d, n.o.SimRuns, n.bug, func(st simStatus) {
		n.board.update(simPhase, int64(st.Runs), st.Rate, 0, 0)
	})
	tr := simTarget(res, d)
	// The replays of the stored schedules and the shrinking end by the
	// triage deadline. Shrinking, like triage, runs briefly even after
	// Ctrl-C: what was found is stored.
	tctx, tcancel, stopped := n.triageContext(ctx, "shrinking")
	defer tcancel()
	dl, _ := tctx.Deadline()
	rctx, cancel := context.WithDeadline(ctx, dl) // the replays stop at Ctrl-C
	defer cancel()
	if probs := n.replayStoredSchedules(rctx, res.failures, res.hits); len(probs) > 0 {
		tr.addError(probs...)
	}
	cut := 0
	var sigs []string
	for s := range res.failures {
		sigs = append(sigs, s)
	}
	sort.Strings(sigs)
	for _, sig := range sigs {
		rs, hits := res.failures[sig], res.hits[sig]
		tr.Crashes = append(tr.Crashes, sig)
		slug := Slug("sim", sig)
		dir := filepath.Join(n.store.dir, "sim", slug)
		c := Crash{Target: "sim", Signature: sig, Dir: dir, Hits: hits, Suppressed: n.supp.Match("sim", sig),
			Repro: n.reproLine("sim", filepath.Join(dir, FileSchedule)), Summary: rs[0].First().String()}
		c.New = !c.Suppressed
		if n.store.exists("sim", slug) {
			c.KnownBefore = true
		} else {
			files, summary, whole, err := simCrashFiles(tctx, rs[0], sig, hits, stopped)
			if err != nil {
				n.rep.Errors = append(n.rep.Errors, "sim: "+err.Error())
				if files == nil {
					continue
				}
			}
			if !whole && err == nil {
				cut++
			}
			c.Summary = summary
			files[FileRepro] = []byte(c.Repro + "\n")
			if _, err := n.store.save("sim", slug, files); err != nil {
				n.rep.Errors = append(n.rep.Errors, "sim: storing "+sig+": "+err.Error())
				continue
			}
		}
		n.addCrash(c)
	}
	if cut > 0 {
		msg := fmt.Sprintf("sim: %s: %d failing schedules stored unshrunk (or not fully shrunk)", stopped(), cut)
		if ctx.Err() == nil {
			msg += "; raise --budget"
		}
		n.rep.Notes = append(n.rep.Notes, msg)
		n.board.printf("nightly: %s", msg)
	}
	n.rep.Targets = append(n.rep.Targets, tr)
	n.board.printf("nightly: sim done: %s, %d seeds (%.0f/s) from %d, %d failing, %d unique", tr.Elapsed, tr.Execs, tr.ExecsPerSec, res.first, res.status.Failures, len(sigs))
}

// replayStoredSchedules replays the schedules stored by earlier nights: a
// failure that still happens is reported again (known), one that no
// longer does is noted as fixed. It returns the schedules it could not
// replay: each is a known failure that tonight did not check, an error of
// the share rather than a note, or the failure would drop out of the
// report unnoticed. The replays stop when ctx ends (those left are noted
// as not checked, as the stored crashes of the fuzz targets are).
func (n *night) replayStoredSchedules(ctx context.Context, failures map[string][]*sim.Result, hits map[string]int) (probs []string) {
	paths, _ := filepath.Glob(filepath.Join(n.store.dir, "sim", "*", FileSchedule))
	for i, p := range paths {
		if ctx.Err() != nil {
			n.rep.Notes = append(n.rep.Notes, fmt.Sprintf("sim: %d schedules stored by earlier nights not replayed tonight: the budget ran out (or the night was interrupted)", len(paths)-i))
			break
		}
		if strings.Contains(p, ".incomplete-") || strings.Contains(p, "/.tmp-") {
			continue
		}
		s, err := sim.LoadSchedule(p)
		if err != nil {
			probs = append(probs, fmt.Sprintf("cannot replay the stored failure %s (not checked tonight; repair or move the directory): %v", p, err))
			continue
		}
		// The schedule records the agent of the night that stored it (a
		// planted bug included); replay it against tonight's agent, or a
		// planted bug's schedule fails forever, even on a night without it.
		s.AgentBug = ""
		if n.bug != qga.NoBug {
			s.AgentBug = n.bug.String()
		}
		r, err := sim.Replay(s, false)
		switch {
		case err != nil:
			probs = append(probs, fmt.Sprintf("cannot replay the stored failure %s (not checked tonight): %v", p, err))
		case !r.Failed():
			n.rep.Notes = append(n.rep.Notes, fmt.Sprintf("sim: the failure stored in %s no longer reproduces (fixed?)", filepath.Dir(p)))
		default:
			if sig := SimSignature(r); len(failures[sig]) == 0 {
				failures[sig] = []*sim.Result{r}
				hits[sig] = 1 // the stored schedule itself
			}
		}
	}
	return probs
}
