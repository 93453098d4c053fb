package sim

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestDupComesGapAfterTheOriginal: a duplicated write arrives up to gap
// after the original, as dup's doc and its trace line ("again after d")
// say, whatever delays and stalls earlier faults put on the original. The
// copy used to carry them again: a reply delayed by 200ms came twice,
// 200ms apart, and held back every reply behind it.
func TestDupComesGapAfterTheOriginal(t *testing.T) {
	for seed := uint64(1); seed <= 50; seed++ {
		c := NewChunk(sample, 7)
		prm := rand.New(rand.NewPCG(seed, 1))
		for _, spec := range []string{"delay:min=200ms,max=200ms", "stall", "fragment", "dup:gap=1ms"} {
			op := &Opportunity{Site: SiteA2H, Chunk: c}
			mustFault(t, spec).Apply(op, prm)
		}
		// Arrival of each byte, as world.send schedules it.
		var at []time.Duration
		var now time.Duration
		for _, s := range c.Segs {
			now += s.Gap
			for range s.Data {
				at = append(at, now)
			}
		}
		if len(at) != 2*len(sample) {
			t.Fatalf("seed %d: %d bytes, want the chunk twice", seed, len(at))
		}
		if d := at[len(sample)] - at[len(sample)-1]; d > time.Millisecond {
			t.Fatalf("seed %d: the copy comes %s after the original, want at most 1ms", seed, d)
		}
	}
}
