package fuzz_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/qgafuzz/qgafuzz/fuzz"
)

// TestCommandEndpointRestartsLeaveNoZombies: stopping an --agent-cmd agent
// (at every restart after a finding) killed its sh first, which left the
// agent itself to be reaped by PID 1; where qgafuzz is PID 1 (a container
// run without an init) or under a subreaper, nothing reaps it, and a long
// night collected one zombie per restart until the pid limit. The test
// process stands for that PID 1 as a child subreaper. The agent is sh's
// child when sh runs it with exec (dash, one command), and its subshell's
// when not (bash, or a list that goes on after the agent).
func TestCommandEndpointRestartsLeaveNoZombies(t *testing.T) {
	const prSetChildSubreaper = 36
	if _, _, e := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0); e != 0 {
		t.Skipf("cannot become a child subreaper: %v", e)
	}
	var zombies []int
	defer func() {
		syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 0, 0)
		for _, pid := range zombies {
			var ws syscall.WaitStatus
			syscall.Wait4(pid, &ws, 0, nil)
		}
	}()
	dir := t.TempDir()
	agent := helperAgentSock + "={sock} " + helperPidFile + "=" + filepath.Join(dir, "pid") + " '" + os.Args[0] + "' -test.run '^TestHelperAgent$'"
	for _, command := range []string{agent, agent + " || exit"} {
		ep, err := fuzz.StartCommandEndpoint(context.Background(), command, fuzz.SocketOptions{})
		if err != nil {
			t.Fatal(err)
		}
		const restarts = 5
		for range restarts {
			if err := ep.Reset(); err != nil {
				ep.Close()
				t.Fatal(err)
			}
		}
		if err := ep.Close(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond) // an orphan's exit is not waited for by Close
		z := zombieChildren(t)
		if len(z) > 0 {
			t.Errorf("%q: %d restarts and a close left %d zombie agents (pids %v) for qgafuzz's reaper", command, restarts, len(z), z)
		}
		zombies = append(zombies, z...)
	}
}

// zombieChildren lists this process's children that have exited and wait
// to be reaped.
func zombieChildren(t *testing.T) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	self := strconv.Itoa(os.Getpid())
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		i := strings.LastIndexByte(string(b), ')')
		if f := strings.Fields(string(b[i+1:])); len(f) > 1 && f[0] == "Z" && f[1] == self {
			out = append(out, pid)
		}
	}
	return out
}
