package fuzz_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/qgafuzz/qgafuzz/fuzz"
)

// The native Go fuzzing entry points, one per target. Under plain go test
// each replays its seed corpus (corpus/<target>/, checked in) and
// testdata/fuzz/FuzzX/ (crashers found earlier); with -fuzz it fuzzes.
// $QGAFUZZ_CORPUS names a directory of further seeds, and
// $QGAFUZZ_PLANT_BUG a planted bug for the differential target's agent.
//
//	go test -run '^$' -fuzz '^FuzzParser$' -fuzztime 30s ./fuzz/

func FuzzParser(f *testing.F)       { fuzzTarget(f, "parser") }
func FuzzAgent(f *testing.F)        { fuzzTarget(f, "agent") }
func FuzzDelimiter(f *testing.F)    { fuzzTarget(f, "delimiter") }
func FuzzScenario(f *testing.F)     { fuzzTarget(f, "scenario") }
func FuzzDifferential(f *testing.F) { fuzzTarget(f, "differential") }

func fuzzTarget(f *testing.F, name string) {
	t, ok := fuzz.Lookup(name)
	if !ok {
		f.Fatalf("no target %q", name)
	}
	_, seeds, err := fuzz.ReadCorpus(filepath.Join("..", "corpus", name))
	if err != nil {
		f.Fatal(err)
	}
	if len(seeds) == 0 {
		f.Fatalf("no seeds in corpus/%s (run: QGAFUZZ_UPDATE_CORPUS=1 go test -run TestSeedCorpus ./fuzz/)", name)
	}
	// qgafuzz fuzz --corpus DIR adds the inputs of its working corpus.
	if dir := os.Getenv(fuzz.CorpusEnv); dir != "" {
		_, more, err := fuzz.ReadCorpus(dir)
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, more...)
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(tt *testing.T, data []byte) {
		if fl := fuzz.Run(t, data); fl != nil {
			tt.Fatal(fl.Report())
		}
	})
}
