package fuzz

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/qgafuzz/qgafuzz/internal/procgroup"
	"github.com/qgafuzz/qgafuzz/internal/tmpdir"
)

// This file drives the coverage-guided engines as subprocesses, all from
// the same target bodies: native Go fuzzing (go test -fuzz), go-fuzz
// (scripts/gofuzz.sh) and libFuzzer (scripts/libfuzzer.sh). It re-emits
// their progress lines as Progress values and moves their crashers into a
// CrashStore.

// Engines lists the engine names.
var Engines = []string{"native", "gofuzz", "libfuzzer"}

// EngineOptions configure RunEngine.
type EngineOptions struct {
	// Root is the qgafuzz source tree (see ModuleRoot).
	Root   string
	Target Target
	// Time bounds the run (0: the engine runs until ctx is done).
	Time time.Duration
	// Grace, with Time, is the native engine's hard stop
	// (NativeOptions.Grace): still running Grace past Time, hung or
	// minimizing a slow crasher, it is interrupted, and killed Grace
	// later; Result.HardStopped says so. 0: no hard stop. go-fuzz and
	// libFuzzer stop at Time by themselves.
	Grace time.Duration
	// Corpus is the working corpus directory (raw inputs, read as seeds in
	// addition to corpus/<target>; libFuzzer also writes new inputs
	// there, native fuzzing keeps its own under Corpus/.native-cache and
	// go-fuzz its work directory under Corpus/.gofuzz).
	Corpus string
	// Out receives crashers (see CrashStore).
	Out string
	// Jobs is the number of parallel workers (0: the engine's default).
	Jobs int
	// Env is added to the engine's environment (e.g. QGAFUZZ_PLANT_BUG).
	Env []string
	// Repro, if set, returns the command that reproduces the crasher
	// stored at a path. It heads the crasher's report and fills
	// Crasher.Repro: the engine's own re-run advice names a file in its
	// scratch directory, which is gone by then.
	Repro func(crasher string) string
	// Progress receives the engine's progress as it runs.
	Progress func(Progress)
	// Log receives the engine's raw output (nil: discarded).
	Log io.Writer
}

// Progress is one progress report of an engine.
type Progress struct {
	Engine      string
	Elapsed     time.Duration
	Execs       int64
	ExecsPerSec float64
	Corpus      int // inputs in the corpus
	NewCoverage int // inputs added for new coverage in this run (native, libFuzzer) or coverage bits (go-fuzz)
	Crashes     int
}

func (p Progress) String() string {
	return fmt.Sprintf("%s: elapsed %v, execs %d (%.0f/s), corpus %d, new coverage %d, crashes %d",
		p.Engine, p.Elapsed.Round(time.Second), p.Execs, p.ExecsPerSec, p.Corpus, p.NewCoverage, p.Crashes)
}

// Result is the outcome of an engine run.
type Result struct {
	Last     Progress
	Crashers []Crasher
	// HardStopped: the native engine overran its time by
	// EngineOptions.Grace and was stopped; what it wrote by then was
	// collected.
	HardStopped bool
}

// RunEngine runs one engine on one target and stores its crashers in
// o.Out. It returns an error when the engine could not run at all.
func RunEngine(ctx context.Context, engine string, o EngineOptions) (Result, error) {
	if o.Corpus == "" {
		o.Corpus = filepath.Join(o.Root, "out", "corpus", o.Target.Name)
	}
	if o.Out == "" {
		o.Out = filepath.Join(o.Root, "out", "crashers", o.Target.Name)
	}
	for _, d := range []string{o.Corpus, o.Out} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return Result{}, err
		}
	}
	switch engine {
	case "native":
		return runNative(ctx, o)
	case "gofuzz":
		return runGoFuzz(ctx, o)
	case "libfuzzer":
		return runLibFuzzer(ctx, o)
	}
	return Result{}, fmt.Errorf("fuzz: unknown engine %q (one of %s)", engine, strings.Join(Engines, ", "))
}

// RunLines runs cmd in a process group of its own, feeding each line of its
// output (stdout and stderr) to line, and returns its exit error. When ctx
// is done it interrupts the group as Ctrl-C would, so that an engine's
// coordinator stops its workers, and kills it 10 s later. log, if not nil,
// receives the output too.
func RunLines(ctx context.Context, cmd *exec.Cmd, log io.Writer, line func(string)) error {
	return runLines(ctx, cmd, log, syscall.SIGINT, nil, line)
}

// hardStop stops a command that runs too long whatever it does: After
// its start the group gets the stop signal, and SIGKILL Kill later if it
// is still running. Fired says whether it came to that.
type hardStop struct {
	After, Kill time.Duration
	fired       atomic.Bool
}

// Fired reports whether the command was stopped by the hard stop.
func (h *hardStop) Fired() bool { return h != nil && h.fired.Load() }

// runLines is RunLines stopping the group with stop rather than SIGINT,
// and at hard too if it is not nil.
func runLines(ctx context.Context, cmd *exec.Cmd, log io.Writer, stop syscall.Signal, hard *hardStop, line func(string)) error {
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	cmd.SysProcAttr = procgroup.Attr()
	if hard != nil && cmd.WaitDelay == 0 {
		// A process that left the group could hold the output open
		// after the kill: Wait gives up on it.
		cmd.WaitDelay = hard.Kill + time.Second
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() {
		var deadline <-chan time.Time
		if hard != nil {
			t := time.NewTimer(hard.After)
			defer t.Stop()
			deadline = t.C
		}
		kill := 10 * time.Second
		select {
		case <-ctx.Done():
		case <-deadline:
			select {
			case <-done: // it ended on its own as the timer fired
				return
			default:
			}
			hard.fired.Store(true)
			kill = hard.Kill
		case <-done:
			return
		}
		_ = procgroup.Signal(cmd.Process, stop)
		select {
		case <-done:
		case <-time.After(kill):
			_ = procgroup.Signal(cmd.Process, syscall.SIGKILL)
		}
	}()
	scanDone := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		for sc.Scan() {
			if log != nil {
				fmt.Fprintln(log, sc.Text())
			}
			line(sc.Text())
		}
		_, _ = io.Copy(io.Discard, pr)
		close(scanDone)
	}()
	err := cmd.Wait()
	close(done)
	pw.Close()
	<-scanDone
	return err
}

// The engines' own directories inside the working corpus: native
// fuzzing's cache (one FuncName directory of Go's files per target) and
// go-fuzz's workdir.
const (
	nativeCacheDir = ".native-cache"
	goFuzzWorkDir  = ".gofuzz"
)

// FindsDir is where engine keeps the inputs it found outside o.Corpus,
// and whether they are Go's native files; "" for libFuzzer, which writes
// its finds into o.Corpus itself.
func (o EngineOptions) FindsDir(engine string) (dir string, native bool) {
	switch engine {
	case "native":
		return filepath.Join(o.Corpus, nativeCacheDir, o.Target.FuncName()), true
	case "gofuzz":
		return filepath.Join(o.Corpus, goFuzzWorkDir, "corpus"), false
	}
	return "", false
}

// runNative runs native Go fuzzing through a NativeEngine built for this
// run in a temporary directory, with the engine's cache kept in the working
// corpus (Corpus/.native-cache) and the working corpus added to the seeds.
func runNative(ctx context.Context, o EngineOptions) (Result, error) {
	work, err := tmpdir.Make("qgafuzz-native-")
	if err != nil {
		return Result{}, err
	}
	defer work.Remove()
	res := Result{Last: Progress{Engine: "native"}}
	eng, err := BuildNative(ctx, o.Root, work.Path)
	if err != nil {
		if ctx.Err() != nil {
			// Ctrl-C killed the build: nothing ran, nothing failed (as
			// for the script engines, which build in their scripts).
			return res, nil
		}
		return Result{}, err
	}
	r := eng.Run(ctx, o.Target, NativeOptions{
		Time: o.Time, Grace: o.Grace, CacheDir: filepath.Join(o.Corpus, nativeCacheDir), Parallel: o.Jobs, MinimizeTime: "500x",
		Env: append(o.Env[:len(o.Env):len(o.Env)], CorpusEnv+"="+o.Corpus), Log: o.Log,
		OnStatus: func(st NativeStatus) {
			if st.Phase != "fuzzing" {
				return
			}
			res.Last = Progress{Engine: "native", Elapsed: st.Elapsed, Execs: st.Execs, ExecsPerSec: st.ExecsPerSec,
				Corpus: st.Corpus, NewCoverage: st.Interesting}
			if o.Progress != nil {
				o.Progress(res.Last)
			}
		},
	})
	res.HardStopped = r.HardStopped
	fn := o.Target.FuncName()
	if seed := r.Status.FailingSeed; seed != "" {
		// A seed fails before fuzzing starts: store it like any crasher.
		data, rerr := o.nativeSeed(fn, seed)
		if rerr != nil {
			return res, rerr
		}
		c, serr := o.store(data, fmt.Sprintf("seed %s fails (native Go fuzzing replays the seeds first); go test said:\n%s\n\n",
			seed, r.Output))
		if serr != nil && !errors.Is(serr, ErrNotDurable) {
			return res, serr
		}
		res.Crashers = append(res.Crashers, c)
		res.Last.Crashes++
		return res, serr
	}
	// A crasher stored but whose directory could not be synced is kept
	// and counted like any other: the scratch directory that held the
	// later ones is gone, so stopping at it would lose them.
	var notDurable error
	for _, f := range r.Crashers {
		c, serr := o.store(f.Data, fmt.Sprintf("found by native Go fuzzing (as %s/%s in its scratch directory, removed after the run); go test said:\n%s\n\n",
			fn, f.Name, withoutScratchRerun(r.Output, o.reproCommand(f.Data))))
		if serr != nil && !errors.Is(serr, ErrNotDurable) {
			return res, serr
		}
		notDurable = errors.Join(notDurable, serr)
		res.Crashers = append(res.Crashers, c)
		res.Last.Crashes++
	}
	if r.DeadlineRace && o.Log != nil {
		fmt.Fprintln(o.Log, "fuzz: the engine's bare \"context deadline exceeded\" at the end of its time is Go 1.26's go.dev/issue/75804, not a finding")
	}
	if r.Err != nil && len(r.Crashers) == 0 && ctx.Err() == nil && !r.HardStopped {
		lines := strings.Split(r.Output, "\n")
		return res, fmt.Errorf("fuzz: the native engine failed: %w; its output ends:\n%s", r.Err, strings.Join(lines[max(0, len(lines)-30):], "\n"))
	}
	// go test's last line reports the rate of its last interval (often
	// 0/sec); the summary gives the average.
	if res.Last.Elapsed > 0 {
		res.Last.ExecsPerSec = float64(res.Last.Execs) / res.Last.Elapsed.Seconds()
	}
	return res, notDurable
}

// nativeSeed returns the seed that go test names "seed#N" (the N-th f.Add
// of the Fuzz function: corpus/<target>, then the working corpus) or by
// file name (in the engine's cache).
func (o EngineOptions) nativeSeed(fn, name string) ([]byte, error) {
	if n, ok := strings.CutPrefix(name, "seed#"); ok {
		i, err := strconv.Atoi(n)
		if err != nil {
			return nil, fmt.Errorf("fuzz: bad seed name %q", name)
		}
		_, seeds, err := ReadCorpus(SeedDir(o.Root, o.Target.Name))
		if err != nil {
			return nil, err
		}
		_, more, err := ReadCorpus(o.Corpus)
		if err != nil {
			return nil, err
		}
		if seeds = append(seeds, more...); i >= len(seeds) {
			return nil, fmt.Errorf("fuzz: go test names seed #%d of %d", i, len(seeds))
		}
		return seeds[i], nil
	}
	if b, err := ReadNativeInput(filepath.Join(o.Corpus, nativeCacheDir, fn, name)); err == nil {
		return b, nil
	}
	return nil, fmt.Errorf("fuzz: cannot find the failing seed %s of %s", name, fn)
}

// store saves a crasher with the report of re-running it in process,
// headed by the command that reproduces it, the engine's settings and the
// crasher's signature (see signatureOf).
func (o EngineOptions) store(data []byte, header string) (Crasher, error) {
	var report string
	repro := o.reproCommand(data)
	if repro != "" {
		// "<target>: " first, so that a bare `qgafuzz repro FILE`
		// finds the target in this report.
		report += fmt.Sprintf("%s: reproduce with: %s\n", o.Target.Name, repro)
	}
	for _, kv := range o.Env {
		report += "engine environment: " + kv + "\n"
	}
	// The signature on a line of its own near the top, where tools and
	// people find it without reading the engine's output.
	f, sig, unknown := o.signatureOf(data)
	report += signatureLine(sig, unknown)
	report += header
	// Without a failing re-run, the engine's own output (the header) is
	// the report, and the signature line says why.
	if f != nil {
		report += "re-run in process:\n" + f.Report()
	}
	c, err := CrashStore{Dir: o.Out}.Save(data, report)
	c.Repro, c.Signature, c.NoSignature = repro, sig, unknown
	return c, err
}

// reproCommand is the command that reproduces data once stored ("" when
// o.Repro is not set).
func (o EngineOptions) reproCommand(data []byte) string {
	if o.Repro == nil {
		return ""
	}
	return o.Repro(CrashStore{Dir: o.Out}.PathOf(data))
}

// withoutScratchRerun replaces native Go fuzzing's "To re-run: go test
// -run=FuzzX/NAME" advice, which names a file of the engine's scratch
// directory (removed after the run), with repro, or drops it.
func withoutScratchRerun(output, repro string) string {
	lines := strings.Split(output, "\n")
	var out []string
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if strings.TrimSpace(l) == "To re-run:" && i+1 < len(lines) && strings.HasPrefix(strings.TrimSpace(lines[i+1]), "go test -run=") {
			i++
			if repro != "" {
				indent := l[:len(l)-len(strings.TrimLeft(l, " \t"))]
				out = append(out, indent+"To re-run: "+repro)
			}
			continue
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}

// CorpusEnv names the environment variable through which the native Fuzz
// functions get an extra seed directory.
const CorpusEnv = "QGAFUZZ_CORPUS"

// ReadNativeInput reads a file in the native fuzzing corpus format ("go
// test fuzz v1" and one []byte literal) and returns the input.
func ReadNativeInput(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	lines := strings.SplitN(strings.TrimSpace(string(b)), "\n", 2)
	if len(lines) != 2 || lines[0] != "go test fuzz v1" {
		return nil, fmt.Errorf("fuzz: %s is not a go test fuzz v1 file", path)
	}
	lit, ok := strings.CutPrefix(strings.TrimSpace(lines[1]), "[]byte(")
	lit, ok2 := strings.CutSuffix(lit, ")")
	if !ok || !ok2 {
		return nil, fmt.Errorf("fuzz: %s does not hold one []byte value", path)
	}
	s, err := strconv.Unquote(lit)
	if err != nil {
		return nil, fmt.Errorf("fuzz: %s: %w", path, err)
	}
	return []byte(s), nil
}
