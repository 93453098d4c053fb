package nightly

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/qgafuzz/qgafuzz/qga"
	"github.com/qgafuzz/qgafuzz/sim"
)

// TestSimShrinkHonoursTheBudget: shrinking the simulation's failures
// stops at the triage deadline (here a shrink that would never end
// otherwise), and every failing schedule is still stored, with its repro
// line, as it was when shrinking stopped; the report says so.
func TestSimShrinkHonoursTheBudget(t *testing.T) {
	bug, ok := qga.ParseBug("no-delimiter-large-id")
	if !ok {
		t.Fatal("no planted bug no-delimiter-large-id")
	}
	// A shrink that takes longer than any budget, unless it is stopped.
	old := shrinkSim
	defer func() { shrinkSim = old }()
	shrinkSim = func(ctx context.Context, r *sim.Result, budget int) (*sim.Schedule, *sim.Result, sim.ShrinkStats, error) {
		select {
		case <-ctx.Done():
		case <-time.After(time.Minute):
		}
		return sim.ShrinkContext(ctx, r, budget)
	}
	out := t.TempDir()
	now := time.Now()
	n := &night{o: Options{Out: out, SimRuns: 60, SimSeed: 1, Repro: "qgafuzz"}, bug: bug,
		store: crashStore{dir: filepath.Join(out, "crashers")}, board: newBoard(io.Discard, false, time.Second),
		rep: &Report{Targets: []Target{}, Crashes: []Crash{}}, deadln: now, reserve: 5 * time.Second}
	done := make(chan struct{})
	go func() { n.simulate(context.Background(), 10*time.Second); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("the simulation share is still shrinking 20s past its budget")
	}
	took := time.Since(now)
	if took > minTriage+5*time.Second {
		t.Errorf("the share took %v past its budget (triage gets %v)", took, minTriage)
	}
	if len(n.rep.Crashes) == 0 || len(n.rep.Errors) != 0 {
		t.Fatalf("60 seeds with %s: crashes %+v, errors %q", bug, n.rep.Crashes, n.rep.Errors)
	}
	for _, c := range n.rep.Crashes {
		if !c.New || c.Repro == "" || !strings.Contains(c.Summary, "shrinking stopped at the budget") {
			t.Errorf("crash %+v", c)
		}
		if repro, _ := os.ReadFile(filepath.Join(c.Dir, FileRepro)); strings.TrimSpace(string(repro)) != c.Repro {
			t.Errorf("repro.txt %q, want %q", repro, c.Repro)
		}
		if f, _ := os.ReadFile(filepath.Join(c.Dir, FileFailure)); !strings.Contains(string(f), "shrinking stopped at the budget") {
			t.Errorf("failure.txt does not say the shrinking was cut short:\n%s", f)
		}
		s, err := sim.LoadSchedule(filepath.Join(c.Dir, FileSchedule))
		if err != nil {
			t.Fatal(err)
		}
		if r, err := sim.Replay(s, false); err != nil || !r.Failed() || SimSignature(r) != c.Signature {
			t.Errorf("the stored schedule of %s does not fail the same way (%v)", c.Signature, err)
		}
	}
	if !hasNote(n.rep.Notes, fmt.Sprintf("sim: shrinking stopped at the budget: %d failing schedules stored unshrunk", len(n.rep.Crashes))) {
		t.Errorf("notes %q", n.rep.Notes)
	}
	t.Logf("the share took %v: %d crashes; notes %q", took, len(n.rep.Crashes), n.rep.Notes)
}

// TestSimShrinkInterruptedSaysSo: a shrink cut by Ctrl-C says so in the
// crash's failure.txt and summary, in the words of the night's note, not
// that it stopped at the budget.
func TestSimShrinkInterruptedSaysSo(t *testing.T) {
	bug, ok := qga.ParseBug("no-delimiter-large-id")
	if !ok {
		t.Fatal("no planted bug no-delimiter-large-id")
	}
	defer func(d time.Duration) { triageAfterInterrupt = d }(triageAfterInterrupt)
	triageAfterInterrupt = 300 * time.Millisecond
	ctx, interrupt := context.WithCancel(context.Background())
	defer interrupt()
	// The night is interrupted while the first schedule is shrunk; the
	// shrink then runs until triage is cut.
	old := shrinkSim
	defer func() { shrinkSim = old }()
	shrinkSim = func(sctx context.Context, r *sim.Result, budget int) (*sim.Schedule, *sim.Result, sim.ShrinkStats, error) {
		interrupt()
		select {
		case <-sctx.Done():
		case <-time.After(time.Minute):
		}
		return sim.ShrinkContext(sctx, r, budget)
	}
	out := t.TempDir()
	n := &night{o: Options{Out: out, SimRuns: 60, SimSeed: 1, Repro: "qgafuzz"}, bug: bug,
		store: crashStore{dir: filepath.Join(out, "crashers")}, board: newBoard(io.Discard, false, time.Second),
		rep: &Report{Targets: []Target{}, Crashes: []Crash{}}, deadln: time.Now().Add(time.Hour), reserve: 5 * time.Second}
	done := make(chan struct{})
	go func() { n.simulate(ctx, 10*time.Second); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("the simulation share is still shrinking 20s after the interruption")
	}
	if len(n.rep.Crashes) == 0 || len(n.rep.Errors) != 0 {
		t.Fatalf("60 seeds with %s: crashes %+v, errors %q", bug, n.rep.Crashes, n.rep.Errors)
	}
	const said = "shrinking stopped after the interruption"
	for _, c := range n.rep.Crashes {
		if !strings.Contains(c.Summary, said) || strings.Contains(c.Summary, "budget") {
			t.Errorf("summary %q does not say %q", c.Summary, said)
		}
		f, _ := os.ReadFile(filepath.Join(c.Dir, FileFailure))
		if !strings.Contains(string(f), said) || strings.Contains(string(f), "budget") {
			t.Errorf("failure.txt does not say %q:\n%s", said, f)
		}
	}
	if !hasNote(n.rep.Notes, "sim: "+said+": ") {
		t.Errorf("notes %q", n.rep.Notes)
	}
}

// TestStoredSchedulesHonourTheBudget: the replays of the schedules stored
// by earlier nights stop when their time is up, and the report says how
// many were not checked.
func TestStoredSchedulesHonourTheBudget(t *testing.T) {
	r, err := sim.Run(sim.Options{Seed: 1, Faults: "all", Steps: 100})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(r.Schedule())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	const stored = 300
	for i := range stored {
		p := filepath.Join(dir, "sim", fmt.Sprintf("x-%03d", i), FileSchedule)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	n := &night{store: crashStore{dir: dir}, rep: &Report{}}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	probs := n.replayStoredSchedules(ctx, map[string][]*sim.Result{}, map[string]int{})
	took := time.Since(start)
	if took > time.Second || len(probs) != 0 {
		t.Errorf("replaying took %v with 100ms (problems %q)", took, probs)
	}
	var replayed int
	for _, m := range n.rep.Notes {
		if strings.Contains(m, "no longer reproduces") {
			replayed++
		}
	}
	if replayed == stored || !hasNote(n.rep.Notes, fmt.Sprintf("sim: %d schedules stored by earlier nights not replayed tonight", stored-replayed)) {
		t.Errorf("%d of %d replayed, notes %q", replayed, stored, n.rep.Notes[len(n.rep.Notes)-1:])
	}
	t.Logf("%d of %d replayed in %v", replayed, stored, took)
}

// hasNote reports whether one of notes contains s.
func hasNote(notes []string, s string) bool {
	for _, m := range notes {
		if strings.Contains(m, s) {
			return true
		}
	}
	return false
}
