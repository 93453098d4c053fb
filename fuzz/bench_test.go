package fuzz_test

import (
	"path/filepath"
	"testing"

	"github.com/qgafuzz/qgafuzz/fuzz"
)

// BenchmarkTargets measures one execution of each target over its seed
// corpus (ns/op is per input, averaged over the corpus); execs/s is the
// single-core throughput a fuzzing engine can reach at best. B/s is input
// bytes per second (SetBytes takes the corpus's mean input size, since
// inputs differ in length).
func BenchmarkTargets(b *testing.B) {
	for _, tg := range fuzz.Targets() {
		_, seeds, err := fuzz.ReadCorpus(filepath.Join("..", "corpus", tg.Name))
		if err != nil || len(seeds) == 0 {
			b.Fatalf("corpus/%s: %v (%d seeds)", tg.Name, err, len(seeds))
		}
		total := 0
		for _, s := range seeds {
			total += len(s)
		}
		b.Run(tg.Name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(total / len(seeds)))
			for i := 0; b.Loop(); i++ {
				if f := fuzz.Run(tg, seeds[i%len(seeds)]); f != nil {
					b.Fatal(f.Report())
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "execs/s")
		})
	}
}
