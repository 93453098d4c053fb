package qga_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"regexp"
	"runtime"
	"testing"
	"time"

	"github.com/qgafuzz/qgafuzz/qga"
	"github.com/qgafuzz/qgafuzz/qjson"
)

// Tests of the client's contract under misuse and hostile replies: wrong
// result arguments, extreme options, cancellation, and replies built to
// make error reporting expensive.

// pipeAgent serves the reference agent on one end of a socket pair (which
// buffers, as a real channel does, unlike net.Pipe), each reply written
// after delay, and returns a client on the other end.
func pipeAgent(t *testing.T, delay time.Duration, opts qga.ClientOptions) *qga.Client {
	t.Helper()
	a, b := socketPair(t)
	srv := &qga.Server{Agent: qga.NewAgent(qga.AgentConfig{})}
	go srv.ServeConn(delayedWriter{b, delay})
	c := qga.NewClient(a, opts)
	t.Cleanup(func() { c.Close(); b.Close() })
	return c
}

func socketPair(t *testing.T) (net.Conn, net.Conn) {
	t.Helper()
	var conns [2]net.Conn
	for i, fd := range socketPairFDs(t) {
		f := os.NewFile(uintptr(fd), "socketpair")
		c, err := net.FileConn(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		conns[i] = c
	}
	return conns[0], conns[1]
}

// scriptedAgent answers on conn as a minimal agent: each guest-sync-delimited
// with its delimited reply, every other request line with answer(line)
// (nothing when it returns nil).
func scriptedAgent(conn net.Conn, answer func(line []byte) []byte) {
	sync := regexp.MustCompile(`"guest-sync-delimited".*"id":(\d+)`)
	r := bufio.NewReader(conn)
	for {
		line, err := r.ReadBytes('\n')
		if err != nil {
			return
		}
		if m := sync.FindSubmatch(line); m != nil {
			conn.Write([]byte("\xff{\"return\": " + string(m[1]) + "}\n"))
		} else if reply := answer(line); reply != nil {
			conn.Write(reply)
		}
	}
}

type delayedWriter struct {
	net.Conn
	delay time.Duration
}

func (w delayedWriter) Write(p []byte) (int, error) {
	time.Sleep(w.delay)
	return w.Conn.Write(p)
}

// TestClientResultChecked: a result that cannot hold a value is refused
// before anything is sent, not a panic after the reply.
func TestClientResultChecked(t *testing.T) {
	c := pipeAgent(t, 0, qga.ClientOptions{Timeout: 5 * time.Second})
	var n int
	for _, res := range []any{(*qjson.Value)(nil), (*[]byte)(nil), (*map[string]any)(nil), n} {
		err := c.Execute(context.Background(), qga.CmdPing, nil, res)
		if !errors.Is(err, qga.ErrInvalidRequest) {
			t.Errorf("result %T: %v, want ErrInvalidRequest", res, err)
		}
	}
	if s := c.Stats(); s.Calls != 0 || s.Syncs != 0 {
		t.Errorf("something was sent: %+v", s)
	}
	// A reply that does not fit: encoding/json's error, channel in step.
	err := c.Execute(context.Background(), qga.CmdPing, nil, &n)
	var typeErr *json.UnmarshalTypeError
	if !errors.As(err, &typeErr) {
		t.Fatalf("an object into an int: %v", err)
	}
	var v qjson.Value
	if err := c.Execute(context.Background(), qga.CmdPing, nil, &v); err != nil || v.Kind() != qjson.Object {
		t.Fatalf("the next call: %v, %v", v, err)
	}
}

// TestClientHugeLimit: a MaxReplySize meaning "unlimited" works.
func TestClientHugeLimit(t *testing.T) {
	c := pipeAgent(t, 0, qga.ClientOptions{MaxReplySize: math.MaxInt, Timeout: 5 * time.Second})
	if err := c.Execute(context.Background(), qga.CmdPing, nil, nil); err != nil {
		t.Fatal(err)
	}
}

// TestClientCancelMidCall: cancelling the context ends a call blocked on
// the agent at once, with context.Canceled; the next call resynchronises
// past the late reply and succeeds.
func TestClientCancelMidCall(t *testing.T) {
	c := pipeAgent(t, 300*time.Millisecond, qga.ClientOptions{Timeout: 5 * time.Second})
	if err := c.Execute(context.Background(), qga.CmdPing, nil, nil); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	err := c.Execute(ctx, qga.CmdSync, map[string]int{"id": 5}, nil)
	if d := time.Since(start); !errors.Is(err, context.Canceled) || d > time.Second {
		t.Fatalf("cancelled after 50ms: returned after %v with %v", d, err)
	}
	var v qjson.Value
	if err := c.Execute(context.Background(), qga.CmdSync, map[string]int{"id": 6}, &v); err != nil {
		t.Fatalf("the call after the cancelled one: %v", err)
	}
	if n, _ := v.Int(); n != 6 {
		t.Fatalf("the call after the cancelled one returned %v", v)
	}
}

// TestClientCancelAfterFirstDial: a Client made without a transport dials
// on its first call; cancelling that call ends it at once, as on any
// net.Conn, not at its deadline.
func TestClientCancelAfterFirstDial(t *testing.T) {
	a, b := socketPair(t) // b is a silent agent
	defer b.Close()
	dialed := false
	c := qga.NewClient(nil, qga.ClientOptions{Timeout: 3 * time.Second, DrainTimeout: time.Millisecond, Reconnect: true,
		Redial: func(context.Context) (qga.Transport, error) {
			if dialed {
				return nil, errors.New("dialed once already")
			}
			dialed = true
			return a, nil
		}})
	defer c.Close()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	err := c.Execute(ctx, qga.CmdPing, nil, nil)
	if d := time.Since(start); !errors.Is(err, context.Canceled) || d > time.Second {
		t.Fatalf("cancelled after 50ms: returned after %v with %v", d, err)
	}
}

// TestClientRedialDeadline: a context that ends while the Client redials
// gives the context's error (ErrTimeout for a deadline), not ErrClosed.
func TestClientRedialDeadline(t *testing.T) {
	c := qga.NewClient(nil, qga.ClientOptions{Reconnect: true,
		Redial: func(ctx context.Context) (qga.Transport, error) {
			<-ctx.Done()
			return nil, fmt.Errorf("dial: %w", ctx.Err())
		}})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	err := c.Execute(ctx, qga.CmdPing, nil, nil)
	wantErr(t, err, qga.ErrTimeout)
	if errors.Is(err, qga.ErrClosed) {
		t.Errorf("a deadline during the redial: %v, which also matches ErrClosed", err)
	}
	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	err = c.Execute(ctx, qga.CmdPing, nil, nil)
	wantErr(t, err, context.Canceled)
	if errors.Is(err, qga.ErrClosed) {
		t.Errorf("a cancellation during the redial: %v, which also matches ErrClosed", err)
	}
}

// TestClientHostileErrorBounded: a 16 MiB reply that is one broken string
// of bytes that quote to four each gives a short ProtocolError and costs
// little more than the reply itself.
func TestClientHostileErrorBounded(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	go scriptedAgent(b, func([]byte) []byte {
		bad := make([]byte, 16<<20-16)
		bad[0] = '"'
		for i := 1; i < len(bad)-1; i++ {
			bad[i] = 0x80
		}
		bad[len(bad)-1] = '\n'
		return bad
	})
	c := qga.NewClient(a, qga.ClientOptions{Timeout: 20 * time.Second, DrainTimeout: time.Millisecond})
	defer c.Close()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	err := c.Execute(context.Background(), qga.CmdPing, nil, nil)
	runtime.ReadMemStats(&m1)
	var pe *qga.ProtocolError
	if !errors.As(err, &pe) {
		t.Fatal(err)
	}
	if len(pe.Reason) > 2048 || len(pe.Error()) > 4096 {
		t.Errorf("the error is %d bytes long (reason %d)", len(pe.Error()), len(pe.Reason))
	}
	if alloc := m1.TotalAlloc - m0.TotalAlloc; alloc > 128<<20 {
		t.Errorf("the call allocated %d MiB for a 16 MiB reply", alloc>>20)
	}
}

// TestClientDuplicateArgKeys: arguments built by hand with a key twice are
// refused before anything is sent (qemu-ga would answer without the id,
// and the call would lose track of the channel).
func TestClientDuplicateArgKeys(t *testing.T) {
	c := pipeAgent(t, 0, qga.ClientOptions{Timeout: 5 * time.Second})
	for _, n := range []int{2, 40} {
		var ms []qjson.Member
		for i := range n {
			ms = append(ms, qjson.Member{Key: fmt.Sprint("k", i), Value: qjson.IntValue(int64(i))})
		}
		ms = append(ms, qjson.Member{Key: "k1", Value: qjson.IntValue(-1)})
		err := c.Execute(context.Background(), qga.CmdPing, qjson.ObjectValue(ms...), nil)
		if !errors.Is(err, qga.ErrInvalidRequest) {
			t.Errorf("%d members, one key twice: %v, want ErrInvalidRequest", n+1, err)
		}
	}
	if err := c.Execute(context.Background(), qga.CmdPing, nil, nil); err != nil {
		t.Fatalf("the next call: %v", err)
	}
}

// TestClientWideReply: a reply object of many members (within the limits)
// is accepted, in linear time.
func TestClientWideReply(t *testing.T) {
	a, b := socketPair(t)
	defer b.Close()
	go scriptedAgent(b, func(line []byte) []byte {
		id := regexp.MustCompile(`"id":\s*(\d+)`).FindSubmatch(line)
		if id == nil {
			return nil
		}
		var w bytes.Buffer
		w.WriteString(`{"return": {`)
		for i := range 50000 {
			if i > 0 {
				w.WriteString(", ")
			}
			fmt.Fprintf(&w, `"m%d": %d`, i, i)
		}
		w.WriteString(`}, "id": ` + string(id[1]) + "}\n")
		return w.Bytes()
	})
	c := qga.NewClient(a, qga.ClientOptions{Timeout: 10 * time.Second, DrainTimeout: time.Millisecond})
	defer c.Close()
	var v qjson.Value
	if err := c.Execute(context.Background(), "guest-wide", nil, &v); err != nil {
		t.Fatal(err)
	}
	if v.Len() != 50000 {
		t.Fatalf("%d members", v.Len())
	}
}
