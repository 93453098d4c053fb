package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qgafuzz/qgafuzz/fuzz"
	"github.com/qgafuzz/qgafuzz/qga/qgatest"
)

// runCmdline runs qgafuzz in process and returns its exit code and output.
func runCmdline(args ...string) (int, string, string) {
	out, errOut := &syncBuffer{}, &syncBuffer{}
	e := &env{stdin: strings.NewReader(""), stdout: out, stderr: errOut}
	code := run(e, args)
	return code, out.String(), errOut.String()
}

func TestFuzzList(t *testing.T) {
	code, out, _ := runCmdline("fuzz", "--list")
	if code != exitOK {
		t.Fatalf("exit %d", code)
	}
	for _, tg := range fuzz.Targets() {
		if !strings.Contains(out, tg.Name+" ") || !strings.Contains(out, tg.Doc) {
			t.Errorf("--list lacks %s: %s", tg.Name, out)
		}
	}
	if n := strings.Count(out, "\n"); n != len(fuzz.Targets()) {
		t.Errorf("--list has %d lines for %d targets", n, len(fuzz.Targets()))
	}
}

func TestFuzzUsage(t *testing.T) {
	for _, args := range [][]string{
		{"fuzz"},
		{"fuzz", "--target", "nope"},
		{"fuzz", "--target", "parser", "--engine", "afl"},
		{"fuzz", "--target", "parser", "--agent", "unix:/x"},
		{"fuzz", "--target", "differential", "--reference", "unix:/x"},
		{"fuzz", "--target", "differential", "--agent", "unix:/x", "--agent-cmd", "y {sock}"},
		{"fuzz", "--target", "differential", "--plant-bug", "nope"},
		{"fuzz", "--target", "differential", "--plant-bug", "split-utf8", "--agent", "unix:/x"},
	} {
		if code, _, _ := runCmdline(args...); code != exitUsage {
			t.Errorf("%q: exit %d, want %d", args, code, exitUsage)
		}
	}
	if code, out, _ := runCmdline("fuzz", "--help"); code != exitOK || !strings.Contains(out, "--agent-cmd") {
		t.Errorf("--help: exit %d, %s", code, out)
	}
}

// buildQgafuzz builds the command for tests that run it as an agent.
func buildQgafuzz(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "qgafuzz")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestFuzzAgentCmd: --agent-cmd runs a planted-bug agent, finds the
// divergence, reports it with the input in hex and both replies, and
// stores it atomically under --out.
func TestFuzzAgentCmd(t *testing.T) {
	bin := buildQgafuzz(t)
	out := t.TempDir()
	code, stdout, stderr := runCmdline("fuzz", "--target", "differential", "--time", "60s", "--max-findings", "1",
		"--agent-cmd", bin+" agent --plant-bug split-utf8 --listen unix:{sock}", "--out", out)
	if code != exitFinding {
		t.Fatalf("exit %d, want %d\n%s\n%s", code, exitFinding, stdout, stderr)
	}
	for _, want := range []string{"FINDING", "input writes (hex", "reference replies", "agent replies"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	crashers, err := fuzz.CrashStore{Dir: out}.List()
	if err != nil || len(crashers) != 1 {
		t.Fatalf("crashers %v, %v", crashers, err)
	}
	if _, err := os.Stat(crashers[0] + ".txt"); err != nil {
		t.Error(err)
	}
	// The stored input replays the divergence in the differential target.
	data, _ := os.ReadFile(crashers[0])
	if len(fuzz.Chunks(data).Ops) == 0 {
		t.Error("stored input is empty")
	}
}

// TestFuzzAgentDies: an agent command that dies is a finding, and the
// driver restarts it.
func TestFuzzAgentDies(t *testing.T) {
	bin := buildQgafuzz(t)
	code, stdout, stderr := runCmdline("fuzz", "--target", "differential", "--time", "30s", "--max-findings", "2",
		"--agent-cmd", "timeout 1 "+bin+" agent --listen unix:{sock}", "--out", t.TempDir())
	if code != exitFinding || strings.Count(stdout, "the agent process died") < 2 {
		t.Fatalf("exit %d, want %d and two deaths\n%s\n%s", code, exitFinding, stdout, stderr)
	}
}

// TestFuzzNativeEngine: the native engine driver stores a crasher found by
// go test -fuzz (here a seed failing against a planted bug) under --out.
func TestFuzzNativeEngine(t *testing.T) {
	out := t.TempDir()
	code, stdout, stderr := runCmdline("fuzz", "--target", "differential", "--plant-bug", "dropped-newline",
		"--time", "5s", "--corpus", t.TempDir(), "--out", out)
	if code != exitFinding {
		t.Fatalf("exit %d, want %d\n%s\n%s", code, exitFinding, stdout, stderr)
	}
	crashers, err := fuzz.CrashStore{Dir: out}.List()
	if err != nil || len(crashers) == 0 {
		t.Fatalf("no crasher stored (%v):\n%s", err, stdout)
	}
	report, _ := os.ReadFile(crashers[0] + ".txt")
	if !strings.Contains(string(report), "replies-match") {
		t.Errorf("report lacks the violated property:\n%s", report)
	}
	// The engine ran in a scratch tree: the crasher never touched the
	// source tree, where it would fail every later go test of ./fuzz.
	root, err := fuzz.ModuleRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	if ents, err := os.ReadDir(filepath.Join(root, "fuzz", "testdata", "fuzz", "FuzzDifferential")); err == nil && len(ents) > 0 {
		t.Errorf("the engine left %d files in fuzz/testdata/fuzz/FuzzDifferential", len(ents))
	}
}

// TestFuzzQemuGA: a live qemu-ga shows no divergence from the built-in
// reference, and as the reference (--reference) it exposes a planted bug.
func TestFuzzQemuGA(t *testing.T) {
	ga := qgatest.StartQemuGA(t)
	code, stdout, stderr := runCmdline("fuzz", "--target", "differential", "--agent", "unix:"+ga.Socket,
		"--time", "5s", "--out", t.TempDir())
	if code != exitOK || !strings.Contains(stdout, "divergences 0") {
		t.Fatalf("qemu-ga vs the reference: exit %d\n%s\n%s", code, stdout, stderr)
	}
	bin := buildQgafuzz(t)
	code, stdout, stderr = runCmdline("fuzz", "--target", "differential", "--reference", "unix:"+ga.Socket,
		"--agent-cmd", bin+" agent --plant-bug no-delimiter-large-id --listen unix:{sock}",
		"--time", "60s", "--max-findings", "1", "--out", t.TempDir())
	if code != exitFinding {
		t.Fatalf("planted bug vs qemu-ga: exit %d, want %d\n%s\n%s", code, exitFinding, stdout, stderr)
	}
	if !ga.Alive() {
		t.Errorf("qemu-ga died during the runs: %s", ga.LogTail(5))
	}
}
