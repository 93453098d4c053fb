//go:build unix

package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/qgafuzz/qgafuzz/fuzz"
)

// TestNightlyInterrupt interrupts a night with SIGINT, as Ctrl-C does: the
// engine stops, the planted crash found before is still triaged and
// stored, and the reports are written.
func TestNightlyInterrupt(t *testing.T) {
	out := t.TempDir()
	cmd := exec.Command(qgafuzzBin(t), "nightly", "--budget", "5m", "--out", out, "--targets", "planted,parser", "--progress", "1s")
	cmd.Dir = filepath.Join("..", "..")
	cmd.Env = append(os.Environ(), fuzz.PlantCrashEnv+"=1")
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	// Its own process group, interrupted as a whole, as Ctrl-C on a
	// terminal interrupts every process of the foreground job.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(buf.String(), "parser       0:0") && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 {
			t.Fatalf("exit: %v, want 1 (the planted crash)\n%s", err, buf.String())
		}
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("still running 60s after SIGINT:\n%s", buf.String())
	}
	r := readReport(t, out)
	// The simulation, not run, is in the report as skipped: a CI
	// system sees the same parts every night.
	if !r.Interrupted || len(r.Targets) != 3 || r.NewCrashes != 1 || len(crashDirs(t, out)) != 1 {
		t.Fatalf("report: %+v\n%s", r, buf.String())
	}
	if sk := r.Targets[2]; sk.Name != "sim" || !strings.Contains(sk.Skipped, "interrupted") || r.Targets[1].Skipped != "" {
		t.Fatalf("targets after the interruption: %+v, want parser run and sim skipped", r.Targets)
	}
}
