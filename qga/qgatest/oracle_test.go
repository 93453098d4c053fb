package qgatest

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Differential tests against a live qemu-ga: replaying the recorded vectors
// validates the runner (and the vector file) against the oracle.
//
// QGAFUZZ_IDLE_MS overrides the default idle (250 ms, as recorded).
// QGAFUZZ_QGA_SHARDS sets how many agents replay the small vectors side by
// side (default 4; nearly all replay time is idle waiting, not CPU).

func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q: want a positive integer", name, s)
	}
	return n
}

// hexExcerpt renders b as hex, eliding the middle of long inputs.
func hexExcerpt(b []byte) string {
	const max = 256
	if len(b) <= max {
		return hex.EncodeToString(b)
	}
	return fmt.Sprintf("%s...%s (%d bytes)", hex.EncodeToString(b[:max/2]), hex.EncodeToString(b[len(b)-max/2:]), len(b))
}

// inputExcerpt shows a vector's input without expanding big ones.
func inputExcerpt(v *Vector) string {
	if v.Input == nil && v.InputGen != nil {
		var parts []string
		for _, s := range v.InputGen {
			parts = append(parts, fmt.Sprintf("%x*%d", s.Bytes, s.Count))
		}
		return fmt.Sprintf("gen[%s] (%d bytes)", strings.Join(parts, " "), v.InputLen())
	}
	return hexExcerpt(v.Input)
}

func quoteExcerpt(b []byte) string {
	if len(b) > 300 {
		return fmt.Sprintf("%q...(%d bytes)", b[:300], len(b))
	}
	return fmt.Sprintf("%q", b)
}

// attempts is how often a vector is tried before it counts as failed. A
// loaded machine can stall qemu-ga beyond the recorded idle (a reply then
// lands in the next read, or arrives after a drain so that the following
// close kills the agent); a runner bug would fail every attempt.
const attempts = 3

// replayAll replays vs in order on one agent, restarting it if it dies
// and retrying a vector that fails. It returns the number of retries.
func replayAll(t *testing.T, g *QemuGA, vs []*Vector, idle time.Duration) (retries int) {
	var conn *Conn
	defer func() { conn.Close() }()
	for _, v := range vs {
		for try := 1; ; try++ {
			start := time.Now()
			got, steps, next, err := RunVector(g.Dial, conn, v, idle)
			conn = next
			elapsed := time.Since(start)
			if v.Big() {
				t.Logf("%s: %d bytes in, %d bytes out, %v", v.Name, v.InputLen(), len(got), elapsed.Round(time.Millisecond))
			}
			problem := ""
			if err != nil {
				problem = err.Error()
			} else if m := mismatch(v, got, steps); m != "" {
				problem = m
			}
			if err != nil {
				// The agent may be on its way out; give it a moment.
				for end := time.Now().Add(time.Second); g.Alive() && time.Now().Before(end); {
					time.Sleep(10 * time.Millisecond)
				}
			}
			if !g.Alive() {
				problem += fmt.Sprintf("\n  qemu-ga died (%v, output %q, log %q); restarted", g.exitErr(), g.Output(), g.LogTail(5))
				conn.Close()
				conn = nil
				if err := g.Restart(); err != nil {
					t.Fatalf("restart: %v", err)
				}
			}
			if problem == "" {
				break
			}
			if try == attempts {
				t.Errorf("%s failed %d times; last: %s", v.Name, attempts, problem)
				break
			}
			retries++
			t.Logf("retrying %s (attempt %d failed after %v): %s", v.Name, try, elapsed.Round(time.Millisecond), problem)
			if conn != nil {
				_, _ = conn.Drain(time.Second) // swallow whatever came late
			}
		}
	}
	return retries
}

// mismatch describes how got/steps differ from the vector ("" if equal),
// with hex of input, want and got.
func mismatch(v *Vector, got []byte, steps [][]byte) string {
	if !bytes.Equal(got, v.Output) {
		return fmt.Sprintf("MISMATCH %s (line %d): %s\n  input: %s\n  want:  %s\n  got:   %s\n  want text: %s\n  got text:  %s",
			v.Name, v.Line, v.Note, inputExcerpt(v), hexExcerpt(v.Output), hexExcerpt(got),
			quoteExcerpt(v.Output), quoteExcerpt(got))
	}
	if v.StepOutputs == nil {
		return ""
	}
	match := len(steps) == len(v.StepOutputs)
	for i := 0; match && i < len(steps); i++ {
		match = bytes.Equal(steps[i], v.StepOutputs[i])
	}
	if match {
		return ""
	}
	var w, g []string
	for _, s := range v.StepOutputs {
		w = append(w, hex.EncodeToString(s))
	}
	for _, s := range steps {
		g = append(g, hex.EncodeToString(s))
	}
	return fmt.Sprintf("MISMATCH (per-step timing) %s (line %d)\n  input: %s\n  want steps: %q\n  got steps:  %q",
		v.Name, v.Line, inputExcerpt(v), w, g)
}

func TestRealQemuGAReplaysVectors(t *testing.T) {
	needQemuGA(t)
	all := RealVectors(t)
	idle := time.Duration(envInt(t, "QGAFUZZ_IDLE_MS", int(DefaultIdle/time.Millisecond))) * time.Millisecond
	nshards := envInt(t, "QGAFUZZ_QGA_SHARDS", 4)
	var small []*Vector
	for i := range all {
		if !all[i].Big() {
			small = append(small, &all[i])
		}
	}
	if nshards > len(small) {
		nshards = len(small)
	}
	// Round-robin so the slow step vectors spread over the shards. Each
	// vector begins with the ff0a setup, so the order within a shard does
	// not matter to qemu-ga's parser state.
	shards := make([][]*Vector, nshards)
	for i, v := range small {
		shards[i%nshards] = append(shards[i%nshards], v)
	}
	// The shards run side by side in goroutines rather than with
	// t.Parallel, which -parallel (GOMAXPROCS, 2 here) would throttle:
	// the time goes to idle waits, not CPU.
	start := time.Now()
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		version string
		retries int
	)
	for i, vs := range shards {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t.Run(fmt.Sprintf("shard%d", i), func(t *testing.T) {
				g := StartQemuGA(t)
				n := replayAll(t, g, vs, idle)
				mu.Lock()
				version, retries = g.Version(), retries+n
				mu.Unlock()
			})
		}()
	}
	wg.Wait()
	t.Logf("replayed %d vectors on %d qemu-ga %s processes (idle %v) in %v, %d retries",
		len(small), nshards, version, idle, time.Since(start).Round(time.Millisecond), retries)
}

func TestRealQemuGAReplaysBigVectors(t *testing.T) {
	if testing.Short() {
		t.Skip("big vectors send up to ~130 MiB each; skipped with -short")
	}
	needQemuGA(t)
	all := RealVectors(t)
	var big []*Vector
	var names []string
	for i := range all {
		if all[i].Big() {
			big = append(big, &all[i])
			names = append(names, all[i].Name)
		}
	}
	g := StartQemuGA(t)
	start := time.Now()
	retries := replayAll(t, g, big, DefaultIdle)
	t.Logf("replayed %d big vectors (%s) in %v, %d retries", len(big), strings.Join(names, ", "), time.Since(start).Round(time.Millisecond), retries)
}
