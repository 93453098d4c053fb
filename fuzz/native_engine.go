package fuzz

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/qgafuzz/qgafuzz/internal/procgroup"
)

// This file runs Go's native fuzzing engine for both of its drivers,
// RunEngine (qgafuzz fuzz) and the nightly job: one instrumented test binary
// of this package (go test -c -fuzz=.), run once per target with
// -test.fuzz, in a scratch copy of the package directory, so that crashers
// (which the engine writes to testdata/fuzz/FuzzX/) never land in the source
// tree, where they would fail every later go test of the package. The
// engine stops at its first crash; callers collect the crasher and may
// start it again.

// NativeEngine is the built engine.
type NativeEngine struct {
	bin  string // the test binary
	tree string // scratch tree: tree/fuzz is the working directory
	work string
}

// BuildNative builds the engine from the qgafuzz source tree at root into
// work, which it owns from then on.
func BuildNative(ctx context.Context, root, work string) (*NativeEngine, error) {
	e := &NativeEngine{bin: filepath.Join(work, "fuzz.test"), tree: filepath.Join(work, "tree"), work: work}
	cmd := procgroup.GoBuild(ctx, root, work, "test", "-c", "-fuzz=.", "-o", e.bin, "./fuzz")
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("building the fuzz engine (go test -c -fuzz=. ./fuzz in %s): %v\n%s", root, err, out)
	}
	if err := os.MkdirAll(filepath.Join(e.tree, "fuzz"), 0o755); err != nil {
		return nil, err
	}
	// The Fuzz functions read their seeds from ../corpus/<target>.
	if err := os.Symlink(CorpusDir(root, ""), filepath.Join(e.tree, "corpus")); err != nil && !os.IsExist(err) {
		return nil, err
	}
	return e, nil
}

// NativeOptions configure one engine run.
type NativeOptions struct {
	// Time bounds the run (0: until ctx is done). The engine stops by
	// itself about a second past it (-test.fuzztime), after minimizing
	// the crasher it found, if any; see Grace.
	Time time.Duration
	// Grace, with Time, is a hard stop: an engine still running Grace
	// past its time (-test.fuzztime, Time in whole seconds), hung or
	// minimizing a slow crasher, is interrupted as Ctrl-C would
	// (SIGINT to its process group), and killed Grace later. What it
	// wrote by then is collected as usual; NativeRun.HardStopped says it
	// happened. 0: no hard stop (ctx alone stops the run early).
	Grace time.Duration
	// CacheDir is the engine's cache (-test.fuzzcachedir), which keeps the
	// inputs it found in one directory per Fuzz function.
	CacheDir string
	// Parallel is the number of workers (0: GOMAXPROCS).
	Parallel int
	// MinimizeTime bounds the engine's own minimization of a crasher
	// (-test.fuzzminimizetime; "" for 5s).
	MinimizeTime string
	// Coverage makes the engine print its coverage bits
	// (GODEBUG=fuzzdebug=1), reported in NativeStatus.Coverage.
	Coverage bool
	// Env is added to the engine's environment.
	Env []string
	// Log receives the raw output (nil: discarded).
	Log io.Writer
	// OnStatus is called whenever the output changes the status.
	OnStatus func(NativeStatus)
}

// NativeRun is the outcome of one engine process.
type NativeRun struct {
	Status NativeStatus
	// Crashers are the inputs the engine wrote, by file name.
	Crashers []NativeCrasher
	// Output holds the last 200 lines of output, debug lines left out.
	Output string
	// Err is the process's exit error: a crash, an interrupt, or a
	// failure to run.
	Err error
	// DeadlineRace says the engine failed only by Go 1.26's race at the
	// end of its time (go.dev/issue/75804: a bare "context deadline
	// exceeded" with no failing input); Err is then nil.
	DeadlineRace bool
	// HardStopped says the engine overran its time by NativeOptions.Grace
	// and was stopped (Err is then that of the interrupted or killed
	// process).
	HardStopped bool
}

// NativeCrasher is one input the engine wrote as failing.
type NativeCrasher struct {
	Name string
	Data []byte
}

// Run fuzzes t once. Crashers are moved out of the scratch tree, so that
// the next run does not stop on them at once.
func (e *NativeEngine) Run(ctx context.Context, t Target, o NativeOptions) NativeRun {
	args := []string{"-test.run=^$", "-test.fuzz=^" + t.FuncName() + "$",
		"-test.fuzzcachedir=" + o.CacheDir,
		"-test.fuzzminimizetime=" + orDefault(o.MinimizeTime, "5s"),
		fmt.Sprintf("-test.parallel=%d", orDefault(o.Parallel, runtime.GOMAXPROCS(0)))}
	var hard *hardStop
	if o.Time > 0 {
		secs := max(1, int(o.Time.Round(time.Second)/time.Second))
		args = append(args, fmt.Sprintf("-test.fuzztime=%ds", secs))
		if o.Grace > 0 {
			hard = &hardStop{After: time.Duration(secs)*time.Second + o.Grace, Kill: o.Grace}
		}
	}
	cmd := exec.Command(e.bin, args...)
	cmd.Dir = filepath.Join(e.tree, "fuzz")
	cmd.Env = append(os.Environ(), o.Env...)
	if o.Coverage {
		cmd.Env = append(cmd.Env, "GODEBUG=fuzzdebug=1")
	}
	var res NativeRun
	var tail []string
	res.Err = runLines(ctx, cmd, o.Log, syscall.SIGINT, hard, func(line string) {
		if !strings.Contains(line, " DEBUG ") {
			if tail = append(tail, line); len(tail) > 400 {
				tail = append(tail[:0], tail[200:]...)
			}
		}
		if _, progress := res.Status.Parse(line); progress && o.OnStatus != nil {
			o.OnStatus(res.Status)
		}
	})
	res.Output = strings.Join(tail[max(0, len(tail)-200):], "\n")
	res.HardStopped = hard.Fired()
	// The engine names the crasher relative to its working directory;
	// collect whatever is in testdata/fuzz/FuzzX, named or not.
	dir := filepath.Join(e.tree, "fuzz", "testdata", "fuzz", t.FuncName())
	ents, _ := os.ReadDir(dir)
	for _, ent := range ents {
		p := filepath.Join(dir, ent.Name())
		if data, err := ReadNativeInput(p); err == nil {
			res.Crashers = append(res.Crashers, NativeCrasher{Name: ent.Name(), Data: data})
		}
		os.Rename(p, filepath.Join(e.work, "crasher-"+t.Name+"-"+ent.Name()))
	}
	if res.Err != nil && len(res.Crashers) == 0 && o.Time > 0 && ctx.Err() == nil && !res.HardStopped && deadlineRace(tail) {
		res.Err = nil
		res.DeadlineRace = true
	}
	return res
}

// deadlineRace reports whether an engine's failing output is Go 1.26's
// race at the end of -test.fuzztime (go.dev/issue/75804, fixed in Go 1.27):
// the target "fails" with a bare "context deadline exceeded" as the time
// runs out, with no failing input and no panic. The run then simply ended.
func deadlineRace(lines []string) bool {
	race := false
	for i, l := range lines {
		switch {
		case strings.Contains(l, "Failing input written"), strings.Contains(l, "panic:"):
			return false
		case strings.HasPrefix(l, "--- FAIL: Fuzz"):
			if i+1 >= len(lines) || strings.TrimSpace(lines[i+1]) != "context deadline exceeded" {
				return false
			}
			race = true
		}
	}
	return race
}

// orDefault returns v, or def when v is the zero value.
func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}
