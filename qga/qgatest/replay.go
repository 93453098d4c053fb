package qgatest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"
)

// Timing defaults, mirroring probe.py.
const (
	// DefaultIdle is the silence that ends a read (probe.py DEFAULT_IDLE_MS).
	DefaultIdle = 250 * time.Millisecond
	// StepIdle is the idle used by a step that is not the last one and
	// has no idle_ms of its own.
	StepIdle = 20 * time.Millisecond
	// DefaultTimeout is the overall limit of one exchange (timeout_s).
	DefaultTimeout = 60 * time.Second
	// MinIdle is the shortest idle an exchange waits; probe.py's select
	// loop has a 5 ms granularity, so an idle of 0 behaves like this.
	MinIdle = 5 * time.Millisecond
	// CloseDrainIdle is the idle of the drain done by Conn.Close.
	CloseDrainIdle = 50 * time.Millisecond
)

// ErrTimeout is returned by Exchange when the overall timeout expired
// before all data could be written.
var ErrTimeout = errors.New("qgatest: exchange timed out before all data was written")

// Conn is a client connection to an agent's stream socket.
// A Conn is not safe for concurrent use.
type Conn struct {
	nc  net.Conn
	eof bool // the peer closed its side
}

// NewConn wraps an established connection.
func NewConn(nc net.Conn) *Conn { return &Conn{nc: nc} }

// DialUnix returns a dial function for a unix socket path, suitable for
// RunVector.
func DialUnix(path string) func() (net.Conn, error) {
	return func() (net.Conn, error) { return net.Dial("unix", path) }
}

// NetConn returns the underlying connection.
func (c *Conn) NetConn() net.Conn { return c.nc }

// PeerClosed reports whether an exchange saw EOF from the agent.
func (c *Conn) PeerClosed() bool { return c.eof }

// Exchange writes data while concurrently reading, then keeps reading
// until idle has passed without any progress (write or read), the peer
// closes (io.EOF is returned with the bytes read), or timeout has passed
// since the call started. idle below MinIdle is raised to MinIdle;
// timeout <= 0 means DefaultTimeout. Running out of time after all data
// was written is not an error (as in probe.py); running out of time before
// that returns ErrTimeout.
func (c *Conn) Exchange(data []byte, idle, timeout time.Duration) ([]byte, error) {
	return c.exchange(data, 0, idle, timeout)
}

// wantGrace is the longest silence exchange waits through for bytes a
// vector records: far more than any scheduling delay, far less than a
// vector's timeout.
const wantGrace = 2 * time.Second

// exchange is Exchange that, until want bytes have come, waits for them
// up to wantGrace of silence (and timeout) rather than stopping at the
// first idle: a slow agent (a loaded machine) is then not mistaken for a
// silent one, while bytes past want still end at the idle, as extra
// output must show.
func (c *Conn) exchange(data []byte, want int, idle, timeout time.Duration) ([]byte, error) {
	if c.eof {
		return nil, io.EOF
	}
	if idle < MinIdle {
		idle = MinIdle
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	start := time.Now()
	hard := start.Add(timeout)

	// mu guards writing, lastProgress and the read deadline, which both
	// goroutines update.
	var mu sync.Mutex
	writing := len(data) > 0
	lastProgress := start
	have := 0
	deadline := func() time.Time {
		if writing {
			return hard
		}
		if have < want {
			// A slow agent keeps making progress; one that sends
			// less than recorded stops, and the comparison fails in
			// wantGrace rather than at the vector's timeout.
			if d := lastProgress.Add(max(wantGrace, idle)); d.Before(hard) {
				return d
			}
			return hard
		}
		if d := lastProgress.Add(idle); d.Before(hard) {
			return d
		}
		return hard
	}
	setDeadline := func() { _ = c.nc.SetReadDeadline(deadline()) }
	mu.Lock()
	setDeadline()
	mu.Unlock()

	var werr chan error
	if writing {
		werr = make(chan error, 1)
		go func() {
			_, err := c.nc.Write(data)
			mu.Lock()
			writing = false
			lastProgress = time.Now()
			setDeadline()
			mu.Unlock()
			werr <- err
		}()
	}

	var (
		out     []byte
		readErr error
		buf     = make([]byte, 64<<10)
	)
	for {
		n, err := c.nc.Read(buf)
		if n > 0 {
			out = append(out, buf[:n]...)
			mu.Lock()
			have = len(out)
			lastProgress = time.Now()
			setDeadline()
			mu.Unlock()
		}
		if err == nil {
			continue
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			mu.Lock()
			d := deadline()
			mu.Unlock()
			if time.Now().Before(d) {
				continue // a deadline that was extended meanwhile
			}
			break
		}
		if errors.Is(err, io.EOF) {
			c.eof = true
		} else {
			readErr = err
		}
		break
	}
	_ = c.nc.SetReadDeadline(time.Time{})

	var writeErr error
	if werr != nil {
		mu.Lock()
		stillWriting := writing
		mu.Unlock()
		if stillWriting {
			// Unblock the writer; whatever it did not send is dropped.
			_ = c.nc.SetWriteDeadline(time.Now())
		}
		writeErr = <-werr
		_ = c.nc.SetWriteDeadline(time.Time{})
	}
	switch {
	case readErr != nil:
		return out, fmt.Errorf("qgatest: read: %w", readErr)
	case writeErr != nil && errors.Is(writeErr, os.ErrDeadlineExceeded):
		// We cut the write short: the read side ended first.
		if c.eof {
			return out, fmt.Errorf("qgatest: peer closed during write: %w", io.EOF)
		}
		return out, ErrTimeout
	case writeErr != nil:
		return out, fmt.Errorf("qgatest: write: %w", writeErr)
	case c.eof:
		return out, io.EOF
	}
	return out, nil
}

// fenced writes data and a guest-sync with FenceID, and reads until the
// fence's reply has come: everything data caused has come before it.
func (c *Conn) fenced(data []byte, timeout time.Duration) error {
	// The newline is whitespace to a JSON agent, and ends the line of a
	// line-based test agent.
	req := append(append(bytes.Clone(data), Fence[len("\xff\n"):]...), '\n')
	hard := time.Now().Add(timeout)
	_ = c.nc.SetWriteDeadline(hard)
	if _, err := c.nc.Write(req); err != nil {
		return err
	}
	_ = c.nc.SetReadDeadline(hard)
	var got []byte
	buf := make([]byte, 4096)
	for !bytes.HasSuffix(got, FenceReply) {
		n, err := c.nc.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			if err == io.EOF {
				c.eof = true
			}
			return fmt.Errorf("no fence reply (got %q): %w", tail(got, 200), err)
		}
	}
	return nil
}

// tail returns the last n bytes of b at most.
func tail(b []byte, n int) []byte { return b[max(len(b)-n, 0):] }

// Drain reads until idle of silence and returns what arrived.
func (c *Conn) Drain(idle time.Duration) ([]byte, error) {
	return c.Exchange(nil, idle, DefaultTimeout)
}

// Close drains pending replies (CloseDrainIdle of silence) and then closes
// the connection. A nil Conn is a no-op. Draining matters: qemu-ga 7.2 exits when a client closes
// while replies sit unread in its receive buffer.
func (c *Conn) Close() error {
	if c == nil {
		return nil
	}
	if !c.eof {
		_, _ = c.Drain(CloseDrainIdle)
	}
	return c.nc.Close()
}

// abort closes without draining (the connection is already broken).
func (c *Conn) abort() { _ = c.nc.Close() }

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

// resolveIdle maps a file's idle_ms convention (0 = default, negative =
// explicit zero) to a duration.
func resolveIdle(fileMS int, def time.Duration) time.Duration {
	switch {
	case fileMS > 0:
		return ms(fileMS)
	case fileMS < 0:
		return 0
	}
	return def
}

// RunVector replays v with probe.py's run_vector semantics and returns
// the bytes received after the setup, the bytes received during each step
// plus a final entry for the closing read, and the connection to reuse for
// the next vector.
//
// conn may be nil (a connection is dialled). idle is the default idle
// (DefaultIdle when <= 0); it ends the setup read and, unless the vector
// sets idle_ms, the last step's read, reconnect drains and the closing
// read. Steps that are not last use StepIdle unless they set idle_ms.
// Each read first waits (up to the timeout) for as many bytes as the
// vector records for it, so that a slow agent on a loaded machine is not
// taken for one that stays silent; the idle then ends it, so extra output
// still shows.
//
// On error the received bytes so far are returned, the connection is closed
// without draining and next is nil: the caller should check that the agent
// is still alive (qemu-ga 7.2 exits on a reset connection) before dialling
// again.
func RunVector(dial func() (net.Conn, error), conn *Conn, v *Vector, idle time.Duration) (got []byte, steps [][]byte, next *Conn, err error) {
	if idle <= 0 {
		idle = DefaultIdle
	}
	timeout := DefaultTimeout
	if v.TimeoutS > 0 {
		timeout = time.Duration(v.TimeoutS * float64(time.Second))
	}
	fail := func(what string, e error) ([]byte, [][]byte, *Conn, error) {
		if conn != nil {
			conn.abort()
		}
		return got, steps, nil, fmt.Errorf("vector %s: %s: %w", v.Name, what, e)
	}
	redial := func() error {
		nc, err := dial()
		if err != nil {
			return err
		}
		conn = NewConn(nc)
		return nil
	}

	if conn == nil || v.FreshConnection {
		if conn != nil {
			_ = conn.Close()
			conn = nil
		}
		if err := redial(); err != nil {
			return fail("dial", err)
		}
	}
	if len(v.Setup) > 0 {
		// The setup always uses the default timeout, as in probe.py.
		// Its replies (an error for the 0xFF when the agent held input)
		// are not recorded, and on a loaded machine may come later than
		// idle, to be taken for the vector's: a guest-sync fence after
		// the setup, a complete request, ends them.
		if err := conn.fenced(v.Setup, DefaultTimeout); err != nil {
			return fail("setup", err)
		}
	}
	list := v.Steps
	if len(list) == 0 {
		list = []Step{{Input: true}}
	}
	finalIdle := resolveIdle(v.IdleMS, idle)
	// want is how many bytes read i is to bring, by the vector's record:
	// each read waits for them (see exchange), so that the comparison
	// does not depend on how fast the agent is.
	want := func(i int) int {
		if v.StepOutputs != nil {
			if i < len(v.StepOutputs) {
				return len(v.StepOutputs[i])
			}
			return 0
		}
		if i >= len(list)-1 {
			return max(len(v.Output)-len(got), 0)
		}
		return 0
	}
	for i := range list {
		s := &list[i]
		last := i == len(list)-1
		var out []byte
		switch {
		case s.Reconnect:
			out, err = conn.exchange(nil, want(i), finalIdle, timeout)
			got = append(got, out...)
			steps = append(steps, out)
			if err != nil {
				return fail(fmt.Sprintf("step %d: drain before reconnect", i), err)
			}
			_ = conn.nc.Close() // drained just above
			conn = nil
			if err := redial(); err != nil {
				return fail(fmt.Sprintf("step %d: reconnect", i), err)
			}
			continue
		case s.IsSleep():
			time.Sleep(ms(s.SleepMS))
		default:
			def := StepIdle
			if last {
				def = finalIdle
			}
			out, err = conn.exchange(s.SendBytes(v), want(i), resolveIdle(s.IdleMS, def), timeout)
		}
		got = append(got, out...)
		steps = append(steps, out)
		if err != nil {
			return fail(fmt.Sprintf("step %d", i), err)
		}
	}
	// Final collection: make sure nothing more is coming.
	out, err := conn.exchange(nil, want(len(list)), finalIdle, timeout)
	got = append(got, out...)
	steps = append(steps, out)
	if err != nil {
		return fail("final read", err)
	}
	return got, steps, conn, nil
}
