package fuzz_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
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
	if n := ep.Restarts(); n != 0 {
		t.Errorf("%d restarts counted; the restart started no agent", n)
	}
	if err := ep.Close(); err != nil {
		t.Error(err)
	}
}
