package qga_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/qgafuzz/qgafuzz/qga"
	"github.com/qgafuzz/qgafuzz/qga/qgatest"
)

// Zero values and nil arguments of the exported API: each either works as
// documented or fails with a clear error, never a hang or a nil-pointer
// panic.

// within runs f and fails the test if it has not returned after a second:
// a zero Client once blocked for ever on its nil semaphore.
func within(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-time.After(time.Second):
		t.Fatalf("%s: still blocked after 1s", what)
	}
}

func TestZeroClient(t *testing.T) {
	var c qga.Client
	within(t, "Execute", func() {
		if err := c.Execute(context.Background(), qga.CmdPing, nil, nil); !errors.Is(err, qga.ErrClosed) {
			t.Errorf("Execute on the zero Client: %v, want ErrClosed", err)
		}
	})
	within(t, "Sync", func() {
		if err := c.Sync(context.Background()); !errors.Is(err, qga.ErrClosed) {
			t.Errorf("Sync on the zero Client: %v, want ErrClosed", err)
		}
	})
	within(t, "Synced", func() {
		if c.Synced() {
			t.Error("the zero Client says it is in step")
		}
	})
	within(t, "Stats", func() {
		if st := c.Stats(); st != (qga.ClientStats{}) {
			t.Errorf("Stats = %+v", st)
		}
	})
	within(t, "Close", func() {
		if err := c.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
}

// loopRedial returns a redial function that, under clock, connects to a
// fresh reference agent over a LoopTransport.
func loopRedial(clock *qgatest.VirtualClock) func(context.Context) (qga.Transport, error) {
	agent := qga.NewAgent(qga.AgentConfig{})
	return func(context.Context) (qga.Transport, error) {
		return qgatest.NewLoopTransport(func(p []byte) []byte { return agent.Feed(nil, p) }, clock), nil
	}
}

// NewClient(nil, ...) fails its calls with ErrClosed, unless it may redial,
// in which case the first call dials.
func TestNilTransport(t *testing.T) {
	ctx := context.Background()
	c := qga.NewClient(nil, qga.ClientOptions{})
	if err := c.Execute(ctx, qga.CmdPing, nil, nil); !errors.Is(err, qga.ErrClosed) {
		t.Errorf("Execute without a transport: %v, want ErrClosed", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("Close without a transport: %v", err)
	}

	clock := qgatest.NewVirtualClock()
	c = qga.NewClient(nil, qga.ClientOptions{Now: clock.Now, Reconnect: true, Redial: loopRedial(clock)})
	if err := c.Execute(ctx, qga.CmdPing, nil, nil); err != nil {
		t.Fatalf("Execute that dials first: %v", err)
	}
	if st := c.Stats(); st.Redials != 1 || st.Calls != 1 {
		t.Errorf("Stats = %+v, want one dial and one call", st)
	}
	if err := c.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// A Redial that returns neither a transport nor an error fails the call
// with ErrClosed instead of making the Client panic on a nil transport.
func TestRedialNilTransport(t *testing.T) {
	c := qga.NewClient(nil, qga.ClientOptions{Reconnect: true,
		Redial: func(context.Context) (qga.Transport, error) { return nil, nil }})
	for range 2 {
		if err := c.Execute(context.Background(), qga.CmdPing, nil, nil); !errors.Is(err, qga.ErrClosed) {
			t.Errorf("Execute with a Redial that returns nil, nil: %v, want ErrClosed", err)
		}
	}
	if err := c.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// The zero Agent is the default reference agent.
func TestZeroAgent(t *testing.T) {
	in := []byte("\xff{\"execute\":\"guest-sync-delimited\",\"arguments\":{\"id\":7}}{\"execute\":\"guest-info\"}{")
	var a qga.Agent
	got := a.Feed(nil, in)
	want := qga.NewAgent(qga.AgentConfig{}).Feed(nil, in)
	if !bytes.Equal(got, want) {
		t.Errorf("zero Agent replied %q, want %q", got, want)
	}
	if !a.Pending() || a.Replies() != 3 {
		t.Errorf("Pending = %v, Replies = %d; want true, 3", a.Pending(), a.Replies())
	}
	var b qga.Agent
	b.Reset()
	if n, r := b.Step([]byte(`{"execute":"guest-ping"}`)); n != 24 || string(r) != "{\"return\": {}}\n" {
		t.Errorf("Step after Reset of a zero Agent: %d, %q", n, r)
	}
}

func TestServerNilListener(t *testing.T) {
	s := &qga.Server{Agent: qga.NewAgent(qga.AgentConfig{})}
	if err := s.Serve(nil); err == nil {
		t.Error("Serve(nil) succeeded")
	}
	if err := s.ServeConn(nil); err == nil {
		t.Error("ServeConn(nil) succeeded")
	}
}

// An unknown Resync is ResyncDelimited: before, it synced with
// guest-sync-delimited but sent requests without ids and took the next line
// as the reply, neither careful nor naive.
func TestUnknownResync(t *testing.T) {
	if got := qga.Resync(42).String(); got != "Resync(42)" {
		t.Errorf("String() = %q", got)
	}
	clock := qgatest.NewVirtualClock()
	agent := qga.NewAgent(qga.AgentConfig{})
	var sent []byte
	tr := qgatest.NewLoopTransport(func(p []byte) []byte {
		sent = append(sent, p...)
		return agent.Feed(nil, p)
	}, clock)
	c := qga.NewClient(tr, qga.ClientOptions{Now: clock.Now, Resync: 42})
	if err := c.Execute(context.Background(), qga.CmdPing, nil, nil); err != nil {
		t.Fatal(err)
	}
	_, req, _ := bytes.Cut(sent, []byte(`"execute":"guest-ping"`))
	if !bytes.Contains(sent, []byte(qga.CmdSyncDelimited)) || !bytes.Contains(req, []byte(`"id"`)) {
		t.Errorf("an unknown strategy is not the careful one; sent %q", sent)
	}
}
