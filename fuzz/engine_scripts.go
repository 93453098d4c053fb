package fuzz

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// This file runs go-fuzz and libFuzzer through their scripts (which own
// the build: scripts/gofuzz.sh and scripts/libfuzzer.sh) and collects
// their crashers. Exit status 3 of a script means the engine cannot be
// built or run with this toolchain; that is reported as such.

var (
	goFuzzRE = regexp.MustCompile(`workers: \d+, corpus: (\d+) .*crashers: (\d+), .*execs: (\d+) \((\d+)/sec\), cover: (\d+), uptime: (\S+)`)
	libFzRE  = regexp.MustCompile(`^#(\d+)\s+(NEW|pulse|REDUCE|DONE|INITED)\s.*?corp: (\d+)/\S+.*exec/s: (\d+)`)
	// -fork=N prints "#794: cov: 4834 ft: 4834 corp: 397 exec/s 397 oom/timeout/crash: 0/0/0 time: 2s ..."
	libFzForkRE = regexp.MustCompile(`^#(\d+): cov: \d+ ft: \d+ corp: (\d+) exec/s (\d+) oom/timeout/crash: (\d+)/(\d+)/(\d+) time: (\d+)s`)
)

func scriptCmd(o EngineOptions, script string, env []string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(o.Root, "scripts", script), args...)
	cmd.Dir = o.Root
	cmd.Env = append(append(append(os.Environ(), o.Env...), env...), "QGAFUZZ_NO_PROMPT=1")
	return cmd
}

// scriptError describes a failed script run with the end of its output.
func scriptError(name string, err error, tail *lineTail) error {
	if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == 3 {
		return fmt.Errorf("fuzz: %s cannot build or run its engine with this toolchain; use --engine native. Its output ends:\n%s", name, tail)
	}
	return fmt.Errorf("fuzz: %s failed: %w. Its output ends:\n%s", name, err, tail)
}

// lineTail keeps the last lines of an engine's output.
type lineTail struct{ lines []string }

func (t *lineTail) add(l string) {
	if t.lines = append(t.lines, l); len(t.lines) > 30 {
		t.lines = t.lines[1:]
	}
}

func (t *lineTail) String() string { return strings.Join(t.lines, "\n") }

func runGoFuzz(ctx context.Context, o EngineOptions) (Result, error) {
	work := filepath.Join(o.Corpus, goFuzzWorkDir)
	env := []string{"GOFUZZ_WORKDIR=" + work, "GOFUZZ_SEEDS=" + o.Corpus}
	if o.Jobs > 0 {
		env = append(env, "GOFUZZ_PROCS="+strconv.Itoa(o.Jobs))
	}
	dur := "0"
	if o.Time > 0 {
		dur = strconv.Itoa(int(math.Ceil(o.Time.Seconds()))) + "s"
		env = append(env, "GOFUZZ_MINIMIZE="+strconv.FormatInt(goFuzzMinimize(o.Time).Milliseconds(), 10)+"ms")
	}
	res := Result{Last: Progress{Engine: "gofuzz"}}
	start := time.Now()
	cov0 := -1
	var tail lineTail
	err := RunLines(ctx, scriptCmd(o, "gofuzz.sh", env, "run", o.Target.Name, dur), o.Log, func(l string) {
		tail.add(l)
		m := goFuzzRE.FindStringSubmatch(l)
		if m == nil {
			return
		}
		p := &res.Last
		p.Corpus, _ = strconv.Atoi(m[1])
		p.Crashes, _ = strconv.Atoi(m[2])
		p.Execs, _ = strconv.ParseInt(m[3], 10, 64)
		p.ExecsPerSec, _ = strconv.ParseFloat(m[4], 64)
		cov, _ := strconv.Atoi(m[5])
		if cov0 < 0 && cov > 0 {
			cov0 = cov
		}
		if cov0 >= 0 {
			p.NewCoverage = cov - cov0
		}
		if d, err := time.ParseDuration(m[6]); err == nil {
			p.Elapsed = d
		} else {
			p.Elapsed = time.Since(start)
		}
		if o.Progress != nil {
			o.Progress(*p)
		}
	})
	crashers, cerr := collectDir(o, filepath.Join(work, "crashers"), func(name string) bool {
		return !strings.Contains(name, ".")
	}, func(path string) string {
		out, _ := os.ReadFile(path + ".output")
		return "found by go-fuzz; its output:\n" + string(out) + "\n"
	})
	res.Crashers = crashers
	// Crashers found after go-fuzz's last status line count too.
	res.Last.Crashes = max(res.Last.Crashes, len(crashers))
	if cerr != nil {
		return res, cerr
	}
	// go-fuzz's suppressions keep it from reporting again, in later runs
	// in this workdir, a crash it reported before: each run reports what
	// it finds, as native fuzzing and libFuzzer do (the crash store keeps
	// one copy).
	_ = os.RemoveAll(filepath.Join(work, "suppressions"))
	// Status 1 means crashers were found, which is not a failure to run.
	if err != nil && ctx.Err() == nil {
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
			return res, scriptError("scripts/gofuzz.sh", err, &tail)
		}
	}
	return res, nil
}

// goFuzzMinimize is how long go-fuzz may minimize a crasher in a run of
// length d: a quarter of it, from 1 s to go-fuzz's default of 1 min. A
// worker writes its crasher only once it is minimized, and one still
// being minimized when the run ends is lost: with the default, a crash
// found early in a short run (a large input, whose every crashing
// candidate restarts the program) was at times not reported at all.
func goFuzzMinimize(d time.Duration) time.Duration {
	return min(max(d/4, time.Second), time.Minute)
}

func runLibFuzzer(ctx context.Context, o EngineOptions) (Result, error) {
	crashDir := filepath.Join(o.Corpus, ".libfuzzer-crashes")
	env := []string{"LIBFUZZER_CORPUS=" + o.Corpus, "LIBFUZZER_CRASHES=" + crashDir}
	if o.Jobs > 1 {
		env = append(env, "LIBFUZZER_FORK="+strconv.Itoa(o.Jobs))
	}
	secs := "0"
	if o.Time > 0 {
		secs = strconv.Itoa(int(math.Ceil(o.Time.Seconds())))
	}
	res := Result{Last: Progress{Engine: "libfuzzer"}}
	var start time.Time // the first progress line: the build before it does not count
	corp0 := -1
	var tail lineTail
	// SIGTERM, not SIGINT: with -fork=N (--jobs 2 or more) libFuzzer's
	// parent runs each job through system(), which ignores SIGINT while
	// the job runs, so a Ctrl-C only kills the jobs (each counted as a
	// crash) while the parent starts new ones until the SIGKILL, which
	// leaves its libFuzzerTemp.FuzzWithFork directory in $TMPDIR. Both
	// the parent and a single process stop on SIGTERM as on Ctrl-C.
	err := runLines(ctx, scriptCmd(o, "libfuzzer.sh", env, "run", o.Target.Name, secs), o.Log, syscall.SIGTERM, nil, func(l string) {
		tail.add(l)
		p := &res.Last
		if m := libFzForkRE.FindStringSubmatch(l); m != nil {
			p.Execs, _ = strconv.ParseInt(m[1], 10, 64)
			p.Corpus, _ = strconv.Atoi(m[2])
			if corp0 < 0 {
				corp0 = p.Corpus
			}
			p.NewCoverage = p.Corpus - corp0
			s, _ := strconv.Atoi(m[7])
			p.Elapsed = time.Duration(s) * time.Second
			if p.Elapsed > 0 {
				p.ExecsPerSec = float64(p.Execs) / p.Elapsed.Seconds()
			}
			n := 0
			for _, c := range m[4:7] {
				k, _ := strconv.Atoi(c)
				n += k
			}
			p.Crashes = n
			if o.Progress != nil {
				o.Progress(*p)
			}
			return
		}
		m := libFzRE.FindStringSubmatch(l)
		if m == nil {
			if strings.Contains(l, "ERROR: libFuzzer") || strings.HasPrefix(l, "==") && strings.Contains(l, "ERROR") {
				p.Crashes++
			}
			return
		}
		if start.IsZero() {
			start = time.Now()
		}
		p.Execs, _ = strconv.ParseInt(m[1], 10, 64)
		if m[2] == "NEW" {
			p.NewCoverage++
		}
		p.Corpus, _ = strconv.Atoi(m[3])
		p.ExecsPerSec, _ = strconv.ParseFloat(m[4], 64)
		p.Elapsed = time.Since(start)
		if o.Progress != nil && m[2] != "REDUCE" {
			o.Progress(*p)
		}
	})
	crashers, cerr := collectDir(o, crashDir, func(name string) bool {
		return strings.HasPrefix(name, "crash-") || strings.HasPrefix(name, "timeout-") || strings.HasPrefix(name, "oom-")
	}, func(string) string { return "found by libFuzzer\n" })
	res.Crashers = crashers
	// With -fork, jobs that crash as the time runs out write their
	// crasher after the last status line counted them: the summary must
	// not report fewer crashes than this run stored.
	res.Last.Crashes = max(res.Last.Crashes, len(crashers))
	if cerr != nil {
		return res, cerr
	}
	// libFuzzer exits non-zero when it found a crash.
	if err != nil && ctx.Err() == nil && len(crashers) == 0 {
		return res, scriptError("scripts/libfuzzer.sh", err, &tail)
	}
	return res, nil
}

// collectDir moves the engine's crasher files accepted by keep into the
// crash store: once stored, the engine's copy (and go-fuzz's .quoted and
// .output files beside it) is removed, or the next run in the same
// working corpus would collect it again and report it, even fixed, as
// found by that run. Every crasher of this run is returned, also those
// the store already had (Crasher.New false).
func collectDir(o EngineOptions, dir string, keep func(string) bool, header func(string) string) ([]Crasher, error) {
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Crasher
	var notDurable error
	for _, e := range entries {
		if !e.Type().IsRegular() || !keep(e.Name()) {
			continue
		}
		path := filepath.Join(dir, e.Name())
		data, err := os.ReadFile(path)
		if err != nil {
			return out, err
		}
		c, err := o.store(data, header(path))
		if err != nil && !errors.Is(err, ErrNotDurable) {
			return out, err
		}
		// Stored, but its directory not synced: kept and returned with
		// the others, the error said at the end.
		notDurable = errors.Join(notDurable, err)
		for _, p := range []string{path, path + ".quoted", path + ".output"} {
			_ = os.Remove(p)
		}
		// Two files of the engine with the same input (libFuzzer's
		// crash- and timeout- of one input) are one crasher of this run,
		// reported once.
		if !slices.ContainsFunc(out, func(o Crasher) bool { return o.Path == c.Path }) {
			out = append(out, c)
		}
	}
	return out, notDurable
}
