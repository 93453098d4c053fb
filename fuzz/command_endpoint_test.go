package fuzz_test

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/qgafuzz/qgafuzz/fuzz"
	"github.com/qgafuzz/qgafuzz/qga"
)

// The helper processes of TestCommandEndpointDiesWithQgafuzz: this test
// binary run again as an agent command, or as the qgafuzz that starts it.
const (
	helperAgentSock = "QGAFUZZ_TEST_AGENT_SOCK"
	helperPidFile   = "QGAFUZZ_TEST_AGENT_PIDFILE"
	helperParent    = "QGAFUZZ_TEST_TIED_PARENT"
)

// TestHelperAgent is not a test: run with $QGAFUZZ_TEST_AGENT_SOCK set,
// it serves the reference agent there and writes its pid to
// $QGAFUZZ_TEST_AGENT_PIDFILE.
func TestHelperAgent(t *testing.T) {
	sock := os.Getenv(helperAgentSock)
	if sock == "" {
		t.Skip("a helper process")
	}
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(os.Getenv(helperPidFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := &qga.Server{Agent: qga.NewAgent(qga.AgentConfig{}), SurviveReset: true}
	srv.Serve(l)
}

// TestHelperTiedParent is not a test: run with $QGAFUZZ_TEST_TIED_PARENT
// set, it starts that agent command and waits to be killed.
func TestHelperTiedParent(t *testing.T) {
	command := os.Getenv(helperParent)
	if command == "" {
		t.Skip("a helper process")
	}
	if _, err := fuzz.StartCommandEndpoint(context.Background(), command, fuzz.SocketOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Minute)
}

// TestCommandEndpointDiesWithQgafuzz: an --agent-cmd agent does not
// outlive a qgafuzz that is killed (or dies of a closed pipe): it was left
// running, orphaned, for ever. The killed qgafuzz's socket directory goes
// at the next start of an agent command: it stayed in the temporary
// directory for good.
func TestCommandEndpointDiesWithQgafuzz(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("only Linux signals a child when its parent dies")
	}
	dir := t.TempDir()
	pidFile, sockFile := filepath.Join(dir, "agent.pid"), filepath.Join(dir, "agent.sock.path")
	// A compound command, so that the agent is not sh itself.
	command := "echo {sock} > " + sockFile + "; " + helperAgentSock + "={sock} " + helperPidFile + "=" + pidFile + " '" + os.Args[0] + "' -test.run '^TestHelperAgent$'"
	defer func() {
		if b, err := os.ReadFile(sockFile); err == nil {
			if d := filepath.Dir(strings.TrimSpace(string(b))); strings.HasPrefix(filepath.Base(d), "qgafuzz-agent") {
				os.RemoveAll(d)
			}
		}
	}()
	parent := exec.Command(os.Args[0], "-test.run", "^TestHelperTiedParent$")
	parent.Env = append(os.Environ(), helperParent+"="+command)
	var out strings.Builder
	parent.Stdout, parent.Stderr = &out, &out
	if err := parent.Start(); err != nil {
		t.Fatal(err)
	}
	defer parent.Process.Kill()
	var pid int
	for deadline := time.Now().Add(20 * time.Second); pid == 0; {
		if b, err := os.ReadFile(pidFile); err == nil && len(b) > 0 {
			pid, _ = strconv.Atoi(string(b))
		} else if time.Now().After(deadline) {
			t.Fatalf("the agent command did not start:\n%s", out.String())
		} else {
			time.Sleep(20 * time.Millisecond)
		}
	}
	parent.Process.Signal(syscall.SIGKILL)
	parent.Wait()
	for deadline := time.Now().Add(5 * time.Second); ; {
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) || zombie(pid) {
			break // a zombie is dead: only its reaper (PID 1 here) is late
		}
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("the agent (pid %d) still runs 5 s after qgafuzz was killed", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
	b, err := os.ReadFile(sockFile)
	if err != nil {
		t.Fatal(err)
	}
	killedDir := filepath.Dir(strings.TrimSpace(string(b)))
	ep, err := fuzz.StartCommandEndpoint(context.Background(), helperAgentSock+"={sock} "+helperPidFile+"="+filepath.Join(dir, "next.pid")+" '"+os.Args[0]+"' -test.run '^TestHelperAgent$'", fuzz.SocketOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ep.Close()
	if _, err := os.Stat(killedDir); !os.IsNotExist(err) {
		t.Errorf("the killed qgafuzz's socket directory %s is still there after the next start (%v)", killedDir, err)
	}
}

// zombie reports whether pid has exited and waits to be reaped: in a
// container whose PID 1 does not reap, the killed agent stays one.
func zombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(b), ')')
	return i >= 0 && i+2 < len(b) && b[i+2] == 'Z'
}

// TestCommandEndpointFailedRestart: a restart whose start fails (no sh on
// the PATH here; a failed fork in a long run) leaves an endpoint that is
// not alive and closes cleanly; Close used to panic on a process that
// never started.
func TestCommandEndpointFailedRestart(t *testing.T) {
	dir := t.TempDir()
	command := helperAgentSock + "={sock} " + helperPidFile + "=" + filepath.Join(dir, "pid") + " '" + os.Args[0] + "' -test.run '^TestHelperAgent$'"
	ep, err := fuzz.StartCommandEndpoint(context.Background(), command, fuzz.SocketOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", filepath.Join(dir, "nothing"))
	if err := ep.Reset(); err == nil {
		t.Fatal("Reset started an agent without sh")
	}
	if ep.Alive() {
		t.Error("an agent that could not start is alive")
	}
	if err := ep.Close(); err != nil {
		t.Error(err)
	}
}
