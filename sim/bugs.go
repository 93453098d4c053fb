package sim

import (
	"fmt"

	"github.com/qgafuzz/qgafuzz/qga"
)

// CheckAgentBug reports whether a bug planted in the simulated agent can
// show in a simulation. The simulation checks what a host sees (the
// client's invariants), feeds the agent in steps rather than reads, and
// sends ASCII only, so some bugs cannot show there; planting one would
// only look like a clean run. The differential fuzzer finds them all.
func CheckAgentBug(b qga.Bug) error {
	var why string
	switch b {
	case qga.BugSilentFlush:
		why = "every client discards the error reply of a flush, so no invariant notices it missing"
	case qga.BugDepthOffByOne:
		why = "no simulated request nests 1025 levels deep"
	case qga.BugSplitUTF8:
		why = "the simulated agent has no reads to split, and the workload is ASCII"
	default:
		return nil
	}
	return fmt.Errorf("the planted bug %s cannot show in a simulation: %s (qgafuzz fuzz --target differential --plant-bug %s finds it)", b, why, b)
}
