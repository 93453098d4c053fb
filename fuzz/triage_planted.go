package fuzz

import (
	"bytes"
	"os"
)

// This file is the planted-bug target, a test fixture of the nightly job:
// with $QGAFUZZ_PLANT_CRASH=1 a target named "planted" is registered that
// crashes (an index out of range, always at the same place) on any input
// holding two 0xFF bytes in a row — the double flush, which the native
// engine reaches from the parser seeds in seconds. Many different inputs
// hit it; they all have the same stack, so the nightly job must report
// exactly one crasher, minimized to the two bytes.

// PlantCrashEnv is the environment variable that registers the planted
// target.
const PlantCrashEnv = "QGAFUZZ_PLANT_CRASH"

// PlantedTarget is the name of the planted target.
const PlantedTarget = "planted"

func init() {
	if os.Getenv(PlantCrashEnv) != "1" {
		return
	}
	register(Target{
		Name: PlantedTarget,
		Doc:  "test fixture ($" + PlantCrashEnv + "=1): crashes on a double 0xFF flush",
		Fn:   fuzzPlanted,
	})
}

func fuzzPlanted(data []byte) error {
	all, _ := joined(Chunks(data))
	if i := bytes.Index(all, []byte{0xff, 0xff}); i >= 0 {
		plantedFlushTable(all[i:])
	}
	return nil
}

// plantedFlushTable is the planted bug: it indexes a two-entry table by
// the length of what follows the flush.
func plantedFlushTable(rest []byte) int {
	table := []int{1, 2}
	return table[len(rest)+len(table)]
}
