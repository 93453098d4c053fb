package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/qgafuzz/qgafuzz/fuzz"
	"github.com/qgafuzz/qgafuzz/sim"
)

// The end-to-end tests of the script engines run the real go-fuzz and
// libFuzzer (scripts/gofuzz.sh and scripts/libfuzzer.sh, which build them
// from go.mod's pinned go-fuzz-build and clang) through the built command,
// from the source tree, as a user runs them. scripts/scripts_test.go
// tests the scripts with stub tools; these check that qgafuzz reads what
// the real engines print and write.

// missingTool skips the test for a tool that is not installed, or fails
// it when $CI is set: CI installs every tool (.ci/run), so a missing one
// there is a broken setup, not a reason to test less.
func missingTool(t *testing.T, msg string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("%s (CI is set, so this is fatal)", msg)
	}
	t.Skip(msg)
}

// requireLibFuzzerClang skips (or, in CI, fails) the test unless a clang
// that links -fsanitize=fuzzer is installed, looked for as
// scripts/libfuzzer.sh does.
func requireLibFuzzerClang(t *testing.T) {
	t.Helper()
	const msg = "no clang that links -fsanitize=fuzzer found; install clang (apt-get install -y clang) to run the libFuzzer engine's tests"
	cc := os.Getenv("CC")
	if cc == "" {
		for _, c := range []string{"clang", "clang-19", "clang-18", "clang-17", "clang-16", "clang-15", "clang-14"} {
			if _, err := exec.LookPath(c); err == nil {
				cc = c
				break
			}
		}
	}
	if cc == "" {
		missingTool(t, msg)
		return
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "t.c")
	if err := os.WriteFile(src, []byte("int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(cc, "-fsanitize=fuzzer", src, "-o", filepath.Join(dir, "t")).CombinedOutput(); err != nil {
		why := err.Error()
		if out = bytes.TrimSpace(out); len(out) > 0 {
			why += ": " + string(out)
		}
		missingTool(t, fmt.Sprintf("%s (%s -fsanitize=fuzzer: %s)", msg, cc, why))
	}
}

// runFromRoot runs the built qgafuzz in the source tree with env added and
// returns its exit code and combined output.
func runFromRoot(t *testing.T, env []string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(qgafuzzBin(t), args...)
	cmd.Dir = filepath.Join("..", "..")
	cmd.Env = append(withoutEnv(os.Environ(), fuzz.PlantCrashEnv), env...)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	t.Logf("qgafuzz %s (%v):\n%s", strings.Join(args, " "), time.Since(start).Round(100*time.Millisecond), out)
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), string(out)
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0, string(out)
}

// treeState is what git sees in the source tree outside ignored paths
// (out/): an engine run must leave it as it was. "" without git.
func treeState(t *testing.T) string {
	t.Helper()
	cmd := exec.Command("git", "status", "--porcelain", "--untracked-files=all")
	cmd.Dir = filepath.Join("..", "..")
	out, err := cmd.Output()
	if err != nil {
		return ""
	}
	return string(out)
}

// engineExit3 handles exit 3 of a script engine (it cannot be built or run
// here, e.g. go-fuzz-build could not be installed): a skip with the
// reason, or a failure in CI.
func engineExit3(t *testing.T, engine string, code int, out string) {
	t.Helper()
	if code == exitTransport {
		missingTool(t, fmt.Sprintf("the %s engine cannot be built or run here (exit 3):\n%s", engine, out))
	}
}

// plantedSignature is what every crasher of the planted target fails with.
const plantedSignature = "planted/panic runtime error: index out of range at github.com/qgafuzz/qgafuzz/fuzz.plantedFlushTable"

// checkPlantedCrashers checks what an engine run on the planted target
// stored and printed: exit 1; every crasher under out with its report and
// nothing else (no temporary file of an atomic write); each report headed
// by a reproduce line that, run as printed from elsewhere, fails (exit 1)
// with the planted signature, which the report gives on a line of its
// own; the run's crashers printed as one group, of that signature, whose
// reproduce line alone is printed, for its smallest input.
func checkPlantedCrashers(t *testing.T, code int, stdout, out string) {
	t.Helper()
	if code != exitFinding {
		t.Fatalf("exit %d, want %d (crashers found)", code, exitFinding)
	}
	crashers, err := fuzz.CrashStore{Dir: out}.List()
	if err != nil || len(crashers) == 0 {
		t.Fatalf("no crasher stored under --out (%v)", err)
	}
	checkPlantedGroup(t, stdout, out, crashers)
	ents, err := os.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 2*len(crashers) {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("--out holds %q, want %d crashers and their reports alone", names, len(crashers))
	}
	for _, c := range crashers {
		report, err := os.ReadFile(c + ".txt")
		if err != nil {
			t.Error(err)
			continue
		}
		// The running binary, by path: the line works where qgafuzz is
		// not on $PATH.
		want := fuzz.PlantCrashEnv + "=1 " + sim.ShellQuote(qgafuzzBin(t)) + " repro --target planted " + c
		if !strings.HasPrefix(string(report), "planted: reproduce with: "+want+"\n") {
			t.Errorf("report of %s is not headed by %q:\n%s", c, want, report)
		}
		if !strings.Contains(string(report), "\nsignature: "+plantedSignature) {
			t.Errorf("report of %s lacks the planted signature line:\n%s", c, report)
		}
		// Run the line as a user pastes it, from elsewhere, with the
		// variable unset.
		cmd := exec.Command("sh", "-c", want)
		cmd.Dir = t.TempDir()
		cmd.Env = withoutEnv(os.Environ(), fuzz.PlantCrashEnv)
		b, _ := cmd.CombinedOutput()
		if cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != exitFinding ||
			!strings.Contains(string(b), "repro: FAIL (deduplication signature: "+plantedSignature) {
			t.Errorf("%s: want exit %d with the planted signature, got:\n%s", want, exitFinding, b)
		}
	}
}

// checkPlantedGroup checks that a planted run printed its crashers (some
// of stored: an earlier run's may be there too) as one group of the
// planted signature, with one reproduce line, for the smallest of them.
func checkPlantedGroup(t *testing.T, stdout, out string, stored []string) {
	t.Helper()
	m := regexp.MustCompile(`qgafuzz fuzz: (\d+) crashers?, 1 distinct signature; every input is kept in (\S+)\n`).FindStringSubmatch(stdout)
	if m == nil {
		m = []string{"", "0", ""}
	}
	if n, _ := strconv.Atoi(m[1]); n < 1 || n > len(stored) || m[2] != out {
		t.Errorf("output lacks \"N crashers, 1 distinct signature; every input is kept in %s\" for N of 1 to %d", out, len(stored))
	}
	if !strings.Contains(stdout, "qgafuzz fuzz: signature "+plantedSignature) {
		t.Errorf("output lacks the planted signature %q", plantedSignature)
	}
	printed := printedRepros(stdout)
	if len(printed) != 1 {
		t.Fatalf("%d reproduce lines printed, want one (one signature): %q", len(printed), printed)
	}
	size := func(p string) int64 {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	smallest := ""
	for _, c := range stored {
		if strings.HasSuffix(printed[0], " "+c) {
			smallest = c
		}
	}
	if smallest == "" {
		t.Fatalf("the reproduce line %q names no stored crasher of %q", printed[0], stored)
	}
	for _, c := range stored {
		if strings.Contains(stdout, filepath.Base(c)) && size(c) < size(smallest) {
			t.Errorf("%s (%d bytes) is printed as the smallest, but %s has %d", smallest, size(smallest), c, size(c))
		}
	}
}

// progressExecs returns the largest exec count of the progress lines
// (not the summary) that engine printed for target.
func progressExecs(stdout, target, engine string) int64 {
	re := regexp.MustCompile(`(?m)^qgafuzz fuzz: ` + target + `/` + engine + `: elapsed \S+, execs (\d+) `)
	var most int64
	for _, m := range re.FindAllStringSubmatch(stdout, -1) {
		n, _ := strconv.ParseInt(m[1], 10, 64)
		most = max(most, n)
	}
	return most
}

// corpusFinds returns the raw inputs in dir (the working corpus) that are
// not seeds of target: what the engine found and left there.
func corpusFinds(t *testing.T, dir, target string) int {
	t.Helper()
	root, err := fuzz.ModuleRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	_, seeds, err := fuzz.ReadCorpus(fuzz.SeedDir(root, target))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, s := range seeds {
		seen[string(s)] = true
	}
	names, inputs, err := fuzz.ReadCorpus(dir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for i, in := range inputs {
		if seen[string(in)] {
			t.Errorf("the working corpus holds %s, a seed of corpus/: it was copied back as found by the engine", names[i])
			continue
		}
		n++
	}
	return n
}

// TestFuzzGoFuzzEngine runs the real go-fuzz (scripts/gofuzz.sh, with
// go-fuzz-build at go.mod's version) on the planted target: it finds the
// planted crash, whose stored crasher reproduces; it prints progress with
// executions, and the inputs it found (not the seeds it started from) are
// copied into --corpus. One run, since go-fuzz goes on after a crash: one
// build of the target.
func TestFuzzGoFuzzEngine(t *testing.T) {
	qgafuzzBin(t)
	before := treeState(t)
	corpusDir, out := t.TempDir(), t.TempDir()
	// go-fuzz writes a crasher once it has minimized it, which took it
	// past the end of a short run, until qgafuzz bounded the minimization
	// (GOFUZZ_MINIMIZE): about one run in five found nothing. -v puts
	// go-fuzz's own status lines (crashers, restarts) in the log. 20 s:
	// go-fuzz counts no executions while it runs the seeds first (6 s
	// here, on 2 busy cores).
	code, stdout := runFromRoot(t, []string{fuzz.PlantCrashEnv + "=1"},
		"fuzz", "-v", "--target", "planted", "--engine", "gofuzz", "--time", "20s", "--corpus", corpusDir, "--out", out)
	engineExit3(t, "gofuzz", code, stdout)
	checkPlantedCrashers(t, code, stdout, out)
	if n := progressExecs(stdout, "planted", "gofuzz"); n == 0 {
		t.Error("no progress line with executions")
	}
	m := regexp.MustCompile(`corpus (\S+): (\d+) new inputs from the engine, (\d+) in all`).FindStringSubmatch(stdout)
	if m == nil || m[1] != corpusDir {
		t.Fatalf("no line about the inputs copied into %s", corpusDir)
	}
	added, _ := strconv.Atoi(m[2])
	if finds := corpusFinds(t, corpusDir, "planted"); added == 0 || finds != added {
		t.Errorf("%d inputs said to be copied into --corpus, %d found there that are not seeds; want the same, and some", added, finds)
	}
	if after := treeState(t); after != before {
		t.Errorf("the run changed the source tree:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// TestFuzzLibFuzzerEngine runs the real libFuzzer (scripts/libfuzzer.sh:
// go-fuzz-build -libfuzzer and clang) on the planted target, where it
// stops at the planted crash, whose stored crasher reproduces, and again
// when run once more in the same directories; then for a few seconds on
// the parser, where it prints progress with executions and
// writes the inputs it finds into --corpus.
func TestFuzzLibFuzzerEngine(t *testing.T) {
	qgafuzzBin(t)
	requireLibFuzzerClang(t)
	before := treeState(t)
	corpusDir, out := t.TempDir(), t.TempDir()
	code, stdout := runFromRoot(t, []string{fuzz.PlantCrashEnv + "=1"},
		"fuzz", "--target", "planted", "--engine", "libfuzzer", "--time", "20s", "--corpus", corpusDir, "--out", out)
	engineExit3(t, "libfuzzer", code, stdout)
	checkPlantedCrashers(t, code, stdout, out)
	// Once more in the same --corpus and --out (as with their defaults):
	// the crash found again is a finding again, not a failure of the
	// engine (exit 3, as when qgafuzz dropped crashers it had stored).
	code, stdout = runFromRoot(t, []string{fuzz.PlantCrashEnv + "=1"},
		"fuzz", "--target", "planted", "--engine", "libfuzzer", "--time", "20s", "--corpus", corpusDir, "--out", out)
	checkPlantedCrashers(t, code, stdout, out)

	corpusDir, out = t.TempDir(), t.TempDir()
	code, stdout = runFromRoot(t, nil,
		"fuzz", "--target", "parser", "--engine", "libfuzzer", "--time", "4s", "--corpus", corpusDir, "--out", out)
	if code != exitOK {
		t.Fatalf("parser: exit %d, want %d", code, exitOK)
	}
	if n := progressExecs(stdout, "parser", "libfuzzer"); n == 0 {
		t.Error("parser: no progress line with executions")
	}
	if !regexp.MustCompile(`(?m)^qgafuzz fuzz: done: parser/libfuzzer: elapsed \S+, execs [1-9]`).MatchString(stdout) {
		t.Error("parser: no summary with executions")
	}
	if finds := corpusFinds(t, corpusDir, "parser"); finds == 0 {
		t.Error("parser: libFuzzer wrote no new input into --corpus")
	}
	if after := treeState(t); after != before {
		t.Errorf("the runs changed the source tree:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// TestFuzzLibFuzzerGoRoute runs the real libFuzzer built by Go's own
// instrumentation (LIBFUZZER_ROUTE=go: go build -d=libfuzzer and clang),
// the route libfuzzer.sh tells users to take when go-fuzz-build does not
// build: it must work on the day they need it. Its first build
// instruments the standard library (about 75 s on a fresh machine).
func TestFuzzLibFuzzerGoRoute(t *testing.T) {
	qgafuzzBin(t)
	requireLibFuzzerClang(t)
	corpusDir, out := t.TempDir(), t.TempDir()
	code, stdout := runFromRoot(t, []string{fuzz.PlantCrashEnv + "=1", "LIBFUZZER_ROUTE=go"},
		"fuzz", "-v", "--target", "planted", "--engine", "libfuzzer", "--time", "20s", "--corpus", corpusDir, "--out", out)
	engineExit3(t, "libfuzzer (LIBFUZZER_ROUTE=go)", code, stdout)
	if !strings.Contains(stdout, "libfuzzer.sh: go build -buildmode=c-archive -gcflags=all=-d=libfuzzer") {
		t.Fatal("the engine was not built by the go route")
	}
	checkPlantedCrashers(t, code, stdout, out)
}
