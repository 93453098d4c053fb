package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// shellWords splits a printed command line as sh does.
func shellWords(t *testing.T, line string) []string {
	t.Helper()
	out, err := exec.Command("sh", "-c", "set -- "+line+`; printf '%s\0' "$@"`).Output()
	if err != nil {
		t.Fatalf("sh cannot parse %q: %v", line, err)
	}
	return strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
}

// TestSimReplayLineQuoted: the "replay:" commands sim prints for --trace
// and --schedule paste as they are, whatever the path holds.
func TestSimReplayLineQuoted(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a dir")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	trace, sched := filepath.Join(dir, "it's a trace.jsonl"), filepath.Join(dir, "$(x) s.json")
	code, out, errs := runSimCommand("--seed", "1", "--client", "plain", "--trace", trace, "--schedule", sched)
	if code != exitFinding {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	for _, file := range []string{trace, sched} {
		var line string
		for _, l := range strings.Split(out, "\n") {
			if strings.Contains(l, "written to "+file+"; replay: ") {
				_, line, _ = strings.Cut(l, "; replay: ")
			}
		}
		if line == "" {
			t.Fatalf("no replay line for %s in:\n%s", file, out)
		}
		args := shellWords(t, line)
		if want := []string{"qgafuzz", "sim", "--replay", file}; !slices.Equal(args, want) {
			t.Fatalf("replay line %q is %q to sh, want %q", line, args, want)
		}
		if code, out, _ := runSimCommand(args[2:]...); code != exitFinding || !strings.Contains(out, "the replay's trace is the recorded one") {
			t.Errorf("%s: exit %d\n%s", line, code, out)
		}
	}
}

// TestSimReplayLineRelativePath: files given by relative paths print
// replay commands that work from another directory, and replay the same
// failure to the same trace.
func TestSimReplayLineRelativePath(t *testing.T) {
	t.Chdir(t.TempDir())
	code, out, errs := runSimCommand("--seed", "1", "--client", "plain", "--trace", "t.jsonl", "--schedule", "s.json")
	if code != exitFinding {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if _, line, ok := strings.Cut(l, "; replay: "); ok {
			lines = append(lines, line)
		}
	}
	if len(lines) != 2 {
		t.Fatalf("want two replay lines in:\n%s", out)
	}
	_, violation, _ := strings.Cut(out, "    then ")
	violation, _, _ = strings.Cut(violation, "\n")
	t.Chdir(t.TempDir())
	for _, line := range lines {
		args := shellWords(t, line)
		if code, out, errs := runCmdline(args[1:]...); code != exitFinding ||
			!strings.Contains(out, "the replay's trace is the recorded one") || !strings.Contains(out, "violation: "+violation) {
			t.Errorf("%s (from another directory): exit %d\n%s%s", line, code, out, errs)
		}
	}
}

// TestNightlySelfCommandQuoted: the command prefix of repro.txt is one
// word to sh (or go -C ROOT run ...), whatever the path holds.
func TestNightlySelfCommandQuoted(t *testing.T) {
	root := "/tmp/my src's/qgafuzz"
	want := []string{"go", "-C", root, "run", "./cmd/qgafuzz"}
	if exe, err := os.Executable(); err == nil && !strings.Contains(exe, string(filepath.Separator)+"go-build") {
		want = []string{exe}
	}
	if got := shellWords(t, selfCommand(root)); !slices.Equal(got, want) {
		t.Errorf("selfCommand(%q) = %q, which sh reads as %q; want %q", root, selfCommand(root), got, want)
	}
}

// TestFuzzReplayLineRelativeAgent: a finding against --agent unix:REL
// prints a replay line that works from another directory.
func TestFuzzReplayLineRelativeAgent(t *testing.T) {
	sock, _ := startAgentCommand(t, "--plant-bug", "split-utf8")
	t.Chdir(filepath.Dir(sock))
	out := t.TempDir()
	code, stdout, stderr := runCmdline("fuzz", "--target", "differential", "--agent", "unix:"+filepath.Base(sock),
		"--time", "60s", "--max-findings", "1", "--seed", "1", "--out", out)
	if code != exitFinding {
		t.Fatalf("exit %d, want %d\n%s\n%s", code, exitFinding, stdout, stderr)
	}
	line, args := reproArgs(t, stdout)
	t.Chdir(t.TempDir())
	if code, stdout, stderr := runCmdline(args...); code != exitFinding || !strings.Contains(stdout, "FAIL: the replies differ") {
		t.Errorf("%s (from another directory): exit %d, want %d\n%s\n%s", line, code, exitFinding, stdout, stderr)
	}
}

// TestFuzzDifferentialSeedIndependentOfCwd: the same --seed gives the same
// streams, so the same first finding, wherever qgafuzz runs.
func TestFuzzDifferentialSeedIndependentOfCwd(t *testing.T) {
	sock, _ := startAgentCommand(t, "--plant-bug", "split-utf8")
	first := func() (string, string) {
		out := t.TempDir()
		code, stdout, stderr := runCmdline("fuzz", "--target", "differential", "--agent", "unix:"+sock,
			"--time", "60s", "--max-findings", "1", "--seed", "7", "--out", out)
		if code != exitFinding {
			t.Fatalf("exit %d, want %d\n%s\n%s", code, exitFinding, stdout, stderr)
		}
		crasher, _ := storedReport(t, out)
		head, _, _ := strings.Cut(stdout, "\n")
		return filepath.Base(crasher), head
	}
	inTree, headTree := first() // the test runs in cmd/qgafuzz, inside the source tree
	t.Chdir(t.TempDir())
	elsewhere, headElsewhere := first()
	if inTree != elsewhere || headTree != headElsewhere {
		t.Errorf("--seed 7: first finding %s in the tree, %s elsewhere\n%s\n%s", inTree, elsewhere, headTree, headElsewhere)
	}
}
