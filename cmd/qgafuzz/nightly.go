package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/qgafuzz/qgafuzz/fuzz"
	"github.com/qgafuzz/qgafuzz/nightly"
	"github.com/qgafuzz/qgafuzz/sim"
)

func init() {
	register(&command{name: "nightly", summary: "fuzz every target and simulate for a time budget; triage, store and report crashes", run: runNightly})
}

const nightlyHelp = `
Usage: qgafuzz nightly --budget D --out DIR [flags]

Splits the budget across every fuzz target (Go's native engine) and a swarm
simulation, grows the corpus from night to night, deduplicates crashes by
stack signature, minimizes each unique crash (shrinks each failing
schedule), stores it under DIR/crashers/<target>/<signature>/ with the
command that reproduces it, and writes DIR/report.json, DIR/junit.xml and
DIR/summary.md, also when interrupted with Ctrl-C. Run it from the qgafuzz
source tree (it builds the fuzzing engine with go test). One night at a time
uses a DIR (DIR/.lock); a night started while another runs there exits 2 and
leaves DIR alone. A night that holds the lock removes the last night's
reports at once (one killed before writing its own leaves none; so does a
usage error, unless a night runs in DIR), and what a killed one left (its
work directory and the .tmp-* files, over 10 minutes old, of unfinished
writes under DIR).

Examples:
  qgafuzz nightly --budget 2m --out out
  qgafuzz nightly --budget 1h --out /var/qgafuzz --corpus /var/qgafuzz/corpus --suppressions known.txt
  qgafuzz nightly --budget 5m --out out --targets differential,parser --agent bug:silent-flush

Exit codes: 0 nothing new (also when interrupted: report.json says so),
1 a new unique crash or invariant violation, 2 usage or internal error.`

func runNightly(e *env, args []string) int {
	fs := newFlagSet(e, "nightly", nightlyHelp)
	budget := fs.Duration("budget", 0, "total time (required), e.g. 2m or 1h")
	out := fs.String("out", "", "output directory (required)")
	corpusDir := fs.String("corpus", "", "persistent corpus, one directory per target (default DIR/corpus)")
	targets := fs.String("targets", "", "comma-separated targets, each at most once (default: all)")
	agent := fs.String("agent", "builtin", "agent under test: builtin, bug:NAME (a planted bug) or qemu-ga")
	simRuns := fs.Int("sim-runs", 0, "simulate at most this many seeds (default: as many as its share of the budget allows; the budget bounds it either way)")
	simSeed := fs.Uint64("sim-seed", 0, "first simulation seed (default: from the clock)")
	noSim := fs.Bool("no-sim", false, "skip the simulation")
	supp := fs.String("suppressions", "", "file of known crash signatures (one per line, # comments) that do not fail the run")
	every := fs.Duration("progress", 5*time.Second, "interval of the progress lines")
	minBudget := fs.Int("minimize-budget", 0, "replays allowed to minimize one crash (default 4096)")
	// A night that does not run because of a usage error leaves no
	// reports of the last night in --out (if it got that far), unless a
	// night is running there.
	usageError := func() int {
		if *out != "" {
			nightly.DropReports(*out)
		}
		return exitUsage
	}
	if code, ok := parseFlags(fs, e, args); !ok {
		if code == exitUsage {
			return usageError()
		}
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(e.stderr, "qgafuzz nightly: unexpected argument %q\nRun 'qgafuzz nightly --help' for usage.\n", fs.Arg(0))
		return usageError()
	}
	o := nightly.Options{Budget: *budget, Out: *out, Corpus: *corpusDir, Agent: *agent, SimRuns: *simRuns,
		SimSeed: *simSeed, NoSim: *noSim, Suppressions: *supp, Stdout: e.stdout, Terminal: isTerminal(e.stdout),
		ProgressEvery: *every, MinimizeBudget: *minBudget}
	if *targets != "" {
		for _, t := range strings.Split(*targets, ",") {
			if t = strings.TrimSpace(t); t != "" {
				o.Targets = append(o.Targets, t)
			}
		}
	}
	if err := o.Check(); err != nil {
		fmt.Fprintf(e.stderr, "qgafuzz nightly: %v\n", errText(err))
		return usageError()
	}
	root, err := fuzz.ModuleRoot(".")
	if err != nil {
		fmt.Fprintf(e.stderr, "qgafuzz nightly: %v\n", errText(err))
		return usageError()
	}
	o.Root = root
	if o.Out, err = filepath.Abs(o.Out); err == nil && o.Corpus != "" {
		o.Corpus, err = filepath.Abs(o.Corpus)
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "qgafuzz nightly: %v\n", errText(err))
		return exitUsage
	}
	o.Repro = selfCommand(root)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep := nightly.Run(ctx, o)
	problems := rep.Problems()
	for _, msg := range problems {
		fmt.Fprintf(e.stderr, "qgafuzz nightly: error: %s\n", errText(msg))
	}
	verdict := "all fine: no new crash"
	switch {
	case rep.NewCrashes > 0 && len(problems) > 0:
		verdict = fmt.Sprintf("%d NEW CRASH(ES); run incomplete (%d error(s))", rep.NewCrashes, len(problems))
	case rep.NewCrashes > 0:
		verdict = fmt.Sprintf("%d NEW CRASH(ES)", rep.NewCrashes)
	case rep.ExitCode == 2:
		verdict = fmt.Sprintf("run incomplete (%d error(s))", len(problems))
	}
	if rep.Interrupted {
		verdict += " (interrupted)"
	}
	where := fmt.Sprintf("reports in %s (report.json, junit.xml, summary.md)", o.Out)
	if !rep.Written {
		where = "no reports written to " + o.Out
	}
	fmt.Fprintf(e.stdout, "nightly: %s; %s\n", verdict, where)
	return rep.ExitCode
}

// selfCommand is how a printed command (repro.txt, a reproduce or replay
// line) runs qgafuzz again: this executable, so that it can be pasted
// where qgafuzz is not on PATH, or, when it is a temporary binary of go
// run, go run in the source tree root ("qgafuzz" when root is "").
func selfCommand(root string) string {
	exe, err := os.Executable()
	if err != nil || strings.Contains(exe, string(filepath.Separator)+"go-build") {
		if root == "" {
			return "qgafuzz"
		}
		return "go -C " + sim.ShellQuote(root) + " run ./cmd/qgafuzz"
	}
	return sim.ShellQuote(exe)
}

// self is selfCommand for a command that may run outside the source
// tree: the tree is the one around the working directory, if any.
func self() string {
	root, err := fuzz.ModuleRoot(".")
	if err != nil {
		root = ""
	}
	return selfCommand(root)
}

// selfLine is the printed command line that runs qgafuzz with args, which
// it quotes for sh.
func selfLine(args ...string) string {
	return self() + " " + shellJoin(args)
}

// isTerminal reports whether w is a terminal.
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
