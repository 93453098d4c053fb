//go:build unix

package fuzz_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/qgafuzz/qgafuzz/fuzz"
)

// helperSilentSock runs this test binary as an agent that accepts and
// never reads or answers (see TestHelperSilentAgent).
const helperSilentSock = "QGAFUZZ_TEST_SILENT_SOCK"

// TestHelperSilentAgent is not a test: run with $QGAFUZZ_TEST_SILENT_SOCK
// set, it listens there, appends its pid to $QGAFUZZ_TEST_AGENT_PIDFILE,
// and holds every connection open without reading it: a hung agent.
func TestHelperSilentAgent(t *testing.T) {
	sock := os.Getenv(helperSilentSock)
	if sock == "" {
		t.Skip("a helper process")
	}
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(os.Getenv(helperPidFile), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(f, os.Getpid())
	f.Close()
	var conns []net.Conn // held, so that no finalizer closes them
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for {
		c, err := l.Accept()
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
}

// silentAgentCommand is an agent command for TestHelperSilentAgent.
func silentAgentCommand(pidFile string) string {
	return helperSilentSock + "={sock} " + helperPidFile + "=" + pidFile + " '" + os.Args[0] + "' -test.run '^TestHelperSilentAgent$'"
}

// pidsIn reads the pids a helper wrote to path, one a line.
func pidsIn(t *testing.T, path string) []int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		pids = append(pids, pid)
	}
	return pids
}

// gone reports whether pid has exited and been reaped.
func gone(pid int) bool { return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) }

// cancelWhen cancels once path holds a pid, and reports when it did.
func cancelWhen(t *testing.T, path string, cancel context.CancelFunc) <-chan time.Time {
	at := make(chan time.Time, 1)
	go func() {
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if b, _ := os.ReadFile(path); len(strings.TrimSpace(string(b))) > 0 {
				time.Sleep(100 * time.Millisecond) // well into the wait for the socket
				break
			}
		}
		at <- time.Now()
		cancel()
	}()
	return at
}

// TestDifferRestartsHungAgent: an --agent-cmd agent that hangs is killed
// and restarted, and the run goes on; the reset after the first hang
// wanted the hung agent's fence answered, so the run ended with an error
// (exit 3) after one finding.
func TestDifferRestartsHungAgent(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pids")
	ep, err := fuzz.StartCommandEndpoint(context.Background(), silentAgentCommand(pidFile),
		fuzz.SocketOptions{Hang: 300 * time.Millisecond, Idle: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	st, err := fuzz.Differ(context.Background(), fuzz.DiffOptions{Agent: ep, Seed: 1, MaxStreams: 2})
	ep.Close()
	if err != nil {
		t.Fatalf("Differ: %v, want the hung agent restarted and the run to go on", err)
	}
	if st.Streams != 2 || st.Divergences != 2 || st.AgentHangs != 2 || st.AgentDeaths != 0 || st.StoppedEarly {
		t.Errorf("stats %+v, want 2 streams, 2 divergences, 2 hangs, no deaths and not stopped early", st)
	}
	pids := pidsIn(t, pidFile)
	if len(pids) != 3 {
		t.Errorf("the agent was started %d times, want 3 (once, then after each hang)", len(pids))
	}
	// The restarts are counted, in the stats and by the endpoint.
	if st.AgentRestarts != len(pids)-1 || ep.Restarts() != len(pids)-1 {
		t.Errorf("%d restarts in the stats, %d by the endpoint; want %d", st.AgentRestarts, ep.Restarts(), len(pids)-1)
	}
	for _, pid := range pids {
		if !gone(pid) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Errorf("agent pid %d still runs (or was not reaped) after Close", pid)
		}
	}
}

// TestStartCommandEndpointInterrupted: Ctrl-C while an --agent-cmd agent
// starts ends the wait for its socket at once (it took the whole 10 s),
// and stops the agent and removes its socket directory.
func TestStartCommandEndpointInterrupted(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	pidFile := filepath.Join(tmp, "pid")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cancelled := cancelWhen(t, pidFile, cancel)
	// An agent that never listens.
	ep, err := fuzz.StartCommandEndpoint(ctx, "sh -c 'echo $$ > "+pidFile+"; exec sleep 30' # {sock}", fuzz.SocketOptions{})
	returned := time.Now()
	if err == nil {
		ep.Close()
		t.Fatal("StartCommandEndpoint succeeded with an agent that never listens")
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want one that wraps context.Canceled", err)
	}
	if took := returned.Sub(<-cancelled); took > 2*time.Second {
		t.Errorf("StartCommandEndpoint returned %v after the interrupt, want at once", took.Round(time.Second/10))
	}
	for _, pid := range pidsIn(t, pidFile) {
		if !gone(pid) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Errorf("the agent (pid %d) still runs, or was not reaped, after an interrupted start", pid)
		}
	}
	if ents, _ := filepath.Glob(filepath.Join(tmp, "qgafuzz-agent-*")); len(ents) > 0 {
		t.Errorf("an interrupted start left %q", ents)
	}
}

// TestDifferInterruptDuringRestart: Ctrl-C while a hung agent is
// restarted ends the wait for the new agent's socket at once (it took the
// whole 10 s), with no error, and Close stops the new agent.
func TestDifferInterruptDuringRestart(t *testing.T) {
	dir := t.TempDir()
	pidFile, pid2File, mark := filepath.Join(dir, "pids"), filepath.Join(dir, "pid2"), filepath.Join(dir, "started")
	// The first agent hangs; its restart never listens.
	command := "if mkdir " + mark + " 2>/dev/null; then " + silentAgentCommand(pidFile) +
		"; else sh -c 'echo $$ > " + pid2File + "; exec sleep 30'; fi"
	ep, err := fuzz.StartCommandEndpoint(context.Background(), command,
		fuzz.SocketOptions{Hang: 300 * time.Millisecond, Idle: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer ep.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cancelled := cancelWhen(t, pid2File, cancel)
	st, err := fuzz.Differ(ctx, fuzz.DiffOptions{Agent: ep, Seed: 1})
	returned := time.Now()
	if err != nil {
		t.Errorf("Differ: %v, want no error for an interrupted run", err)
	}
	if took := returned.Sub(<-cancelled); took > 2*time.Second {
		t.Errorf("Differ returned %v after the interrupt, want at once", took.Round(time.Second/10))
	}
	if st.Divergences != 1 {
		t.Errorf("%d divergences, want the one hang before the restart", st.Divergences)
	}
	ep.Close()
	for _, pid := range append(pidsIn(t, pidFile), pidsIn(t, pid2File)...) {
		if !gone(pid) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Errorf("agent pid %d still runs, or was not reaped, after Close", pid)
		}
	}
}
