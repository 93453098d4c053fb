//go:build linux

package qga_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/qgafuzz/qgafuzz/qga"
	"github.com/qgafuzz/qgafuzz/qjson"
)

// ptyPair opens a pseudo-terminal, puts the slave in raw mode (as QEMU's
// "-chardev pty" does) and returns the master and the slave's path.
func ptyPair(t *testing.T) (*os.File, string) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no ptmx: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	rc, err := m.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var n uint32
	var ierr error
	rc.Control(func(fd uintptr) {
		var unlock int32
		if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); e != 0 {
			ierr = e
			return
		}
		if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n))); e != 0 {
			ierr = e
			return
		}
		var tio syscall.Termios
		if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TCGETS, uintptr(unsafe.Pointer(&tio))); e != 0 {
			ierr = e
			return
		}
		// cfmakeraw
		tio.Iflag &^= syscall.IGNBRK | syscall.BRKINT | syscall.PARMRK | syscall.ISTRIP | syscall.INLCR | syscall.IGNCR | syscall.ICRNL | syscall.IXON
		tio.Oflag &^= syscall.OPOST
		tio.Lflag &^= syscall.ECHO | syscall.ECHONL | syscall.ICANON | syscall.ISIG | syscall.IEXTEN
		tio.Cflag &^= syscall.CSIZE | syscall.PARENB
		tio.Cflag |= syscall.CS8
		tio.Cc[syscall.VMIN] = 1
		tio.Cc[syscall.VTIME] = 0
		if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TCSETS, uintptr(unsafe.Pointer(&tio))); e != 0 {
			ierr = e
		}
	})
	if ierr != nil {
		t.Fatal(ierr)
	}
	return m, fmt.Sprintf("/dev/pts/%d", n)
}

// ptyAgent serves the reference agent on the master side until stop.
type ptyAgent struct {
	m    *os.File
	mu   sync.Mutex
	mute bool // read but never answer
	got  []byte
	done chan struct{}
}

func servePTY(t *testing.T, m *os.File, mute bool) *ptyAgent {
	a := &ptyAgent{m: m, mute: mute, done: make(chan struct{})}
	ag := qga.NewAgent(qga.AgentConfig{})
	go func() {
		defer close(a.done)
		buf := make([]byte, 4096)
		for {
			n, err := m.Read(buf)
			a.mu.Lock()
			a.got = append(a.got, buf[:n]...)
			mute := a.mute
			a.mu.Unlock()
			if n > 0 && !mute {
				out := ag.Feed(nil, buf[:n])
				if _, werr := m.Write(out); werr != nil {
					return
				}
			}
			if err != nil {
				if errors.Is(err, os.ErrClosed) {
					return
				}
				// EIO: no slave open right now (as QEMU sees a
				// disconnected pty); wait for the next user.
				time.Sleep(5 * time.Millisecond)
			}
		}
	}()
	return a
}

func TestPTYCall(t *testing.T) {
	m, path := ptyPair(t)
	servePTY(t, m, false)
	ctx := context.Background()
	c, err := qga.DialClient(ctx, "file:"+path, qga.ClientOptions{Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var v qjson.Value
	if err := c.Execute(ctx, qga.CmdPing, nil, &v); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("close took %v", time.Since(start))
}

func TestPTYStale(t *testing.T) {
	m, path := ptyPair(t)
	// Stale bytes sitting in the device: a full stale delimited reply,
	// replies without ids, and half a reply.
	stale := "\xff{\"return\": 5}\n{\"return\": {}}\n{\"return\": {}, \"id\": 12}\n{\"return\": {\"version\": \"1.0\", \"supp"
	if _, err := m.Write([]byte(stale)); err != nil {
		t.Fatal(err)
	}
	servePTY(t, m, false)
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		c, err := qga.DialClient(ctx, "file:"+path, qga.ClientOptions{Timeout: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		var v qjson.Value
		if err := c.Execute(ctx, qga.CmdSync, map[string]any{"id": 99}, &v); err != nil {
			t.Fatal(i, err)
		}
		if n, _ := v.Int(); n != 99 {
			t.Fatalf("got %s", qjson.AppendValue(nil, v))
		}
		c.Close()
	}
}

// requireTimeout checks that a ping through the device at path fails with
// ErrTimeout near its 300 ms deadline and that Close then returns.
func requireTimeout(t *testing.T, path string) {
	t.Helper()
	ctx := context.Background()
	c, err := qga.DialClient(ctx, "file:"+path, qga.ClientOptions{Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = c.Execute(ctx, qga.CmdPing, nil, nil)
	took := time.Since(start)
	if !errors.Is(err, qga.ErrTimeout) || took > time.Second {
		t.Fatalf("err %v after %v", err, took)
	}
	start = time.Now()
	c.Close()
	t.Logf("timeout after %v, close %v", took, time.Since(start))
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("close took %v", d)
	}
}

// An agent that reads but never answers: the call ends at its deadline.
func TestPTYMuteDeadline(t *testing.T) {
	m, path := ptyPair(t)
	servePTY(t, m, true)
	requireTimeout(t, path)
}

// With nobody reading the master, the client's writes fill the pty and
// block: the deadline must still hold.
func TestPTYNoReaderDeadline(t *testing.T) {
	m, path := ptyPair(t)
	_ = m
	// Fill the slave->master direction so that writes block.
	s, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	s.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
	big := make([]byte, 1<<16)
	for {
		if _, err := s.Write(big); err != nil {
			break
		}
	}
	s.Close()
	requireTimeout(t, path)
}

func TestPTYCancel(t *testing.T) {
	m, path := ptyPair(t)
	servePTY(t, m, true)
	c, err := qga.DialClient(context.Background(), "file:"+path, qga.ClientOptions{Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	err = c.Execute(ctx, qga.CmdPing, nil, nil)
	if !errors.Is(err, context.Canceled) || time.Since(start) > time.Second {
		t.Fatalf("err %v after %v", err, time.Since(start))
	}
}

// A slow agent answers after the client gave up; its late replies, and the
// replies to requests it read late, sit in the device for the next client
// (same Client, then a new one).
func TestPTYLateReplies(t *testing.T) {
	m, path := ptyPair(t)
	ag := qga.NewAgent(qga.AgentConfig{})
	var delay sync.Mutex
	slow := true
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := m.Read(buf)
			if n > 0 {
				delay.Lock()
				s := slow
				delay.Unlock()
				if s {
					time.Sleep(400 * time.Millisecond)
				}
				m.Write(ag.Feed(nil, buf[:n]))
			}
			if err != nil {
				if errors.Is(err, os.ErrClosed) {
					return
				}
				time.Sleep(5 * time.Millisecond)
			}
		}
	}()
	ctx := context.Background()
	c, err := qga.DialClient(ctx, "file:"+path, qga.ClientOptions{Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		err := c.Execute(ctx, qga.CmdPing, nil, nil)
		t.Logf("slow call %d: %v", i, err)
	}
	delay.Lock()
	slow = false
	delay.Unlock()
	var v qjson.Value
	for i := 0; i < 3; i++ {
		st := time.Now()
		if err := c.Execute(ctx, qga.CmdSync, map[string]any{"id": 7}, &v); err != nil {
			t.Logf("same client call %d: %v after %v", i, err, time.Since(st))
			continue
		}
		if n, _ := v.Int(); n != 7 {
			t.Fatalf("wrong reply %s", qjson.AppendValue(nil, v))
		}
	}
	c2, _ := qga.DialClient(ctx, "file:"+path, qga.ClientOptions{Timeout: 2 * time.Second})
	if err := c2.Execute(ctx, qga.CmdSync, map[string]any{"id": 8}, &v); err != nil {
		t.Fatal(err)
	}
	if n, _ := v.Int(); n != 8 {
		t.Fatalf("wrong reply %s", qjson.AppendValue(nil, v))
	}
	c.Close()
	c2.Close()
}

// TestPTYNotControllingTerminal: a process without a controlling terminal
// (a daemon, a systemd service) that opens a pty with file: must not
// acquire it as its controlling terminal, or the agent's side hanging up
// would kill it with SIGHUP. The check runs in a child in a session of its
// own, which has no controlling terminal, and opens /dev/tty afterwards:
// that succeeds only if the pty became its controlling terminal.
func TestPTYNotControllingTerminal(t *testing.T) {
	if path := os.Getenv("QGAFUZZ_CTTY_CHILD"); path != "" {
		tr, err := qga.DialTransport(context.Background(), "file:"+path)
		if err != nil {
			fmt.Println("dial:", err)
			os.Exit(3)
		}
		defer tr.Close()
		if tty, err := os.Open("/dev/tty"); err == nil {
			tty.Close()
			fmt.Println("acquired a controlling terminal")
			os.Exit(4)
		}
		os.Exit(0)
	}
	_, slave := ptyPair(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestPTYNotControllingTerminal$")
	cmd.Env = append(os.Environ(), "QGAFUZZ_CTTY_CHILD="+slave)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v: %s", err, out)
	}
}
