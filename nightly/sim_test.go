package nightly

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/qgafuzz/qgafuzz/fuzz"
	"github.com/qgafuzz/qgafuzz/qga"
	"github.com/qgafuzz/qgafuzz/sim"
)

// TestSimShare runs the simulation share against an agent with a planted
// bug: the failures are grouped by signature, and the stored schedule is
// shrunk and still fails when replayed.
func TestSimShare(t *testing.T) {
	var bug qga.Bug
	var out simOutcome
	for _, b := range qga.Bugs() {
		out = runSim(context.Background(), 1, 0, 60, b, nil)
		if len(out.failures) > 0 {
			bug = b
			break
		}
	}
	if bug == qga.NoBug {
		t.Skip("no planted bug is found by 60 seeds of the simulation")
	}
	if out.status.Runs != 60 || out.first != 1 || out.last != 60 {
		t.Fatalf("bug %s: %+v", bug, out.status)
	}
	for sig, rs := range out.failures {
		if !strings.HasPrefix(sig, "sim/") || len(rs) == 0 || SimSignature(rs[0]) != sig {
			t.Fatalf("signature %q", sig)
		}
		files, summary, _, err := simCrashFiles(context.Background(), rs[0], sig, len(rs), func() string { return "shrinking stopped" })
		if err != nil {
			t.Fatal(err)
		}
		s, err := sim.ParseSchedule(files[FileSchedule])
		if err != nil {
			t.Fatal(err)
		}
		r, err := sim.Replay(s, false)
		if err != nil || !r.Failed() || SimSignature(r) != sig {
			t.Fatalf("bug %s: the shrunk schedule does not fail the same way: %v", bug, err)
		}
		if _, err := sim.ParseSchedule(files[FileOrigSched]); err != nil {
			t.Fatal(err)
		}
		t.Logf("bug %s: %s: %s", bug, sig, summary)
		break
	}
}

// TestSimShareCounts: every failing seed is counted, under its signature,
// though only a few results per signature are kept; and a seed count does
// not stretch the share past its time.
func TestSimShareCounts(t *testing.T) {
	bug, ok := qga.ParseBug("no-delimiter-large-id")
	if !ok {
		t.Fatal("no planted bug no-delimiter-large-id")
	}
	const seeds = 300
	out := runSim(context.Background(), 1, 0, seeds, bug, nil)
	sum, err := (&sim.Batch{Options: sim.Options{Client: sim.Delimited, Faults: "swarm", AgentBug: bug}, From: 1, To: seeds}).Run()
	if err != nil {
		t.Fatal(err)
	}
	if sum.Failures < 2*keptPerSignature {
		t.Fatalf("only %d of %d seeds fail: the bug no longer shows", sum.Failures, seeds)
	}
	hits := 0
	for sig, n := range out.hits {
		hits += n
		if k := len(out.failures[sig]); k == 0 || k > keptPerSignature {
			t.Errorf("%s: %d results kept", sig, k)
		}
	}
	if out.status.Failures != sum.Failures || hits != sum.Failures {
		t.Fatalf("the share counted %d failing seeds (%d by signature), the batch %d", out.status.Failures, hits, sum.Failures)
	}

	start := time.Now()
	out = runSim(context.Background(), 1, 300*time.Millisecond, 1<<30, qga.NoBug, nil)
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("a 300ms share with a seed count of 2^30 ran %v (%d seeds)", el, out.status.Runs)
	}
}

// TestSimTargetSeedRange: the report gives the seeds that ran, and no
// range at all when none did (not first-1, which wraps at seed 0).
func TestSimTargetSeedRange(t *testing.T) {
	tr := simTarget(runSim(context.Background(), 5, 0, 3, qga.NoBug, nil), time.Second)
	if tr.SeedFrom == nil || tr.SeedTo == nil || *tr.SeedFrom != 5 || *tr.SeedTo != 7 || tr.Execs != 3 || tr.Failing == nil {
		t.Errorf("3 seeds from 5: %+v", tr)
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tr = simTarget(runSim(cancelled, 0, time.Second, 0, qga.NoBug, nil), time.Second)
	if tr.SeedFrom != nil || tr.SeedTo != nil || tr.Execs != 0 || tr.Failing == nil || *tr.Failing != 0 {
		t.Errorf("no seed ran: %+v", tr)
	}
}

// TestReplayStoredScheduleUsesTonightsAgent: a schedule stored by a night
// with a planted bug is replayed against tonight's agent, so a night
// without the bug notes it as fixed rather than reporting it again.
func TestReplayStoredScheduleUsesTonightsAgent(t *testing.T) {
	bug, ok := qga.ParseBug("dropped-newline")
	if !ok {
		t.Fatal("no planted bug dropped-newline")
	}
	out := runSim(context.Background(), 1, 0, 60, bug, nil)
	var r *sim.Result
	for _, rs := range out.failures {
		r = rs[0]
	}
	if r == nil {
		t.Skip("60 seeds do not show dropped-newline")
	}
	b, err := json.Marshal(r.Schedule())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "sim", "x-00000000", FileSchedule)
	os.MkdirAll(filepath.Dir(p), 0o755)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		bug     qga.Bug
		failing bool
	}{{qga.NoBug, false}, {bug, true}} {
		n := &night{bug: c.bug, store: crashStore{dir: dir}, rep: &Report{}}
		failures, hits := map[string][]*sim.Result{}, map[string]int{}
		n.replayStoredSchedules(context.Background(), failures, hits)
		if got := len(failures) > 0; got != c.failing {
			t.Errorf("agent bug %q: stored schedule failing = %v, want %v (notes %q)", c.bug, got, c.failing, n.rep.Notes)
		}
		if !c.failing && (len(n.rep.Notes) != 1 || !strings.Contains(n.rep.Notes[0], "no longer reproduces")) {
			t.Errorf("without the bug: notes %q, want the crash noted as fixed", n.rep.Notes)
		}
	}
}

// TestSimShareCorruptStoredSchedule: a stored schedule that cannot be read
// is a known failure that the night did not check: an error of the sim
// share in report.json and junit.xml (exit 2), not a note that is easy to
// miss; the share still runs.
func TestSimShareCorruptStoredSchedule(t *testing.T) {
	out := t.TempDir()
	p := filepath.Join(out, "crashers", "sim", "x-00000000", FileSchedule)
	os.MkdirAll(filepath.Dir(p), 0o755)
	os.WriteFile(p, []byte(`{"seed": 1, "steps": [`), 0o644)
	n := &night{o: Options{Out: out, SimRuns: 3, SimSeed: 1}, store: crashStore{dir: filepath.Join(out, "crashers")},
		board: newBoard(io.Discard, false, time.Minute), rep: &Report{Targets: []Target{}, Crashes: []Crash{}}}
	n.simulate(context.Background(), 10*time.Second)
	rep := n.finish(context.Background())
	if len(rep.Targets) != 1 || rep.Targets[0].Execs != 3 || !strings.Contains(rep.Targets[0].Error, p) || rep.ExitCode != 2 {
		t.Fatalf("exit %d, targets %+v, notes %q", rep.ExitCode, rep.Targets, rep.Notes)
	}
	b, err := os.ReadFile(filepath.Join(out, "junit.xml"))
	if err != nil {
		t.Fatal(err)
	}
	ValidateJUnit(t, b, 1, 0, 1, 0)
	b, _ = os.ReadFile(filepath.Join(out, "report.json"))
	if !bytes.Contains(b, []byte(`"error": "cannot replay the stored failure`)) {
		t.Fatalf("report.json:\n%s", b)
	}
}

// TestStoredCrasherUnreadable: a stored crash whose input cannot be read
// is reported as not checked, not skipped in silence (the known crash
// would drop out of the report).
func TestStoredCrasherUnreadable(t *testing.T) {
	out := t.TempDir()
	p := filepath.Join(out, "crashers", "parser", "x-00000000", FileMinimized)
	if err := os.MkdirAll(p, 0o755); err != nil { // a directory, not a file
		t.Fatal(err)
	}
	n := &night{o: Options{Out: out}, store: crashStore{dir: filepath.Join(out, "crashers")}}
	inputs, unreadable := n.storedCrashers(context.Background(), fuzz.Target{Name: "parser"})
	if len(inputs) != 0 || len(unreadable) != 1 || !strings.Contains(unreadable[0], p) || !strings.Contains(unreadable[0], "not checked tonight") {
		t.Fatalf("inputs %d, unreadable %q", len(inputs), unreadable)
	}
}

// TestSimShareSkippedForBug: a planted bug that cannot show in a
// simulation skips the share; it is in the report as a skipped sim
// target with the reason, so that junit.xml has a skipped case for it
// rather than no simulation at all.
func TestSimShareSkippedForBug(t *testing.T) {
	out := t.TempDir()
	n := &night{o: Options{Out: out, SimRuns: 3, SimSeed: 1}, bug: qga.BugSilentFlush, store: crashStore{dir: filepath.Join(out, "crashers")},
		board: newBoard(io.Discard, false, time.Minute), rep: &Report{Targets: []Target{}, Crashes: []Crash{}}}
	n.simulate(context.Background(), 10*time.Second)
	rep := n.finish(context.Background())
	if len(rep.Targets) != 1 || rep.Targets[0].Kind != "sim" || !strings.Contains(rep.Targets[0].Skipped, "cannot show in a simulation") ||
		rep.Targets[0].Execs != 0 || rep.ExitCode != 0 {
		t.Fatalf("exit %d, targets %+v, notes %q", rep.ExitCode, rep.Targets, rep.Notes)
	}
	b, err := os.ReadFile(filepath.Join(out, "junit.xml"))
	if err != nil {
		t.Fatal(err)
	}
	ValidateJUnit(t, b, 1, 0, 0, 1)
}
