package nightly

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The simulation's progress line counts seeds, and shows no corpus or
// coverage, which a simulation does not have (it showed "corpus 0
// coverage 0"); a fuzz target's line shows both.
func TestProgressLine(t *testing.T) {
	b := newBoard(nil, false, time.Minute)
	b.begin("parser", 10*time.Second)
	b.update("fuzzing", 1200, 400, 17, 2900)
	if got := b.line(); !strings.Contains(got, "execs 1200 (400/s)  corpus 17  coverage 2900  crashes 0") {
		t.Errorf("fuzz target: %q", got)
	}
	b.begun = time.Now().Add(-4 * time.Second)
	b.update("fuzzing", 2000, 0, 0, 0) // a last status, as the engine stops
	// The average is over the time elapsed when the line is made: 4s,
	// and a little more on a loaded machine (4.005s is 499/s already).
	got := b.line()
	m := regexp.MustCompile(`execs 2000 \((\d+)/s\)  corpus 17  coverage 2900`).FindStringSubmatch(got)
	rate := 0
	if m != nil {
		rate, _ = strconv.Atoi(m[1])
	}
	if rate <= 400 || rate > 500 {
		t.Errorf("a 0/s status after 2000 execs in 4s: %q, want the average (500/s)", got)
	}
	b.begin("sim", 10*time.Second)
	b.update(simPhase, 5104, 1055, 0, 0)
	got = b.line()
	if !strings.Contains(got, "seeds 5104 (1055/s)  crashes 0") || strings.Contains(got, "corpus") || strings.Contains(got, "coverage") {
		t.Errorf("simulation: %q", got)
	}
	// The qemu-ga share counts streams, from its seeds, and has no
	// coverage (it showed "streams  execs 82 (81/s)  corpus 220  coverage 0").
	b.begin("qemu-ga", 10*time.Second)
	b.update(qemuGAPhase, 82, 81, 220, 0)
	got = b.line()
	if !strings.Contains(got, "streams 82 (81/s)  seeds 220  crashes 0") || strings.Contains(got, "execs") || strings.Contains(got, "coverage") {
		t.Errorf("qemu-ga share: %q", got)
	}
}
