package nightly

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
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

// TestQemuGAReplaysStoredDivergences: the divergences an earlier night
// stored are replayed against the live qemu-ga first, as the fuzz targets'
// crashes are: one that no longer diverges is noted as fixed, and one that
// still does is reported as known without the driver finding it again.
func TestQemuGAReplaysStoredDivergences(t *testing.T) {
	if _, err := qgatest.FindQemuGA(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s: %v", qgatest.MissingQemuGAMessage, err)
		}
		t.Skipf("%s (%v)", qgatest.MissingQemuGAMessage, err)
	}
	out := t.TempDir()
	store := crashStore{dir: filepath.Join(out, "crashers")}
	// A CommandNotFound reply without its newline: a divergence of the
	// planted bug dropped-newline, stored as a night with it would.
	sig := "qemu-ga/replies-match: formatting unknown-command"
	dir, err := store.save("qemu-ga", Slug("qemu-ga", sig), map[string][]byte{
		FileMinimized: []byte(`{"execute":""}`), FileOriginal: []byte(`{"execute":""}`),
		FileFailure: []byte("divergence\n"), FileSignature: []byte(sig + "\n"), FileRepro: []byte("qgafuzz repro --agent qemu-ga x\n")})
	if err != nil {
		t.Fatal(err)
	}
	night := func(bug qga.Bug) *night {
		return &night{o: Options{Out: out, Corpus: filepath.Join(out, "corpus"), Root: t.TempDir(), Repro: "qgafuzz"},
			bug: bug, rep: &Report{}, board: newBoard(io.Discard, false, time.Minute), store: store,
			deadln: time.Now().Add(time.Minute)}
	}

	fixed := night(qga.NoBug)
	fixed.againstQemuGA(context.Background(), time.Millisecond)
	if !strings.Contains(strings.Join(fixed.rep.Notes, "\n"), dir+" no longer reproduces") || len(fixed.rep.Crashes) != 0 {
		t.Errorf("bug gone: notes %q, crashes %+v; want the stored divergence noted as fixed", fixed.rep.Notes, fixed.rep.Crashes)
	}

	still := night(qga.BugDroppedNewline)
	still.againstQemuGA(context.Background(), time.Millisecond)
	if len(still.rep.Crashes) != 1 || !still.rep.Crashes[0].KnownBefore || still.rep.Crashes[0].Dir != dir {
		t.Errorf("bug still there: crashes %+v, notes %q; want the stored divergence known", still.rep.Crashes, still.rep.Notes)
	}
}

// TestWithFence: a stored stream keeps its one fence; one without gets it,
// so that replaying it cannot leave qemu-ga's parser dirty for the next.
func TestWithFence(t *testing.T) {
	fence := qgatest.Op{Data: qgatest.Fence}
	req := qgatest.Op{Data: []byte(`{"execute":"guest-ping"`)}
	for _, c := range []struct {
		in   []qgatest.Op
		want int // ops after
	}{
		{nil, 1},
		{[]qgatest.Op{req}, 2},
		{[]qgatest.Op{req, fence}, 2},
		{[]qgatest.Op{req, {Data: qgatest.Fence, Reconnect: true}}, 3},
	} {
		got := withFence(qgatest.Stream{Ops: c.in})
		if n := len(got.Ops); n != c.want || !bytes.Equal(got.Ops[n-1].Data, qgatest.Fence) || got.Ops[n-1].Reconnect {
			t.Errorf("%d ops: got %d ops, want %d ending with the fence", len(c.in), n, c.want)
		}
	}
}

// TestMinimizeDivergencePastTheDeadline: a divergence found when the
// budget is used up is stored as found, without a replay against qemu-ga
// (none is made: the endpoints here would fail it), and marked as cut
// short for the report.
func TestMinimizeDivergencePastTheDeadline(t *testing.T) {
	dv := &fuzz.Divergence{Input: qgatest.Stream{Ops: []qgatest.Op{{Data: []byte(`{"execute":"guest-ping"}`)}, {Data: qgatest.Fence}}},
		Detail: "reply line 1 differs"}
	start := time.Now()
	m := minimizeDivergence(context.Background(), nil, nil, dv, "qemu-ga/x", start.Add(-time.Second), 0)
	if !m.cut || !bytes.Equal(m.input, fuzz.Encode(dv.Input)) || !strings.Contains(m.how, "triage stopped at the budget") {
		t.Fatalf("cut %v, input %q, how %q", m.cut, m.input, m.how)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("took %v", took)
	}
}

// TestQemuGATriageAfterInterrupt: the minimization of the divergences is
// the share's triage, bound as the fuzz targets' is (triageContext): a
// Ctrl-C during the share leaves it triageAfterInterrupt to minimize what
// was found, rather than storing it unminimized at once, and no more.
func TestQemuGATriageAfterInterrupt(t *testing.T) {
	if _, err := qgatest.FindQemuGA(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s: %v", qgatest.MissingQemuGAMessage, err)
		}
		t.Skipf("%s (%v)", qgatest.MissingQemuGAMessage, err)
	}
	defer func(d time.Duration) { triageAfterInterrupt = d }(triageAfterInterrupt)
	const interruptAfter = 2 * time.Second
	// Minimizing a divergence of dropped-newline takes dozens of replays,
	// a few tens of milliseconds: 20s is time enough, 1ms is not.
	for _, after := range []time.Duration{20 * time.Second, time.Millisecond} {
		triageAfterInterrupt = after
		out := t.TempDir()
		n := &night{o: Options{Out: out, Corpus: filepath.Join(out, "corpus"), Root: t.TempDir(), Repro: "qgafuzz"},
			bug: qga.BugDroppedNewline, rep: &Report{}, board: newBoard(io.Discard, false, time.Minute),
			store: crashStore{dir: filepath.Join(out, "crashers")}, deadln: time.Now().Add(10 * time.Minute)}
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(interruptAfter, cancel)
		start := time.Now()
		n.againstQemuGA(ctx, time.Minute)
		cancel()
		// The slack covers the stream in flight and stopping qemu-ga,
		// which take seconds when the machine is busy (go test ./...).
		if took := time.Since(start); took > interruptAfter+after+6*time.Second {
			t.Errorf("%v after the Ctrl-C for triage: the share took %v, Ctrl-C at %v", after, took, interruptAfter)
		}
		minimized := 0
		for _, c := range n.rep.Crashes {
			t.Logf("%v: %s: %d -> %d bytes", after, c.Signature, c.OriginalSize, c.MinimizedSize)
			if c.MinimizedSize < c.OriginalSize {
				minimized++
			}
		}
		if len(n.rep.Crashes) == 0 || len(n.rep.Targets) != 1 || n.rep.Targets[0].Error != "" {
			t.Fatalf("%v: crashes %+v, targets %+v", after, n.rep.Crashes, n.rep.Targets)
		}
		cutNote := hasNote(n.rep.Notes, "qemu-ga: triage stopped after the interruption: ")
		if after > time.Second && (minimized == 0 || cutNote) {
			t.Errorf("%v after the Ctrl-C: %d of %d divergences minimized, notes %q", after, minimized, len(n.rep.Crashes), n.rep.Notes)
		}
		if after < time.Second && !cutNote {
			t.Errorf("%v after the Ctrl-C: notes %q, want triage cut short", after, n.rep.Notes)
		}
	}
}
