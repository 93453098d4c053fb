package sim

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/qgafuzz/qgafuzz/qga"
)

// TestShrinkProperties: over the first failing seeds of the weak clients
// and of planted agent bugs, the shrunk schedule fails first with the
// invariant the run failed first with, replays to its recorded trace, is
// the same when shrunk again, and is 1-minimal: without any one of its
// fault events, or any one of its steps (but the last), it no longer fails
// that way.
func TestShrinkProperties(t *testing.T) {
	for _, c := range []struct {
		client Strategy
		bug    qga.Bug
	}{
		{Plain, qga.NoBug}, {Naive, qga.NoBug},
		{Delimited, qga.BugDuplicateReply}, {Delimited, qga.BugDroppedNewline}, {Delimited, qga.BugNoDelimiterLargeID},
	} {
		failing := 0
		for seed := uint64(1); seed <= 100 && failing < 8; seed++ {
			r := mustRun(t, Options{Seed: seed, Client: c.client, AgentBug: c.bug})
			if !r.Failed() {
				continue
			}
			failing++
			name := string(c.client) + "/" + c.bug.String() + "/seed " + itoa(int64(seed))
			inv := r.First().Invariant
			min, res, st, err := Shrink(r, 0)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if res.First().Invariant != inv || min.Violation.Invariant != inv || st.BudgetUsedUp {
				t.Fatalf("%s: failed with %s, shrunk to %v (%s)", name, inv, res.First(), st)
			}
			if again, err := Replay(min, false); err != nil || again.TraceHash != min.TraceHash {
				t.Fatalf("%s: the shrunk schedule replays to another trace (%v)", name, err)
			}
			min2, _, _, err := Shrink(r, 0)
			a, _ := json.Marshal(min)
			b, _ := json.Marshal(min2)
			if err != nil || string(a) != string(b) {
				t.Fatalf("%s: shrinking twice gave two schedules:\n%s\n%s", name, a, b)
			}
			stillFails := func(s *Schedule) bool {
				r, err := Replay(s, false)
				return err == nil && r.Failed() && r.First().Invariant == inv
			}
			for i := range min.Events {
				c := *min
				c.Events = slices.Delete(slices.Clone(min.Events), i, i+1)
				if stillFails(&c) {
					t.Errorf("%s: still fails without event %v", name, min.Events[i])
				}
			}
			for i := 0; i < len(min.Ops) && len(min.Ops) > 1; i++ {
				c := *min
				c.Ops = slices.Delete(slices.Clone(min.Ops), i, i+1)
				c.Events = nil
				for _, e := range min.Events {
					if e.Step != i+1 {
						if e.Step > i+1 {
							e.Step--
						}
						c.Events = append(c.Events, e)
					}
				}
				if stillFails(&c) {
					t.Errorf("%s: still fails without step %d", name, i+1)
				}
			}
		}
		if failing == 0 {
			t.Errorf("%s with %s: no failing seed in 1..100", c.client, c.bug)
		}
	}
}

// TestShrinkCutsTailFirst: a failure early in a long workload shrinks in a
// few replays of the steps up to it. Shrinking used to replay the whole
// workload for every candidate, 1892 replays of 2000 steps here (half a
// minute; hours at --steps 100000).
func TestShrinkCutsTailFirst(t *testing.T) {
	r := mustRun(t, Options{Seed: 1, Client: Plain, Steps: 2000})
	if !r.Failed() || r.First().Step > 100 {
		t.Fatalf("seed 1 (plain, 2000 steps) no longer fails early (%v); pick another seed", r.First())
	}
	min, res, st, err := Shrink(r, 200)
	if err != nil {
		t.Fatal(err)
	}
	if st.BudgetUsedUp || st.Replays > 100 || len(min.Ops) > 2 || res.First().Invariant != r.First().Invariant {
		t.Fatalf("shrunk to %s: %v", st, res.First())
	}
}

// TestShrinkSaysBudgetUsedUp: a shrink stopped by its budget says its
// schedule may not be minimal (and it still fails).
func TestShrinkSaysBudgetUsedUp(t *testing.T) {
	r := mustRun(t, Options{Seed: 1, Client: Plain})
	min, res, st, err := Shrink(r, 2)
	if err != nil {
		t.Fatal(err)
	}
	if !st.BudgetUsedUp || !strings.Contains(st.String(), "may not be minimal") || !res.Failed() || min.Violation == nil {
		t.Fatalf("budget of 2: %s, %v", st, res.First())
	}
	if _, _, st, _ := Shrink(r, 0); st.BudgetUsedUp || strings.Contains(st.String(), "minimal") {
		t.Fatalf("default budget: %s", st)
	}
}

// twoPanicAgent panics when it answers guest-info: in panicAfterPings
// once it has answered three pings, else in panicEarly.
type twoPanicAgent struct {
	*qga.Agent
	pings int
}

func (a *twoPanicAgent) Step(p []byte) (int, []byte) {
	n, r := a.Agent.Step(p)
	switch {
	case strings.HasPrefix(string(r), `{"return": {}`):
		a.pings++
	case strings.Contains(string(r), "guest-info") && a.pings >= 3:
		panicAfterPings()
	case strings.Contains(string(r), "guest-info"):
		panicEarly()
	}
	return n, r
}

//go:noinline
func panicAfterPings() { panic("after pings") }

//go:noinline
func panicEarly() { panic("early") }

// TestShrinkKeepsPanicSite: a schedule that panics in one place is not
// shrunk into one that panics in another (without a ping, guest-info
// panics elsewhere), although both violate the same invariant.
func TestShrinkKeepsPanicSite(t *testing.T) {
	ping := func(n int64) Op { return Op{Kind: OpPing, N: n, Deadline: 3 * time.Second} }
	s := &Schedule{Version: ScheduleVersion, Seed: 1, Client: Delimited, Events: []Event{},
		Ops: []Op{ping(1), ping(2), ping(3), {Kind: OpInfo, N: 4, Deadline: 3 * time.Second}}}
	opts := &Options{Seed: 1, Client: Delimited, NewAgent: func() Agent { return &twoPanicAgent{Agent: qga.NewAgent(qga.AgentConfig{})} }}
	r, err := replayWith(s, opts)
	if err != nil || !r.Failed() || !strings.Contains(r.First().Detail, "panicAfterPings") {
		t.Fatalf("the schedule does not panic in panicAfterPings: %v, %v", err, r.First())
	}
	min, res, st, err := shrinkWith(context.Background(), s, opts, 0)
	if err != nil {
		t.Fatal(err)
	}
	if v := res.First(); v.Invariant != InvAgentPanic || !strings.Contains(v.Detail, "panicAfterPings") || len(min.Ops) != 4 {
		t.Fatalf("shrunk to %d steps (%s), failing with %v\n%s", len(min.Ops), st, v, v.Detail)
	}
	if got, want := failureSig(res.First()), "agent-panic at github.com/qgafuzz/qgafuzz/sim.panicAfterPings < github.com/qgafuzz/qgafuzz/sim.(*twoPanicAgent).Step"; got != want {
		t.Errorf("signature %q, want %q", got, want)
	}
}

// TestShrinkProgress: NewFailure reports the progress of its shrinking to
// Options.ShrinkProgress, with the replays so far and the size of the
// smallest failing schedule so far.
func TestShrinkProgress(t *testing.T) {
	o := Options{Seed: 1, Client: Plain}
	r := mustRun(t, o)
	var got []ShrinkProgress
	o.ShrinkProgress = func(p ShrinkProgress) { got = append(got, p) }
	o.ShrinkProgressEvery = time.Nanosecond
	f := NewFailure(r, o, true, false)
	if f.Minimal == nil || len(got) == 0 {
		t.Fatalf("shrunk to %v (%s), %d progress reports", f.Minimal, f.ShrinkError, len(got))
	}
	last := got[len(got)-1]
	if last.Budget != DefaultShrinkBudget || last.Replays < 2 || last.Replays > f.Shrink.Replays ||
		last.Steps != f.Shrink.Steps || last.Events != f.Shrink.Events || got[0].Steps > f.Shrink.StepsBefore {
		t.Fatalf("progress %+v ... %+v; shrink %s", got[0], last, f.Shrink)
	}
}

// slowAgent is the reference agent taking a while for every step, as a
// slow real agent (or a long workload) makes every replay slow.
type slowAgent struct{ *qga.Agent }

func (a slowAgent) Step(p []byte) (int, []byte) {
	time.Sleep(300 * time.Microsecond)
	return a.Agent.Step(p)
}

// TestShrinkContextStops: a shrink whose context ends stops between two
// replays, soon after, and still returns a schedule that fails the same
// way (the smallest so far), marked as stopped rather than minimal; one
// with time is not marked.
func TestShrinkContextStops(t *testing.T) {
	opts := Options{Seed: 2, Client: Plain, Steps: 100, NewAgent: func() Agent { return slowAgent{qga.NewAgent(qga.AgentConfig{})} }}
	r := mustRun(t, opts)
	if !r.Failed() {
		t.Fatal("seed 2 (plain, 100 steps) no longer fails; pick another seed")
	}
	s := r.Schedule()
	start := time.Now()
	full, _, fst, err := shrinkWith(context.Background(), s, &opts, 0)
	whole := time.Since(start)
	if err != nil || fst.Stopped || fst.BudgetUsedUp || full == nil {
		t.Fatalf("without a deadline: %s, %v", fst, err)
	}
	start = time.Now()
	if _, err := replayWith(s, &opts); err != nil {
		t.Fatal(err)
	}
	perReplay := time.Since(start) // of the whole schedule: the longest
	for _, d := range []time.Duration{0, whole / 3} {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		start := time.Now()
		min, res, st, err := shrinkWith(ctx, s, &opts, 0)
		took := time.Since(start)
		cancel()
		if err != nil || min == nil {
			t.Fatalf("deadline %v: %v", d, err)
		}
		if !st.Stopped || st.BudgetUsedUp || !strings.Contains(st.String(), "its time ran out") || st.Replays >= fst.Replays {
			t.Errorf("deadline %v: %s (without a deadline: %s)", d, st, fst)
		}
		// One replay may be running when ctx ends, and there are the
		// first and the final replay.
		if took > d+3*perReplay+200*time.Millisecond {
			t.Errorf("deadline %v: shrinking took %v (a replay takes %v)", d, took, perReplay)
		}
		if !res.Failed() || failureSig(res.First()) != failureSig(r.First()) || min.Violation == nil {
			t.Fatalf("deadline %v: the schedule returned fails with %v, want %v", d, res.First(), r.First())
		}
		if again, err := replayWith(min, &opts); err != nil || again.TraceHash != min.TraceHash || !again.Failed() {
			t.Fatalf("deadline %v: the schedule returned does not replay to its trace (%v)", d, err)
		}
		t.Logf("deadline %v: %s in %v; without a deadline %s in %v", d, st, took, fst, whole)
	}
}
