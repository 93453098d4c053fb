// Package scripts_test runs the engine scripts (libfuzzer.sh, gofuzz.sh,
// oss-fuzz-build.sh, nightly.sh) as a user or a CI job would, in a copy of
// the tree with stub tools (go, clang, go-fuzz-build, go-fuzz,
// compile_go_fuzzer) that record what the scripts ask of them, so that
// their argument handling is checked in seconds and without clang.
package scripts_test

import (
	"archive/zip"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// tree copies the scripts and the seed corpora into a new directory with
// a space in its name, and returns it.
func tree(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	dir := filepath.Join(t.TempDir(), "src tree")
	if err := os.CopyFS(filepath.Join(dir, "corpus"), os.DirFS("../corpus")); err != nil {
		t.Fatal(err)
	}
	scripts, _ := filepath.Glob("*.sh")
	if len(scripts) == 0 {
		t.Fatal("no scripts next to the test")
	}
	if err := os.MkdirAll(filepath.Join(dir, "scripts"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, s := range scripts {
		b, err := os.ReadFile(s)
		if err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(dir, "scripts", s), string(b))
	}
	return dir
}

// write writes an executable file, creating its directory.
func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o755); err != nil {
		t.Fatal(err)
	}
}

// Stubs. Each records its arguments, one per line, where $ARGS_DIR says.
const (
	stubGo = `#!/bin/sh
case "$1" in
  list) echo v0.0.0-stub ;;
  version) echo "go version stub" ;;
  build) # go build -o out/qgafuzz ./cmd/qgafuzz: a qgafuzz that fails as on a usage error,
    # or, with $STUB_QGAFUZZ_SUMMARY, writes that summary.md in --out and exits 0
    [ -n "$STUB_GO_BUILD_FAIL" ] && { echo "stub go: build failed" >&2; exit 1; }
    cat > "$3" <<'EOF'
#!/bin/sh
for a in "$@"; do printf '%s\n' "$a"; done > "$ARGS_DIR/qgafuzz"
if [ -n "$STUB_QGAFUZZ_SUMMARY" ]; then
  while [ $# -gt 0 ]; do case $1 in --out) out=$2; shift ;; esac; shift; done
  printf '%s\n' "$STUB_QGAFUZZ_SUMMARY" > "$out/summary.md"
  exit 0
fi
echo 'invalid value "bogus" for flag -budget' >&2
exit 2
EOF
    chmod +x "$3" ;;
  *) echo "stub go: $*" >&2; exit 1 ;;
esac
`
	// stubLinker is clang (or go-fuzz-build): it writes -o, a fuzzer that
	// records its arguments.
	stubLinker = `#!/bin/sh
while [ $# -gt 0 ]; do case $1 in -o) out=$2; shift ;; esac; shift; done
cat > "$out" <<'EOF'
#!/bin/sh
for a in "$@"; do printf '%s\n' "$a"; done > "$ARGS_DIR/fuzzer"
EOF
chmod +x "$out"
`
	stubGoFuzz = `#!/bin/sh
for a in "$@"; do printf '%s\n' "$a"; done > "$ARGS_DIR/go-fuzz"
while [ $# -gt 0 ]; do case $1 in -workdir) mkdir -p "$2/crashers"; shift ;; esac; shift; done
`
	stubCompileGoFuzzer = `#!/bin/sh
echo "stub compile_go_fuzzer $*"
: > "$OUT/$3"
`
)

type sandbox struct {
	root   string // the copied source tree
	caller string // another directory, where the scripts are started
	args   string // where the stubs record their arguments
	env    []string
}

func newSandbox(t *testing.T) *sandbox {
	root := tree(t)
	s := &sandbox{root: root, caller: filepath.Join(t.TempDir(), "caller dir"), args: t.TempDir()}
	bin := filepath.Join(t.TempDir(), "bin")
	write(t, filepath.Join(bin, "go"), stubGo)
	write(t, filepath.Join(bin, "clang"), stubLinker)
	write(t, filepath.Join(bin, "compile_go_fuzzer"), stubCompileGoFuzzer)
	// go-fuzz tools already installed at the pinned version.
	write(t, filepath.Join(root, "out", "bin", "go-fuzz-build"), stubLinker)
	write(t, filepath.Join(root, "out", "bin", "go-fuzz"), stubGoFuzz)
	write(t, filepath.Join(root, "out", "bin", ".go-fuzz-version"), "v0.0.0-stub go version stub\n")
	if err := os.MkdirAll(s.caller, 0o755); err != nil {
		t.Fatal(err)
	}
	s.env = []string{"PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH"), "ARGS_DIR=" + s.args,
		"HOME=" + os.Getenv("HOME")}
	return s
}

// run starts a script of the tree from the caller directory.
func (s *sandbox) run(t *testing.T, env []string, script string, args ...string) (code int, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(s.root, "scripts", script), args...)
	cmd.Dir = s.caller
	cmd.Env = append(slices.Clone(s.env), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%s %v: still running after 30s\n%s", script, args, errb.String())
	}
	code = cmd.ProcessState.ExitCode()
	if err != nil && code < 0 {
		t.Fatalf("%s %v: %v", script, args, err)
	}
	return code, out.String() + errb.String()
}

// recorded returns the arguments a stub was last called with, or nil.
func (s *sandbox) recorded(name string) []string {
	b, err := os.ReadFile(filepath.Join(s.args, name))
	if err != nil {
		return nil
	}
	os.Remove(filepath.Join(s.args, name))
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

func hasArg(args []string, want string) bool { return slices.Contains(args, want) }

// libFuzzer reads -max_total_time=10m as 10 s and =abc as 0 (no limit):
// the script converts or refuses the duration before it builds.
func TestLibFuzzerDuration(t *testing.T) {
	s := newSandbox(t)
	for in, want := range map[string]string{"": "60", "90": "90", "2m": "120", "1h": "3600", "0": ""} {
		args := []string{"run", "parser"}
		if in != "" {
			args = append(args, in)
		}
		code, out := s.run(t, nil, "libfuzzer.sh", args...)
		got := s.recorded("fuzzer")
		if code != 0 || got == nil {
			t.Fatalf("run parser %q: exit %d, fuzzer args %q\n%s", in, code, got, out)
		}
		limit := ""
		for _, a := range got {
			if v, ok := strings.CutPrefix(a, "-max_total_time="); ok {
				limit = v
			}
		}
		if limit != want {
			t.Errorf("run parser %q: -max_total_time=%q, want %q (args %q)", in, limit, want, got)
		}
	}
	for _, bad := range []string{"abc", "-runs=100", "1.5m", "10 m"} {
		code, out := s.run(t, nil, "libfuzzer.sh", "run", "parser", bad)
		if got := s.recorded("fuzzer"); code != 2 || got != nil || !strings.Contains(out, "duration '"+bad+"'") {
			t.Errorf("run parser %q: exit %d, fuzzer args %q, want exit 2 before fuzzing\n%s", bad, code, got, out)
		}
	}
}

// Paths given to the scripts are the caller's, not the source tree's.
func TestLibFuzzerCallerPaths(t *testing.T) {
	s := newSandbox(t)
	for _, d := range []string{"more", "work corpus"} {
		if err := os.MkdirAll(filepath.Join(s.caller, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write(t, filepath.Join(s.caller, "crash-1"), "x")

	if code, out := s.run(t, nil, "libfuzzer.sh", "merge", "parser", "more"); code != 0 || !hasArg(s.recorded("fuzzer"), filepath.Join(s.caller, "more")) {
		t.Errorf("merge parser more: exit %d, want the caller's more/ merged\n%s", code, out)
	}
	if code, out := s.run(t, nil, "libfuzzer.sh", "merge", "parser", "nosuch"); code != 2 || !strings.Contains(out, filepath.Join(s.caller, "nosuch")+" is not a directory") {
		t.Errorf("merge parser nosuch: exit %d, want 2 naming the caller's nosuch\n%s", code, out)
	}
	crash := filepath.Join(s.caller, "crash-1")
	if code, out := s.run(t, nil, "libfuzzer.sh", "minimize", "parser", "crash-1"); code != 0 || !hasArg(s.recorded("fuzzer"), crash) {
		t.Errorf("minimize parser crash-1: exit %d, want the caller's crash-1\n%s", code, out)
	}
	code, out := s.run(t, []string{"LIBFUZZER_CORPUS=work corpus", "LIBFUZZER_CRASHES=found"}, "libfuzzer.sh", "run", "parser", "1")
	got := s.recorded("fuzzer")
	if code != 0 || !hasArg(got, filepath.Join(s.caller, "work corpus")) || !hasArg(got, "-artifact_prefix="+filepath.Join(s.caller, "found")+"/") {
		t.Errorf("run with relative LIBFUZZER_CORPUS and LIBFUZZER_CRASHES: exit %d, args %q\n%s", code, got, out)
	}
}

// An explicit CC is used or refused: never silently replaced by another
// clang (cgo would still use the CC from the environment).
func TestLibFuzzerCC(t *testing.T) {
	s := newSandbox(t)
	code, out := s.run(t, []string{"CC=/nonexistent/clang"}, "libfuzzer.sh", "build", "parser")
	if code != 3 || !strings.Contains(out, "CC=/nonexistent/clang: not found") || strings.Contains(out, " 3\n") {
		t.Errorf("CC=/nonexistent/clang: exit %d, want 3 naming CC (and no stray exit code in the message)\n%s", code, out)
	}
	gcc := filepath.Join(t.TempDir(), "gcc")
	write(t, gcc, "#!/bin/sh\necho \"gcc: error: unrecognized argument to '-fsanitize=' option: 'fuzzer'\" >&2\nexit 1\n")
	code, out = s.run(t, []string{"CC=" + gcc}, "libfuzzer.sh", "build", "parser")
	if code != 3 || !strings.Contains(out, "cannot link -fsanitize=fuzzer") {
		t.Errorf("CC=gcc: exit %d, want 3 saying it cannot link libFuzzer targets\n%s", code, out)
	}
	clang := filepath.Join(t.TempDir(), "my clang")
	write(t, clang, stubLinker)
	if code, out := s.run(t, []string{"CC=" + clang}, "libfuzzer.sh", "build", "parser"); code != 0 {
		t.Errorf("CC=%s: exit %d\n%s", clang, code, out)
	}
}

func TestGoFuzzScript(t *testing.T) {
	s := newSandbox(t)
	if code, out := s.run(t, nil, "gofuzz.sh"); code != 2 || !strings.Contains(out, "GOFUZZ_SEEDS") || !strings.Contains(out, "GOFUZZ_MINIMIZE") {
		t.Errorf("usage: exit %d, want 2 and every variable listed\n%s", code, out)
	}
	seeds := filepath.Join(s.caller, "extra seeds")
	write(t, filepath.Join(seeds, "my-seed"), "{}")
	code, out := s.run(t, []string{"GOFUZZ_WORKDIR=wd", "GOFUZZ_SEEDS=extra seeds", "GOFUZZ_PROCS=1"}, "gofuzz.sh", "run", "parser", "1s")
	got := s.recorded("go-fuzz")
	wd := filepath.Join(s.caller, "wd")
	if code != 0 || !hasArg(got, wd) {
		t.Fatalf("run with GOFUZZ_WORKDIR=wd: exit %d, go-fuzz args %q, want -workdir %s\n%s", code, got, wd, out)
	}
	if _, err := os.Stat(filepath.Join(wd, "corpus", "my-seed")); err != nil {
		t.Errorf("GOFUZZ_SEEDS=extra seeds was not copied into the work directory: %v\n%s", err, out)
	}
	code, out = s.run(t, []string{"GOFUZZ_SEEDS=nosuch"}, "gofuzz.sh", "run", "parser", "1s")
	if code != 2 || s.recorded("go-fuzz") != nil || !strings.Contains(out, "GOFUZZ_SEEDS=nosuch") {
		t.Errorf("GOFUZZ_SEEDS=nosuch: exit %d, want 2 before fuzzing\n%s", code, out)
	}
	if slices.Contains(got, "-minimize") {
		t.Errorf("without GOFUZZ_MINIMIZE: go-fuzz args %q, want go-fuzz's default", got)
	}
	code, out = s.run(t, []string{"GOFUZZ_MINIMIZE=3500ms"}, "gofuzz.sh", "run", "parser", "1s")
	if got := s.recorded("go-fuzz"); code != 0 || !slices.Contains(got, "-minimize") || !hasArg(got, "3500ms") {
		t.Errorf("GOFUZZ_MINIMIZE=3500ms: exit %d, go-fuzz args %q, want -minimize 3500ms\n%s", code, got, out)
	}
	code, out = s.run(t, []string{"GOFUZZ_MINIMIZE=soon"}, "gofuzz.sh", "run", "parser", "1s")
	if code != 2 || s.recorded("go-fuzz") != nil || !strings.Contains(out, "GOFUZZ_MINIMIZE='soon'") {
		t.Errorf("GOFUZZ_MINIMIZE=soon: exit %d, want 2 before fuzzing\n%s", code, out)
	}
}

func zipNames(t *testing.T, path string) []string {
	t.Helper()
	r, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var names []string
	for _, f := range r.File {
		names = append(names, f.Name)
	}
	return names
}

// The OSS-Fuzz build script in an emulated builder: a stub
// compile_go_fuzzer, $OUT reused from an earlier build, or relative.
func TestOSSFuzzBuild(t *testing.T) {
	if _, err := exec.LookPath("zip"); err != nil {
		t.Skip("no zip")
	}
	s := newSandbox(t)
	targets := []string{"agent", "delimiter", "differential", "parser", "scenario"}
	env := []string{"SANITIZER=address", "LIB_FUZZING_ENGINE=-fsanitize=fuzzer"}
	check := func(out string, log string) {
		t.Helper()
		for _, tg := range targets {
			for _, suffix := range []string{"", ".dict", "_seed_corpus.zip"} {
				if _, err := os.Stat(filepath.Join(out, "qgafuzz_"+tg+suffix)); err != nil {
					t.Errorf("%v\n%s", err, log)
				}
			}
			seeds, _ := os.ReadDir(filepath.Join(s.root, "corpus", tg))
			names := zipNames(t, filepath.Join(out, "qgafuzz_"+tg+"_seed_corpus.zip"))
			if slices.Contains(names, "removed-seed") {
				t.Errorf("%s: the seed corpus zip keeps a seed of an earlier build", tg)
			}
			if len(names) != len(seeds) {
				t.Errorf("%s: %d seeds in the zip, %d in corpus/%s", tg, len(names), len(seeds), tg)
			}
		}
	}

	// A seed corpus left in $OUT by an earlier build, with a seed that
	// has left corpus/parser/ since.
	out := filepath.Join(t.TempDir(), "out")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(out, "qgafuzz_parser_seed_corpus.zip"))
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	if _, err := zw.Create("removed-seed"); err != nil {
		t.Fatal(err)
	}
	zw.Close()
	f.Close()
	code, log := s.run(t, append(env, "OUT="+out), "oss-fuzz-build.sh")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, log)
	}
	check(out, log)

	// A relative $OUT is the caller's.
	if err := os.MkdirAll(filepath.Join(s.caller, "rel out"), 0o755); err != nil {
		t.Fatal(err)
	}
	code, log = s.run(t, append(env, "OUT=rel out"), "oss-fuzz-build.sh")
	if code != 0 {
		t.Fatalf("OUT=rel out: exit %d\n%s", code, log)
	}
	check(filepath.Join(s.caller, "rel out"), log)

	// Outside the builder it says so.
	if code, log := s.run(t, []string{"OUT="}, "oss-fuzz-build.sh"); code != 2 || !strings.Contains(log, "not running inside") {
		t.Errorf("without $OUT: exit %d\n%s", code, log)
	}
}

// The last night's reports are qgafuzz nightly's to remove, once it holds
// the lock on the output directory: a run that stops before (a usage
// error, another night running there) leaves them, and does not print
// the summary as its own. Only when qgafuzz does not build, and no night
// runs, does the script remove them, so that CI does not publish a green
// junit.xml.
func TestNightlyShStaleReports(t *testing.T) {
	s := newSandbox(t)
	out := filepath.Join(s.caller, "night out")
	reports := []string{"summary.md", "junit.xml", "report.json"}
	lastNight := func() {
		for _, f := range reports {
			write(t, filepath.Join(out, f), "last night: all fine\n")
		}
	}
	env := []string{"QGAFUZZ_OUT=night out", "QGAFUZZ_AGENT=builtin"}

	lastNight()
	code, log := s.run(t, append(env, "QGAFUZZ_BUDGET=bogus"), "nightly.sh")
	if code != 2 {
		t.Fatalf("exit %d, want 2\n%s", code, log)
	}
	if got := s.recorded("qgafuzz"); !hasArg(got, out) {
		t.Errorf("qgafuzz args %q, want --out %s (relative to the caller)", got, out)
	}
	for _, f := range reports {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("the script removed %s, which is qgafuzz nightly's to remove once it holds the lock: %v", f, err)
		}
	}
	if strings.Contains(log, "last night") {
		t.Errorf("printed the last night's summary as this run's:\n%s", log)
	}

	code, log = s.run(t, append(env, "STUB_QGAFUZZ_SUMMARY=tonight: all fine"), "nightly.sh")
	if code != 0 || !strings.Contains(log, "tonight: all fine") || s.recorded("qgafuzz") == nil {
		t.Errorf("a night that wrote its summary: exit %d, want 0 and the summary printed\n%s", code, log)
	}

	lastNight()
	code, log = s.run(t, append(env, "STUB_GO_BUILD_FAIL=1"), "nightly.sh")
	if code != 2 || !strings.Contains(log, "build failed") || s.recorded("qgafuzz") != nil {
		t.Errorf("build fails: exit %d, want 2 before running qgafuzz\n%s", code, log)
	}
	for _, f := range reports {
		if _, err := os.Stat(filepath.Join(out, f)); err == nil {
			t.Errorf("%s of the last night is still there after a build that failed", f)
		}
	}
	if strings.Contains(log, "last night") {
		t.Errorf("printed the last night's summary:\n%s", log)
	}
}

// The planted-bug fixture (fuzz/triage_planted.go) runs under both
// scripts when $QGAFUZZ_PLANT_CRASH=1 registers it, seeded like the native
// FuzzPlanted from corpus/parser; without the variable the scripts say
// what is missing.
func TestScriptsPlantedTarget(t *testing.T) {
	s := newSandbox(t)
	for _, script := range []string{"gofuzz.sh", "libfuzzer.sh"} {
		if code, out := s.run(t, nil, script, "run", "planted", "1"); code != 2 || !strings.Contains(out, "QGAFUZZ_PLANT_CRASH=1") {
			t.Errorf("%s run planted without QGAFUZZ_PLANT_CRASH: exit %d, want 2 naming the variable\n%s", script, code, out)
		}
	}
	plant := []string{"QGAFUZZ_PLANT_CRASH=1"}
	code, out := s.run(t, append(plant, "GOFUZZ_WORKDIR=wd"), "gofuzz.sh", "run", "planted", "1s")
	if got := s.recorded("go-fuzz"); code != 0 || !hasArg(got, "FuzzPlanted") {
		t.Errorf("gofuzz.sh run planted: exit %d, go-fuzz args %q, want -func FuzzPlanted\n%s", code, got, out)
	}
	if ents, _ := os.ReadDir(filepath.Join(s.caller, "wd", "corpus")); len(ents) == 0 {
		t.Errorf("gofuzz.sh run planted: no seeds copied from corpus/parser\n%s", out)
	}
	code, out = s.run(t, plant, "libfuzzer.sh", "run", "planted", "1")
	if got := s.recorded("fuzzer"); code != 0 || !hasArg(got, "corpus/parser") {
		t.Errorf("libfuzzer.sh run planted: exit %d, fuzzer args %q, want the seeds corpus/parser\n%s", code, got, out)
	}
}

// The scripts leave nothing in $TMPDIR: go-fuzz-build -libfuzzer leaves a
// C header there after every build (and go-fuzz-build its copy of GOROOT
// when interrupted), which the stub below mimics.
func TestScriptsLeaveNoTemporaryFiles(t *testing.T) {
	s := newSandbox(t)
	leaky := "#!/bin/sh\n: > \"${TMPDIR:-/tmp}/go-fuzz1990786824.h\"\n" + strings.TrimPrefix(stubLinker, "#!/bin/sh\n")
	write(t, filepath.Join(s.root, "out", "bin", "go-fuzz-build"), leaky)
	for _, script := range []string{"libfuzzer.sh", "gofuzz.sh"} {
		tmp := t.TempDir()
		code, out := s.run(t, []string{"TMPDIR=" + tmp}, script, "build", "parser")
		if code != 0 {
			t.Fatalf("%s build parser: exit %d\n%s", script, code, out)
		}
		if ents, _ := os.ReadDir(tmp); len(ents) > 0 {
			var names []string
			for _, e := range ents {
				names = append(names, e.Name())
			}
			t.Errorf("%s build parser left %q in $TMPDIR", script, names)
		}
	}
}
