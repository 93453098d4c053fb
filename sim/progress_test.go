package sim

import (
	"testing"
	"time"
)

// TestRunProgress: Run reports its progress (steps done of the total,
// virtual time) between steps when asked, without changing the run;
// replays and the runs of a batch do not report. Run used to report
// nothing.
func TestRunProgress(t *testing.T) {
	var got []RunProgress
	o := Options{Seed: 3, Faults: "all", Steps: 200, RunProgressEvery: time.Nanosecond,
		RunProgress: func(p RunProgress) { got = append(got, p) }}
	r := mustRun(t, o)
	if len(got) < 10 {
		t.Fatalf("%d progress reports for 200 steps every nanosecond", len(got))
	}
	for i, p := range got {
		if p.Seed != 3 || p.Steps != 200 || p.Step < 0 || p.Step >= 200 || p.Virtual < 0 ||
			(i > 0 && (p.Step <= got[i-1].Step || p.Virtual < got[i-1].Virtual)) {
			t.Fatalf("report %d: %+v (previous %+v)", i, p, got[max(i-1, 0)])
		}
	}
	plain := mustRun(t, Options{Seed: 3, Faults: "all", Steps: 200})
	if r.TraceHash != plain.TraceHash {
		t.Fatal("reporting progress changed the run")
	}
	got = nil
	if _, err := Replay(r.Schedule(), false); err != nil {
		t.Fatal(err)
	}
	if _, err := (&Batch{Options: o, From: 1, To: 3, Workers: 1}).Run(); err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Fatalf("a replay and a batch reported %d times", len(got))
	}
}
