package main

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/qgafuzz/qgafuzz/corpus"
	"github.com/qgafuzz/qgafuzz/fuzz"
	"github.com/qgafuzz/qgafuzz/nightly"
	"github.com/qgafuzz/qgafuzz/qga/qgatest"
)

// The nightly job's end-to-end tests run the real command (built once) as
// a subprocess from the source tree, as cron or CI would.

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// TestMain removes the binary qgafuzzBin built: left in the temporary
// directory, it took 7 MiB per run of the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

func qgafuzzBin(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("runs the fuzzing engine")
	}
	if !fuzzInstrumented() {
		t.Skipf("GOARCH %s: the nightly job measures coverage, which needs Go's fuzzing instrumentation", runtime.GOARCH)
	}
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "qgafuzz-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "qgafuzz")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = errors.New(string(out))
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// runNightlyCmd runs qgafuzz nightly in the source tree and returns its
// exit code and output.
func runNightlyCmd(t *testing.T, env []string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(qgafuzzBin(t), append([]string{"nightly"}, args...)...)
	cmd.Dir = filepath.Join("..", "..")
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	t.Logf("qgafuzz nightly %s:\n%s", strings.Join(args, " "), out)
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), string(out)
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0, string(out)
}

func readReport(t *testing.T, out string) *nightly.Report {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(out, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var r nightly.Report
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("report.json: %v", err)
	}
	x, err := os.ReadFile(filepath.Join(out, "junit.xml"))
	if err != nil {
		t.Fatal(err)
	}
	var j struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Suites   []struct {
			Cases []struct {
				Name    string    `xml:"name,attr"`
				Failure *struct{} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(x, &j); err != nil {
		t.Fatalf("junit.xml: %v", err)
	}
	cases := len(r.Targets) + len(r.Crashes) // one per target and per crash,
	if len(r.Errors) > 0 {
		cases++ // and nightly/run when the run itself had errors,
	}
	if r.Interrupted {
		cases++ // and nightly/budget when it was interrupted
	}
	if j.Failures != r.NewCrashes || len(j.Suites) != 1 || len(j.Suites[0].Cases) != j.Tests || j.Tests != cases {
		t.Fatalf("junit.xml disagrees with report.json: %+v", j)
	}
	return &r
}

func crashDirs(t *testing.T, out string) []string {
	dirs, _ := filepath.Glob(filepath.Join(out, "crashers", "*", "*"))
	var complete []string
	for _, d := range dirs {
		if !strings.Contains(filepath.Base(d), ".incomplete-") {
			complete = append(complete, d)
		}
	}
	return complete
}

// TestNightlyPlantedCrash is the acceptance test of the nightly job: with
// the planted-bug target it exits 1 with exactly one deduplicated,
// minimized crasher whose repro.txt command reproduces it; a second night
// on the same directory knows the crash and still fails.
func TestNightlyPlantedCrash(t *testing.T) {
	out := t.TempDir()
	env := []string{fuzz.PlantCrashEnv + "=1"}
	qgafuzzBin(t) // built before the clock starts
	start := time.Now()
	code, output := runNightlyCmd(t, env, "--budget", "30s", "--out", out, "--targets", "planted,parser", "--sim-runs", "200", "--progress", "4s")
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	// The budget is the night's total time, triage included: a CI slot
	// is sized by it. (Unless building alone took it.)
	if took := time.Since(start); took > 30*time.Second+5*time.Second && !strings.Contains(output, "past the budget") {
		t.Errorf("the night took %v with --budget 30s", took)
	}
	dirs := crashDirs(t, out)
	if len(dirs) != 1 || filepath.Base(filepath.Dir(dirs[0])) != "planted" {
		t.Fatalf("crash directories %v, want exactly one under planted/", dirs)
	}
	min, err := os.ReadFile(filepath.Join(dirs[0], nightly.FileMinimized))
	if err != nil || string(min) != "\xff\xff" {
		t.Fatalf("minimized input %q (%v), want the two bytes ff ff", min, err)
	}
	for _, f := range []string{nightly.FileOriginal, nightly.FileFailure, nightly.FileSignature} {
		if _, err := os.Stat(filepath.Join(dirs[0], f)); err != nil {
			t.Fatal(err)
		}
	}
	r := readReport(t, out)
	if r.ExitCode != 1 || r.NewCrashes != 1 || len(r.Crashes) != 1 || !strings.Contains(r.Crashes[0].Signature, "plantedFlushTable") {
		t.Fatalf("report: %+v", r)
	}
	if len(r.Targets) != 3 || r.Targets[2].Kind != "sim" || r.Targets[2].Execs != 200 {
		t.Fatalf("targets: %+v", r.Targets)
	}
	if !strings.Contains(output, "NEW CRASH in planted") {
		t.Fatal("the crash was not announced")
	}

	// The stored command reproduces the crash.
	repro, err := os.ReadFile(filepath.Join(dirs[0], nightly.FileRepro))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", "-c", string(repro))
	got, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !bytes.Contains(got, []byte("index out of range")) {
		t.Fatalf("repro.txt %q: %v\n%s", repro, err, got)
	}

	// Second night: the same crash, found again, is known; still one
	// directory, still a failing run.
	code, _ = runNightlyCmd(t, env, "--budget", "15s", "--out", out, "--targets", "planted", "--no-sim")
	r = readReport(t, out)
	if code != 1 || len(crashDirs(t, out)) != 1 || len(r.Crashes) != 1 || !r.Crashes[0].KnownBefore {
		t.Fatalf("second night: exit %d, %d directories, crashes %+v", code, len(crashDirs(t, out)), r.Crashes)
	}
}

// TestNightlyClean runs without the planted bug: exit 0, no crash, a
// grown corpus, and what a killed run had left is cleaned up without
// losing a file.
func TestNightlyClean(t *testing.T) {
	out := t.TempDir()
	tmp := filepath.Join(out, "crashers", "parser", ".tmp-sig-123")
	half := filepath.Join(out, "crashers", "parser", "sig-abc")
	os.MkdirAll(tmp, 0o755)
	os.MkdirAll(half, 0o755)
	os.WriteFile(filepath.Join(half, nightly.FileOriginal), []byte("keep me"), 0o644)
	// A corpus file that cannot be used (over corpus.MaxFileSize; sparse,
	// so it costs no disk) is reported and skipped, and left alone.
	bad := filepath.Join(out, "corpus", "parser", "broken")
	os.MkdirAll(filepath.Dir(bad), 0o755)
	os.WriteFile(bad, []byte("go test fuzz v1\nint(1)\n"), 0o644)
	os.Truncate(bad, corpus.MaxFileSize+1)
	// 30s: building the engine takes most of it on a loaded machine, and the
	// parser share must still grow the corpus.
	code, output := runNightlyCmd(t, nil, "--budget", "30s", "--out", out, "--targets", "parser", "--sim-runs", "100")
	if code != 0 {
		t.Fatalf("exit %d, want 0", code)
	}
	// The time left for the shares leaves out the triage reserve (5s of
	// a 30s budget); it was the whole rest of the budget.
	if !regexp.MustCompile(`built in [0-9.]+s; (1?[0-9]|2[0-5])s left for fuzzing and simulation \(5s kept for triage and reports\)|past the budget`).MatchString(output) {
		t.Errorf("no build line with the time left:\n%s", output)
	}
	r := readReport(t, out)
	if r.ExitCode != 0 || r.NewCrashes != 0 || len(r.Crashes) != 0 || len(crashDirs(t, out)) != 0 {
		t.Fatalf("report: %+v, dirs %v", r, crashDirs(t, out))
	}
	if _, err := os.Stat(tmp); !os.IsNotExist(err) {
		t.Fatal("the half-written directory is still there")
	}
	aside, _ := filepath.Glob(half + ".incomplete-*")
	if len(aside) != 1 {
		t.Fatal("the incomplete directory was not moved aside")
	}
	if b, _ := os.ReadFile(filepath.Join(aside[0], nightly.FileOriginal)); string(b) != "keep me" {
		t.Fatal("a stored file was lost")
	}
	if len(r.Notes) != 3 || !strings.Contains(strings.Join(r.Notes, "\n"), "broken: ") || !strings.Contains(strings.Join(r.Notes, "\n"), "limit") {
		t.Fatalf("notes %q", r.Notes)
	}
	if b, _ := os.ReadFile(bad); !strings.HasPrefix(string(b), "go test fuzz v1") {
		t.Fatal("the undecodable corpus file was changed")
	}
	if p := r.Targets[0]; p.Name != "parser" || p.Execs == 0 || p.CorpusAfter <= p.CorpusBefore+1 || p.Coverage == 0 {
		t.Fatalf("parser: %+v", p)
	}
	md, _ := os.ReadFile(filepath.Join(out, "summary.md"))
	if !strings.Contains(string(md), "all fine") {
		t.Fatalf("summary.md:\n%s", md)
	}
}

// TestNightlyFailingCorpusInput: an input of the persistent corpus that
// fails (here the planted crash, as a regression would make one) stops Go's
// engine before it fuzzes, on every start; the night finds it, keeps it
// out of the engine's cache so that the target is fuzzed, and leaves the
// corpus file as it is.
func TestNightlyFailingCorpusInput(t *testing.T) {
	out := t.TempDir()
	bad := filepath.Join(out, "corpus", "planted", "regression")
	input := append([]byte(strings.Repeat(`{"execute":"guest-ping"}`, 8)), 0xff, 0xff, 'x')
	os.MkdirAll(filepath.Dir(bad), 0o755)
	if err := os.WriteFile(bad, input, 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{fuzz.PlantCrashEnv + "=1"}
	code, _ := runNightlyCmd(t, env, "--budget", "25s", "--out", out, "--targets", "planted", "--no-sim")
	r := readReport(t, out)
	if code != 1 || len(crashDirs(t, out)) != 1 {
		t.Fatalf("exit %d, crash directories %v", code, crashDirs(t, out))
	}
	left := false
	for _, note := range r.Notes {
		left = left || strings.Contains(note, fmt.Sprintf("a corpus input (%d bytes, %s) fails", len(input), fuzz.InputName(input)))
	}
	if !left {
		t.Errorf("the failing corpus input was not left out of the engine's cache; notes %q", r.Notes)
	}
	if b, err := os.ReadFile(bad); err != nil || !bytes.Equal(b, input) {
		t.Errorf("the corpus file was changed or removed: %q, %v", b, err)
	}
}

// TestNightlyUsage checks bad options and an unwritable output directory:
// a clear message, exit 2, and nothing created.
func TestNightlyUsage(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--out", filepath.Join(dir, "a")}, "--budget"},
		{[]string{"--budget", "1m", "--out", filepath.Join(dir, "b"), "--targets", "parser,nope"}, `no target "nope"`},
		{[]string{"--budget", "1m", "--out", filepath.Join(dir, "c"), "--agent", "bug:nope"}, "no such planted bug"},
		{[]string{"--budget", "1m", "--out", filepath.Join(dir, "d"), "extra"}, "unexpected argument"},
		{[]string{"--budget", "1m", "--out", filepath.Join(dir, "e"), "--targets", "parser, parser"}, `"parser" is listed twice`},
	} {
		var stdout, stderr bytes.Buffer
		code := run(&env{stdout: &stdout, stderr: &stderr}, append([]string{"nightly"}, c.args...))
		if code != exitUsage || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", c.args, code, stderr.String(), c.want)
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("created %v", ents)
	}
	// An output directory that cannot be made: no reports, and the last
	// line must not point at them.
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout0, stderr0 bytes.Buffer
	code := run(&env{stdout: &stdout0, stderr: &stderr0}, []string{"nightly", "--budget", "1m", "--out", filepath.Join(file, "out")})
	if code != exitUsage || strings.Contains(stdout0.String(), "reports in") || !strings.Contains(stdout0.String(), "no reports written") ||
		!strings.Contains(stderr0.String(), "cannot create the output directory") {
		t.Errorf("--out under a file: exit %d\nstdout: %s\nstderr: %s", code, stdout0.String(), stderr0.String())
	}
	mnt := t.TempDir()
	if err := exec.Command("mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", mnt).Run(); err != nil {
		t.Skipf("cannot mount a small tmpfs: %v", err)
	}
	defer exec.Command("umount", mnt).Run()
	var stdout, stderr bytes.Buffer
	code = run(&env{stdout: &stdout, stderr: &stderr}, []string{"nightly", "--budget", "1m", "--out", filepath.Join(mnt, "out")})
	if code != exitUsage || !strings.Contains(stderr.String(), "full disk") {
		t.Fatalf("full disk: exit %d, stderr %q", code, stderr.String())
	}
}

// TestNightlyUsageDropsLastReports: a night that does not run because of
// a usage error (also a bad --budget after --out, as nightly.sh passes
// them) leaves no reports of the last night in --out for CI to publish
// as tonight's; a directory without reports is left alone.
func TestNightlyUsageDropsLastReports(t *testing.T) {
	for _, args := range [][]string{
		{"--budget", "bogus"},
		{"--budget", "1m", "--targets", "nope"},
		{"--budget", "1m", "extra"},
	} {
		out := t.TempDir()
		for _, n := range []string{"report.json", "junit.xml", "summary.md"} {
			if err := os.WriteFile(filepath.Join(out, n), []byte("last night"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		var stdout, stderr bytes.Buffer
		if code := run(&env{stdout: &stdout, stderr: &stderr}, append([]string{"nightly", "--out", out}, args...)); code != exitUsage {
			t.Fatalf("%v: exit %d, want 2; stderr %q", args, code, stderr.String())
		}
		if ents, _ := os.ReadDir(out); len(ents) > 1 || len(ents) == 1 && ents[0].Name() != ".lock" {
			t.Errorf("%v: --out holds %v after a usage error, want no reports", args, ents)
		}
	}
	empty := filepath.Join(t.TempDir(), "none")
	var stdout, stderr bytes.Buffer
	run(&env{stdout: &stdout, stderr: &stderr}, []string{"nightly", "--out", empty, "--budget", "bogus"})
	if _, err := os.Stat(empty); !os.IsNotExist(err) {
		t.Errorf("a usage error made %s (%v)", empty, err)
	}
}

// TestNightlyQemuGA runs the qemu-ga share: the built-in agent against a
// live qemu-ga as the differential reference (skipped without qemu-ga).
func TestNightlyQemuGA(t *testing.T) {
	if _, err := qgatest.FindQemuGA(); err != nil {
		t.Skipf("qemu-ga not installed: %v", err)
	}
	out := t.TempDir()
	code, stdout := runNightlyCmd(t, nil, "--budget", "20s", "--out", out, "--targets", "delimiter", "--no-sim", "--agent", "qemu-ga")
	r := readReport(t, out)
	if code != 0 || len(r.Targets) != 2 || r.Targets[1].Kind != "qemu-ga" || r.Targets[1].Execs == 0 || r.Targets[1].Error != "" {
		t.Fatalf("exit %d, targets %+v", code, r.Targets)
	}
	// Its share ends with a line of its own, as every other share does.
	if !strings.Contains(stdout, "nightly: qemu-ga done: ") || !strings.Contains(stdout, "streams") {
		t.Errorf("no done line for the qemu-ga share")
	}
}
