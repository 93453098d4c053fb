//go:build unix

package nightly

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/qgafuzz/qgafuzz/corpus"
	"github.com/qgafuzz/qgafuzz/fuzz"
)

// slowServer is a fake coverage server (a shell script speaking the
// server's protocol) that answers every input after delay: inputs of 298
// bytes or more (a request line of 420 characters or more) fail the same
// way, smaller ones pass. Nothing can be cut from a 300-byte crasher, so
// its minimization tries about a thousand candidates, each delay long.
func slowServer(t *testing.T, delay time.Duration) *corpus.Server {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "server")
	script := fmt.Sprintf("#!/bin/sh\nwhile read -r line; do sleep %.3f; if [ ${#line} -ge 420 ]; then echo '{\"s\":1,\"fail\":\"fake/slow\",\"report\":\"fake: slow crash\",\"ns\":1}'; else echo '{\"s\":1,\"ns\":1}'; fi; done\n", delay.Seconds())
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return &corpus.Server{Bin: bin}
}

// deadlineNight is a night whose budget ends in left, with a slow server.
func deadlineNight(t *testing.T, left time.Duration, delay time.Duration) *night {
	out := t.TempDir()
	now := time.Now()
	n := &night{o: Options{Out: out, Corpus: filepath.Join(out, "corpus"), Root: t.TempDir(), Repro: "qgafuzz"},
		rep: &Report{Start: now, Budget: Duration(left)}, board: newBoard(io.Discard, false, left),
		store: crashStore{dir: filepath.Join(out, "crashers")}, deadln: now.Add(left), reserve: 5 * time.Second,
		server: slowServer(t, delay)}
	t.Cleanup(n.server.Close)
	return n
}

// TestTriageHonoursTheBudget: triage that would take minutes (crashers
// whose every replay is slow, and whose minimization always finds a
// smaller failing candidate) stops at the night's deadline; the crash is
// still stored, with its repro line, unminimized, and the report says that
// triage was cut short.
func TestTriageHonoursTheBudget(t *testing.T) {
	n := deadlineNight(t, 3*time.Second, 100*time.Millisecond)
	var crashers [][]byte
	for i := range 40 {
		crashers = append(crashers, bytes.Repeat([]byte{byte('a' + i%26)}, 300+i))
	}
	tg := fuzz.Target{Name: "parser"}
	start := time.Now()
	sigs := n.triage(context.Background(), tg, crashers)
	took := time.Since(start)
	if took > 3*time.Second+2*time.Second {
		t.Errorf("triage took %v with 3s of budget left", took)
	}
	if len(sigs) != 1 || len(n.rep.Crashes) != 1 {
		t.Fatalf("signatures %q, crashes %+v", sigs, n.rep.Crashes)
	}
	c := n.rep.Crashes[0]
	if !c.New || c.Signature != "fake/slow" || c.Repro == "" {
		t.Fatalf("crash %+v", c)
	}
	for _, f := range []string{FileMinimized, FileOriginal, FileFailure, FileSignature, FileRepro} {
		if _, err := os.Stat(filepath.Join(c.Dir, f)); err != nil {
			t.Errorf("stored crash: %v", err)
		}
	}
	if repro, _ := os.ReadFile(filepath.Join(c.Dir, FileRepro)); strings.TrimSpace(string(repro)) != c.Repro {
		t.Errorf("repro.txt %q, want %q", repro, c.Repro)
	}
	if !hasNote(n.rep.Notes, "triage stopped at the budget: 1 crashes not minimized") {
		t.Errorf("no note of the cut-short triage: %q", n.rep.Notes)
	}
	if f, _ := os.ReadFile(filepath.Join(c.Dir, FileFailure)); !bytes.Contains(f, []byte("minimization stopped at the budget")) {
		t.Errorf("failure.txt does not say the minimization was cut short:\n%s", f)
	}
	// The crashers triage had no time to replay are kept, and the night
	// reports them (as an error: their crash is unknown), with a repro.
	untriaged, _ := filepath.Glob(filepath.Join(n.o.Out, "untriaged", "parser", "*"))
	if c.Hits+len(untriaged) != len(crashers) {
		t.Errorf("%d crashers replayed and %d kept untriaged, want %d in all", c.Hits, len(untriaged), len(crashers))
	}
	if len(untriaged) > 0 && (len(n.rep.Errors) != 1 || !strings.Contains(n.rep.Errors[0], fmt.Sprintf("triage stopped at the budget: %d crashers not triaged", len(untriaged))) ||
		!strings.Contains(n.rep.Errors[0], "qgafuzz repro --target parser "+filepath.Join(n.o.Out, "untriaged", "parser"))) {
		t.Errorf("errors %q", n.rep.Errors)
	}
	for _, p := range untriaged {
		if strings.Contains(filepath.Base(p), ".tmp-") {
			t.Errorf("a temporary file is left: %s", p)
		}
	}
	t.Logf("triage took %v; %d replayed, %d untriaged; notes %q", took, c.Hits, len(untriaged), n.rep.Notes)

	// The next night, with time, triages them first, and removes them.
	next := deadlineNight(t, 20*time.Second, 0)
	next.o.Out, next.store = n.o.Out, n.store
	us := next.untriaged("parser")
	if len(us) != len(untriaged) {
		t.Fatalf("the next night reads %d untriaged crashers, want %d", len(us), len(untriaged))
	}
	var inputs [][]byte
	for _, u := range us {
		inputs = append(inputs, u.data)
	}
	next.triage(context.Background(), tg, inputs)
	next.dropUntriaged(us)
	left, _ := filepath.Glob(filepath.Join(n.o.Out, "untriaged", "parser", "*"))
	if len(left) != 0 || len(next.rep.Errors) != 0 || len(next.rep.Crashes) != 1 || !next.rep.Crashes[0].KnownBefore || next.rep.Crashes[0].Hits != len(us) {
		t.Errorf("next night: %d files left, errors %q, crashes %+v", len(left), next.rep.Errors, next.rep.Crashes)
	}
}

// TestUntriagedStayWhenStoringFails: the untriaged crashers of an earlier
// night are removed once triaged, but not when a crash could not be
// stored (here the crash store is a file): they would be lost with it.
func TestUntriagedStayWhenStoringFails(t *testing.T) {
	n := deadlineNight(t, 20*time.Second, 0)
	n.o.MinimizeBudget = 5
	crasher := bytes.Repeat([]byte{'u'}, 300)
	n.keepUntriaged("parser", [][]byte{crasher}, "test", false)
	n.rep.Errors, n.keptUntriaged = nil, nil // as kept by an earlier night
	us := n.untriaged("parser")
	if len(us) != 1 {
		t.Fatalf("%d untriaged crashers, want 1", len(us))
	}
	if err := os.WriteFile(n.store.dir, []byte("not a directory"), 0o644); err != nil {
		t.Fatal(err)
	}
	n.triageAll(context.Background(), fuzz.Target{Name: "parser"}, [][]byte{us[0].data}, us)
	if n.storeFailures != 1 {
		t.Fatalf("%d store failures (errors %q), want 1", n.storeFailures, n.rep.Errors)
	}
	if _, err := os.Stat(us[0].path); err != nil {
		t.Errorf("the untriaged crasher is gone though its crash was not stored: %v", err)
	}
	// Once the store works again, the next triage stores it and removes it.
	os.Remove(n.store.dir)
	n.triageAll(context.Background(), fuzz.Target{Name: "parser"}, [][]byte{us[0].data}, us)
	if _, err := os.Stat(us[0].path); !os.IsNotExist(err) || len(n.rep.Crashes) != 1 {
		t.Errorf("after a stored crash: stat %v, crashes %+v", err, n.rep.Crashes)
	}
}

// TestTriageAfterInterruptKeepsWithoutError: after Ctrl-C the crashers
// triage had no time for are kept as well, but as a note: an interrupted
// night exits 0 unless it found a new crash.
func TestTriageAfterInterruptKeepsWithoutError(t *testing.T) {
	n := deadlineNight(t, 3*time.Second, 100*time.Millisecond)
	var crashers [][]byte
	for i := range 40 {
		crashers = append(crashers, bytes.Repeat([]byte{byte('a' + i%26)}, 300+i))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	n.triage(ctx, fuzz.Target{Name: "parser"}, crashers)
	untriaged, _ := filepath.Glob(filepath.Join(n.o.Out, "untriaged", "parser", "*"))
	if len(untriaged) == 0 {
		t.Fatalf("nothing kept untriaged: triage replayed all %d slow crashers in 2s?", len(crashers))
	}
	if len(n.rep.Errors) != 0 {
		t.Errorf("errors %q, want none after an interruption", n.rep.Errors)
	}
	if !hasNote(n.rep.Notes, fmt.Sprintf("triage stopped after the interruption: %d crashers not triaged", len(untriaged))) {
		t.Errorf("notes %q", n.rep.Notes)
	}
}

// TestCtrlCDuringTriageShortensIt: Ctrl-C while triage runs leaves it
// triageAfterInterrupt from then, not the rest of its minute; what it did
// not reach is kept, as a note.
func TestCtrlCDuringTriageShortensIt(t *testing.T) {
	defer func(d time.Duration) { triageAfterInterrupt = d }(triageAfterInterrupt)
	triageAfterInterrupt = 500 * time.Millisecond
	n := deadlineNight(t, time.Hour, 100*time.Millisecond)
	var crashers [][]byte
	for i := range 40 {
		crashers = append(crashers, bytes.Repeat([]byte{byte('a' + i%26)}, 300+i))
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	start := time.Now()
	n.triage(ctx, fuzz.Target{Name: "parser"}, crashers)
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("triage took %v after a Ctrl-C at 300ms, want about 800ms", took)
	}
	untriaged, _ := filepath.Glob(filepath.Join(n.o.Out, "untriaged", "parser", "*"))
	if len(untriaged) == 0 || len(n.rep.Errors) != 0 || !hasNote(n.rep.Notes, "triage stopped after the interruption") {
		t.Errorf("%d kept untriaged, errors %q, notes %q", len(untriaged), n.rep.Errors, n.rep.Notes)
	}
}

// TestStoredCrashersHonourTheBudget: the replays of the crashes stored by
// earlier nights stop at the triage deadline, and the report says how many
// were not checked.
func TestStoredCrashersHonourTheBudget(t *testing.T) {
	n := deadlineNight(t, 0, 200*time.Millisecond) // past the budget: minTriage
	for i := range 30 {
		dir := filepath.Join(n.store.dir, "parser", fmt.Sprintf("sig-%02d", i))
		os.MkdirAll(dir, 0o755)
		if err := os.WriteFile(filepath.Join(dir, FileMinimized), bytes.Repeat([]byte{'x'}, 300), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	inputs, unreadable := n.storedCrashers(context.Background(), fuzz.Target{Name: "parser"})
	if took := time.Since(start); took > minTriage+2*time.Second {
		t.Errorf("replaying the stored crashes took %v", took)
	}
	if len(inputs) == 0 || len(inputs) == 30 || len(unreadable) != 0 {
		t.Fatalf("%d inputs, unreadable %q", len(inputs), unreadable)
	}
	if !hasNote(n.rep.Notes, fmt.Sprintf("%d crashes stored by earlier nights not replayed tonight", 30-len(inputs))) {
		t.Errorf("notes %q", n.rep.Notes)
	}
}

// TestFuzzAllStopsAtTheBudget: once the budget is used up (by the triage
// of the parts before), the parts left are not run for their minimum
// share each, which would overrun it, and the report names them: in a
// note, and as skipped targets in report.json and junit.xml, where a CI
// system would otherwise not see them at all.
func TestFuzzAllStopsAtTheBudget(t *testing.T) {
	n := deadlineNight(t, time.Second, 0)
	n.o.Targets = []string{"parser", "delimiter"}
	n.o.Agent = "qemu-ga"
	start := time.Now()
	n.fuzzAll(context.Background())
	if took := time.Since(start); took > time.Second {
		t.Errorf("fuzzAll took %v past the budget", took)
	}
	if !hasNote(n.rep.Notes, "not run tonight, the budget was used up by the parts before (their minimum shares, their triage): parser, delimiter, qemu-ga, sim") {
		t.Errorf("notes %q", n.rep.Notes)
	}
	var got []string
	for _, tr := range n.rep.Targets {
		got = append(got, tr.Kind+"/"+tr.Name)
		if !strings.Contains(tr.Skipped, "the budget was used up") || tr.Execs != 0 || tr.Error != "" {
			t.Errorf("%s/%s: skipped %q, execs %d, error %q", tr.Kind, tr.Name, tr.Skipped, tr.Execs, tr.Error)
		}
	}
	if want := "fuzz/parser fuzz/delimiter qemu-ga/qemu-ga sim/sim"; strings.Join(got, " ") != want {
		t.Fatalf("targets %q, want %q", got, want)
	}
	rep := n.finish(context.Background())
	if rep.ExitCode != 0 {
		t.Errorf("exit %d, problems %q", rep.ExitCode, rep.Problems())
	}
	x, err := os.ReadFile(filepath.Join(n.o.Out, "junit.xml"))
	if err != nil {
		t.Fatal(err)
	}
	ValidateJUnit(t, x, 4, 0, 0, 4)
	if !bytes.Contains(x, []byte(`<skipped message="not run tonight, the budget was used up`)) {
		t.Errorf("junit.xml:\n%s", x)
	}
}

// hangingEngine stands in for the engine binary (it takes its flags): it
// adds an input to its cache, writes a 300-byte crasher (which slowServer
// fails), and then hangs, ignoring SIGINT, as an engine minimizing a
// crasher that takes minutes to run would. Its pid (its process group)
// goes to $HANG_PIDFILE.
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
printf 'go test fuzz v1\n[]byte("%0300d")\n' 0 > "testdata/fuzz/$fn/crash1"
echo "fuzz: minimizing 300-byte failing input file"
trap '' INT
sleep 60
`

// TestEngineHardStop: an engine that hangs past its share (ignoring
// SIGINT) is stopped a grace period past it, killed as long later, and
// what it wrote is kept: its crasher is triaged and stored, with its repro
// line, and the input it added to its cache reaches the corpus. The report
// notes the stop and does not call it an engine failure.
func TestEngineHardStop(t *testing.T) {
	defer func(g time.Duration) { engineGrace = g }(engineGrace)
	engineGrace = time.Second
	n := deadlineNight(t, 6*time.Second, 0)
	// A "go" that "builds" the hanging engine: BuildNative sets up its
	// scratch tree around it as around the real one.
	bin := t.TempDir()
	engine := filepath.Join(bin, "engine")
	pidfile := filepath.Join(t.TempDir(), "pid")
	if err := os.WriteFile(engine, []byte(hangingEngine), 0o755); err != nil {
		t.Fatal(err)
	}
	goScript := "#!/bin/sh\nwhile [ $# -gt 0 ]; do if [ \"$1\" = -o ]; then cp \"$HANG_ENGINE\" \"$2\"; fi; shift; done\n"
	if err := os.WriteFile(filepath.Join(bin, "go"), []byte(goScript), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv("HANG_ENGINE", engine)
	t.Setenv("HANG_PIDFILE", pidfile)
	t.Cleanup(func() {
		if b, err := os.ReadFile(pidfile); err == nil {
			var pid int
			if fmt.Sscan(string(b), &pid); pid > 1 {
				syscall.Kill(-pid, syscall.SIGKILL)
			}
		}
	})
	n.work = t.TempDir()
	var err error
	if n.engine, err = fuzz.BuildNative(context.Background(), n.o.Root, n.work); err != nil {
		t.Fatal(err)
	}
	tg, _ := fuzz.Lookup("parser")
	start := time.Now()
	done := make(chan struct{})
	go func() { n.fuzzTarget(context.Background(), tg, time.Second); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("the target's share of 1s is still running after 20s")
	}
	took := time.Since(start)
	// 1s of fuzzing, then the engine is stopped 1s later and killed 1s
	// after that; triage ends by the night's budget, less wrapUp.
	if took > 6*time.Second {
		t.Errorf("the share of 1s took %v", took)
	}
	if len(n.rep.Targets) != 1 || n.rep.Targets[0].Error != "" || n.rep.Targets[0].Execs != 10 {
		t.Fatalf("targets %+v", n.rep.Targets)
	}
	tr := n.rep.Targets[0]
	if len(n.rep.Crashes) != 1 || n.rep.Crashes[0].Signature != "fake/slow" || n.rep.Crashes[0].Repro == "" {
		t.Fatalf("crashes %+v", n.rep.Crashes)
	}
	c := n.rep.Crashes[0]
	if repro, _ := os.ReadFile(filepath.Join(c.Dir, FileRepro)); strings.TrimSpace(string(repro)) != c.Repro {
		t.Errorf("repro.txt %q, want %q", repro, c.Repro)
	}
	es, _, _ := corpus.ReadDirsAs(corpus.Raw, filepath.Join(n.o.Corpus, "parser"))
	if len(es) != 1 || string(es[0].Data) != "found by the engine" || tr.CorpusAfter != 1 {
		t.Errorf("corpus after %d: %d inputs", tr.CorpusAfter, len(es))
	}
	if !hasNote(n.rep.Notes, "parser: the fuzzing engine was still running 1s past its time (hung") {
		t.Errorf("notes %q", n.rep.Notes)
	}
	t.Logf("the share took %v (engine and triage); notes %q", took, n.rep.Notes)
}

// TestStoreCrashKeptOriginalSaysSo: when the minimized input does not
// fail the same way on its last replay (a flaky crash), the original is
// stored as minimized.bin, and failure.txt must say so, not claim the
// minimization it threw away.
func TestStoreCrashKeptOriginalSaysSo(t *testing.T) {
	n := deadlineNight(t, 30*time.Second, 0)
	// Inputs of about 100 bytes or more fail, for the first 6 requests
	// only: the triage replay and 5 minimization tries; the last replay
	// of the minimized input passes.
	bin := filepath.Join(t.TempDir(), "server")
	script := "#!/bin/sh\ni=0\nwhile read -r line; do i=$((i+1)); if [ $i -le 6 ] && [ ${#line} -ge 150 ]; then echo '{\"s\":1,\"fail\":\"fake/flaky\",\"report\":\"fake: flaky crash\",\"ns\":1}'; else echo '{\"s\":1,\"ns\":1}'; fi; done\n"
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	n.server.Close()
	n.server = &corpus.Server{Bin: bin}
	t.Cleanup(n.server.Close)
	n.o.MinimizeBudget = 5
	orig := bytes.Repeat([]byte{'b'}, 300)
	n.triage(context.Background(), fuzz.Target{Name: "parser"}, [][]byte{orig})
	if len(n.rep.Crashes) != 1 {
		t.Fatalf("crashes %+v, errors %q", n.rep.Crashes, n.rep.Errors)
	}
	c := n.rep.Crashes[0]
	min, _ := os.ReadFile(filepath.Join(c.Dir, FileMinimized))
	failure, _ := os.ReadFile(filepath.Join(c.Dir, FileFailure))
	if !bytes.Equal(min, orig) || c.MinimizedSize != len(orig) {
		t.Fatalf("stored %d bytes (MinimizedSize %d), want the original's %d", len(min), c.MinimizedSize, len(orig))
	}
	if claim := fmt.Sprintf("minimized from %d to ", len(orig)); bytes.Contains(failure, []byte(claim)) &&
		!bytes.Contains(failure, []byte(fmt.Sprintf("minimized from %d to %d bytes", len(orig), len(orig)))) {
		t.Errorf("failure.txt claims a minimization whose result was not stored:\n%s", failure)
	}
	if !bytes.Contains(failure, []byte("not minimized")) {
		t.Errorf("failure.txt does not say the original was kept:\n%s", failure)
	}
}
