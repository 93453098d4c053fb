package fuzz

import (
	"github.com/qgafuzz/qgafuzz/qga"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
)

// TestGroupCrashers: crashers of one signature are one group, smallest
// input first (equal sizes by path); each crasher of unknown signature is
// a group of its own, never merged with another; the groups come in one
// order (known signatures by signature, then the unknowns smallest first)
// whatever order the engine wrote the crashers in.
func TestGroupCrashers(t *testing.T) {
	crashers := []Crasher{
		{Path: "out/crash-a1", Size: 40, Signature: "parser/panic A", New: true},
		{Path: "out/crash-a2", Size: 7, Signature: "parser/panic A", New: true},
		{Path: "out/crash-a3", Size: 12, Signature: "parser/panic A"},
		{Path: "out/crash-a0", Size: 12, Signature: "parser/panic A", New: true},
		{Path: "out/crash-b1", Size: 3, Signature: "parser/error", New: true},
		{Path: "out/crash-u1", Size: 9, NoSignature: "it does not fail when re-run in process", New: true},
		{Path: "out/crash-u2", Size: 5, NoSignature: "it does not fail when re-run in process"},
	}
	want := []struct {
		sig   string
		paths []string
		new   int
	}{
		{"parser/error", []string{"out/crash-b1"}, 1},
		{"parser/panic A", []string{"out/crash-a2", "out/crash-a0", "out/crash-a3", "out/crash-a1"}, 3},
		{"", []string{"out/crash-u2"}, 0},
		{"", []string{"out/crash-u1"}, 1},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for try := range 20 {
		in := slices.Clone(crashers)
		rng.Shuffle(len(in), func(i, j int) { in[i], in[j] = in[j], in[i] })
		groups := GroupCrashers(in)
		var got []string
		for _, g := range groups {
			var paths []string
			for _, c := range g.Crashers {
				paths = append(paths, c.Path)
			}
			got = append(got, g.Signature+": "+strings.Join(paths, " "))
		}
		if len(groups) != len(want) {
			t.Fatalf("try %d: %d groups, want %d:\n%s", try, len(groups), len(want), strings.Join(got, "\n"))
		}
		for i, w := range want {
			g := groups[i]
			if got[i] != w.sig+": "+strings.Join(w.paths, " ") || g.New() != w.new || g.Smallest().Path != w.paths[0] {
				t.Errorf("try %d: group %d is %q with %d new, want %q with %d new", try, i, got[i], g.New(), w.sig+": "+strings.Join(w.paths, " "), w.new)
			}
		}
		if n := DistinctSignatures(groups); n != 2 {
			t.Errorf("try %d: %d distinct signatures, want 2", try, n)
		}
	}
	if groups := GroupCrashers(nil); len(groups) != 0 || DistinctSignatures(groups) != 0 {
		t.Errorf("no crashers: %d groups", len(groups))
	}
}

// testPanicTarget panics on input starting with "boom" and passes the
// rest, as a target whose crash depends on the engine's state would.
var testPanicTarget = Target{Name: "parser", Fn: func(data []byte) error {
	if strings.HasPrefix(string(data), "boom") {
		var table []int
		_ = table[len(data)]
	}
	return nil
}}

// TestEngineStoreSignature: a stored crasher carries its in-process
// signature, on a line of its own near the top of its report; one whose
// signature cannot be known says why, there and in the Crasher.
func TestEngineStoreSignature(t *testing.T) {
	want := Run(testPanicTarget, []byte("boom")).Signature()
	for _, c := range []struct {
		name    string
		env     []string
		data    string
		sig     string
		unknown string
	}{
		{"fails", nil, "boom!", want, ""},
		{"passes", nil, "calm", "", "it does not fail when re-run in process"},
		{"unknown env", []string{PlantBugEnv + "=split-utf8"}, "boom!", "", "not re-run in process: the engine ran with " + PlantBugEnv + "=split-utf8"},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := EngineOptions{Target: testPanicTarget, Out: t.TempDir(), Env: c.env,
				Repro: func(crasher string) string { return "qgafuzz repro " + crasher }}
			cr, err := o.store([]byte(c.data), "found by a test engine\n")
			if err != nil {
				t.Fatal(err)
			}
			if cr.Signature != c.sig || !strings.HasPrefix(cr.NoSignature, c.unknown) || (c.sig == "") == (cr.NoSignature == "") {
				t.Errorf("signature %q (unknown: %q), want %q (unknown: %q...)", cr.Signature, cr.NoSignature, c.sig, c.unknown)
			}
			if cr.Size != len(c.data) {
				t.Errorf("size %d, want %d", cr.Size, len(c.data))
			}
			b, err := os.ReadFile(cr.Report)
			if err != nil {
				t.Fatal(err)
			}
			line := "signature: " + c.sig
			if c.sig == "" {
				line = "signature: unknown (" + c.unknown
			}
			// Before the engine's output, which could hold anything.
			head, _, _ := strings.Cut(string(b), "found by a test engine")
			if !strings.Contains(head, "\n"+line) {
				t.Errorf("the report lacks %q before the engine's output:\n%s", line, b)
			}
		})
	}
}

// TestEngineStoreSignaturePlantedBug: a crasher of the differential
// target run with a planted bug ($QGAFUZZ_PLANT_BUG, qgafuzz fuzz
// --plant-bug) is re-run in process against that bug, so it has its
// signature and is grouped like any other.
func TestEngineStoreSignaturePlantedBug(t *testing.T) {
	data := EncodeBytes([]byte("\xff{\"execute\":\"guest-ping\"}\n"))
	f := Run(DifferentialTarget(qga.BugSilentFlush), data)
	if f == nil {
		t.Fatal("a 0xFF does not show the silent-flush bug")
	}
	dt, _ := Lookup("differential")
	o := EngineOptions{Target: dt, Out: t.TempDir(), Env: []string{PlantBugEnv + "=silent-flush"}}
	cr, err := o.store(data, "found by a test engine\n")
	if err != nil {
		t.Fatal(err)
	}
	if cr.Signature != f.Signature() || cr.NoSignature != "" {
		t.Errorf("signature %q (unknown: %q), want %q", cr.Signature, cr.NoSignature, f.Signature())
	}
}
