package main

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/qgafuzz/qgafuzz/fuzz"
)

// This file is what an engine run prints: its progress, its crashers
// grouped by signature, and its summary. go-fuzz writes a dozen crashers
// for one bug in a short run, and a block per input hid how many bugs
// were found: each signature gets one block, with its smallest input and
// the line that reproduces it; the other inputs are named, not repeated,
// and every one stays on disk.

// progressEvery is how often a progress line is printed at most:
// libFuzzer reports every new input, hundreds of lines a minute.
const progressEvery = 2 * time.Second

// progressPrinter prints an engine's progress at most once per every
// (elapsed time as the engine counts it), and always when the crash count
// changes; the final line after the run gives the totals.
func progressPrinter(w io.Writer, target string, every time.Duration) func(fuzz.Progress) {
	printed, crashes := false, 0
	var last time.Duration
	return func(p fuzz.Progress) {
		if printed && p.Elapsed-last < every && p.Crashes == crashes {
			return
		}
		printed, last, crashes = true, p.Elapsed, p.Crashes
		fmt.Fprintf(w, "qgafuzz fuzz: %s/%s\n", target, p)
	}
}

// crashersShown is how many of a group's other inputs are named before
// the rest are only counted.
const crashersShown = 5

// printCrashGroups prints the summary of a run's crashers and one block
// per group.
func printCrashGroups(w io.Writer, crashers []fuzz.Crasher, groups []fuzz.CrashGroup) {
	if len(crashers) == 0 {
		return
	}
	fmt.Fprintf(w, "qgafuzz fuzz: %s; every input is kept in %s\n",
		crasherCount(len(crashers), groups), filepath.Dir(crashers[0].Path))
	for _, g := range groups {
		printCrashGroup(w, g)
	}
}

// crasherCount is "14 crashers, 1 distinct signature", with the crashers
// of unknown signature (each a group of its own) counted apart.
func crasherCount(crashers int, groups []fuzz.CrashGroup) string {
	known := fuzz.DistinctSignatures(groups)
	unknown := len(groups) - known
	s := plural(crashers, "crasher")
	switch {
	case known == 0 && unknown > 0:
		return s + ", all of unknown signature"
	case unknown == 0:
		return s + ", " + plural(known, "distinct signature")
	}
	return fmt.Sprintf("%s, %s, %d of unknown signature", s, plural(known, "distinct signature"), unknown)
}

// printCrashGroup prints one group: its signature and how many inputs hit
// it, its smallest input with its reproduce line, then the others.
func printCrashGroup(w io.Writer, g fuzz.CrashGroup) {
	first := g.Smallest()
	sig := "signature " + g.Signature
	if g.Signature == "" {
		sig = "unknown signature (" + first.NoSignature + ")"
	}
	fmt.Fprintf(w, "qgafuzz fuzz: %s: %s\n", sig, inputCount(g))
	what := "crasher"
	if len(g.Crashers) > 1 {
		what = "smallest"
	}
	fmt.Fprintf(w, "  %s: %s (%d bytes; report %s)\n", what, first.Path, first.Size, filepath.Base(first.Report))
	if first.Repro != "" {
		fmt.Fprintf(w, "  reproduce with: %s\n", first.Repro)
	}
	others := g.Crashers[1:]
	if len(others) == 0 {
		return
	}
	shown := others
	if len(others) > crashersShown {
		shown = others[:crashersShown-1]
	}
	var names []string
	for _, c := range shown {
		names = append(names, filepath.Base(c.Path))
	}
	line := strings.Join(names, ", ")
	if more := len(others) - len(shown); more > 0 {
		line += fmt.Sprintf(" and %d more", more)
	}
	fmt.Fprintf(w, "  also: %s\n", line)
}

// inputCount is "14 inputs, 12 new, 2 stored before": an input stored by
// an earlier run is a known bug found again.
func inputCount(g fuzz.CrashGroup) string {
	n, fresh := len(g.Crashers), g.New()
	switch {
	case fresh == n && n == 1:
		return "1 input, new"
	case fresh == n:
		return fmt.Sprintf("%d inputs, all new", n)
	case fresh == 0 && n == 1:
		return "1 input, stored before"
	case fresh == 0:
		return fmt.Sprintf("%d inputs, all stored before", n)
	}
	return fmt.Sprintf("%d inputs, %d new, %d stored before", n, fresh, n-fresh)
}

// plural is "1 crasher" or "2 crashers".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// doneLine is the summary of an engine's run. An engine that stopped
// before its first status line (a crash within its first second) has no
// counts to give, and "elapsed 0s, execs 0" would understate what ran.
func doneLine(target, engine string, last fuzz.Progress, took time.Duration) string {
	if last.Elapsed == 0 && last.Execs == 0 {
		return fmt.Sprintf("qgafuzz fuzz: done: %s/%s: stopped after %v (build included), before its first status line",
			target, engine, took.Round(100*time.Millisecond))
	}
	return fmt.Sprintf("qgafuzz fuzz: done: %s/%s", target, last)
}
