package nightly

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/qgafuzz/qgafuzz/fuzz"
	"github.com/qgafuzz/qgafuzz/qga"
	"github.com/qgafuzz/qgafuzz/qga/qgatest"
)

// TestMinimizeDivergenceAgainstQemuGA finds a divergence between a live
// qemu-ga and an agent with a planted bug, minimizes it against the same
// qemu-ga, and checks that the minimized stream is smaller and diverges
// the same way against a fresh qemu-ga, as `qgafuzz repro` plays it.
func TestMinimizeDivergenceAgainstQemuGA(t *testing.T) {
	ctx := context.Background()
	g := qgatest.StartQemuGA(t)
	ref := fuzz.NewSocketEndpoint("unix:"+g.Socket, fuzz.SocketOptions{})
	defer ref.Close()
	agent := fuzz.InProcessEndpoint(qga.AgentConfig{Bug: qga.BugDroppedNewline})

	var dv *fuzz.Divergence
	if _, err := fuzz.Differ(ctx, fuzz.DiffOptions{Reference: ref, Agent: agent, Seed: 7, StopAfter: 1,
		Duration: time.Minute, OnDivergence: func(d *fuzz.Divergence) { dv = d }}); err != nil {
		t.Fatal(err)
	}
	if dv == nil {
		t.Fatal("no divergence from the planted bug within a minute")
	}
	sig := divergenceSignature(dv)
	orig := fuzz.Encode(dv.Input)
	m := minimizeDivergence(ctx, ref, agent, dv, sig, time.Now().Add(time.Minute), 0)
	t.Logf("%s: %s", sig, m.how)
	if !strings.HasPrefix(m.how, "minimized from") || len(m.input) >= len(orig) {
		t.Fatalf("not minimized (%d bytes, was %d): %s", len(m.input), len(orig), m.how)
	}

	fresh := qgatest.StartQemuGA(t)
	ref2 := fuzz.NewSocketEndpoint("unix:"+fresh.Socket, fuzz.SocketOptions{})
	defer ref2.Close()
	d, err := fuzz.Replay(ref2, agent, fuzz.Chunks(m.input))
	if err != nil || d == nil || divergenceSignature(d) != sig {
		t.Fatalf("the minimized stream %q against a fresh qemu-ga: divergence %v (err %v), want signature %q", m.input, d, err, sig)
	}
}
