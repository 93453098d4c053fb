package qgatest

import (
	"bytes"
	"errors"
	"io"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// fakeAgent is a tiny line-echo server with qemu-ga's connection model:
// one client at a time, state (the partial line) kept across connections,
// replies written synchronously. Lines "slow", "bye" and "stall" trigger a
// delayed reply, a server-side close and a server that stops reading; the
// fence's guest-sync gets the fence's reply.
type fakeAgent struct {
	ln   net.Listener
	path string
	line []byte
	wg   sync.WaitGroup
}

func startFakeAgent(t *testing.T) *fakeAgent {
	t.Helper()
	path := filepath.Join(t.TempDir(), "fake.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	a := &fakeAgent{ln: ln, path: path}
	a.wg.Add(1)
	go a.serve()
	t.Cleanup(func() { ln.Close(); a.wg.Wait() })
	return a
}

func (a *fakeAgent) serve() {
	defer a.wg.Done()
	for {
		c, err := a.ln.Accept()
		if err != nil {
			return
		}
		a.handle(c)
	}
}

func (a *fakeAgent) handle(c net.Conn) {
	defer c.Close()
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf)
		for _, b := range buf[:n] {
			if b != '\n' {
				a.line = append(a.line, b)
				continue
			}
			line := string(a.line)
			a.line = nil
			switch line {
			case "bye":
				return
			case "stall":
				time.Sleep(500 * time.Millisecond)
				return
			case "slow":
				time.Sleep(100 * time.Millisecond)
			case string(Fence[2:]):
				if _, err := c.Write(FenceReply); err != nil {
					return
				}
				continue
			}
			if _, err := c.Write([]byte(line + "\n")); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func dialFake(t *testing.T, a *fakeAgent) *Conn {
	t.Helper()
	nc, err := DialUnix(a.path)()
	if err != nil {
		t.Fatal(err)
	}
	c := NewConn(nc)
	t.Cleanup(func() { c.Close() })
	return c
}

func TestExchangeConcurrentBigWrite(t *testing.T) {
	a := startFakeAgent(t)
	c := dialFake(t, a)
	data := bytes.Repeat([]byte("0123456789abcde\n"), 1<<19) // 8 MiB, echoed back
	start := time.Now()
	got, err := c.Exchange(data, 50*time.Millisecond, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("got %d bytes back, want %d", len(got), len(data))
	}
	t.Logf("8 MiB round trip in %v", time.Since(start))
}

func TestExchangeIdle(t *testing.T) {
	a := startFakeAgent(t)
	c := dialFake(t, a)
	// A 100 ms late reply is missed with a 20 ms idle and found by the
	// next read; a 250 ms idle catches it.
	got, err := c.Exchange([]byte("slow\n"), 20*time.Millisecond, time.Second)
	if err != nil || len(got) != 0 {
		t.Fatalf("short idle: %q, %v", got, err)
	}
	got, err = c.Drain(250 * time.Millisecond)
	if err != nil || string(got) != "slow\n" {
		t.Fatalf("drain: %q, %v", got, err)
	}
	start := time.Now()
	got, err = c.Exchange([]byte("slow\nx\n"), 250*time.Millisecond, time.Second)
	if err != nil || string(got) != "slow\nx\n" {
		t.Fatalf("long idle: %q, %v", got, err)
	}
	if d := time.Since(start); d < 340*time.Millisecond || d > 3*time.Second {
		t.Errorf("exchange took %v, want about 100 ms + 250 ms idle", d)
	}
}

func TestExchangeEOFAndTimeout(t *testing.T) {
	a := startFakeAgent(t)
	c := dialFake(t, a)
	got, err := c.Exchange([]byte("hi\nbye\n"), 200*time.Millisecond, time.Second)
	if !errors.Is(err, io.EOF) || string(got) != "hi\n" || !c.PeerClosed() {
		t.Fatalf("got %q, %v; want hi and EOF", got, err)
	}
	c = dialFake(t, a)
	big := append([]byte("stall\n"), bytes.Repeat([]byte("z"), 32<<20)...)
	_, err = c.Exchange(big, 20*time.Millisecond, 200*time.Millisecond)
	if err == nil {
		t.Fatal("no error for a write that cannot complete")
	}
	t.Logf("stalled write: %v", err)
}

func TestRunVectorSemantics(t *testing.T) {
	a := startFakeAgent(t)
	vs, err := ReadVectors(bytes.NewReader([]byte(
		`{"name":"plain","input_hex":"610a620a","output_hex":"610a620a"}` + "\n" +
			// The partial line "ab" survives the reconnect, like qemu-ga's parser.
			`{"name":"split","input_hex":"","output_hex":"6162630a","setup_hex":"0a",` +
			`"steps":[{"send_hex":"6162","idle_ms":30},{"reconnect":true},{"send_hex":"630a"}],` +
			`"step_outputs_hex":["","","6162630a",""]}` + "\n" +
			// The late reply misses the 20 ms idle of a non-last step.
			`{"name":"late","input_hex":"","output_hex":"736c6f770a780a",` +
			`"steps":[{"send_hex":"736c6f770a"},{"sleep_ms":400},{"send_hex":"780a","idle_ms":30}],` +
			`"step_outputs_hex":["","","736c6f770a780a",""]}` + "\n" +
			`{"name":"gen","input_gen":[["78",3],["0a",1]],"output_hex":"7878780a","fresh_connection":true,"idle_ms":30}` + "\n" +
			// A reply slower than the idle (a loaded machine) still
			// counts: the read waits for the bytes the vector records.
			`{"name":"slow-last","input_hex":"736c6f770a","output_hex":"736c6f770a","idle_ms":30}` + "\n" +
			`{"name":"slow-steps","input_hex":"","output_hex":"736c6f770a736c6f770a",` +
			`"steps":[{"send_hex":"736c6f770a"},{"send_hex":"736c6f770a","idle_ms":30}],` +
			`"step_outputs_hex":["736c6f770a","736c6f770a",""]}` + "\n" +
			// A setup reply slower than the idle is the setup's, not
			// the vector's.
			`{"name":"slow-setup","input_hex":"780a","output_hex":"780a","setup_hex":"736c6f770a","idle_ms":30}`,
	)))
	if err != nil {
		t.Fatal(err)
	}
	var conn *Conn
	for i := range vs {
		v := &vs[i]
		got, steps, next, err := RunVector(DialUnix(a.path), conn, v, 60*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		conn = next
		if !bytes.Equal(got, v.Output) {
			t.Errorf("%s: got %q, want %q", v.Name, got, v.Output)
		}
		if v.StepOutputs != nil && !equalSteps(steps, v.StepOutputs) {
			t.Errorf("%s: steps %q, want %q", v.Name, steps, v.StepOutputs)
		}
	}
	// An agent that sends less than recorded fails the comparison after
	// two seconds of silence (per read), not at the 60 s vector timeout.
	short := &Vector{Name: "short", Input: []byte("a\n"), Output: []byte("a\nb\n"), IdleMS: 30}
	start := time.Now()
	got, _, next, err := RunVector(DialUnix(a.path), conn, short, 30*time.Millisecond)
	if err != nil || string(got) != "a\n" || time.Since(start) > 8*time.Second {
		t.Errorf("short: got %q, %v after %v", got, err, time.Since(start))
	}
	conn = next
	// An agent-side close surfaces as an error and a nil connection.
	bye := &Vector{Name: "bye", Input: []byte("bye\n"), Setup: []byte{}}
	_, _, next, err = RunVector(DialUnix(a.path), conn, bye, 30*time.Millisecond)
	if err == nil || next != nil {
		t.Errorf("bye: err %v, next %v", err, next)
	}
}

func equalSteps(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}
