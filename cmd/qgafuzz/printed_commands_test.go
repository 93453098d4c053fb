package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/qgafuzz/qgafuzz/sim"
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
		if want := append(shellWords(t, self()), "sim", "--replay", file); !slices.Equal(args, want) {
			t.Fatalf("replay line %q is %q to sh, want %q", line, args, want)
		}
		if code, out, _ := runSimCommand(args[len(args)-2:]...); code != exitFinding || !strings.Contains(out, "the replay's trace is the recorded one") {
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
	var argss [][]string
	for _, line := range lines {
		_, args := reproArgs(t, "reproduce with: "+line)
		argss = append(argss, args)
	}
	t.Chdir(t.TempDir())
	for i, line := range lines {
		if code, out, errs := runCmdline(argss[i]...); code != exitFinding ||
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

// TestPrintedCommandsRunAsPrinted: the reproduce and replay lines that an
// installed qgafuzz prints (sim's, fuzz's differential findings', in its
// output and in the stored report) start with its own path, as nightly's
// repro.txt does, so that they run as printed where qgafuzz is not on
// PATH (here: a directory with a space and a quote in its name).
func TestPrintedCommandsRunAsPrinted(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	bin := filepath.Join(t.TempDir(), "my bin's", "qgafuzz")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	elsewhere := t.TempDir()
	env := append(os.Environ(), "PATH=/usr/bin:/bin")
	runBin := func(args ...string) (int, string) {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Dir, cmd.Env = elsewhere, env
		b, _ := cmd.CombinedOutput()
		return cmd.ProcessState.ExitCode(), string(b)
	}
	runLine := func(line string) (int, string) {
		t.Helper()
		cmd := exec.Command("sh", "-c", line)
		cmd.Dir, cmd.Env = t.TempDir(), env
		b, _ := cmd.CombinedOutput()
		return cmd.ProcessState.ExitCode(), string(b)
	}
	check := func(what, line string) {
		t.Helper()
		if args := shellWords(t, line); len(args) < 2 || args[0] != bin {
			t.Errorf("%s %q does not start with the path of the qgafuzz that printed it, %s", what, line, bin)
			return
		}
		if code, out := runLine(line); code != exitFinding {
			t.Errorf("%s %q: exit %d, want %d\n%s", what, line, code, exitFinding, out)
		}
	}

	sched := filepath.Join(t.TempDir(), "s.json")
	code, out := runBin("sim", "--seed", "1", "--client", "plain", "--schedule", sched)
	if code != exitFinding {
		t.Fatalf("sim: exit %d\n%s", code, out)
	}
	for _, marker := range []string{"  reproduce: ", "; replay: "} {
		_, line, ok := strings.Cut(out, marker)
		if !ok {
			t.Fatalf("sim: no %q line in:\n%s", marker, out)
		}
		line, _, _ = strings.Cut(line, "\n")
		check("sim's"+strings.TrimRight(marker, " "), line)
	}

	crashers := t.TempDir()
	code, out = runBin("fuzz", "--target", "differential", "--time", "60s", "--max-findings", "1", "--seed", "1",
		"--agent-cmd", sim.ShellQuote(bin)+" agent --plant-bug split-utf8 --listen unix:{sock}", "--out", crashers)
	if code != exitFinding {
		t.Fatalf("fuzz: exit %d\n%s", code, out)
	}
	_, line, ok := strings.Cut(out, "reproduce with: ")
	if !ok {
		t.Fatalf("fuzz: no reproduce line in:\n%s", out)
	}
	line, _, _ = strings.Cut(line, "\n")
	check("fuzz's reproduce line", line)
	if _, report := storedReport(t, crashers); !strings.Contains(report, "reproduce with: "+line+"\n") {
		t.Errorf("the stored report does not have the printed reproduce line %q:\n%s", line, report)
	}
}

// TestAbsCommand: the program of a printed --agent-cmd is made absolute
// when it is a relative path, and nothing else of the command changes.
func TestAbsCommand(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	abs := func(p string) string { return sim.ShellQuote(filepath.Join(wd, p)) }
	for _, c := range []struct{ in, want string }{
		{"./qemu-ga -m unix-listen -p {sock}", abs("qemu-ga") + " -m unix-listen -p {sock}"},
		{"  bin/agent --listen unix:{sock}", "  " + abs("bin/agent") + " --listen unix:{sock}"},
		{"'my dir/agent' x {sock}", abs("my dir/agent") + " x {sock}"},
		{`"b"in/a"gent"; true {sock}`, abs("bin/agent") + "; true {sock}"},
		{"FOO=1 BAR='a b' ./agent {sock}", "FOO=1 BAR='a b' " + abs("agent") + " {sock}"},
		{"/usr/bin/qemu-ga -p {sock}", "/usr/bin/qemu-ga -p {sock}"},
		{"qemu-ga -c ./conf -p {sock}", "qemu-ga -c ./conf -p {sock}"},
		{"~/bin/agent {sock}", "~/bin/agent {sock}"},
		{"$HOME/agent {sock}", "$HOME/agent {sock}"},
		{`"$D"/agent {sock}`, `"$D"/agent {sock}`},
		{`a\ b/agent {sock}`, `a\ b/agent {sock}`},
		{"'open/agent {sock}", "'open/agent {sock}"},
		{"./x*/agent {sock}", "./x*/agent {sock}"},
		{"", ""},
	} {
		if got := absCommand(c.in); got != c.want {
			t.Errorf("absCommand(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestFuzzReplayLineRelativeAgentCmd: a finding against an --agent-cmd
// whose program is a relative path prints a replay line that works from
// another directory (as under go -C ROOT run, which runs in ROOT).
func TestFuzzReplayLineRelativeAgentCmd(t *testing.T) {
	bin := buildQgafuzz(t)
	t.Chdir(filepath.Dir(bin))
	agentCmd := "./" + filepath.Base(bin) + " agent --plant-bug split-utf8 --listen unix:{sock}"
	code, stdout, stderr := runCmdline("fuzz", "--target", "differential", "--time", "60s", "--max-findings", "1",
		"--seed", "1", "--agent-cmd", agentCmd, "--out", t.TempDir())
	if code != exitFinding {
		t.Fatalf("exit %d, want %d\n%s\n%s", code, exitFinding, stdout, stderr)
	}
	line, args := reproArgs(t, stdout)
	if want := sim.ShellQuote(bin) + " agent --plant-bug split-utf8 --listen unix:{sock}"; !slices.Contains(args, want) {
		t.Errorf("reproduce line %q lacks --agent-cmd %q", line, want)
	}
	t.Chdir(t.TempDir())
	if code, stdout, stderr := runCmdline(args...); code != exitFinding || !strings.Contains(stdout, "FAIL: the replies differ") {
		t.Errorf("%s (from another directory): exit %d, want %d\n%s\n%s", line, code, exitFinding, stdout, stderr)
	}
}
