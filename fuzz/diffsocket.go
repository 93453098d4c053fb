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
	"github.com/qgafuzz/qgafuzz/qga"
	"github.com/qgafuzz/qgafuzz/qga/qgatest"
)

// This file holds the differential driver's endpoints for agents behind
// sockets: one already listening (SocketEndpoint), or a command that the
// driver starts and restarts (CommandEndpoint). An agent behind a socket
// must see the writes of a stream as separate reads wherever the stream
// splits them (qemu-ga's behaviour differs from a buggy agent's only then,
// for example inside a UTF-8 sequence), so the player waits after each
// write for the replies it expects or, when none is expected, until the
// agent has read the write (unix sockets on Linux) or a short pause, before
// the next write.

// Endpoint is one side of a differential comparison.
type Endpoint interface {
	// Name is shown in reports.
	Name() string
	// Play sends a stream and returns every reply byte received for it.
	// pace holds the replies the reference agent gives to each op; a
	// socket endpoint uses it to pace its writes and to know when the
	// replies are complete. An error means the agent is in an unknown
	// state (dead, hung, disconnected); the driver calls Reset next.
	Play(st qgatest.Stream, pace [][]byte) ([]byte, error)
	// Reset brings the agent back to a usable state after an error or a
	// divergence: reconnect, restart, flush.
	Reset() error
	Close() error
}

// inProcess is an in-process agent: a fresh qga.Agent per stream, fed one
// op at a time.
type inProcess struct {
	name string
	cfg  qga.AgentConfig
}

// InProcessEndpoint returns an endpoint for an in-process reference agent
// built with cfg (cfg.Bug plants a bug).
func InProcessEndpoint(cfg qga.AgentConfig) Endpoint {
	name := "built-in reference agent"
	if cfg.Bug != qga.NoBug {
		name = "built-in agent with planted bug " + cfg.Bug.String()
	}
	return &inProcess{name: name, cfg: cfg}
}

func (p *inProcess) Name() string { return p.name }
func (p *inProcess) Play(st qgatest.Stream, _ [][]byte) ([]byte, error) {
	return bytes.Join(qgatest.ReferenceReplies(p.cfg, st), nil), nil
}
func (p *inProcess) Reset() error { return nil }
func (p *inProcess) Close() error { return nil }

// SocketOptions tune how a socket endpoint waits.
type SocketOptions struct {
	// Hang is the longest wait for the replies of one stream (default 2 s);
	// an agent that has not sent them by then is reported as hung.
	Hang time.Duration
	// Idle ends the wait early when the agent has sent nothing for this
	// long after the last write (default 100 ms): an agent that answers
	// less than the reference is reported without waiting for Hang.
	Idle time.Duration
	// Pause is the gap after a write that expects no reply, so that the
	// agent reads it separately from the next one (default 2 ms), where
	// the player cannot see when the agent has read it (TCP, or outside
	// Linux).
	Pause time.Duration
}

func (o *SocketOptions) defaults() {
	if o.Hang <= 0 {
		o.Hang = 2 * time.Second
	}
	if o.Idle <= 0 {
		o.Idle = 100 * time.Millisecond
	}
	if o.Pause <= 0 {
		o.Pause = 2 * time.Millisecond
	}
}

// ErrUnreachable marks a failure to connect to an agent before a stream's
// first write: nothing reached the agent, so it is a transport error, not
// a finding about how the agent handles the stream.
var ErrUnreachable = errors.New("cannot reach the agent")

// errHang marks an agent that did not send the replies of a stream, or
// did not read its writes, within Opts.Hang.
var errHang = errors.New("hang")

// SocketEndpoint is an agent listening on addr (unix:PATH or tcp:HOST:PORT).
type SocketEndpoint struct {
	Addr string
	Opts SocketOptions
	// restart, when set, restarts the agent process (CommandEndpoint).
	restart func() error

	conn net.Conn
	mu   sync.Mutex
	got  []byte
	eof  error
	more chan struct{}

	// intr is closed, and intrAt (unix ns) set, by Interrupt.
	intr     chan struct{}
	intrOnce sync.Once
	intrAt   atomic.Int64
}

// NewSocketEndpoint returns an endpoint for an agent listening on addr.
func NewSocketEndpoint(addr string, o SocketOptions) *SocketEndpoint {
	o.defaults()
	return &SocketEndpoint{Addr: addr, Opts: o, intr: make(chan struct{})}
}

// interruptGrace is how long a stream that is being played when the run
// is interrupted (Ctrl-C) may still take: enough for a live agent to send
// the replies to what it was sent (qemu-ga 7.2 exits when a client closes
// with replies unread), not the whole --hang a silent agent would take.
const interruptGrace = 500 * time.Millisecond

// Interrupt cuts the stream being played, if any, and every later one
// short: each ends interruptGrace from now at the latest. It may be
// called from any goroutine.
func (s *SocketEndpoint) Interrupt() {
	if s.intr == nil {
		return
	}
	s.intrOnce.Do(func() {
		at := time.Now().Add(interruptGrace)
		s.intrAt.Store(at.UnixNano())
		close(s.intr)
		s.mu.Lock()
		if s.conn != nil {
			_ = s.conn.SetWriteDeadline(at) // a write the agent does not read
		}
		s.mu.Unlock()
	})
}

// until returns deadline, or the end of the grace after an interrupt if
// that comes first.
func (s *SocketEndpoint) until(deadline time.Time) time.Time {
	if at := s.intrAt.Load(); at != 0 && at < deadline.UnixNano() {
		return time.Unix(0, at)
	}
	return deadline
}

// Name is "agent at ADDR".
func (s *SocketEndpoint) Name() string { return "agent at " + s.Addr }

func (s *SocketEndpoint) dial() error {
	network, address, err := qga.ParseAddr(s.Addr)
	if err != nil {
		return err
	}
	c, err := qgatest.DialRetry(func() (net.Conn, error) { return net.Dial(network, address) }, 5*time.Second)
	if err != nil {
		return fmt.Errorf("connecting to %s: %w", s.Addr, err)
	}
	more := make(chan struct{}, 1)
	s.mu.Lock()
	s.conn, s.eof, s.more = c, nil, more
	s.mu.Unlock()
	go s.read(c, more)
	return nil
}

func (s *SocketEndpoint) read(c net.Conn, more chan struct{}) {
	qgatest.ReadLoop(c, more, func(p []byte, err error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.conn == c { // bytes of an abandoned connection are dropped
			s.got = append(s.got, p...)
			if err != nil {
				s.eof = err
			}
		}
	})
}

// wait waits until n bytes have arrived, the connection ended, nothing
// arrived for idle, or the deadline passed. It reports the byte count.
func (s *SocketEndpoint) wait(n int, idle time.Duration, deadline time.Time) (int, error) {
	last := -1
	quiet := time.Now().Add(idle)
	intr := s.intr
	for {
		s.mu.Lock()
		have, eof := len(s.got), s.eof
		s.mu.Unlock()
		now := time.Now()
		end := s.until(deadline)
		switch {
		case have >= n:
			return have, nil
		case eof != nil:
			return have, fmt.Errorf("connection closed by the agent (%v) after %d of %d reply bytes", eof, have, n)
		case now.After(end) && end.Before(deadline):
			return have, fmt.Errorf("interrupted: %d of %d reply bytes", have, n)
		case now.After(end):
			return have, fmt.Errorf("%w: %d of %d reply bytes after %v", errHang, have, n, s.Opts.Hang)
		case have != last:
			last, quiet = have, now.Add(idle)
		case now.After(quiet):
			return have, nil // the agent went quiet: compare what it sent
		}
		t := time.NewTimer(min(time.Until(quiet), time.Until(end)) + time.Millisecond)
		select {
		case <-s.more:
		case <-t.C:
		case <-intr:
			intr = nil // closed for good: the new end is computed above
		}
		t.Stop()
	}
}

// Play writes the stream op by op and collects the replies. pace (one
// entry per op, the reference's replies) says how many reply bytes each
// write should bring: Play waits for them before the next write, until
// the agent has been silent for Opts.Idle and at most until Opts.Hang
// after the stream began. After a write that expects no reply it waits
// until the agent has read it, or Opts.Pause where that cannot be seen.
func (s *SocketEndpoint) Play(st qgatest.Stream, pace [][]byte) ([]byte, error) {
	s.mu.Lock()
	s.got = s.got[:0]
	s.mu.Unlock()
	if s.conn == nil {
		if err := s.dial(); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrUnreachable, err)
		}
	}
	deadline := time.Now().Add(s.Opts.Hang)
	expect := 0
	var err error
	for i, op := range st.Ops {
		if op.Reconnect {
			// Read every reply first: qemu-ga 7.2 exits when a client
			// closes with replies unread.
			if _, err = s.wait(expect, s.Opts.Idle, deadline); err != nil {
				break
			}
			s.closeConn()
			if err = s.dial(); err != nil {
				break
			}
			continue
		}
		end := s.until(deadline)
		_ = s.conn.SetWriteDeadline(end)
		if again := s.until(deadline); !again.Equal(end) {
			// Interrupt came between the two lines above, and its own
			// deadline may have been overwritten with the later one.
			_ = s.conn.SetWriteDeadline(again)
		}
		if _, err = s.conn.Write(op.Data); err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) && !s.until(deadline).Before(deadline) {
				// Not cut short by an interrupt: the agent has not read
				// for the whole of Opts.Hang.
				err = fmt.Errorf("%w: the agent does not read: writing to it: %w", errHang, err)
			} else {
				err = fmt.Errorf("writing to the agent: %w", err)
			}
			break
		}
		if i < len(pace) {
			expect += len(pace[i])
		}
		if i < len(pace) && len(pace[i]) > 0 {
			if _, err = s.wait(expect, s.Opts.Idle, deadline); err != nil {
				break
			}
		} else if i+1 < len(st.Ops) && !waitUnread(s.conn, func() time.Time { return s.until(deadline) }) {
			time.Sleep(s.Opts.Pause)
		}
	}
	if err == nil {
		// All expected bytes, then a short pause for any extra ones.
		if _, err = s.wait(expect, s.Opts.Idle, deadline); err == nil {
			_, err = s.wait(expect+1, s.Opts.Pause*5, deadline)
		}
	}
	s.mu.Lock()
	got := bytes.Clone(s.got)
	s.mu.Unlock()
	return got, err
}

func (s *SocketEndpoint) closeConn() {
	if s.conn == nil {
		return
	}
	s.mu.Lock()
	c := s.conn
	s.conn = nil
	s.mu.Unlock()
	_ = c.Close()
}

// Reset reconnects and flushes the agent's parser with the stream fence;
// a command endpoint restarts its agent instead.
func (s *SocketEndpoint) Reset() error {
	s.closeConn()
	if s.restart != nil {
		// A fresh agent is in its start state, with no parser to flush,
		// and whether it answers is the next stream's to judge: an agent
		// that hangs (on every stream, even) is killed, restarted and
		// reported once per stream rather than ending the run.
		if err := s.restart(); err != nil {
			return err
		}
		return s.dial()
	}
	if err := s.dial(); err != nil {
		return err
	}
	fence := qgatest.Stream{Ops: []qgatest.Op{{Data: qgatest.Fence}}}
	got, err := s.Play(fence, qgatest.ReferenceReplies(qga.AgentConfig{}, fence))
	if err == nil && !bytes.HasSuffix(got, qgatest.FenceReply) {
		err = fmt.Errorf("agent does not answer the fence after a reset (got %q); an agent that qgafuzz did not start "+
			"cannot be restarted when it hangs", clip(got))
	}
	return err
}

// Close closes the connection. The agent itself is not the endpoint's to
// stop.
func (s *SocketEndpoint) Close() error {
	s.closeConn()
	return nil
}

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
