package fuzz

import (
	"regexp"
	"strconv"
	"time"
)

// This file reads the output of native Go fuzzing (go test -fuzz), for both
// drivers that run it: RunEngine and the nightly job's. Go prints the
// elapsed time as a duration ("3s", then "1m3s", "2h0m5s"), so every number
// of a progress line is parsed whatever its width.

// NativeStatus is what native Go fuzzing's output has said of a run so far.
type NativeStatus struct {
	// Phase is "gathering baseline coverage", "testing seed corpus" or
	// "fuzzing".
	Phase       string
	Elapsed     time.Duration
	Execs       int64
	ExecsPerSec float64
	Interesting int // inputs added for new coverage in this run
	Corpus      int // inputs in the corpus
	// Coverage is the engine's coverage bits, printed only with
	// GODEBUG=fuzzdebug=1.
	Coverage int
	// FailingSeed names a seed corpus entry that failed before fuzzing
	// started ("seed#N" for the N-th f.Add, or a file name).
	FailingSeed string
}

var (
	nativeProgress = regexp.MustCompile(`^fuzz: elapsed: (\S+), execs: (\d+) \((\d+)/sec\)(?:, new interesting: (\d+) \(total: (\d+)\))?`)
	nativeBaseline = regexp.MustCompile(`^fuzz: elapsed: (\S+), (gathering baseline coverage|testing seed corpus): (\d+)/(\d+)`)
	nativeBits     = regexp.MustCompile(`(?:initial coverage bits|total bits): (\d+)`)
	nativeCrasher  = regexp.MustCompile(`Failing input written to (\S+)`)
	nativeSeed     = regexp.MustCompile(`failure while testing seed corpus entry: Fuzz\w+/(\S+)`)
)

// Parse updates st from one line of output. It returns the crasher file
// the line names (relative to the package directory), if any, and whether
// the line changed the progress (phase, counts or coverage).
func (st *NativeStatus) Parse(line string) (crasher string, progress bool) {
	if m := nativeProgress.FindStringSubmatch(line); m != nil {
		st.Phase = "fuzzing"
		st.Elapsed, _ = time.ParseDuration(m[1])
		st.Execs, _ = strconv.ParseInt(m[2], 10, 64)
		st.ExecsPerSec, _ = strconv.ParseFloat(m[3], 64)
		if m[4] != "" {
			st.Interesting, _ = strconv.Atoi(m[4])
			st.Corpus, _ = strconv.Atoi(m[5])
		}
		return "", true
	}
	if m := nativeBaseline.FindStringSubmatch(line); m != nil {
		st.Phase = m[2]
		st.Elapsed, _ = time.ParseDuration(m[1])
		if st.Corpus == 0 {
			st.Corpus, _ = strconv.Atoi(m[4])
		}
		return "", true
	}
	if m := nativeBits.FindStringSubmatch(line); m != nil {
		st.Coverage, _ = strconv.Atoi(m[1])
		return "", true
	}
	if m := nativeSeed.FindStringSubmatch(line); m != nil {
		st.FailingSeed = m[1]
		return "", false
	}
	if m := nativeCrasher.FindStringSubmatch(line); m != nil {
		return m[1], false
	}
	return "", false
}
