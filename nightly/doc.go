// Package nightly is the unattended fuzzing run behind `qgafuzz nightly`:
// it splits a time budget across every fuzz target (Go's native engine,
// one target at a time, its corpus carried from night to night) and a
// swarm simulation, replays and deduplicates what they found by crash
// signature, minimizes each unique crash (each failing simulation schedule
// is shrunk), stores it atomically with the command that reproduces it,
// and writes report.json, junit.xml and summary.md.
//
// Example:
//
//	rep := nightly.Run(ctx, nightly.Options{
//		Budget: 10 * time.Minute,
//		Out:    "out",
//		Root:   root, // the qgafuzz source tree, see fuzz.ModuleRoot
//		Repro:  "qgafuzz",
//		Stdout: os.Stdout,
//	})
//	os.Exit(rep.ExitCode) // 0 all fine, 1 new crash, 2 internal error
//
// The layout of Out:
//
//	report.json junit.xml summary.md
//	corpus/<target>/                the grown corpus (unless --corpus)
//	crashers/<target>/<signature>/  one directory per unique crash
//	untriaged/<target>/             crashers triage had no time to replay
//
// The budget bounds the whole night, triage included (see
// night.triageDeadline): what triage has not finished by the end of the
// budget is stored as it stands, and the report says so. The same holds
// for the simulation's shrinking (sim.ShrinkContext) and for an engine
// that overruns its share (fuzz.NativeOptions.Grace).
package nightly
