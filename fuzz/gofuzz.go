//go:build gofuzz

package fuzz

// Entry points for go-fuzz and libFuzzer, built by go-fuzz-build (which
// sets the gofuzz build tag), one -func per target:
//
//	go-fuzz-build -func FuzzParser -o parser.zip ./fuzz
//	go-fuzz-build -libfuzzer -func FuzzParser -o parser.a ./fuzz
//
// scripts/gofuzz.sh and scripts/libfuzzer.sh do this. Each entry point runs
// the same target body as the native Fuzz functions and panics on a
// property violation, which both engines record as a crash.

import (
	// go-fuzz-build links this package into every instrumented binary. The
	// import keeps github.com/dvyukov/go-fuzz in go.mod (go mod tidy looks
	// at files of every build tag) without adding go-fuzz-build's own
	// dependencies to the module.
	_ "github.com/dvyukov/go-fuzz/go-fuzz-dep"
)

func FuzzParser(data []byte) int       { return Check("parser", data) }
func FuzzAgent(data []byte) int        { return Check("agent", data) }
func FuzzDelimiter(data []byte) int    { return Check("delimiter", data) }
func FuzzScenario(data []byte) int     { return Check("scenario", data) }
func FuzzDifferential(data []byte) int { return Check("differential", data) }

// FuzzPlanted is the planted-bug fixture (run with QGAFUZZ_PLANT_CRASH=1).
func FuzzPlanted(data []byte) int { return Check(PlantedTarget, data) }
