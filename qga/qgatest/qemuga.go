package qgatest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/qgafuzz/qgafuzz/internal/tmpdir"
)

// SafeCommands are the only RPCs a test agent is allowed to run; every other
// command is blocked because it would inspect or change the host.
var SafeCommands = []string{"guest-sync", "guest-sync-delimited", "guest-ping", "guest-info"}

// qemuGADirs are searched after PATH.
var qemuGADirs = []string{"/usr/sbin", "/usr/bin", "/usr/local/bin", "/usr/local/sbin"}

const (
	// StartTimeout bounds the wait for the agent's socket to accept.
	StartTimeout = 10 * time.Second
	// maxSunPath is the longest unix socket path (sun_path is 108 bytes
	// including the terminating NUL).
	maxSunPath = 107
	stopGrace  = 3 * time.Second
)

// FindQemuGA locates the qemu-ga binary: $QGAFUZZ_QEMU_GA if set (it must
// then exist), else qemu-ga in PATH, /usr/sbin, /usr/bin, /usr/local/bin or
// /usr/local/sbin.
func FindQemuGA() (string, error) {
	if p := os.Getenv("QGAFUZZ_QEMU_GA"); p != "" {
		if err := checkExecutable(p); err != nil {
			return "", fmt.Errorf("QGAFUZZ_QEMU_GA=%s: %w", p, err)
		}
		return p, nil
	}
	if p, err := exec.LookPath("qemu-ga"); err == nil {
		return p, nil
	}
	for _, d := range qemuGADirs {
		p := filepath.Join(d, "qemu-ga")
		if checkExecutable(p) == nil {
			return p, nil
		}
	}
	return "", errors.New("qemu-ga not found in PATH or " + strings.Join(qemuGADirs, ", "))
}

func checkExecutable(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	if fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("%s is not an executable file", p)
	}
	return nil
}

// SafeBlocklist runs `bin -b help` (one RPC name per line) and returns every
// RPC except SafeCommands. It fails when the list is empty or lacks any
// safe command, so an agent is never started with an incomplete blocklist.
func SafeBlocklist(bin string) ([]string, error) {
	out, err := exec.Command(bin, "-b", "help").Output()
	if err != nil {
		return nil, fmt.Errorf("%s -b help: %w", bin, err)
	}
	safe := map[string]bool{}
	for _, c := range SafeCommands {
		safe[c] = false
	}
	var block []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		name := strings.TrimSpace(sc.Text())
		if name == "" {
			continue
		}
		if _, ok := safe[name]; ok {
			safe[name] = true
			continue
		}
		block = append(block, name)
	}
	for _, c := range SafeCommands {
		if !safe[c] {
			return nil, fmt.Errorf("%s -b help: command list (%d names) lacks %s; refusing to build a blocklist", bin, len(block), c)
		}
	}
	if len(block) == 0 {
		return nil, fmt.Errorf("%s -b help: no command besides the safe ones; refusing to trust the list", bin)
	}
	return block, nil
}

var versionRE = regexp.MustCompile(`QEMU Guest Agent ([0-9][^\s]*)`)

// QemuGAVersion runs `bin --version` and returns the version number,
// e.g. "7.2.22" for "QEMU Guest Agent 7.2.22".
func QemuGAVersion(bin string) (string, error) {
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s --version: %w", bin, err)
	}
	m := versionRE.FindSubmatch(out)
	if m == nil {
		return "", fmt.Errorf("%s --version: unexpected output %q", bin, out)
	}
	return string(m[1]), nil
}

// QemuGA is a qemu-ga child process listening on a unix socket in Dir.
type QemuGA struct {
	Bin    string
	Dir    string // state dir; holds qga.sock, qga.pid, qga.log
	Socket string
	Log    string
	Cmd    *exec.Cmd

	ctx     context.Context
	args    []string
	ownDir  *tmpdir.Dir // Dir, when StartQemuGAProcess made it; Close removes it
	output  bytes.Buffer
	outMu   sync.Mutex
	done    <-chan struct{} // closed when Cmd has been waited for
	waitErr error
	version string
}

// StartQemuGAProcess starts qemu-ga (never daemonized) in dir with every
// unsafe command blocked, and waits until its socket accepts connections.
// An empty dir means a fresh temporary directory that Stop removes. ctx
// bounds the process's lifetime (cancelling it kills the agent).
func StartQemuGAProcess(ctx context.Context, dir string) (*QemuGA, error) {
	bin, err := FindQemuGA()
	if err != nil {
		return nil, err
	}
	block, err := SafeBlocklist(bin)
	if err != nil {
		return nil, err
	}
	g := &QemuGA{Bin: bin, Dir: dir, ctx: ctx}
	if dir == "" {
		if g.ownDir, err = tmpdir.Make("qgafuzz-qemuga-"); err != nil {
			return nil, err
		}
		g.Dir = g.ownDir.Path
	}
	g.Socket = filepath.Join(g.Dir, "qga.sock")
	g.Log = filepath.Join(g.Dir, "qga.log")
	if len(g.Socket) > maxSunPath {
		g.cleanupDir()
		return nil, fmt.Errorf("socket path %s is %d bytes, longer than the unix limit %d", g.Socket, len(g.Socket), maxSunPath)
	}
	g.args = []string{"-m", "unix-listen", "-p", g.Socket, "-t", g.Dir,
		"-f", filepath.Join(g.Dir, "qga.pid"), "-l", g.Log,
		"-b", strings.Join(block, ",")}
	if err := g.start(); err != nil {
		g.cleanupDir()
		return nil, err
	}
	return g, nil
}

func (g *QemuGA) cleanupDir() {
	_ = g.ownDir.Remove()
}

func (g *QemuGA) start() error {
	_ = os.Remove(g.Socket) // a stale socket from a previous run
	g.outMu.Lock()
	g.output.Reset()
	g.outMu.Unlock()
	cmd := exec.CommandContext(g.ctx, g.Bin, g.args...)
	cmd.Dir = g.Dir
	cmd.Stdout = lockedWriter{&g.outMu, &g.output}
	cmd.Stderr = cmd.Stdout
	cmd.SysProcAttr = childSysProcAttr()
	cmd.WaitDelay = stopGrace
	done, err := StartTied(cmd, func(err error) {
		g.outMu.Lock()
		g.waitErr = err
		g.outMu.Unlock()
	})
	if err != nil {
		return fmt.Errorf("start %s: %w", g.Bin, err)
	}
	g.Cmd = cmd
	g.done = done
	if err := g.waitReady(); err != nil {
		_ = g.Stop()
		return err
	}
	return nil
}

// waitReady polls the socket until it accepts, the process exits, or
// StartTimeout passes.
func (g *QemuGA) waitReady() error {
	deadline := time.Now().Add(StartTimeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if c, err := net.DialTimeout("unix", g.Socket, time.Second); err == nil {
			// Closing without sending anything is harmless: the agent
			// just sees EOF and listens again.
			_ = c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("qemu-ga socket %s not accepting after %v; output: %s; log: %s",
				g.Socket, StartTimeout, g.Output(), g.LogTail(20))
		}
		select {
		case <-g.done:
			return fmt.Errorf("qemu-ga exited during startup (%v); output: %s; log: %s",
				g.exitErr(), g.Output(), g.LogTail(20))
		case <-g.ctx.Done():
			return g.ctx.Err()
		case <-tick.C:
		}
	}
}

func (g *QemuGA) exitErr() error {
	g.outMu.Lock()
	defer g.outMu.Unlock()
	return g.waitErr
}

// Alive reports whether the agent process is still running.
func (g *QemuGA) Alive() bool {
	if g.done == nil {
		return false
	}
	select {
	case <-g.done:
		return false
	default:
		return true
	}
}

// Stop terminates the agent (SIGTERM to its own pid, SIGKILL after a grace
// period) and waits for it. It returns nil when the process is gone, even
// if it had already exited on its own. Restart may be called afterwards; a
// temporary Dir created by StartQemuGAProcess is removed only by Close.
func (g *QemuGA) Stop() error {
	if g.Cmd == nil || g.done == nil {
		return nil
	}
	if g.Alive() {
		_ = g.Cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-g.done:
		case <-time.After(stopGrace):
			_ = g.Cmd.Process.Kill()
			<-g.done
		}
	}
	return nil
}

// Close stops the agent and removes Dir if StartQemuGAProcess created it.
func (g *QemuGA) Close() error {
	err := g.Stop()
	g.cleanupDir()
	return err
}

// Restart stops the agent if it is running and starts a new one with the
// same arguments (parser state starts afresh). qemu-ga 7.2 exits when a
// client closes with replies unread, so tests call this after !Alive().
func (g *QemuGA) Restart() error {
	if err := g.Stop(); err != nil {
		return err
	}
	return g.start()
}

// Version returns the agent's version ("7.2.22"), or "" if it cannot be
// determined. The result is cached.
func (g *QemuGA) Version() string {
	if g.version == "" {
		g.version, _ = QemuGAVersion(g.Bin)
	}
	return g.version
}

// Output returns what the agent wrote to stdout/stderr (usually nothing;
// it logs to Log).
func (g *QemuGA) Output() string {
	g.outMu.Lock()
	defer g.outMu.Unlock()
	return strings.TrimSpace(g.output.String())
}

// LogTail returns the last n lines of the agent's log file.
func (g *QemuGA) LogTail(n int) string {
	b, err := os.ReadFile(g.Log)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Dial opens a new client connection to the agent.
func (g *QemuGA) Dial() (net.Conn, error) { return net.Dial("unix", g.Socket) }

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.b.Len() < 64<<10 { // keep memory bounded
		w.b.Write(p)
	}
	return len(p), nil
}

// MissingQemuGAMessage is the skip message used when qemu-ga is absent.
const MissingQemuGAMessage = "qemu-ga not found in PATH; install qemu-guest-agent (apt-get install -y qemu-guest-agent) to run differential tests"

// StartQemuGA starts a qemu-ga for a test in a temporary directory and
// registers a cleanup that stops it and, if the test failed, logs the tail
// of its log. When qemu-ga is not installed the test is skipped, except
// when $CI is non-empty, where it fails (CI must never skip).
func StartQemuGA(tb testing.TB) *QemuGA {
	tb.Helper()
	if _, err := FindQemuGA(); err != nil {
		if os.Getenv("CI") != "" {
			tb.Fatalf("%s (CI is set, so this is fatal): %v", MissingQemuGAMessage, err)
		}
		tb.Skipf("%s (%v)", MissingQemuGAMessage, err)
	}
	dir := tb.TempDir()
	if len(filepath.Join(dir, "qga.sock")) > maxSunPath {
		d, err := os.MkdirTemp("", "qga")
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { _ = os.RemoveAll(d) })
		dir = d
	}
	ctx, cancel := context.WithCancel(context.Background())
	g, err := StartQemuGAProcess(ctx, dir)
	if err != nil {
		cancel()
		tb.Fatalf("start qemu-ga: %v", err)
	}
	tb.Cleanup(func() {
		_ = g.Stop()
		cancel()
		if tb.Failed() {
			tb.Logf("qemu-ga %s log tail (%s):\n%s", g.Version(), g.Log, g.LogTail(40))
			if out := g.Output(); out != "" {
				tb.Logf("qemu-ga output:\n%s", out)
			}
		}
	})
	return g
}
