//go:build unix

package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/qgafuzz/qgafuzz/fuzz"
)

// hangingNativeEngine stands in for the native engine binary (it takes
// its flags): it writes a crasher, says it minimizes it, and then hangs,
// ignoring SIGINT, as an engine minimizing a crasher that takes minutes
// to run would. Its pid (its process group) goes to $HANG_PIDFILE.
const hangingNativeEngine = `#!/bin/sh
for a; do
	case $a in
	-test.fuzz=*) fn=${a#-test.fuzz=^}; fn=${fn%\$} ;;
	esac
done
echo $$ > "$HANG_PIDFILE"
mkdir -p "testdata/fuzz/$fn"
echo "fuzz: elapsed: 0s, execs: 10 (10/sec), new interesting: 0 (total: 1)"
printf 'go test fuzz v1\n[]byte("hung while minimizing")\n' > "testdata/fuzz/$fn/crash1"
echo "fuzz: minimizing 21-byte failing input file"
trap '' INT
sleep 60
`

// fakeNativeEngine puts a "go" first on $PATH whose build of the native
// engine (go test -c -o BIN) copies script there: the engine the test
// runs, which takes the engine's flags and works in its directory.
func fakeNativeEngine(t *testing.T, script string) {
	t.Helper()
	bin := t.TempDir()
	engine := filepath.Join(bin, "engine")
	if err := os.WriteFile(engine, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	goScript := "#!/bin/sh\nwhile [ $# -gt 0 ]; do if [ \"$1\" = -o ]; then cp \"$FAKE_ENGINE\" \"$2\"; fi; shift; done\n"
	if err := os.WriteFile(filepath.Join(bin, "go"), []byte(goScript), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv("FAKE_ENGINE", engine)
}

// TestFuzzNativeEngineHardStop: a native engine that overruns --time (here
// hung, ignoring SIGINT) is stopped a grace period past it and killed as
// long later; the crasher it wrote is stored, and the run says it was
// stopped (text and --json). qgafuzz fuzz used to wait for it forever.
func TestFuzzNativeEngineHardStop(t *testing.T) {
	defer func(g time.Duration) { engineGrace = g }(engineGrace)
	engineGrace = time.Second
	fakeNativeEngine(t, hangingNativeEngine)
	pidfile := filepath.Join(t.TempDir(), "pid")
	t.Setenv("HANG_PIDFILE", pidfile)
	t.Cleanup(func() {
		if b, err := os.ReadFile(pidfile); err == nil {
			var pid int
			if fmt.Sscan(string(b), &pid); pid > 1 {
				syscall.Kill(-pid, syscall.SIGKILL)
			}
		}
	})
	tg, _ := fuzz.Lookup("parser")
	out, errOut := &syncBuffer{}, &syncBuffer{}
	f := fuzzFlags{engine: "native", time: time.Second, corpus: t.TempDir(), out: t.TempDir()}
	j := new(fuzzJSON)
	done := make(chan int, 1)
	start := time.Now()
	go func() { done <- runEngine(context.Background(), &env{stdout: out, stderr: errOut}, f, tg, j) }()
	var code int
	select {
	case code = <-done:
	case <-time.After(20 * time.Second):
		t.Fatalf("--time 1s: still running after 20s\n%s\n%s", out, errOut)
	}
	// 1s of fuzzing, interrupted 1s later, killed 1s after that.
	if took := time.Since(start); took > 8*time.Second {
		t.Errorf("--time 1s took %v", took)
	}
	crashers, err := fuzz.CrashStore{Dir: f.out}.List()
	if code != exitFinding || err != nil || len(crashers) != 1 {
		t.Fatalf("exit %d (want %d), crashers %v (%v)\n%s\n%s", code, exitFinding, crashers, err, out, errOut)
	}
	if !j.HardStopped || !strings.Contains(errOut.String(), "the engine was still running 1s past --time 1s") {
		t.Errorf("hard_stopped %v; stderr:\n%s", j.HardStopped, errOut)
	}
}
