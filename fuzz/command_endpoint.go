package fuzz

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/qgafuzz/qgafuzz/internal/procgroup"
	"github.com/qgafuzz/qgafuzz/internal/tmpdir"
	"github.com/qgafuzz/qgafuzz/qga/qgatest"
)

// This file holds CommandEndpoint, a socket endpoint whose agent the
// driver starts itself, under a shell tied to qgafuzz's life, and restarts
// on every Reset; and lockedBuffer, which keeps the agent's output for
// reports.

// CommandEndpoint is an agent started by the driver: Command is run by
// sh -c with {sock} replaced by a fresh unix socket path, and restarted
// by every Reset, so whenever it dies or hangs (each death or hang is
// reported by the driver as a finding).
type CommandEndpoint struct {
	*SocketEndpoint
	Command string
	dir     *tmpdir.Dir
	cmd     *exec.Cmd
	done    <-chan struct{}
	exitErr error
	log     *lockedBuffer
	// starts counts the agent processes started, the first included.
	starts atomic.Int64
}

// tiedShell runs an agent command (%s) so that it does not outlive
// qgafuzz: sh gets SIGTERM when qgafuzz dies (killed, or by a closed
// pipe) or stops the agent, and takes its process group, the command with
// all it started, down with it. sh waits for the command's subshell, and
// the subshell for the command it runs (shells that do not exec it, bash
// or a list, would die first), so that the agent is reaped by its parent,
// not left to PID 1 (which is qgafuzz itself in a container without an
// init, and never reaps it). sh's exit status is the command's (128+N when
// a signal N killed it: ExitStatus says so).
const tiedShell = "trap 'trap \"\" TERM; kill -TERM 0; wait' TERM\n{ trap 'exit 143' TERM; %s\n} &\nwait $!"

// StartCommandEndpoint starts the command and waits until its socket
// accepts connections. When ctx is done first (Ctrl-C) it stops the agent
// and returns an error that wraps ctx's; ctx does not outlive the call.
func StartCommandEndpoint(ctx context.Context, command string, o SocketOptions) (*CommandEndpoint, error) {
	if !strings.Contains(command, "{sock}") {
		return nil, fmt.Errorf("fuzz: agent command %q has no {sock} placeholder for the socket path", command)
	}
	dir, err := tmpdir.Make("qgafuzz-agent-")
	if err != nil {
		return nil, err
	}
	sock := filepath.Join(dir.Path, "agent.sock")
	c := &CommandEndpoint{SocketEndpoint: NewSocketEndpoint("unix:"+sock, o), Command: command, dir: dir}
	c.SocketEndpoint.restart = c.restart
	// The wait for the socket ends on Interrupt, as a restart's does in
	// an interrupted run.
	stopIntr := context.AfterFunc(ctx, c.Interrupt)
	err = c.start()
	stopIntr()
	if err != nil {
		dir.Remove()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("fuzz: starting agent command: %w", context.Cause(ctx))
		}
		return nil, err
	}
	return c, nil
}

// Name is "agent command COMMAND".
func (c *CommandEndpoint) Name() string { return "agent command " + c.Command }

func (c *CommandEndpoint) start() error {
	sock := strings.TrimPrefix(c.Addr, "unix:")
	_ = os.Remove(sock)
	cmd := exec.Command("sh", "-c", fmt.Sprintf(tiedShell, strings.ReplaceAll(c.Command, "{sock}", sock)))
	c.log = &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = c.log, c.log
	cmd.SysProcAttr = tiedSysProcAttr()
	done, err := qgatest.StartTied(cmd, func(err error) { c.exitErr = err })
	if err != nil {
		// c.cmd and c.done still describe the last agent, which has
		// exited: stop and Alive must not wait for one never started.
		return fmt.Errorf("fuzz: starting agent command: %w", err)
	}
	c.cmd, c.done = cmd, done
	c.starts.Add(1)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if conn, err := net.Dial("unix", sock); err == nil {
			conn.Close()
			return nil
		}
		select {
		case <-c.done:
			return fmt.Errorf("fuzz: agent command exited at startup (%v): %s", c.exitErr, c.log.bytes())
		case <-c.intr:
			// Ctrl-C: the run ends now, not when the wait would.
			c.stop()
			return errors.New("fuzz: interrupted while the agent command started")
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			c.stop()
			return fmt.Errorf("fuzz: agent command's socket %s not accepting after 10s", sock)
		}
	}
}

// Alive reports whether the agent process is running.
func (c *CommandEndpoint) Alive() bool {
	select {
	case <-c.done:
		return false
	default:
		return true
	}
}

// waitExit waits up to d for the process to exit (a dead agent's socket
// fails before its exit is reaped) and reports whether it still runs.
func (c *CommandEndpoint) waitExit(d time.Duration) bool {
	select {
	case <-c.done:
		return false
	case <-time.After(d):
		return true
	}
}

// ExitStatus describes how the agent process ended ("" while it runs).
func (c *CommandEndpoint) ExitStatus() string {
	if c.Alive() {
		return ""
	}
	status := fmt.Sprint(c.exitErr)
	var ee *exec.ExitError
	if errors.As(c.exitErr, &ee) && ee.ExitCode() > 128 && ee.ExitCode() < 128+65 {
		// The tied shell reports a command killed by signal N as its
		// own exit status 128+N.
		status += fmt.Sprintf(" (as sh reports death by signal %d: %v)", ee.ExitCode()-128, syscall.Signal(ee.ExitCode()-128))
	}
	return fmt.Sprintf("%s; output: %q", status, c.log.bytes())
}

// Restarts returns how many times the agent was started again after its
// first start: by every Reset (after each divergence, a death or a hang
// included), a failed attempt whose process was started counting too.
func (c *CommandEndpoint) Restarts() int {
	if n := c.starts.Load(); n > 1 {
		return int(n - 1)
	}
	return 0
}

func (c *CommandEndpoint) restart() error {
	c.stop()
	return c.start()
}

// stop kills the agent's process group.
func (c *CommandEndpoint) stop() {
	if c.cmd == nil || !c.Alive() {
		return
	}
	_ = procgroup.Signal(c.cmd.Process, syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(2 * time.Second):
		_ = procgroup.Signal(c.cmd.Process, syscall.SIGKILL)
		<-c.done
	}
}

// Close closes the connection, stops the agent process and removes its
// socket directory.
func (c *CommandEndpoint) Close() error {
	c.SocketEndpoint.Close()
	c.stop()
	return c.dir.Remove()
}

// lockedBuffer keeps the first 64 KiB of a process's output.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *lockedBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.b.Len() < 64<<10 {
		w.b.Write(p)
	}
	return len(p), nil
}

func (w *lockedBuffer) bytes() []byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	return clip(bytes.Clone(w.b.Bytes()))
}
