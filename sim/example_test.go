package sim_test

import (
	"fmt"

	"github.com/qgafuzz/qgafuzz/sim"
)

// A host that resynchronises with plain guest-sync takes a duplicated
// reply for the answer to its next call; the minimal schedule shows the
// one fault that does it.
func Example() {
	r, err := sim.Run(sim.Options{Seed: 1, Client: sim.Plain, Faults: "dup:rate=0.2,dir=a2h", Steps: 10})
	if err != nil {
		panic(err)
	}
	fmt.Println("failed:", r.Failed(), r.First().Invariant)
	min, _, _, err := sim.Shrink(r, 0)
	if err != nil {
		panic(err)
	}
	fmt.Println("minimal:", min.FaultKinds(), len(min.Events), "event(s)")
	again, _ := sim.Replay(min, false)
	fmt.Println("replays to the same trace:", again.TraceHash == min.TraceHash)
	// Output:
	// failed: true safety
	// minimal: [dup] 1 event(s)
	// replays to the same trace: true
}

// The careful client survives every fault kind.
func Example_delimited() {
	b := sim.Batch{Options: sim.Options{Client: sim.Delimited, Faults: "all"}, From: 1, To: 200}
	s, err := b.Run()
	if err != nil {
		panic(err)
	}
	fmt.Println(s.Runs, "seeds,", s.Failures, "failing")
	// Output:
	// 200 seeds, 0 failing
}
