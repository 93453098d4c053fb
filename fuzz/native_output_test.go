package fuzz

import (
	"testing"
	"time"
)

func TestNativeStatusParse(t *testing.T) {
	var st NativeStatus
	var named []string
	progress := 0
	for _, l := range []string{
		"fuzz: elapsed: 0s, gathering baseline coverage: 0/193 completed",
		"2026-11-25 12:54:27.147125898 DEBUG finished processing input corpus, entries: 193, initial coverage bits: 126",
		"fuzz: elapsed: 3s, execs: 10373 (3457/sec), new interesting: 18 (total: 212)",
		"2026-11-25 12:54:28.1 DEBUG new interesting input, id: x, parent: y, gen: 1, new bits: 2, total bits: 131, size: 9, exec time: 1ms",
		"fuzz: elapsed: 1m3s, execs: 374117 (7625/sec), new interesting: 33 (total: 686)",
		"--- FAIL: FuzzParser (63.20s)",
		"    Failing input written to testdata/fuzz/FuzzParser/c206ccf227104cf5",
	} {
		c, p := st.Parse(l)
		if c != "" {
			named = append(named, c)
		}
		if p {
			progress++
		}
	}
	want := NativeStatus{Phase: "fuzzing", Elapsed: 63 * time.Second, Execs: 374117, ExecsPerSec: 7625,
		Interesting: 33, Corpus: 686, Coverage: 131}
	if st != want || progress != 5 {
		t.Fatalf("%d progress lines, status %+v\nwant %+v", progress, st, want)
	}
	if len(named) != 1 || named[0] != "testdata/fuzz/FuzzParser/c206ccf227104cf5" {
		t.Fatalf("crashers %v", named)
	}
	st.Parse("    failure while testing seed corpus entry: FuzzAgent/seed#3")
	if st.FailingSeed != "seed#3" {
		t.Fatalf("failing seed %q", st.FailingSeed)
	}
}
