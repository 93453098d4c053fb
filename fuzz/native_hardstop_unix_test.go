//go:build unix

package fuzz

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// hangingEngine is a stand-in for the engine binary (it takes its flags):
// it adds an input to its cache, writes a crasher, and then hangs,
// ignoring SIGINT, as an engine minimizing a crasher that takes minutes
// to run would. It writes its pid (its process group) to $HANG_PIDFILE
// and the crasher's content is $HANG_CRASH.
const hangingEngine = `#!/bin/sh
for a; do
	case $a in
	-test.fuzzcachedir=*) cache=${a#*=} ;;
	-test.fuzz=*) fn=${a#-test.fuzz=^}; fn=${fn%\$} ;;
	esac
done
echo $$ > "$HANG_PIDFILE"
mkdir -p "$cache/$fn" "testdata/fuzz/$fn"
printf 'go test fuzz v1\n[]byte("found by the engine")\n' > "$cache/$fn/found"
echo "fuzz: elapsed: 0s, execs: 10 (10/sec), new interesting: 1 (total: 1)"
printf 'go test fuzz v1\n[]byte("%s")\n' "$HANG_CRASH" > "testdata/fuzz/$fn/crash1"
echo "fuzz: minimizing 300-byte failing input file"
trap '' INT
sleep 60
`

// startHangingEngine writes hangingEngine to bin and sets its environment;
// the test kills what is left of it when it ends.
func startHangingEngine(t *testing.T, bin, crash string) {
	t.Helper()
	if err := os.WriteFile(bin, []byte(hangingEngine), 0o755); err != nil {
		t.Fatal(err)
	}
	pidfile := filepath.Join(t.TempDir(), "pid")
	t.Setenv("HANG_PIDFILE", pidfile)
	t.Setenv("HANG_CRASH", crash)
	t.Cleanup(func() {
		if b, err := os.ReadFile(pidfile); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 1 {
				syscall.Kill(-pid, syscall.SIGKILL)
			}
		}
	})
}

// TestNativeHardStop: an engine that hangs past its time (ignoring
// SIGINT) is stopped Grace past it and killed Grace later, and what it
// wrote (the crasher, the cache) is still collected.
func TestNativeHardStop(t *testing.T) {
	work := t.TempDir()
	e := &NativeEngine{bin: filepath.Join(work, "fuzz.test"), tree: filepath.Join(work, "tree"), work: work}
	os.MkdirAll(filepath.Join(e.tree, "fuzz"), 0o755)
	startHangingEngine(t, e.bin, "boom")
	cache := filepath.Join(work, "cache")
	const grace = 500 * time.Millisecond
	start := time.Now()
	got := make(chan NativeRun, 1)
	go func() {
		got <- e.Run(context.Background(), Target{Name: "parser"}, NativeOptions{Time: time.Second, Grace: grace, CacheDir: cache})
	}()
	var r NativeRun
	select {
	case r = <-got:
	case <-time.After(15 * time.Second):
		t.Fatal("the engine still runs 14s past its time of 1s")
	}
	took := time.Since(start)
	if took > time.Second+2*grace+time.Second {
		t.Errorf("the run took %v with a time of 1s and a grace of %v", took, grace)
	}
	if !r.HardStopped || r.Err == nil || r.DeadlineRace {
		t.Errorf("hard stopped %v, err %v, deadline race %v", r.HardStopped, r.Err, r.DeadlineRace)
	}
	if len(r.Crashers) != 1 || string(r.Crashers[0].Data) != "boom" || r.Status.Execs != 10 {
		t.Errorf("crashers %+v, status %+v", r.Crashers, r.Status)
	}
	if b, err := ReadNativeInput(filepath.Join(cache, "FuzzParser", "found")); err != nil || string(b) != "found by the engine" {
		t.Errorf("the engine's cache: %q, %v", b, err)
	}
	if !strings.Contains(r.Output, "minimizing") {
		t.Errorf("output %q", r.Output)
	}
	t.Logf("stopped after %v: %v", took, r.Err)
}
