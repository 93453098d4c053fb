package fuzz_test

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/qgafuzz/qgafuzz/fuzz"
)

// stubForkingLibFuzzer stands in for scripts/libfuzzer.sh running
// libFuzzer with -fork=N: the parent runs each job through system(),
// which ignores SIGINT while the job runs, so only SIGTERM stops it.
const stubForkingLibFuzzer = `#!/bin/sh
trap '' INT
trap 'echo "==1== libFuzzer: run interrupted; exiting"; exit 0' TERM
echo "#10: cov: 5 ft: 5 corp: 3 exec/s 10 oom/timeout/crash: 0/0/0 time: 1s job: 1 dft_time: 0"
while :; do sleep 0.05; done
`

// An interrupted libFuzzer run with --jobs 2 (-fork=2) stops at once,
// rather than after the 10 s that RunLines gives before its SIGKILL
// (which leaves libFuzzer's fork directory behind in $TMPDIR).
func TestLibFuzzerForkStopsOnInterrupt(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("process groups and signals")
	}
	root := t.TempDir()
	script := filepath.Join(root, "scripts", "libfuzzer.sh")
	if err := os.MkdirAll(filepath.Dir(script), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(script, []byte(stubForkingLibFuzzer), 0o755); err != nil {
		t.Fatal(err)
	}
	tg, _ := fuzz.Lookup("parser")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var interrupted time.Time
	res, err := fuzz.RunEngine(ctx, "libfuzzer", fuzz.EngineOptions{
		Root: root, Target: tg, Jobs: 2,
		Corpus: filepath.Join(root, "corpus"), Out: filepath.Join(root, "out"),
		Progress: func(fuzz.Progress) {
			if interrupted.IsZero() {
				interrupted = time.Now()
				cancel() // Ctrl-C once the engine is fuzzing
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if interrupted.IsZero() {
		t.Fatal("the stub engine's status line was not read")
	}
	if took := time.Since(interrupted); took > 5*time.Second {
		t.Errorf("the engine stopped %v after the interrupt, want at once (not after the SIGKILL)", took.Round(time.Second/10))
	}
	if res.Last.Crashes != 0 {
		t.Errorf("an interrupted run reports %d crashes, want 0", res.Last.Crashes)
	}
}

// Ctrl-C while the native engine builds leaves nothing behind: the go
// command, killed, would leave its go-build* work directory in $TMPDIR
// (and its compilers running) were it not in the engine's own directory.
func TestBuildNativeInterruptedLeavesNoTemp(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("process groups")
	}
	root, err := fuzz.ModuleRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	t.Setenv("GOFLAGS", "-a") // a build long enough to interrupt, whatever the cache holds
	work, err := os.MkdirTemp("", "work-")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if _, err := fuzz.BuildNative(ctx, root, work); err == nil {
		t.Skip("the build finished within 3 s")
	}
	time.Sleep(500 * time.Millisecond) // a compiler left running would still be writing
	if err := os.RemoveAll(work); err != nil {
		t.Errorf("removing the engine's directory: %v", err)
	}
	if ents, _ := os.ReadDir(tmp); len(ents) > 0 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("an interrupted build left %q in $TMPDIR", names)
	}
}

// stubLaggingLibFuzzer is libFuzzer -fork at the end of its time: its
// last status line counts one crash, and a job that crashed as the time
// ran out has written a second crasher since.
const stubLaggingLibFuzzer = `#!/bin/sh
mkdir -p "$LIBFUZZER_CRASHES"
printf 'a' > "$LIBFUZZER_CRASHES/crash-1"
echo "#10: cov: 5 ft: 5 corp: 3 exec/s 10 oom/timeout/crash: 0/0/1 time: 1s job: 1 dft_time: 0"
printf 'b' > "$LIBFUZZER_CRASHES/crash-2"
exit 0
`

// The summary of a run counts every crasher the run stored.
func TestLibFuzzerSummaryCountsStoredCrashers(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("shell script")
	}
	root := t.TempDir()
	script := filepath.Join(root, "scripts", "libfuzzer.sh")
	if err := os.MkdirAll(filepath.Dir(script), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(script, []byte(stubLaggingLibFuzzer), 0o755); err != nil {
		t.Fatal(err)
	}
	tg, _ := fuzz.Lookup("parser")
	res, err := fuzz.RunEngine(context.Background(), "libfuzzer", fuzz.EngineOptions{
		Root: root, Target: tg, Jobs: 2, Time: time.Second,
		Corpus: filepath.Join(root, "corpus"), Out: filepath.Join(root, "out"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Crashers) != 2 || res.Last.Crashes != len(res.Crashers) {
		t.Errorf("summary: %d crashes, %d crashers stored; want 2 and 2", res.Last.Crashes, len(res.Crashers))
	}
}

// Stubs of scripts/gofuzz.sh and scripts/libfuzzer.sh that write one
// crasher where the engine does (go-fuzz: with its .output and .quoted
// files, and a suppression) when $STUB_CRASH is 1, and exit as the
// scripts do then.
var stubCrashingScripts = map[string]string{
	"gofuzz": `#!/bin/sh
mkdir -p "$GOFUZZ_WORKDIR/crashers" "$GOFUZZ_WORKDIR/suppressions"
[ "$STUB_CRASH" = 1 ] || exit 0
c=$GOFUZZ_WORKDIR/crashers/0123abcd
printf 'a' > "$c"; printf '"a"' > "$c.quoted"; printf 'panic: a' > "$c.output"
printf 'panic: a' > "$GOFUZZ_WORKDIR/suppressions/0123abcd"
echo "workers: 1, corpus: 3 (1s ago), crashers: 1, restarts: 1/0, execs: 10 (10/sec), cover: 5, uptime: 1s"
exit 1
`,
	"libfuzzer": `#!/bin/sh
mkdir -p "$LIBFUZZER_CRASHES"
[ "$STUB_CRASH" = 1 ] || exit 0
printf 'a' > "$LIBFUZZER_CRASHES/crash-0123abcd"
echo "==1== ERROR: libFuzzer: deadly signal"
exit 1
`,
}

// A crasher is reported by the run that found it: once stored, the
// engine's copy in the working corpus is gone, so that the next run in the
// same corpus (after the fix) does not report it again as its own find;
// a run that finds it again reports it, though the store has it already.
func TestScriptEnginesMoveCrashers(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("shell script")
	}
	for engine, stub := range stubCrashingScripts {
		t.Run(engine, func(t *testing.T) {
			root := t.TempDir()
			script := filepath.Join(root, "scripts", engine+".sh")
			if err := os.MkdirAll(filepath.Dir(script), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(script, []byte(stub), 0o755); err != nil {
				t.Fatal(err)
			}
			tg, _ := fuzz.Lookup("parser")
			o := fuzz.EngineOptions{Root: root, Target: tg, Time: time.Second,
				Corpus: filepath.Join(root, "corpus"), Out: filepath.Join(root, "out")}
			run := func(crash bool) fuzz.Result {
				t.Helper()
				o := o
				if crash {
					o.Env = []string{"STUB_CRASH=1"}
				}
				res, err := fuzz.RunEngine(context.Background(), engine, o)
				if err != nil {
					t.Fatal(err)
				}
				return res
			}
			if res := run(true); len(res.Crashers) != 1 || !res.Crashers[0].New || res.Last.Crashes != 1 {
				t.Fatalf("first run: %d crashers (%+v), %d crashes; want one new", len(res.Crashers), res.Crashers, res.Last.Crashes)
			}
			// Nothing of the engine's crasher is left in the working corpus.
			err := filepath.WalkDir(o.Corpus, func(p string, d os.DirEntry, err error) error {
				if err == nil && !d.IsDir() {
					t.Errorf("left in the working corpus: %s", p)
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if res := run(false); len(res.Crashers) != 0 || res.Last.Crashes != 0 {
				t.Errorf("a run that found nothing: %d crashers, %d crashes; want none", len(res.Crashers), res.Last.Crashes)
			}
			if res := run(true); len(res.Crashers) != 1 || res.Crashers[0].New || res.Last.Crashes != 1 {
				t.Errorf("a run that found it again: %d crashers (%+v), %d crashes; want the stored one", len(res.Crashers), res.Crashers, res.Last.Crashes)
			}
		})
	}
}

// One input that libFuzzer wrote twice (a crash- and a timeout- file) is
// one crasher of the run: stored once, and reported once.
func TestLibFuzzerSameInputTwiceIsOneCrasher(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("shell script")
	}
	root := t.TempDir()
	script := filepath.Join(root, "scripts", "libfuzzer.sh")
	if err := os.MkdirAll(filepath.Dir(script), 0o755); err != nil {
		t.Fatal(err)
	}
	stub := `#!/bin/sh
mkdir -p "$LIBFUZZER_CRASHES"
printf 'a' > "$LIBFUZZER_CRASHES/crash-0123abcd"
printf 'a' > "$LIBFUZZER_CRASHES/timeout-4567cdef"
echo "==1== ERROR: libFuzzer: deadly signal"
exit 1
`
	if err := os.WriteFile(script, []byte(stub), 0o755); err != nil {
		t.Fatal(err)
	}
	tg, _ := fuzz.Lookup("parser")
	o := fuzz.EngineOptions{Root: root, Target: tg, Time: time.Second,
		Corpus: filepath.Join(root, "corpus"), Out: filepath.Join(root, "out")}
	res, err := fuzz.RunEngine(context.Background(), "libfuzzer", o)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Crashers) != 1 || !res.Crashers[0].New {
		t.Errorf("%d crashers (%+v); want one, new", len(res.Crashers), res.Crashers)
	}
}
