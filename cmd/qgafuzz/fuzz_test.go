package main

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/qgafuzz/qgafuzz/corpus"
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
		{"fuzz", "--target", "differential", "--agent", "tcp:localhost", "--time", "1s"},
		{"fuzz", "--target", "differential", "--agent", "unix:/x", "--reference", "bogus", "--time", "1s"},
	} {
		if code, _, _ := runCmdline(args...); code != exitUsage {
			t.Errorf("%q: exit %d, want %d", args, code, exitUsage)
		}
	}
	if code, out, _ := runCmdline("fuzz", "--help"); code != exitOK || !strings.Contains(out, "--agent-cmd") {
		t.Errorf("--help: exit %d, %s", code, out)
	}
	// The message names what is wrong, not only what is wanted.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"fuzz"}, "give --target"},
		{[]string{"fuzz", "--target", "nope"}, `unknown --target "nope"`},
		{[]string{"fuzz", "parser"}, `unexpected argument "parser"`},
	} {
		if code, _, stderr := runCmdline(c.args...); code != exitUsage || !strings.Contains(stderr, c.want) {
			t.Errorf("%q: exit %d, want %d and %q in:\n%s", c.args, code, exitUsage, c.want, stderr)
		}
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

// TestFuzzInterruptedWhileBuilding: Ctrl-C while the native engine builds
// ends the run as Ctrl-C while fuzzing does (exit 0: nothing found), not
// as an engine that cannot run (exit 3).
func TestFuzzInterruptedWhileBuilding(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	tg, _ := fuzz.Lookup("parser")
	out, errOut := &syncBuffer{}, &syncBuffer{}
	f := fuzzFlags{engine: "native", time: time.Minute, corpus: t.TempDir(), out: t.TempDir()}
	if code := runEngine(ctx, &env{stdout: out, stderr: errOut}, f, tg, new(fuzzJSON)); code != exitOK {
		t.Fatalf("exit %d, want %d\n%s\n%s", code, exitOK, out, errOut)
	}
}

// TestFuzzInterruptedWhileAgentStarts: Ctrl-C while an --agent-cmd agent
// starts ends the run at once with its summary and exit 0 (an interrupted
// run, nothing found); it waited out the 10 s startup check and exited 3.
func TestFuzzInterruptedWhileAgentStarts(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("agent commands need sh")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	time.AfterFunc(200*time.Millisecond, cancel)
	out, errOut := &syncBuffer{}, &syncBuffer{}
	// An agent that never listens.
	f := fuzzFlags{agentCmd: "sleep 30 # {sock}", time: time.Minute, hang: defaultHang, out: t.TempDir()}
	start := time.Now()
	code := runDiffer(ctx, &env{stdout: out, stderr: errOut}, f, new(fuzzJSON))
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("the run ended %v after the start, want within a second of the interrupt at 200ms", took.Round(time.Second/10))
	}
	if code != exitOK || !strings.Contains(out.String(), "qgafuzz fuzz: done: differential:") {
		t.Errorf("exit %d, want %d with the summary\n%s\n%s", code, exitOK, out, errOut)
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

// reproArgs finds the first "reproduce with: ..." line of out and
// returns the command's arguments after the command that runs qgafuzz
// (self's, from the working directory), unquoted as sh would.
func reproArgs(t *testing.T, out string) (line string, args []string) {
	t.Helper()
	_, rest, ok := strings.Cut(out, "reproduce with: ")
	if !ok {
		t.Fatalf("no reproduce line in:\n%s", out)
	}
	line, _, _ = strings.Cut(rest, "\n")
	args = shellWords(t, line)
	prefix := shellWords(t, self())
	if len(args) < len(prefix) || !slices.Equal(args[:len(prefix)], prefix) {
		t.Fatalf("reproduce line %q does not run this qgafuzz (%s)", line, self())
	}
	return line, args[len(prefix):]
}

// storedReport returns the report of the only crasher in dir.
func storedReport(t *testing.T, dir string) (crasher, report string) {
	t.Helper()
	crashers, err := fuzz.CrashStore{Dir: dir}.List()
	if err != nil || len(crashers) != 1 {
		t.Fatalf("crashers %v, %v", crashers, err)
	}
	b, err := os.ReadFile(crashers[0] + ".txt")
	if err != nil {
		t.Fatal(err)
	}
	return crashers[0], string(b)
}

// TestFuzzEngineReproLine: a crasher of a planted-bug engine run comes
// with a printed and stored command that names the target and the planted
// bug, and running that command really fails (exit 1). Run as a separate
// process, as a user runs it.
func TestFuzzEngineReproLine(t *testing.T) {
	bin := buildQgafuzz(t)
	out := t.TempDir()
	code, stdout, stderr := runCmdline("fuzz", "--target", "differential", "--plant-bug", "split-utf8",
		"--time", "5s", "--corpus", t.TempDir(), "--out", out)
	if code != exitFinding {
		t.Fatalf("exit %d, want %d\n%s\n%s", code, exitFinding, stdout, stderr)
	}
	crasher, report := storedReport(t, out)
	line, args := reproArgs(t, stdout)
	if want := self() + " repro --target differential --agent bug:split-utf8 " + crasher; line != want {
		t.Errorf("reproduce line %q, want %q", line, want)
	}
	if storedLine, _ := reproArgs(t, report); storedLine != line {
		t.Errorf("the report's reproduce line %q differs from the printed %q", storedLine, line)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = t.TempDir() // nothing but the command line tells repro the target and the bug
	b, err := cmd.CombinedOutput()
	if cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != exitFinding || !strings.Contains(string(b), "repro: FAIL") {
		t.Errorf("%s: %v, want exit %d and FAIL\n%s", line, err, exitFinding, b)
	}
	// With no flags at all, repro takes the target and the planted bug
	// from the report beside the crasher: it must not call it fixed.
	cmd = exec.Command(bin, "repro", crasher)
	cmd.Dir = t.TempDir()
	b, err = cmd.CombinedOutput()
	if cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != exitFinding || !strings.Contains(string(b), "planted bug split-utf8") {
		t.Errorf("repro %s: %v, want exit %d naming the planted bug\n%s", crasher, err, exitFinding, b)
	}
}

// TestFuzzAgentReplayLine: a finding against --agent ADDR prints and
// stores a command (fuzz --replay) that replays it against the same agent
// and fails, and that passes against an agent without the bug.
func TestFuzzAgentReplayLine(t *testing.T) {
	buggy, _ := startAgentCommand(t, "--plant-bug", "split-utf8")
	out := t.TempDir()
	code, stdout, stderr := runCmdline("fuzz", "--target", "differential", "--agent", "unix:"+buggy,
		"--time", "60s", "--max-findings", "1", "--seed", "1", "--hang", "3s", "--out", out)
	if code != exitFinding {
		t.Fatalf("exit %d, want %d\n%s\n%s", code, exitFinding, stdout, stderr)
	}
	crasher, report := storedReport(t, out)
	line, args := reproArgs(t, stdout)
	want := self() + " fuzz --target differential --agent unix:" + buggy + " --hang 3s --replay " + crasher
	if line != want {
		t.Errorf("reproduce line %q, want %q", line, want)
	}
	if storedLine, _ := reproArgs(t, report); storedLine != line {
		t.Errorf("the report's reproduce line %q differs from the printed %q", storedLine, line)
	}
	if code, stdout, stderr := runCmdline(args...); code != exitFinding || !strings.Contains(stdout, "FAIL: the replies differ") {
		t.Errorf("%s: exit %d, want %d\n%s\n%s", line, code, exitFinding, stdout, stderr)
	}
	// A bare repro must not replay it in process (where it passes) but
	// point at the replay line.
	if code, _, stderr := runCmdline("repro", crasher); code != exitUsage || !strings.Contains(stderr, line) {
		t.Errorf("repro %s: exit %d, want %d pointing at %q\n%s", crasher, code, exitUsage, line, stderr)
	}
	fixed, _ := startAgentCommand(t)
	code, stdout, stderr = runCmdline("fuzz", "--target", "differential", "--agent", "unix:"+fixed, "--replay", crasher)
	if code != exitOK || !strings.Contains(stdout, "PASS") {
		t.Errorf("replay against the reference agent: exit %d, want %d\n%s\n%s", code, exitOK, stdout, stderr)
	}
}

// TestFuzzAgentCmdReplayLine: the same for --agent-cmd, whose command is
// quoted in the reproduce line.
func TestFuzzAgentCmdReplayLine(t *testing.T) {
	bin := buildQgafuzz(t)
	agentCmd := bin + " agent --plant-bug split-utf8 --listen unix:{sock}"
	code, stdout, stderr := runCmdline("fuzz", "--target", "differential", "--time", "60s", "--max-findings", "1",
		"--agent-cmd", agentCmd, "--out", t.TempDir())
	if code != exitFinding {
		t.Fatalf("exit %d, want %d\n%s\n%s", code, exitFinding, stdout, stderr)
	}
	line, args := reproArgs(t, stdout)
	if !slices.Contains(args, agentCmd) || !slices.Contains(args, "--replay") {
		t.Fatalf("reproduce line %q lacks --agent-cmd %q or --replay", line, agentCmd)
	}
	if code, stdout, stderr := runCmdline(args...); code != exitFinding || !strings.Contains(stdout, "FAIL: the replies differ") {
		t.Errorf("%s: exit %d, want %d\n%s\n%s", line, code, exitFinding, stdout, stderr)
	}
}

// TestFuzzUnreachableAgent: an agent that cannot be reached is a transport
// error (exit 3), and nothing is stored as a crasher.
func TestFuzzUnreachableAgent(t *testing.T) {
	out := t.TempDir()
	code, stdout, stderr := runCmdline("fuzz", "--target", "differential", "--agent", "unix:"+filepath.Join(t.TempDir(), "nope.sock"),
		"--time", "5s", "--seed", "1", "--out", out)
	if code != exitTransport || !strings.Contains(stderr, "cannot reach the agent") {
		t.Errorf("exit %d, want %d and \"cannot reach the agent\"\n%s\n%s", code, exitTransport, stdout, stderr)
	}
	if strings.Contains(stdout, "FINDING") {
		t.Errorf("an unreachable agent is reported as a finding:\n%s", stdout)
	}
	// A run that never started has no summary: "done: ... streams 0"
	// would read as a clean run.
	if strings.Contains(stdout+stderr, "done:") {
		t.Errorf("a run that never reached the agent prints a done summary:\n%s\n%s", stdout, stderr)
	}
	if crashers, err := (fuzz.CrashStore{Dir: out}).List(); err != nil || len(crashers) > 0 {
		t.Errorf("crashers stored for an unreachable agent: %v, %v", crashers, err)
	}
	code, _, stderr = runCmdline("fuzz", "--target", "differential", "--agent", "unix:"+filepath.Join(t.TempDir(), "nope.sock"),
		"--replay", filepath.Join("..", "..", "corpus", "differential", firstSeed(t)))
	if code != exitTransport {
		t.Errorf("--replay to an unreachable agent: exit %d, want %d\n%s", code, exitTransport, stderr)
	}
}

// TestFuzzReplayInterrupt: Ctrl-C ends a --replay against an agent that
// never answers at once, not after its --hang (and the resets' hangs).
func TestFuzzReplayInterrupt(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command")
	}
	bin := buildQgafuzz(t)
	dir, err := os.MkdirTemp("", "qgaf") // t.TempDir may be too long for a socket path
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "mute.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() { // accepts, then neither reads nor answers
		var held []net.Conn
		for {
			c, err := l.Accept()
			if err != nil {
				for _, c := range held {
					c.Close()
				}
				return
			}
			held = append(held, c)
		}
	}()
	cmd := exec.Command(bin, "fuzz", "--target", "differential", "--agent", "unix:"+sock, "--hang", "1m",
		"--replay", filepath.Join("..", "..", "corpus", "differential", firstSeed(t)))
	var stdout syncBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(stdout.String(), "replay"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("the replay does not start:\n%s", stdout.String())
		}
	}
	time.Sleep(100 * time.Millisecond) // waiting for the mute agent
	cmd.Process.Signal(os.Interrupt)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("still replaying 10s after SIGINT:\n%s", stdout.String())
	}
}

// firstSeed names a file of corpus/differential.
func firstSeed(t *testing.T) string {
	t.Helper()
	names, _, err := fuzz.ReadCorpus(filepath.Join("..", "..", "corpus", "differential"))
	if err != nil || len(names) == 0 {
		t.Fatalf("corpus/differential: %v", err)
	}
	return names[0]
}

// TestFuzzFlagsOfOtherModes: a flag that the chosen mode would ignore is
// a usage error naming the flag, as is a value out of range. The agent
// addresses lead nowhere, so that a run that starts fails at once.
func TestFuzzFlagsOfOtherModes(t *testing.T) {
	nowhere := "unix:" + filepath.Join(t.TempDir(), "nope.sock")
	for _, c := range []struct {
		args []string
		flag string
	}{
		{[]string{"--target", "parser", "--time", "1s", "--seed", "5"}, "--seed"},
		{[]string{"--target", "parser", "--time", "1s", "--max-findings", "1"}, "--max-findings"},
		{[]string{"--target", "parser", "--time", "1s", "--hang", "1s"}, "--hang"},
		{[]string{"--target", "differential", "--agent", nowhere, "--engine", "libfuzzer"}, "--engine"},
		{[]string{"--target", "differential", "--agent", nowhere, "--jobs", "8"}, "--jobs"},
		{[]string{"--target", "differential", "--agent", nowhere, "-v"}, "-v"},
		{[]string{"--target", "differential", "--agent", nowhere, "--replay", "x", "--time", "1s"}, "--time"},
		{[]string{"--target", "differential", "--agent", nowhere, "--replay", "x", "--out", "x"}, "--out"},
		{[]string{"--target", "differential", "--replay", "x"}, "--replay"},
		{[]string{"--target", "parser", "--replay", "x"}, "--replay"},
		{[]string{"--target", "differential", "--agent", nowhere, "--time", "-5s"}, "--time -5s"},
		{[]string{"--target", "differential", "--agent", nowhere, "--hang", "0s"}, "--hang 0s"},
		{[]string{"--target", "differential", "--agent", nowhere, "--max-findings", "-1"}, "--max-findings -1"},
		{[]string{"--target", "parser", "--time", "1s", "--jobs", "-1"}, "--jobs -1"},
	} {
		code, _, stderr := runCmdline(append([]string{"fuzz"}, c.args...)...)
		if code != exitUsage || !strings.Contains(stderr, c.flag) {
			t.Errorf("%q: exit %d, want %d and a message naming %s\n%s", c.args, code, exitUsage, c.flag, stderr)
		}
	}
}

// TestFuzzHarvestsEngineFinds: what native fuzzing keeps in its cache and
// go-fuzz in its workdir comes back into --corpus as raw files, where the
// corpus tools read it; go-fuzz's copies of the checked-in seeds do not.
func TestFuzzHarvestsEngineFinds(t *testing.T) {
	root, err := fuzz.ModuleRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	tg, _ := fuzz.Lookup("parser")
	_, seeds, err := fuzz.ReadCorpus(fuzz.CorpusDir(root, "parser"))
	if err != nil || len(seeds) == 0 {
		t.Fatalf("seeds: %d, %v", len(seeds), err)
	}
	for _, c := range []struct {
		engine, dir string
		encode      func([]byte) []byte
	}{
		{"native", filepath.Join(".native-cache", "FuzzParser"), corpus.EncodeNative},
		{"gofuzz", filepath.Join(".gofuzz", "corpus"), func(b []byte) []byte { return b }},
	} {
		work := t.TempDir()
		src := filepath.Join(work, c.dir)
		if err := os.MkdirAll(src, 0o755); err != nil {
			t.Fatal(err)
		}
		found := []byte("{\"execute\":\"guest-ping\",'x':\xff")
		for name, in := range map[string][]byte{"found": found, "seed": seeds[0]} {
			if err := os.WriteFile(filepath.Join(src, name), c.encode(in), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		var out, errb strings.Builder
		harvestEngineCorpus(&env{stdout: &out, stderr: &errb}, c.engine, fuzz.EngineOptions{Root: root, Target: tg, Corpus: work})
		es, _, err := corpus.ReadDirsAs(corpus.Raw, work)
		if err != nil || len(es) != 1 || string(es[0].Data) != string(found) || !strings.Contains(out.String(), "1 new inputs") {
			t.Errorf("%s: corpus holds %d inputs (%v), output %q %q; want the one find", c.engine, len(es), err, out.String(), errb.String())
		}
	}
}

// TestFuzzHarvestPlantedSkipsParserSeeds: the planted fixture starts
// from the parser's seeds (scripts/gofuzz.sh copies them into go-fuzz's
// workdir): they are not copied back into --corpus as the engine's finds.
func TestFuzzHarvestPlantedSkipsParserSeeds(t *testing.T) {
	root, err := fuzz.ModuleRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	_, seeds, err := fuzz.ReadCorpus(fuzz.CorpusDir(root, "parser"))
	if err != nil || len(seeds) == 0 {
		t.Fatalf("seeds: %d, %v", len(seeds), err)
	}
	work := t.TempDir()
	src := filepath.Join(work, ".gofuzz", "corpus")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	found := []byte("{\"execute\":\"guest-ping\"}\xff\xff")
	for name, in := range map[string][]byte{"found": found, "seed": seeds[0]} {
		if err := os.WriteFile(filepath.Join(src, name), in, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var out, errb strings.Builder
	tg := fuzz.Target{Name: fuzz.PlantedTarget} // registered only with the variable set
	harvestEngineCorpus(&env{stdout: &out, stderr: &errb}, "gofuzz", fuzz.EngineOptions{Root: root, Target: tg, Corpus: work})
	_, inputs, err := fuzz.ReadCorpus(work)
	if err != nil || len(inputs) != 1 || string(inputs[0]) != string(found) || !strings.Contains(out.String(), "1 new inputs") {
		t.Errorf("corpus holds %d inputs (%v), output %q %q; want the one find", len(inputs), err, out.String(), errb.String())
	}
}

// TestProgressPrinterThrottles: libFuzzer's line per new input becomes a
// line every 2 s of engine time, and a crash is always shown at once.
func TestProgressPrinterThrottles(t *testing.T) {
	var out strings.Builder
	p := progressPrinter(&out, "parser", 2*time.Second)
	for ms := 0; ms <= 5000; ms += 100 { // 51 reports over 5 s
		pr := fuzz.Progress{Engine: "libfuzzer", Elapsed: time.Duration(ms) * time.Millisecond, Execs: int64(ms)}
		if ms >= 2500 {
			pr.Crashes = 1
		}
		p(pr)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	// At 0 s, 2 s, 2.5 s (the crash), 4.5 s.
	if len(lines) != 4 || !strings.Contains(lines[2], "crashes 1") || !strings.Contains(lines[0], "qgafuzz fuzz: parser/libfuzzer") {
		t.Errorf("printed:\n%s", out.String())
	}
}

// TestFuzzPlantedReproLine: the planted target exists only with
// $QGAFUZZ_PLANT_CRASH=1, so the reproduce line of its crasher must set the
// variable: pasted into a shell without it, from another directory, it
// still fails (exit 1).
func TestFuzzPlantedReproLine(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the native engine")
	}
	bin := buildQgafuzz(t)
	out := t.TempDir()
	cmd := exec.Command(bin, "fuzz", "--target", fuzz.PlantedTarget, "--time", "20s", "--corpus", t.TempDir(), "--out", out)
	cmd.Env = append(withoutEnv(os.Environ(), fuzz.PlantCrashEnv), fuzz.PlantCrashEnv+"=1")
	b, _ := cmd.CombinedOutput()
	if code := cmd.ProcessState.ExitCode(); code != exitFinding {
		t.Fatalf("exit %d, want %d\n%s", code, exitFinding, b)
	}
	_, line, ok := strings.Cut(string(b), "reproduce with: ")
	if !ok {
		t.Fatalf("no reproduce line in:\n%s", b)
	}
	line, _, _ = strings.Cut(line, "\n")
	// The line names the binary as qgafuzz: put the built one on $PATH.
	sh := exec.Command("sh", "-c", line)
	sh.Dir = t.TempDir()
	sh.Env = append(withoutEnv(os.Environ(), fuzz.PlantCrashEnv, "PATH"), "PATH="+filepath.Dir(bin)+string(os.PathListSeparator)+os.Getenv("PATH"))
	b, err := sh.CombinedOutput()
	if sh.ProcessState == nil || sh.ProcessState.ExitCode() != exitFinding || !strings.Contains(string(b), "repro: FAIL") {
		t.Errorf("%s: %v, want exit %d and FAIL\n%s", line, err, exitFinding, b)
	}
}

// withoutEnv returns env without the variables named.
func withoutEnv(env []string, names ...string) []string {
	var out []string
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(names, name) {
			out = append(out, kv)
		}
	}
	return out
}

// An engine that stopped before its first status line gets a summary that
// says so, not "elapsed 0s, execs 0"; one with counts shows them.
func TestFuzzDoneLine(t *testing.T) {
	got := doneLine("planted", "native", fuzz.Progress{Engine: "native"}, 2340*time.Millisecond)
	if want := "qgafuzz fuzz: done: planted/native: stopped after 2.3s (build included), before its first status line"; got != want {
		t.Errorf("no status: %q, want %q", got, want)
	}
	got = doneLine("parser", "native", fuzz.Progress{Engine: "native", Elapsed: 10 * time.Second, Execs: 5000, ExecsPerSec: 500}, 12*time.Second)
	if !strings.HasPrefix(got, "qgafuzz fuzz: done: parser/native: elapsed 10s, execs 5000 (500/s)") {
		t.Errorf("with status: %q", got)
	}
}

// A differential run's elapsed time is rounded as finely as the rate
// beside it needs: a 0.55 s run of 40 streams printed "elapsed 1s, streams
// 40 (73/s)". An --agent-cmd run also gives its agent's restarts.
func TestFuzzDiffText(t *testing.T) {
	for _, c := range []struct {
		elapsed time.Duration
		want    string
	}{
		{550 * time.Millisecond, "elapsed 550ms, streams 40 (73/s)"},
		{1234 * time.Millisecond, "elapsed 1.2s, streams 40 (32/s)"},
		{12345 * time.Millisecond, "elapsed 12s, streams 40 (3/s)"},
		{0, "elapsed 0s, streams 40 (0/s)"},
	} {
		got := diffText(fuzz.DiffStats{Elapsed: c.elapsed, Streams: 40, AgentRestarts: 3}, false)
		if !strings.HasPrefix(got, c.want+",") || strings.Contains(got, "restarts") {
			t.Errorf("%v: %q, want it to start %q and give no restarts", c.elapsed, got, c.want)
		}
	}
	got := diffText(fuzz.DiffStats{Elapsed: time.Second, Streams: 4, Divergences: 3, AgentRestarts: 3}, true)
	if !strings.HasSuffix(got, ", divergences 3, agent deaths 0, agent hangs 0, agent restarts 3") {
		t.Errorf("with --agent-cmd: %q", got)
	}
}
