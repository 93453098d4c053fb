package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fuzzInstrumented reports whether Go builds fuzzing instrumentation for
// this GOARCH (internal/platform.FuzzInstrumented): measuring coverage,
// and so the nightly job, needs it.
func fuzzInstrumented() bool {
	switch runtime.GOARCH {
	case "amd64", "arm64", "loong64":
		return true
	}
	return false
}

// TestCorpusMinimizeAndStats runs the corpus tools on the checked-in seeds
// (with a duplicate and an undecodable file added): minimize reports the
// same coverage with fewer files, stats counts what is there, and merge
// adds nothing a minimized corpus already covers.
func TestCorpusMinimizeAndStats(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the coverage server")
	}
	src := filepath.Join(t.TempDir(), "parser")
	code, out, errOut := runCapture("corpus", "import", "--format", "libfuzzer", "../../corpus/parser", "--out", src)
	if code != exitOK || !strings.Contains(out, "files written") {
		t.Fatalf("import: %d\n%s%s", code, out, errOut)
	}
	b, _ := os.ReadFile(filepath.Join("../../corpus/parser", "vec-ff.alone"))
	os.WriteFile(filepath.Join(src, "dup"), b, 0o644)
	// A dangling link: reported and skipped. (A file that merely starts
	// like a native one is a raw input in a raw corpus.)
	os.Symlink(filepath.Join(src, "gone"), filepath.Join(src, "broken"))

	code, out, errOut = runCapture("corpus", "stats", "--target", "parser", src)
	if !fuzzInstrumented() {
		// Go builds the coverage server without instrumentation here: the
		// tool says so rather than measuring nothing.
		if code != exitUsage || !strings.Contains(errOut, "no fuzzing instrumentation") {
			t.Fatalf("stats on GOARCH %s: %d\n%s%s", runtime.GOARCH, code, out, errOut)
		}
		t.Skipf("GOARCH %s: no fuzzing instrumentation", runtime.GOARCH)
	}
	if code != exitOK || !regexp.MustCompile(`(?m)^duplicates: [1-9]`).MatchString(out) || !strings.Contains(out, "unreadable: 1") ||
		!strings.Contains(out, "coverage (parser)") || !strings.Contains(errOut, "broken") {
		t.Fatalf("stats: %d\n%s%s", code, out, errOut)
	}
	// Reported once: the count of files and the coverage measurement both
	// skip it, and both printed it.
	if n := strings.Count(errOut, "broken"); n != 1 {
		t.Errorf("stats reports the broken link %d times, want once:\n%s", n, errOut)
	}
	// Without --target, no coverage, even in a directory named after a
	// target: the tool measures it only when asked (it needs the source tree).
	code, out, errOut = runCapture("corpus", "stats", src)
	if code != exitOK || !strings.Contains(out, "coverage: not measured") || strings.Contains(out, "coverage (") {
		t.Fatalf("stats without --target: %d\n%s%s", code, out, errOut)
	}

	min := filepath.Join(t.TempDir(), "min")
	code, out, errOut = runCapture("corpus", "minimize", "--target", "parser", src, "--out", min)
	if code != exitOK || !strings.Contains(out, "(unchanged)") || !strings.Contains(errOut, "skipping") {
		t.Fatalf("minimize: %d\n%s%s", code, out, errOut)
	}
	// Measuring shows progress: the whole set, then the minimized one.
	if n := len(regexp.MustCompile(`(?m)^qgafuzz corpus minimize: parser: measured (\d+) of (\d+) inputs, \d+s elapsed$`).FindAllString(errOut, -1)); n < 2 {
		t.Errorf("minimize: %d progress lines\n%s", n, errOut)
	}
	m := regexp.MustCompile(`(\d+) files, .* -> (\d+) files`).FindStringSubmatch(out)
	// The seeds overlap a lot, so minimizing drops at least a third of them
	// (about half, with qjson's hot path as of this writing: every path it
	// adds is a coverage feature some seed must keep).
	if before, after := atoi(m, 1), atoi(m, 2); m == nil || after == 0 || after*3 > before*2 {
		t.Fatalf("minimize did not shrink: %s", out)
	}
	t.Logf("%s", out)

	code, out, _ = runCapture("corpus", "merge", "--target", "parser", "--into", min, src)
	if code != exitOK || !strings.Contains(out, " 0 added") {
		t.Fatalf("merge into the minimized corpus: %d\n%s", code, out)
	}

	native := filepath.Join(t.TempDir(), "FuzzParser")
	code, out, _ = runCapture("corpus", "export", "--format", "native", min, "--out", native)
	if code != exitOK {
		t.Fatalf("export: %d %s", code, out)
	}
	ents, _ := os.ReadDir(native)
	first, _ := os.ReadFile(filepath.Join(native, ents[0].Name()))
	if !strings.HasPrefix(string(first), "go test fuzz v1\n[]byte(") {
		t.Fatalf("exported file %q", first)
	}
}

func TestCorpusErrors(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"corpus"}, "Usage"},
		{[]string{"corpus", "frobnicate"}, "unknown subcommand"},
		{[]string{"corpus", "minimize", "--target", "nope", dir, "--out", dir + "/x"}, `no target "nope"`},
		{[]string{"corpus", "minimize", dir}, "--out"},
		{[]string{"corpus", "merge", "--target", "parser", dir}, "--into"},
		{[]string{"corpus", "export", "--format", "afl", dir, "--out", dir + "/y"}, "--format"},
		{[]string{"corpus", "import", "--format", "native", filepath.Join(dir, "missing"), "--out", dir + "/z"}, "no such file"},
		{[]string{"corpus", "stats", filepath.Join(dir, "missing")}, "no such file"},
	} {
		code, _, errOut := runCapture(c.args...)
		if code != exitUsage || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, %q; want 2 and %q", c.args, code, errOut, c.want)
		}
	}
}

// TestCorpusStatsMixedWarns: stats on a directory that mixes Go native
// fuzz files with raw ones warns that all are read as raw, and does not
// count the warning as an unreadable file.
func TestCorpusStatsMixedWarns(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "native"), []byte("go test fuzz v1\n[]byte(\"x\")\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "raw"), []byte("y"), 0o644)
	code, out, errOut := runCapture("corpus", "stats", dir)
	if code != exitOK || !strings.Contains(out, "files: 2\n") || !strings.Contains(out, "unreadable: 0\n") ||
		!strings.Contains(errOut, "qgafuzz corpus stats: warning: "+dir+": 1 of its 2 files are Go native fuzz files") {
		t.Fatalf("stats: %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = runCapture("corpus", "export", "--format", "libfuzzer", dir, "--out", filepath.Join(t.TempDir(), "lf"))
	if code != exitOK || !strings.Contains(out, "0 skipped") || !strings.Contains(errOut, "warning: "+dir) {
		t.Fatalf("export: %d\n%s%s", code, out, errOut)
	}
}

func atoi(m []string, i int) int {
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[i])
	return n
}

// TestCorpusMinimizeInterrupted: Ctrl-C while the coverage server builds
// says so (not "signal: killed", the killed build's error), exits 130 and
// writes nothing.
func TestCorpusMinimizeInterrupted(t *testing.T) {
	if testing.Short() {
		t.Skip("builds qgafuzz")
	}
	bin := buildQgafuzz(t)
	out := filepath.Join(t.TempDir(), "min")
	cmd := exec.Command(bin, "corpus", "minimize", "--target", "parser", "../../corpus/parser", "--out", out)
	var stderr syncBuffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(stderr.String(), "building the coverage server"); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("the build does not start:\n%s", stderr.String())
		}
	}
	cmd.Process.Signal(os.Interrupt)
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitInterrupted || !strings.Contains(stderr.String(), "interrupted; nothing was written") ||
		strings.Contains(stderr.String(), "signal: killed") {
		t.Fatalf("exit %v:\n%s", err, stderr.String())
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatalf("--out exists after the interrupt: %v", err)
	}
}

// TestCorpusMinimizeBadOutFirst: an --out that minimize would refuse (not
// empty, one of the inputs, a file) is a usage error found before the
// coverage server is built, which took seconds only to be thrown away;
// --json prints no object for it, as for any usage error.
func TestCorpusMinimizeBadOutFirst(t *testing.T) {
	in, full := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(in, "a"), []byte("a"), 0o644)
	os.WriteFile(filepath.Join(full, "b"), []byte("b"), 0o644)
	file := filepath.Join(full, "b")
	for _, c := range []struct{ out, want string }{
		{full, "is not empty"},
		{in, "is one of the input directories"},
		{file, "--out"},
	} {
		start := time.Now()
		code, out, errOut := runCapture("corpus", "minimize", "--target", "parser", "--json", in, "--out", c.out)
		if code != exitUsage || out != "" || !strings.Contains(errOut, c.want) || strings.Contains(errOut, "building the coverage server") {
			t.Errorf("--out %s: exit %d, stdout %q, stderr %q; want 2, no JSON and %q before any build", c.out, code, out, errOut, c.want)
		}
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("--out %s: the usage error took %v", c.out, took)
		}
	}
}

// TestCorpusReadProgress: reading a corpus (import, export, stats, and
// before measuring) says how far it has come, with the time elapsed, once
// it has taken longer than the interval, and says nothing for a quick one.
func TestCorpusReadProgress(t *testing.T) {
	var quick strings.Builder
	p := readProgress(&quick, "export", "files", time.Hour)
	for i := range 4 {
		p(i, 3)
	}
	if quick.Len() != 0 {
		t.Errorf("quick walk printed %q", quick.String())
	}
	var slow strings.Builder
	p = readProgress(&slow, "export", "files", time.Nanosecond)
	for i := range 4 {
		time.Sleep(time.Millisecond)
		p(i, 3)
	}
	want := regexp.MustCompile(`^(qgafuzz corpus export: read [1-3] of 3 files, 0s elapsed\n){3}$`)
	if !want.MatchString(slow.String()) || !strings.HasSuffix(slow.String(), "read 3 of 3 files, 0s elapsed\n") {
		t.Errorf("slow walk printed %q", slow.String())
	}
	// import and export count from the start of the command: a quick
	// walk after a long one (what the output holds) is a long run.
	var since strings.Builder
	p = readProgressSince(&since, "import", "files", time.Hour, time.Now().Add(-2*time.Hour))
	for i := range 4 {
		p(i, 3)
	}
	if got, want := since.String(), "qgafuzz corpus import: read 0 of 3 files, 2h0m0s elapsed\nqgafuzz corpus import: read 3 of 3 files, 2h0m0s elapsed\n"; got != want {
		t.Errorf("walk after a long one printed %q, want %q", got, want)
	}
}
