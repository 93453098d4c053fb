// Package fuzz holds qgafuzz's fuzz targets and the machinery that runs
// them on every engine from one definition per target.
//
// # Targets
//
// A Target is a plain func(data []byte) error body with property checks
// (Targets, Lookup):
//
//   - parser: the byte stream through qjson in several chunkings (the
//     input's split points, one byte per Feed, all at once) and in
//     boundary-only mode; identical events, every value re-serialized and
//     re-parsed is equal, small limits hold, bounded allocation.
//   - delimiter: an arbitrary agent→host stream fed to a careful
//     qga.Client during Sync and Execute calls, in virtual time; only its
//     own replies, typed errors, deadlines and memory caps.
//   - agent: request bytes to the reference agent; one well-formed reply
//     per event, each ending in '\n', 0xFF exactly for a successful
//     guest-sync-delimited, the id echoed, chunking-independent.
//   - scenario: go-fuzz-headers decodes a Scenario (careful client
//     strategy, fault kinds, command stream, fault events) into a
//     sim.Schedule; the simulator replays it and its invariants hold.
//   - differential: request streams (split points, reconnects) to the
//     reference agent and an agent under test; byte-identical replies
//     (guest-info by structure).
//
// The byte-stream targets share one input format (see Chunks): the stream
// itself, with 0x00 escaping control operations (00 7C split, 00 52
// reconnect, 00 00 a literal NUL).
//
// # Running an input
//
// Run(target, data) runs one input and returns a *Failure: a *Violation
// (stable Target and Property, so Target/Property is a deduplication key)
// or a recovered panic with its stack. Failure.Signature is the stable key
// for both kinds; Failure.Report renders it with the input in hex. Check is
// the panicking form that go-fuzz and libFuzzer entry points need.
//
// # Engines
//
//   - native Go fuzzing: FuzzParser etc. in native_test.go, seeded from
//     corpus/<target>/; NativeEngine (behind RunEngine and the nightly job)
//     runs them from a test binary in a scratch tree.
//   - go-fuzz and libFuzzer: the entry points in gofuzz.go (build tag
//     gofuzz), built by scripts/gofuzz.sh and scripts/libfuzzer.sh, which
//     RunEngine also drives.
//   - rapid: rapid_test.go checks the same properties on generated
//     structured inputs, and bridges the generators into native fuzzing
//     with rapid.MakeFuzz.
//   - the differential driver (Differ) compares agents behind sockets
//     (SocketEndpoint, CommandEndpoint) with the reference or a real
//     qemu-ga.
//
// Crashers are stored with CrashStore: the raw input and a report, each
// written atomically (WriteFileAtomic).
//
// # Example
//
// Run one input through the parser target and print what failed, if
// anything:
//
//	t, _ := fuzz.Lookup("parser")
//	input := fuzz.Encode(qgatest.Stream{Ops: []qgatest.Op{
//		{Data: []byte(`{"execute":"guest-`)},
//		{Data: []byte(`ping"}`)},
//	}})
//	if f := fuzz.Run(t, input); f != nil {
//		fmt.Println(f.Signature())
//		fmt.Print(f.Report())
//		_, _ = fuzz.CrashStore{Dir: "out/crashers/parser"}.SaveFailure(f)
//	}
package fuzz
