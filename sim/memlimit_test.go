package sim

import (
	"testing"

	"github.com/qgafuzz/qgafuzz/qjson"
)

// TestAgentMemoryFaithfulAgentPasses: the reference agent, run with the
// small limits the memory invariant checks, never breaks that invariant,
// whatever the faults make of its input. The agent used to run with
// qemu-ga's default limits whatever AgentLimits said, and the bound left
// no room for the token in progress: the message's total is checked only
// when a token ends.
func TestAgentMemoryFaithfulAgentPasses(t *testing.T) {
	const faults = "foreign:rate=0.5,loss:rate=0.5,bitflip:rate=0.3,fragment,ff:rate=0.05"
	for _, size := range []int{40, 300} {
		lim := qjson.Limits{MaxTokenSize: size, MaxTokenCount: qjson.DefaultLimits.MaxTokenCount, MaxDepth: qjson.DefaultLimits.MaxDepth}
		for seed := uint64(1); seed <= 400; seed++ {
			r := mustRun(t, Options{Seed: seed, Client: Naive, Faults: faults, AgentLimits: lim})
			for _, v := range r.Violations {
				if v.Invariant == InvAgentMemory {
					t.Fatalf("MaxTokenSize %d, seed %d: %v", size, seed, v)
				}
			}
		}
	}
}
