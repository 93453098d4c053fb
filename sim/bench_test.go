package sim

import (
	"io"
	"testing"
)

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

// BenchmarkRunTraced measures a longer run (2,000 steps) whose trace is
// only hashed, kept in Result.Trace (Options.Trace), or written as it
// goes (Options.TraceTo): B/op shows what keeping it costs.
func BenchmarkRunTraced(b *testing.B) {
	for _, c := range []struct {
		name string
		o    Options
	}{{"hashed", Options{}}, {"kept", Options{Trace: true}}, {"streamed", Options{TraceTo: io.Discard}}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			const steps = 2000
			for i := 0; b.Loop(); i++ {
				o := c.o
				o.Seed, o.Steps = uint64(i%16+1), steps
				if _, err := Run(o); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*steps)/b.Elapsed().Seconds(), "steps/s")
		})
	}
}
