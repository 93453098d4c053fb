package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/qgafuzz/qgafuzz/fuzz"
	"github.com/qgafuzz/qgafuzz/qga"
)

func init() {
	register(&command{name: "fuzz", summary: "fuzz the parser, the client, the agent or an agent under test", run: runFuzz})
}

const fuzzHelp = `
Usage: qgafuzz fuzz --target T [--engine native|gofuzz|libfuzzer] [--time D]
                    [--corpus DIR] [--out DIR] [--jobs N]
       qgafuzz fuzz --target differential (--agent ADDR | --agent-cmd 'CMD {sock}')
                    [--reference ADDR] [--time D] [--out DIR]
       qgafuzz fuzz --list

Runs one coverage-guided engine on one target (see --list), from the qgafuzz
source tree (the engines build the fuzz package): native Go fuzzing (go test
-c -fuzz=., run in a scratch directory so that nothing is written to the
tree), go-fuzz (scripts/gofuzz.sh) or libFuzzer (scripts/libfuzzer.sh). Seeds
come from corpus/<target>/ and --corpus. Progress is printed as the engine runs;
every crasher is stored under --out as the raw input (crash-<hash>) and a report
(crash-<hash>.txt), each written atomically.

With --agent or --agent-cmd, the differential target compares an agent behind a
socket with the reference (the built-in reference agent, or --reference, e.g. a
real qemu-ga): request streams, split at random points and with reconnects, go
to both, each ending in a 0xFF flush and a guest-sync that resets the agent; a
reply that differs (guest-info by structure), a hang (--hang) or the death of
an --agent-cmd process (which is then restarted) is a finding. --agent-cmd is run
with sh -c, {sock} replaced by a fresh unix socket path.

Exit status: 0 nothing found, 1 findings, 2 usage, 3 the engine or an agent
could not run.

Examples:
  qgafuzz fuzz --list
  qgafuzz fuzz --target parser --time 5m
  qgafuzz fuzz --target delimiter --engine libfuzzer --time 10m --jobs 2
  qgafuzz fuzz --target differential --agent unix:/run/my-agent.sock
  qgafuzz fuzz --target differential --agent-cmd 'qgafuzz agent --plant-bug split-utf8 --listen unix:{sock}'
  qgafuzz fuzz --target differential --agent unix:/tmp/mine.sock --reference unix:/tmp/qemu-ga.sock
`

type fuzzFlags struct {
	target, engine, corpus, out string
	agent, agentCmd, ref, plant string
	time, hang                  time.Duration
	jobs, maxFindings           int
	seed                        uint64
	list, verbose               bool
}

func runFuzz(e *env, args []string) int {
	fs := newFlagSet(e, "fuzz", fuzzHelp)
	var f fuzzFlags
	fs.StringVar(&f.target, "target", "", "target to fuzz (see --list)")
	fs.StringVar(&f.engine, "engine", "native", "engine: "+strings.Join(fuzz.Engines, ", "))
	fs.DurationVar(&f.time, "time", time.Minute, "how long to fuzz (0: until interrupted)")
	fs.StringVar(&f.corpus, "corpus", "", "working corpus directory (default out/corpus/<target>)")
	fs.StringVar(&f.out, "out", "", "directory for crashers (default out/crashers/<target>)")
	fs.IntVar(&f.jobs, "jobs", 0, "parallel workers (default: the engine's; native and go-fuzz use every CPU)")
	fs.BoolVar(&f.list, "list", false, "list the targets")
	fs.StringVar(&f.agent, "agent", "", "differential: address of the agent under test (unix:PATH or tcp:HOST:PORT)")
	fs.StringVar(&f.agentCmd, "agent-cmd", "", "differential: command that serves the agent under test on {sock}")
	fs.StringVar(&f.ref, "reference", "", "differential: address of the reference agent (default: the built-in one)")
	fs.StringVar(&f.plant, "plant-bug", "", "differential, in process: test the fuzzer against the reference agent with this planted bug")
	fs.DurationVar(&f.hang, "hang", 2*time.Second, "differential: how long an agent may take to answer one stream")
	fs.IntVar(&f.maxFindings, "max-findings", 20, "differential: stop after this many divergences (0: never)")
	fs.Uint64Var(&f.seed, "seed", 0, "differential: generator seed (default: time-based)")
	fs.BoolVar(&f.verbose, "v", false, "copy the engine's own output to standard error")
	if code, ok := parseFlags(fs, e, args); !ok {
		return code
	}
	if f.list {
		for _, t := range fuzz.Targets() {
			fmt.Fprintf(e.stdout, "%-13s %s\n", t.Name, t.Doc)
		}
		return exitOK
	}
	t, ok := fuzz.Lookup(f.target)
	if !ok || fs.NArg() > 0 {
		fmt.Fprintf(e.stderr, "qgafuzz fuzz: give --target, one of: %s (or --list)\n", targetNames())
		return exitUsage
	}
	if !slices.Contains(fuzz.Engines, f.engine) {
		fmt.Fprintf(e.stderr, "qgafuzz fuzz: unknown --engine %q (one of %s)\n", f.engine, strings.Join(fuzz.Engines, ", "))
		return exitUsage
	}
	if f.plant != "" {
		if b, ok := qga.ParseBug(f.plant); !ok || b == qga.NoBug {
			fmt.Fprintf(e.stderr, "qgafuzz fuzz: unknown --plant-bug %q (one of: %s)\n", f.plant, bugList())
			return exitUsage
		}
	}
	external := f.agent != "" || f.agentCmd != ""
	switch {
	case (f.agent != "" || f.agentCmd != "" || f.ref != "" || f.plant != "") && t.Name != "differential":
		fmt.Fprintln(e.stderr, "qgafuzz fuzz: --agent, --agent-cmd, --reference and --plant-bug belong to --target differential")
		return exitUsage
	case f.agent != "" && f.agentCmd != "":
		fmt.Fprintln(e.stderr, "qgafuzz fuzz: give one of --agent and --agent-cmd")
		return exitUsage
	case f.ref != "" && !external:
		fmt.Fprintln(e.stderr, "qgafuzz fuzz: --reference needs --agent or --agent-cmd (the agent to compare with it)")
		return exitUsage
	case f.plant != "" && external:
		fmt.Fprintln(e.stderr, "qgafuzz fuzz: --plant-bug tests an in-process agent; it cannot be combined with --agent or --agent-cmd")
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if external {
		return runDiffer(ctx, e, f)
	}
	return runEngine(ctx, e, f, t)
}

func targetNames() string {
	var names []string
	for _, t := range fuzz.Targets() {
		names = append(names, t.Name)
	}
	return strings.Join(names, ", ")
}

// runEngine runs a coverage-guided engine from the source tree.
func runEngine(ctx context.Context, e *env, f fuzzFlags, t fuzz.Target) int {
	root, err := fuzz.ModuleRoot(".")
	if err != nil {
		fmt.Fprintln(e.stderr, "qgafuzz fuzz:", err)
		return exitUsage
	}
	o := fuzz.EngineOptions{Root: root, Target: t, Time: f.time, Corpus: absPath(f.corpus), Out: absPath(f.out), Jobs: f.jobs}
	if f.plant != "" {
		o.Env = append(o.Env, fuzz.PlantBugEnv+"="+f.plant)
	}
	if f.verbose {
		o.Log = e.stderr
	}
	o.Progress = func(p fuzz.Progress) { fmt.Fprintf(e.stdout, "qgafuzz fuzz: %s/%s\n", t.Name, p) }
	fmt.Fprintf(e.stdout, "qgafuzz fuzz: %s on %s for %v (seeds corpus/%s)\n", f.engine, t.Name, durationText(f.time), t.Name)
	res, err := fuzz.RunEngine(ctx, f.engine, o)
	for _, c := range res.Crashers {
		fmt.Fprintf(e.stdout, "qgafuzz fuzz: crasher %s (report %s)\n", c.Path, c.Report)
	}
	if err != nil {
		fmt.Fprintln(e.stderr, "qgafuzz fuzz:", err)
		return exitTransport
	}
	fmt.Fprintf(e.stdout, "qgafuzz fuzz: done: %s/%s\n", t.Name, res.Last)
	if len(res.Crashers) > 0 || res.Last.Crashes > 0 {
		return exitFinding
	}
	return exitOK
}

// runDiffer compares an agent behind a socket with the reference.
func runDiffer(ctx context.Context, e *env, f fuzzFlags) int {
	so := fuzz.SocketOptions{Hang: f.hang}
	var agent fuzz.Endpoint
	if f.agentCmd != "" {
		ce, err := fuzz.StartCommandEndpoint(f.agentCmd, so)
		if err != nil {
			fmt.Fprintln(e.stderr, "qgafuzz fuzz:", err)
			return exitTransport
		}
		agent = ce
	} else {
		agent = fuzz.NewSocketEndpoint(f.agent, so)
	}
	defer agent.Close()
	var ref fuzz.Endpoint
	if f.ref != "" {
		r := fuzz.NewSocketEndpoint(f.ref, so)
		defer r.Close()
		ref = r
	}
	var seeds [][]byte
	if root, err := fuzz.ModuleRoot("."); err == nil {
		_, seeds, _ = fuzz.ReadCorpus(fuzz.CorpusDir(root, "differential"))
	}
	if f.corpus != "" {
		_, more, err := fuzz.ReadCorpus(f.corpus)
		if err != nil {
			fmt.Fprintln(e.stderr, "qgafuzz fuzz:", err)
			return exitUsage
		}
		seeds = append(seeds, more...)
	}
	out := f.out
	if out == "" {
		out = filepath.Join("out", "crashers", "differential")
	}
	seed := f.seed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	refName := "the built-in reference agent"
	if ref != nil {
		refName = ref.Name()
	}
	fmt.Fprintf(e.stdout, "qgafuzz fuzz: differential: %s vs %s for %v (%d seeds, seed %d)\n",
		agent.Name(), refName, durationText(f.time), len(seeds), seed)
	store := fuzz.CrashStore{Dir: out}
	var storeErr error
	st, err := fuzz.Differ(ctx, fuzz.DiffOptions{
		Reference: ref, Agent: agent, Seeds: seeds, Seed: seed, Duration: f.time, StopAfter: f.maxFindings,
		OnDivergence: func(d *fuzz.Divergence) {
			report := d.Report()
			c, err := store.Save(fuzz.Encode(d.Input), report)
			if err != nil {
				storeErr = err
			}
			fmt.Fprintf(e.stdout, "qgafuzz fuzz: FINDING (saved as %s)\n%s\n", c.Path, report)
		},
		OnProgress: func(s fuzz.DiffStats) { fmt.Fprintf(e.stdout, "qgafuzz fuzz: differential: %s\n", diffText(s)) },
	})
	fmt.Fprintf(e.stdout, "qgafuzz fuzz: done: differential: %s\n", diffText(st))
	switch {
	case err != nil:
		fmt.Fprintln(e.stderr, "qgafuzz fuzz:", err)
		return exitTransport
	case storeErr != nil:
		fmt.Fprintln(e.stderr, "qgafuzz fuzz: storing a finding:", storeErr)
		return exitTransport
	case st.Divergences > 0:
		return exitFinding
	}
	return exitOK
}

func diffText(s fuzz.DiffStats) string {
	rate := 0.0
	if s.Elapsed > 0 {
		rate = float64(s.Streams) / s.Elapsed.Seconds()
	}
	return fmt.Sprintf("elapsed %v, streams %d (%.0f/s), bytes %d, divergences %d, agent deaths %d",
		s.Elapsed.Round(time.Second), s.Streams, rate, s.Bytes, s.Divergences, s.AgentDeaths)
}

func durationText(d time.Duration) string {
	if d <= 0 {
		return "until interrupted"
	}
	return d.String()
}

func absPath(p string) string {
	if p == "" {
		return ""
	}
	a, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	return a
}
