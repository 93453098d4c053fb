package qga_test

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/qgafuzz/qgafuzz/qga"
)

// Tests of Close called from another goroutine while a call is in
// progress: the call ends at once with ErrClosed (not at its deadline),
// Close still drains, and the Client stays closed.

// callAsync runs Execute in a goroutine and returns the channel its error
// arrives on.
func callAsync(c *qga.Client, command string) <-chan error {
	errc := make(chan error, 1)
	go func() { errc <- c.Execute(context.Background(), command, nil, nil) }()
	return errc
}

// closeAsync runs Close in a goroutine and returns the channel its result
// arrives on.
func closeAsync(c *qga.Client) <-chan error {
	done := make(chan error, 1)
	go func() { done <- c.Close() }()
	return done
}

// waitErr waits up to d for a value on ch.
func waitErr(t *testing.T, ch <-chan error, d time.Duration, what string) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(d):
		t.Fatalf("%s did not return within %v", what, d)
		return nil
	}
}

// wantClosedAfter checks that a Client is closed for good: every call fails
// with ErrClosed and Close again returns nil.
func wantClosedAfter(t *testing.T, c *qga.Client) {
	t.Helper()
	if err := c.Execute(context.Background(), qga.CmdPing, nil, nil); !errors.Is(err, qga.ErrClosed) {
		t.Errorf("Execute after Close: %v, want ErrClosed", err)
	}
	if err := c.Sync(context.Background()); !errors.Is(err, qga.ErrClosed) {
		t.Errorf("Sync after Close: %v, want ErrClosed", err)
	}
	if c.Synced() {
		t.Errorf("Synced after Close")
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestClientCloseInterruptsCall: Close from another goroutine ends a call
// waiting on a silent agent at once with ErrClosed, though its deadline is
// 30 s away, and then drains: the agent, which answers only once it sees
// EOF, gets its reply read.
func TestClientCloseInterruptsCall(t *testing.T) {
	a, b := socketPair(t)
	defer b.Close()
	got := make(chan struct{}) // the agent received the client's first bytes
	type agentEnd struct {
		eof      bool
		writeErr error
	}
	agentDone := make(chan agentEnd, 1)
	go func() {
		var end agentEnd
		buf := make([]byte, 4096)
		first := true
		for {
			n, err := b.Read(buf)
			if n > 0 && first {
				first = false
				close(got)
			}
			if err != nil {
				end.eof = err == io.EOF
				break
			}
		}
		// Answer late, then hang up: only a client that drains reads it
		// (one that closed outright makes this write fail).
		time.Sleep(20 * time.Millisecond)
		_, end.writeErr = b.Write([]byte(`{"return": {}, "id": 1}` + "\n"))
		b.Close()
		agentDone <- end
	}()
	c := qga.NewClient(a, qga.ClientOptions{Timeout: 30 * time.Second, DrainTimeout: 10 * time.Second})
	errc := callAsync(c, qga.CmdPing)
	<-got
	time.Sleep(20 * time.Millisecond) // let the call block in its read
	start := time.Now()
	closed := closeAsync(c)
	err := waitErr(t, errc, time.Second, "the call in progress")
	if !errors.Is(err, qga.ErrClosed) || errors.Is(err, qga.ErrTimeout) {
		t.Fatalf("call interrupted by Close: %v, want ErrClosed", err)
	}
	if err := waitErr(t, closed, 2*time.Second, "Close"); err != nil {
		t.Fatalf("Close: %v", err)
	}
	t.Logf("call and Close returned %v after Close was called", time.Since(start))
	end := <-agentDone
	if !end.eof {
		t.Errorf("the agent saw no EOF")
	}
	if end.writeErr != nil {
		t.Errorf("the agent's reply after EOF failed (%v): Close did not drain", end.writeErr)
	}
	wantClosedAfter(t, c)
}

// TestClientCloseInterruptsPipe: the same on a net.Pipe (no half-close, no
// buffering), with the agent reading (the call blocks in Read) and not
// reading (it blocks in Write).
func TestClientCloseInterruptsPipe(t *testing.T) {
	for _, reading := range []bool{true, false} {
		a, b := net.Pipe()
		agentDone := make(chan struct{})
		if reading {
			go func() {
				defer close(agentDone)
				io.Copy(io.Discard, b)
			}()
		}
		c := qga.NewClient(a, qga.ClientOptions{Timeout: 30 * time.Second, DrainTimeout: 50 * time.Millisecond})
		errc := callAsync(c, qga.CmdPing)
		time.Sleep(50 * time.Millisecond)
		closed := closeAsync(c)
		err := waitErr(t, errc, time.Second, "the call in progress")
		if !errors.Is(err, qga.ErrClosed) {
			t.Fatalf("agent reading %v: call interrupted by Close: %v, want ErrClosed", reading, err)
		}
		if err := waitErr(t, closed, time.Second, "Close"); err != nil {
			t.Fatalf("Close: %v", err)
		}
		wantClosedAfter(t, c)
		b.Close()
		if reading {
			<-agentDone
		}
	}
}

// TestClientCloseNoDeadlines: on a transport without deadlines a blocked
// Read cannot be interrupted, so Close waits for it (as documented); but
// the call gives up as soon as the read returns, instead of reading on
// until its deadline.
func TestClientCloseNoDeadlines(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	got := make(chan struct{})
	go func() {
		buf := make([]byte, 4096)
		first := true
		for {
			n, err := b.Read(buf)
			if n > 0 && first {
				first = false
				close(got)
			}
			if err != nil {
				return
			}
		}
	}()
	c := qga.NewClient(qga.NoDeadlines(a), qga.ClientOptions{Timeout: 30 * time.Second})
	errc := callAsync(c, qga.CmdPing)
	<-got
	time.Sleep(20 * time.Millisecond)
	closed := closeAsync(c)
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) while a Read it cannot interrupt was blocked", err)
	case <-time.After(100 * time.Millisecond):
	}
	// Stale bytes wake the read; the call must stop there.
	go b.Write([]byte("junk"))
	err := waitErr(t, errc, time.Second, "the call in progress")
	if !errors.Is(err, qga.ErrClosed) {
		t.Fatalf("call during Close: %v, want ErrClosed", err)
	}
	if err := waitErr(t, closed, time.Second, "Close"); err != nil {
		t.Fatalf("Close: %v", err)
	}
	wantClosedAfter(t, c)
}

// TestClientCloseRacesCalls closes a Client at random moments while
// several goroutines call the reference agent: every call either succeeds
// with its own reply or fails with ErrClosed, Close returns promptly, and
// run with -race it shows no data race.
func TestClientCloseRacesCalls(t *testing.T) {
	rounds := 30
	if testing.Short() {
		rounds = 10
	}
	for round := range rounds {
		c := pipeAgent(t, 0, qga.ClientOptions{Timeout: 10 * time.Second, DrainTimeout: 50 * time.Millisecond})
		var wg sync.WaitGroup
		for g := range 3 {
			wg.Go(func() {
				for i := int64(0); ; i++ {
					id := int64(g)<<32 | i
					v, err := callValue(c, 0, qga.CmdSync, syncArgs(id))
					if err != nil {
						if !errors.Is(err, qga.ErrClosed) {
							t.Errorf("round %d: call during Close: %v, want success or ErrClosed", round, err)
						}
						return
					}
					if n, ok := v.Int(); !ok || n != id {
						t.Errorf("round %d: guest-sync %d returned %s", round, id, v)
						return
					}
				}
			})
		}
		time.Sleep(time.Duration(rand.IntN(3000)) * time.Microsecond)
		if err := waitErr(t, closeAsync(c), 2*time.Second, "Close"); err != nil {
			t.Errorf("round %d: Close: %v", round, err)
		}
		wg.Wait()
		wantClosedAfter(t, c)
	}
}
