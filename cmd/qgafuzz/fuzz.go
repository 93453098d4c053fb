package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/qgafuzz/qgafuzz/corpus"
	"github.com/qgafuzz/qgafuzz/fuzz"
	"github.com/qgafuzz/qgafuzz/qga"
	"github.com/qgafuzz/qgafuzz/sim"
)

func init() {
	register(&command{name: "fuzz", summary: "fuzz the parser, the client, the agent or an agent under test", run: runFuzz})
}

const fuzzHelp = `
Usage: qgafuzz fuzz --target T [--engine native|gofuzz|libfuzzer] [--time D]
                    [--corpus DIR] [--out DIR] [--jobs N] [--json]
       qgafuzz fuzz --target differential (--agent ADDR | --agent-cmd 'CMD {sock}')
                    [--reference ADDR] [--time D] [--corpus DIR] [--out DIR]
                    [--hang D] [--max-findings N] [--seed N] [--json]
       qgafuzz fuzz --target differential (--agent ADDR | --agent-cmd 'CMD {sock}')
                    [--reference ADDR] [--hang D] --replay FILE [--json]
       qgafuzz fuzz --list [--json]

Runs one coverage-guided engine on one target (see --list), from the qgafuzz
source tree (the engines build the fuzz package): native Go fuzzing (go test
-c -fuzz=., run in a scratch directory so that nothing is written to the
tree), go-fuzz (scripts/gofuzz.sh) or libFuzzer (scripts/libfuzzer.sh). Seeds
come from corpus/<target>/ and --corpus. Progress is printed as the engine runs;
every crasher is stored under --out as the raw input (crash-<hash>) and a report
(crash-<hash>.txt), each written atomically. Its report is headed by the command
that reproduces it (qgafuzz repro, with the target and any planted bug) and a
"signature:" line: the signature of the input re-run in process (with any
--plant-bug), as qgafuzz nightly files crashes (unknown, and said why, when
the input does not fail again). At the end the crashers are grouped by signature
("14 crashers, 1 distinct signature"): for each, how many inputs hit it (new,
or stored by an earlier run), the smallest with its reproduce line, and the
others by name. A crasher of unknown signature is a group of its own; every
input stays on disk. The native engine stops about a second past --time by
itself; one still running 10s past it (hung, or minimizing a slow crasher) is
interrupted, and killed 10s later: what it wrote by then is kept. Ctrl-C or
SIGTERM interrupts the engine at once (it is killed 10s later if need be).

With --agent or --agent-cmd, the differential target compares an agent behind a
socket with the reference (the built-in reference agent, or --reference, e.g. a
real qemu-ga): request streams, split at random points and with reconnects, go
to both, each ending in a 0xFF flush and a guest-sync that resets the agent
(once that is answered, the agent under test gets one more guest-sync, id
4242424243, whose reply is left out: what the agent sends before it, a reply
sent late or twice, is the stream's, and a probe left unanswered is a
finding); a reply that differs (guest-info by structure), a hang (--hang) or
the death of an --agent-cmd process (which is then restarted; after a hang it
is killed first) is a finding; an agent that cannot be reached at all, or an
--agent that hangs and then does not answer (qgafuzz cannot restart it), is an
error (exit 3). --agent-cmd is run with sh -c, {sock} replaced by a fresh unix
socket path. Each finding is stored as above (without a signature) and printed
as it is found, not grouped; its reproduce line is the same command with
--replay FILE, which plays that one stream to both agents and compares the
replies (exit 1 while they differ).

Flags that the chosen mode would ignore are usage errors: --engine, --jobs
and -v belong to engine runs; --hang, --max-findings and --seed to --agent or
--agent-cmd (--hang also to --replay); --time, --corpus and --out to
fuzzing, not to --replay.

--json prints one JSON object on standard output at the end of the run (any
run past its flags, failed ones too), and the progress and summary on
standard error. Fields left out are ones the run did not measure:
  mode             "engine", "differential" or "replay"
  target, engine   as given (engine: engine runs)
  seconds          wall-clock time, an engine's build or agent's start included
  exit_code        the exit status; error: why the run failed (exit 2 or 3)
  interrupted      true when Ctrl-C or SIGTERM ended the run
  findings[]       file (stored input), report, repro (the reproduce line),
                   signature (engine runs; left out when unknown)
 engine runs (crashes: the engine's count; the others from its last status
 line, left out when it stopped before its first one):
  crashes, engine_seconds, execs, execs_per_second
  hard_stopped     true when the native engine overran --time and was stopped
  distinct_signatures
                   the known signatures among the crashers
  crash_groups[]   one per signature, or per crasher of unknown signature:
                   signature (or signature_unknown: why), inputs, new (stored
                   first by this run), smallest (its file), repro (its
                   reproduce line, as printed), files (smallest first)
  engine_corpus    inputs in the engine's corpus
  new_coverage     inputs added for new coverage (go-fuzz: coverage bits)
  corpus, corpus_before, corpus_after
                   the working corpus and its inputs before and after the
                   engine's finds were added (native and gofuzz)
 differential (and --replay):
  agent, reference, seed, streams, streams_per_second, bytes, divergences,
  agent_deaths, agent_hangs (each restarts an --agent-cmd agent),
  first_divergence_seconds; --replay: replay (the file), writes (its one
                   stream: divergences, agent_deaths, agent_hangs 0 or 1)
  agent_restarts   the --agent-cmd agent's restarts, after every divergence
                   (--agent-cmd only)
  stopped_early    true when the run stopped on reaching --max-findings
--list --json prints {"targets": [...]} instead, each target's name and
doc (its one-line description).

Exit status: 0 nothing found (--replay: identical replies), 1 findings
(--replay: the replies still differ), 2 usage, 3 the engine or an agent could
not run or be reached.

Examples:
  qgafuzz fuzz --list
  qgafuzz fuzz --target parser --time 5m
  qgafuzz fuzz --target parser --time 10m --json > fuzz.json
  qgafuzz fuzz --target delimiter --engine libfuzzer --time 10m --jobs 2
  qgafuzz fuzz --target differential --agent unix:/run/my-agent.sock
  qgafuzz fuzz --target differential --agent-cmd 'qgafuzz agent --plant-bug split-utf8 --listen unix:{sock}'
  qgafuzz fuzz --target differential --agent unix:/tmp/mine.sock --reference unix:/tmp/qemu-ga.sock
  qgafuzz fuzz --target differential --agent unix:/tmp/mine.sock --replay out/crashers/differential/crash-3f78...
`

// defaultHang is --hang's default.
const defaultHang = 2 * time.Second

type fuzzFlags struct {
	target, engine, corpus, out string
	agent, agentCmd, ref, plant string
	replay                      string
	time, hang                  time.Duration
	jobs, maxFindings           int
	seed                        uint64
	list, verbose, jsonOut      bool
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
	fs.DurationVar(&f.hang, "hang", defaultHang, "differential: how long an agent may take to answer one stream")
	fs.IntVar(&f.maxFindings, "max-findings", 20, "differential: stop after this many divergences (0: never)")
	fs.Uint64Var(&f.seed, "seed", 0, "differential: generator seed (default: time-based)")
	fs.StringVar(&f.replay, "replay", "", "differential: play this stored stream once to --agent or --agent-cmd and the reference, and compare")
	fs.BoolVar(&f.verbose, "v", false, "copy the engine's own output to standard error")
	fs.BoolVar(&f.jsonOut, "json", false, jsonUsage)
	if code, ok := parseFlags(fs, e, args); !ok {
		return code
	}
	if f.list {
		if f.jsonOut {
			return emitTargetList(e)
		}
		for _, t := range fuzz.Targets() {
			fmt.Fprintf(e.stdout, "%-13s %s\n", t.Name, t.Doc)
		}
		return exitOK
	}
	t, ok := fuzz.Lookup(f.target)
	switch {
	case fs.NArg() > 0:
		fmt.Fprintf(e.stderr, "qgafuzz fuzz: unexpected argument %q: give the target as --target, one of: %s (or --list)\n", fs.Arg(0), targetNames())
		return exitUsage
	case f.target == "":
		fmt.Fprintf(e.stderr, "qgafuzz fuzz: give --target, one of: %s (or --list)\n", targetNames())
		return exitUsage
	case !ok:
		fmt.Fprintf(e.stderr, "qgafuzz fuzz: unknown --target %q (one of: %s, or --list)\n", f.target, targetNames())
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
	case (f.agent != "" || f.agentCmd != "" || f.ref != "" || f.plant != "" || f.replay != "") && t.Name != "differential":
		fmt.Fprintln(e.stderr, "qgafuzz fuzz: --agent, --agent-cmd, --reference, --plant-bug and --replay belong to --target differential")
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
	case f.agent != "" && !validAddr(f.agent), f.ref != "" && !validAddr(f.ref):
		fmt.Fprintln(e.stderr, "qgafuzz fuzz: --agent and --reference take unix:PATH or tcp:HOST:PORT")
		return exitUsage
	case f.replay != "" && !external:
		fmt.Fprintln(e.stderr, "qgafuzz fuzz: --replay needs --agent or --agent-cmd (replay an engine's crasher with qgafuzz repro)")
		return exitUsage
	}
	mode := engineMode
	switch {
	case f.replay != "":
		mode = replayMode
	case external:
		mode = differMode
	}
	if msg := checkModeFlags(fs, mode, f); msg != "" {
		fmt.Fprintln(e.stderr, "qgafuzz fuzz: "+msg)
		return exitUsage
	}
	// With --json, standard output carries the JSON object alone: the
	// text that goes there otherwise goes to standard error.
	jsonOut, j := e.stdout, &fuzzJSON{Target: t.Name}
	if f.jsonOut {
		e = e.textOnStderr()
	}
	start := time.Now()
	var code int
	switch mode {
	case replayMode:
		// A replay does not watch for signals, so it must not catch them
		// either (a caught Ctrl-C would wait out every --hang): the
		// default handling ends it at once, and an --agent-cmd agent,
		// tied to this process, with it.
		code = runReplay(e, f, j)
	default:
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		if mode == differMode {
			code = runDiffer(ctx, e, f, j)
		} else {
			code = runEngine(ctx, e, f, t, j)
		}
		j.Interrupted = ctx.Err() != nil
		stop()
	}
	if f.jsonOut {
		return j.emit(jsonOut, e.stderr, code, time.Since(start))
	}
	return code
}

// fuzzMode is what one run of qgafuzz fuzz does.
type fuzzMode int

const (
	engineMode fuzzMode = iota // a coverage-guided engine on a target
	differMode                 // differential fuzzing of --agent or --agent-cmd
	replayMode                 // one stored stream to --agent or --agent-cmd
)

func (m fuzzMode) String() string {
	return [...]string{"an engine run (no --agent or --agent-cmd)", "differential fuzzing with --agent or --agent-cmd", "a --replay"}[m]
}

// modeFlags lists the modes that use each flag not every mode uses: a
// flag the run would ignore is a usage error rather than a silent no-op.
var modeFlags = map[string][]fuzzMode{
	"engine":       {engineMode},
	"jobs":         {engineMode},
	"v":            {engineMode},
	"time":         {engineMode, differMode},
	"corpus":       {engineMode, differMode},
	"out":          {engineMode, differMode},
	"max-findings": {differMode},
	"seed":         {differMode},
	"hang":         {differMode, replayMode},
}

// checkModeFlags returns what is wrong with the flags given for mode, or "".
func checkModeFlags(fs *flag.FlagSet, mode fuzzMode, f fuzzFlags) string {
	var msg string
	fs.Visit(func(fl *flag.Flag) {
		modes, limited := modeFlags[fl.Name]
		if msg != "" || !limited || slices.Contains(modes, mode) {
			return
		}
		var where []string
		for _, m := range modes {
			where = append(where, m.String())
		}
		dashes := "--"
		if len(fl.Name) == 1 {
			dashes = "-" // -v
		}
		msg = fmt.Sprintf("%s%s applies only to %s; this is %s", dashes, fl.Name, strings.Join(where, ", and to "), mode)
	})
	switch {
	case msg != "":
		return msg
	case f.time < 0:
		return fmt.Sprintf("--time %v: want a duration of 0 (until interrupted) or more", f.time)
	case f.jobs < 0:
		return fmt.Sprintf("--jobs %d: want 1 or more (0: the engine's default)", f.jobs)
	case f.maxFindings < 0:
		return fmt.Sprintf("--max-findings %d: want 1 or more (0: never stop)", f.maxFindings)
	case f.hang <= 0:
		return fmt.Sprintf("--hang %v: want a positive duration", f.hang)
	}
	return ""
}

func targetNames() string {
	var names []string
	for _, t := range fuzz.Targets() {
		names = append(names, t.Name)
	}
	return strings.Join(names, ", ")
}

// engineGrace is how long the native engine may overrun --time (it stops
// by itself about a second past it, once it has minimized its crasher)
// before it is interrupted as Ctrl-C would, and then killed as long again
// later (fuzz.EngineOptions.Grace): an engine that hangs, or minimizes a
// crasher that takes minutes, cannot outlast --time forever.
var engineGrace = 10 * time.Second

// runEngine runs a coverage-guided engine from the source tree and
// records the run in j.
func runEngine(ctx context.Context, e *env, f fuzzFlags, t fuzz.Target, j *fuzzJSON) int {
	j.Mode, j.Engine = "engine", f.engine
	root, err := fuzz.ModuleRoot(".")
	if err != nil {
		fmt.Fprintln(e.stderr, "qgafuzz fuzz:", errText(err))
		j.setError(err)
		return exitUsage
	}
	corpusDir := absPath(f.corpus)
	if corpusDir == "" {
		corpusDir = filepath.Join(root, "out", "corpus", t.Name)
	}
	o := fuzz.EngineOptions{Root: root, Target: t, Time: f.time, Grace: engineGrace, Corpus: corpusDir, Out: absPath(f.out), Jobs: f.jobs}
	if f.plant != "" {
		o.Env = append(o.Env, fuzz.PlantBugEnv+"="+f.plant)
	}
	o.Repro = func(crasher string) string {
		args := []string{"repro", "--target", t.Name}
		if f.plant != "" {
			args = append(args, "--agent", "bug:"+f.plant)
		}
		line := selfCommand(root) + " " + shellJoin(append(args, crasher))
		if t.Name == fuzz.PlantedTarget {
			// The planted target exists only with this variable set.
			line = fuzz.PlantCrashEnv + "=1 " + line
		}
		return line
	}
	if f.verbose {
		o.Log = e.stderr
	}
	o.Progress = progressPrinter(e.stdout, t.Name, progressEvery)
	seeds := t.Name
	if t.Name == fuzz.PlantedTarget {
		seeds = "parser" // the fixture starts from the parser's seeds
	}
	// The build comes first and prints nothing (a first libFuzzer build
	// takes half a minute): say so, or the run looks stuck.
	fmt.Fprintf(e.stdout, "qgafuzz fuzz: %s on %s for %v (seeds corpus/%s); building the engine first\n", f.engine, t.Name, durationText(f.time), seeds)
	start := time.Now()
	res, err := fuzz.RunEngine(ctx, f.engine, o)
	j.Corpus = o.Corpus
	if r, ok := harvestEngineCorpus(e, f.engine, o); ok {
		j.CorpusBefore, j.CorpusAfter = ptr(r.Total-r.Added), ptr(r.Total)
	}
	groups := fuzz.GroupCrashers(res.Crashers)
	printCrashGroups(e.stdout, res.Crashers, groups)
	j.setEngine(res, groups)
	if res.HardStopped {
		fmt.Fprintf(e.stderr, "qgafuzz fuzz: the engine was still running %v past --time %v (hung, or minimizing a slow crasher): it was interrupted (killed %v later if need be); what it wrote by then is kept\n",
			engineGrace, f.time, engineGrace)
	}
	if err != nil {
		fmt.Fprintln(e.stderr, "qgafuzz fuzz:", errText(err))
		j.setError(err)
		return exitTransport
	}
	fmt.Fprintln(e.stdout, doneLine(t.Name, f.engine, res.Last, time.Since(start)))
	if len(res.Crashers) > 0 || res.Last.Crashes > 0 {
		return exitFinding
	}
	return exitOK
}

// harvestEngineCorpus brings the inputs an engine found into the working
// corpus as raw files, where every tool (corpus stats, minimize, merge, a
// later run of any engine) reads them: native fuzzing keeps its finds in
// its cache (Go's format) and go-fuzz in its workdir. libFuzzer writes
// into the corpus itself. It returns what it did, and whether it did it.
func harvestEngineCorpus(e *env, engine string, o fuzz.EngineOptions) (corpus.HarvestResult, bool) {
	src, native := o.FindsDir(engine)
	if src == "" {
		return corpus.HarvestResult{}, false
	}
	if _, err := os.Stat(src); err != nil {
		return corpus.HarvestResult{}, false // the engine found nothing, or never started
	}
	from := corpus.Raw
	if native {
		from = corpus.Native
	}
	// go-fuzz's workdir also holds the seeds it started from.
	r, err := corpus.Harvest(o.Corpus, src, from, fuzz.SeedDir(o.Root, o.Target.Name))
	for _, p := range r.Problems {
		fmt.Fprintf(e.stderr, "qgafuzz fuzz: keeping the engine's inputs: %s\n", p)
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "qgafuzz fuzz: keeping the engine's inputs in %s: %v\n", o.Corpus, errText(err))
		return r, false
	}
	fmt.Fprintf(e.stdout, "qgafuzz fuzz: corpus %s: %d new inputs from the engine, %d in all\n", o.Corpus, r.Added, r.Total)
	return r, true
}

func durationText(d time.Duration) string {
	if d <= 0 {
		return "until interrupted"
	}
	return d.String()
}

// shellJoin quotes args for sh where needed, so that a printed command can
// be pasted as it is.
func shellJoin(args []string) string {
	quoted := make([]string, len(args))
	for i, a := range args {
		quoted[i] = sim.ShellQuote(a)
	}
	return strings.Join(quoted, " ")
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

// absAddr makes the path of a unix:PATH address absolute (not an abstract
// socket's @name), so that a printed command works from any directory.
func absAddr(addr string) string {
	if p, ok := strings.CutPrefix(addr, "unix:"); ok && p != "" && !strings.HasPrefix(p, "@") {
		return "unix:" + absPath(p)
	}
	return addr
}

// absCommand makes the program of a shell command line (its first word
// after any NAME=value assignments) absolute when it is a relative path
// (it has a slash), so that a printed command starts the same program
// from any directory, and under go -C ROOT run, which runs qgafuzz in
// ROOT. A program word that the shell would expand ($, `, \, ~, globs) is
// left as it is, as are the command's other words.
func absCommand(command string) string {
	at := 0
	for {
		at += len(command[at:]) - len(strings.TrimLeft(command[at:], " \t"))
		raw, word, ok := shellWord(command[at:])
		switch {
		case !ok || raw == "":
			return command
		case isAssignment(raw):
			at += len(raw)
			continue
		case !strings.Contains(word, "/") || filepath.IsAbs(word):
			return command
		}
		return command[:at] + sim.ShellQuote(absPath(word)) + command[at+len(raw):]
	}
}

// shellWord reads the word that s starts with as sh would, when it is made
// of plain characters and quoted strings only: raw is its text in s, word
// its value. ok is false for a word sh would expand.
func shellWord(s string) (raw, word string, ok bool) {
	var b strings.Builder
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case strings.IndexByte(" \t\n;&|<>()", c) >= 0:
			return s[:i], b.String(), true
		case c == '\'':
			end := strings.IndexByte(s[i+1:], '\'')
			if end < 0 {
				return "", "", false
			}
			b.WriteString(s[i+1 : i+1+end])
			i += end + 2
		case c == '"':
			end := strings.IndexByte(s[i+1:], '"')
			if end < 0 || strings.ContainsAny(s[i+1:i+1+end], "$`\\") {
				return "", "", false
			}
			b.WriteString(s[i+1 : i+1+end])
			i += end + 2
		case strings.IndexByte("$`\\*?[#", c) >= 0 || c == '~' && i == 0:
			return "", "", false
		default:
			b.WriteByte(c)
			i++
		}
	}
	return s, b.String(), true
}

// isAssignment reports whether the raw shell word w is NAME=value.
func isAssignment(w string) bool {
	name, _, ok := strings.Cut(w, "=")
	if !ok || name == "" {
		return false
	}
	for i, c := range name {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// validAddr reports whether addr is a well-formed agent address.
func validAddr(addr string) bool {
	_, _, err := qga.ParseAddr(addr)
	return err == nil
}
