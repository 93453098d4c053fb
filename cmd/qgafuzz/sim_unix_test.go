//go:build unix

package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/qgafuzz/qgafuzz/sim"
)

// interruptOnShrinking is a stderr that sends this process sig (a Ctrl-C
// or a SIGTERM) at the first progress line of shrinking, and holds that
// line until the signal has been seen.
type interruptOnShrinking struct {
	sig   syscall.Signal
	mu    sync.Mutex
	buf   bytes.Buffer
	fired bool
}

func (w *interruptOnShrinking) Write(p []byte) (int, error) {
	w.mu.Lock()
	w.buf.Write(p)
	fire := !w.fired && strings.Contains(w.buf.String(), "qgafuzz sim: shrinking: ")
	w.fired = w.fired || fire
	w.mu.Unlock()
	if fire {
		syscall.Kill(os.Getpid(), w.sig)
		time.Sleep(300 * time.Millisecond) // for the signal to stop shrinking
	}
	return len(p), nil
}

func (w *interruptOnShrinking) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// TestSimSignalStopsShrinking: Ctrl-C or SIGTERM while sim shrinks a
// failure (of one seed, of a batch that was not interrupted, of a
// --replay) stops shrinking at the next replay: the smallest failing
// schedule found by then is reported and written with --schedule, it
// replays to the same failure, and the report (text and --json) says
// shrinking was stopped. A signal used to end the process at once,
// shrinking and the files lost (or, in a batch, to be left to a second
// signal that did the same).
func TestSimSignalStopsShrinking(t *testing.T) {
	// Should sim not watch for the signal, it must not kill the test
	// (every channel that watches gets it: this one tells nothing).
	guard := make(chan os.Signal, 4)
	signal.Notify(guard, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(guard)
	dir := t.TempDir()
	unshrunk := filepath.Join(dir, "unshrunk.json")
	if code, _, errs := runSimCommand("--seed", "1", "--client", "plain", "--steps", "3000", "--no-shrink", "--schedule", unshrunk); code != exitFinding {
		t.Fatalf("exit %d\n%s", code, errs)
	}
	// Shrinking seed 1 of the plain client takes 26 replays.
	const fullReplays = 26
	for _, c := range []struct {
		name string
		sig  syscall.Signal
		args []string
	}{
		{"seed", syscall.SIGINT, []string{"--seed", "1", "--client", "plain", "--steps", "3000"}},
		{"batch", syscall.SIGTERM, []string{"--runs", "3", "--workers", "1", "--client", "plain", "--steps", "3000"}},
		{"replay", syscall.SIGINT, []string{"--replay", unshrunk}},
	} {
		t.Run(c.name, func(t *testing.T) {
			sched := filepath.Join(t.TempDir(), "s.json")
			var out syncBuffer
			errw := &interruptOnShrinking{sig: c.sig}
			e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: errw}
			args := append([]string{"sim", "--json", "--progress", "1ns", "--schedule", sched}, c.args...)
			code := run(e, args)
			var j struct {
				Interrupted bool         `json:"interrupted"`
				First       *sim.Failure `json:"first_failure"`
			}
			if err := json.Unmarshal([]byte(out.String()), &j); err != nil {
				t.Fatalf("exit %d, --json: %v\n%s\n%s", code, err, out.String(), errw)
			}
			if code != exitFinding || j.First == nil || j.First.Shrink == nil || j.First.Minimal == nil {
				t.Fatalf("exit %d, first failure %+v\n%s", code, j.First, errw)
			}
			st := j.First.Shrink
			if !st.Stopped || st.Replays >= fullReplays || j.Interrupted {
				t.Errorf("shrink %+v, interrupted %v; want stopped before %d replays, the run itself not interrupted", st, j.Interrupted, fullReplays)
			}
			for _, want := range []string{"qgafuzz sim: interrupted: shrinking stopped after ", "it was interrupted): may not be minimal", "schedule written to " + sched} {
				if !strings.Contains(errw.String(), want) {
					t.Errorf("stderr lacks %q:\n%s", want, errw)
				}
			}
			s, err := sim.LoadSchedule(sched)
			if err != nil || len(s.Ops) != st.Steps || len(s.Events) != st.Events {
				t.Fatalf("%s: %v, %d steps and %d events, want %d and %d", sched, err, len(s.Ops), len(s.Events), st.Steps, st.Events)
			}
			r, err := sim.Replay(s, false)
			if err != nil || !r.Failed() || r.First().Invariant != j.First.Invariant {
				t.Errorf("the written schedule replays to %v (%v), want a %s failure", r.First(), err, j.First.Invariant)
			}
		})
	}
}
