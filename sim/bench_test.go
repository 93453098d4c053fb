package sim

import "testing"

// BenchmarkRun measures one simulated seed (swarm faults, the default
// workload), cycling through seeds 1..256 so that the fault mixes vary as
// in a batch; seeds/s is the single-core rate of qgafuzz sim --workers 1.
func BenchmarkRun(b *testing.B) {
	for _, c := range []Strategy{Delimited, Plain} {
		b.Run(string(c), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if _, err := Run(Options{Seed: uint64(i%256 + 1), Client: c}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "seeds/s")
		})
	}
}
