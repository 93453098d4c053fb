package fuzz_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/qgafuzz/qgafuzz/fuzz"
)

// FuzzPlanted is the native entry point of the planted-bug target (see
// fuzz.PlantCrashEnv); it is skipped unless the target is registered. Its
// seeds are the parser's.
func FuzzPlanted(f *testing.F) {
	t, ok := fuzz.Lookup(fuzz.PlantedTarget)
	if !ok {
		f.Skip("the planted target is registered only with " + fuzz.PlantCrashEnv + "=1")
	}
	_, seeds, err := fuzz.ReadCorpus(filepath.Join("..", "corpus", "parser"))
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range seeds {
		if fuzz.Run(t, s) == nil {
			f.Add(s)
		}
	}
	f.Fuzz(func(tt *testing.T, data []byte) {
		if fl := fuzz.Run(t, data); fl != nil {
			tt.Fatal(fl.Report())
		}
	})
}

// TestPlantedTarget checks the fixture: registered only with the variable,
// and crashing with one signature on inputs that differ.
func TestPlantedTarget(t *testing.T) {
	tg, ok := fuzz.Lookup(fuzz.PlantedTarget)
	if os.Getenv(fuzz.PlantCrashEnv) != "1" {
		if ok {
			t.Fatal("the planted target is registered without " + fuzz.PlantCrashEnv)
		}
		t.Skip("needs " + fuzz.PlantCrashEnv + "=1")
	}
	if !ok {
		t.Fatal("not registered")
	}
	a, b := fuzz.Run(tg, []byte("\xff\xff")), fuzz.Run(tg, []byte(`{"execute":`+"\xff\xff"+`"x"}`))
	if a == nil || b == nil || a.Signature() != b.Signature() {
		t.Fatalf("want one signature, got %v and %v", a, b)
	}
	if f := fuzz.Run(tg, []byte("\xff{}\xff")); f != nil {
		t.Fatal(f)
	}
}
