package sim

import (
	"context"
	"math"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The exported API given arguments a caller gets wrong: each is an error
// (or, where the doc says so, a harmless default), never a panic or a run
// that cannot end.

// A seed range whose To is below From once wrapped around and ran 2^64
// seeds.
func TestBatchSeedRange(t *testing.T) {
	for _, b := range []Batch{
		{From: 5, To: 1},
		{From: 0, To: math.MaxUint64},
	} {
		done := make(chan error, 1)
		go func() {
			b.Steps, b.Faults = 2, "none"
			_, err := b.Run()
			done <- err
		}()
		select {
		case err := <-done:
			if err == nil {
				t.Errorf("seeds %d..%d: no error", b.From, b.To)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("seeds %d..%d: still running after 5s", b.From, b.To)
		}
	}
}

func TestGenOpsNegativeSteps(t *testing.T) {
	if ops := GenOps(1, -1); len(ops) != 0 {
		t.Errorf("GenOps(1, -1) = %d ops", len(ops))
	}
}

func TestNilRunsAndSchedules(t *testing.T) {
	if _, _, _, err := Shrink(nil, 0); err == nil {
		t.Error("Shrink(nil) succeeded")
	}
	if _, err := Replay(nil, false); err == nil {
		t.Error("Replay(nil) succeeded")
	}
	if err := WriteTrace(filepath.Join(t.TempDir(), "trace"), nil); err == nil {
		t.Error("WriteTrace(nil) succeeded")
	}
	// A run that passed has nothing to shrink, and says so, rather than
	// claiming that its replay does not fail.
	r, err := Run(Options{Seed: 1, Faults: "none", Steps: 2})
	if err != nil || r.Failed() {
		t.Fatalf("a faultless run: %v, failed %v", err, r.Failed())
	}
	if _, _, _, err := Shrink(r, 0); err == nil || !strings.Contains(err.Error(), "did not fail") {
		t.Errorf("Shrink of a passing run: %v", err)
	}
}

// Serve refuses what would crash a connection's goroutine (no Dial) or
// quietly do nothing (no connections, a fault the proxy cannot apply).
func TestProxyServeChecks(t *testing.T) {
	dial := func(ctx context.Context) (net.Conn, error) { return nil, net.ErrClosed }
	restart, err := NewFault("restart")
	if err != nil {
		t.Fatal(err)
	}
	for name, p := range map[string]*Proxy{
		"no dial":        {},
		"negative conns": {Dial: dial, MaxConns: -1},
		"sim-only fault": {Dial: dial, Faults: []Fault{restart}},
		"nil fault":      {Dial: dial, Faults: []Fault{nil}},
	} {
		l, err := net.Listen("unix", filepath.Join(t.TempDir(), "p.sock"))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		if err := p.Serve(ctx, l); err == nil {
			t.Errorf("%s: Serve returned nil", name)
		}
		cancel()
		l.Close()
	}
	if err := (&Proxy{Dial: dial}).Serve(context.Background(), nil); err == nil {
		t.Error("Serve(nil listener) returned nil")
	}
}
