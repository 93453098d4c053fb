//go:build unix

package fuzz_test

import (
	"context"
	"errors"
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
)

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
