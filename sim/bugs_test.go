package sim

import (
	"strings"
	"testing"

	"github.com/qgafuzz/qgafuzz/qga"
)

// TestPlantedBugsShow: every planted bug the simulation accepts is caught
// by some invariant within a few hundred swarm seeds, and the others are
// refused with the reason, not run as if clean.
func TestPlantedBugsShow(t *testing.T) {
	for _, b := range qga.Bugs() {
		if err := CheckAgentBug(b); err != nil {
			if _, rerr := Run(Options{Seed: 1, AgentBug: b}); rerr == nil || !strings.Contains(rerr.Error(), "differential") {
				t.Errorf("%s: refused by CheckAgentBug, but Run says %v", b, rerr)
			}
			continue
		}
		sum, err := (&Batch{Options: Options{Client: Delimited, Faults: "swarm", AgentBug: b}, From: 1, To: 300}).Run()
		if err != nil {
			t.Fatal(err)
		}
		if sum.Failures == 0 {
			t.Errorf("%s: accepted by the simulation, but no seed of 300 fails", b)
		}
	}
}
