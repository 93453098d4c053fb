package sim

import (
	"math"
	"testing"
)

// runWorld runs opts like Run, with edit applied to the world first.
func runWorld(t *testing.T, opts Options, edit func(*world)) *world {
	t.Helper()
	faults, err := ResolveFaults(opts.Faults, opts.Seed)
	if err != nil {
		t.Fatal(err)
	}
	w, err := newWorld(&runConfig{seed: opts.Seed, client: opts.Client, faults: faults,
		ops: GenOps(opts.Seed, opts.Steps), opts: &opts})
	if err != nil {
		t.Fatal(err)
	}
	edit(w)
	w.main()
	return w
}

// TestCheckerMemoryBounded: the checker keeps a window of the lines the
// client read, not all of them. It used to keep every line of the run
// (22 MB of text at 100,000 steps). No reconnect: a new session forgets
// every line anyway.
func TestCheckerMemoryBounded(t *testing.T) {
	const faults = "foreign,fragment,delay,stall,loss,bitflip,dup,ff,truncate,late,restart,reboot"
	w := runWorld(t, Options{Seed: 1, Client: Delimited, Faults: faults, Steps: 20000}, func(*world) {})
	if len(w.viol) > 0 {
		t.Fatalf("violations: %v", w.viol)
	}
	text := 0
	for _, l := range w.chk.lines {
		text += len(l.text)
	}
	if w.chk.fed < 20*readWindow || w.stats.Sessions != 1 {
		t.Fatalf("the run read %d bytes in %d sessions: want one session long enough to test the window", w.chk.fed, w.stats.Sessions)
	}
	if text > 4*readWindow {
		t.Errorf("the checker holds %d lines, %d bytes of text, after a run of 20000 steps; want at most %d bytes",
			len(w.chk.lines), text, 4*readWindow)
	}
}

// TestCheckerWindowChangesNothing: forgetting the lines out of the window
// changes no verdict and no message (which the trace hashes cover) of runs
// long enough to forget lines, including failing ones whose messages name
// the call an earlier reply belonged to.
func TestCheckerWindowChangesNothing(t *testing.T) {
	failing := 0
	for _, c := range []Strategy{Plain, Naive, FlushPlain} {
		for seed := uint64(1); seed <= 8; seed++ {
			opts := Options{Seed: seed, Client: c, Faults: "swarm", Steps: 1500}
			if seed%2 == 0 {
				// No reconnect: one session, whose lines pile up.
				opts.Faults = "foreign,fragment,delay,loss,bitflip,dup,ff,truncate,late,restart"
			}
			a := runWorld(t, opts, func(*world) {})
			b := runWorld(t, opts, func(w *world) { w.chk.window = math.MaxInt64 })
			if ha, hb := a.tr.sum(), b.tr.sum(); ha != hb {
				t.Errorf("%s seed %d: trace %s with the window, %s keeping every line", c, seed, ha[:16], hb[:16])
			}
			if len(a.viol) > 0 {
				failing++
			}
		}
	}
	if failing == 0 {
		t.Error("no run failed: the messages were not compared")
	}
}
