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

func quoteExcerpt(b []byte) string {
	if len(b) > 300 {
		return fmt.Sprintf("%q...(%d bytes)", b[:300], len(b))
	}
	return fmt.Sprintf("%q", b)
}

// replayAll replays vs in order on one agent, restarting it if it dies.
func replayAll(t *testing.T, g *QemuGA, vs []*Vector, idle time.Duration) {
	var conn *Conn
	defer func() { conn.Close() }()
	for _, v := range vs {
		start := time.Now()
		got, steps, next, err := RunVector(g.Dial, conn, v, idle)
		conn = next
		elapsed := time.Since(start)
		if v.Big() {
			t.Logf("%s: %d bytes in, %d bytes out, %v", v.Name, v.InputLen(), len(got), elapsed.Round(time.Millisecond))
		}
		if err != nil {
			t.Errorf("%s: %v", v.Name, err)
		}
		if !g.Alive() {
			t.Errorf("%s: qemu-ga died (%v, output %q, log %q); restarting", v.Name, g.exitErr(), g.Output(), g.LogTail(5))
			conn.Close()
			conn = nil
			if err := g.Restart(); err != nil {
				t.Fatalf("restart: %v", err)
			}
			continue
		}
		if err != nil {
			continue
		}
		reportMismatch(t, v, got, steps)
	}
}

func reportMismatch(t *testing.T, v *Vector, got []byte, steps [][]byte) {
	t.Helper()
	if !bytes.Equal(got, v.Output) {
		t.Errorf("MISMATCH %s (line %d): %s\n  input: %s\n  want:  %s\n  got:   %s\n  want text: %s\n  got text:  %s",
			v.Name, v.Line, v.Note, hexExcerpt(v.InputBytes()), hexExcerpt(v.Output), hexExcerpt(got),
			quoteExcerpt(v.Output), quoteExcerpt(got))
		return
	}
	if v.StepOutputs == nil {
		return
	}
	match := len(steps) == len(v.StepOutputs)
	for i := 0; match && i < len(steps); i++ {
		match = bytes.Equal(steps[i], v.StepOutputs[i])
	}
	if !match {
		var w, g []string
		for _, s := range v.StepOutputs {
			w = append(w, hex.EncodeToString(s))
		}
		for _, s := range steps {
			g = append(g, hex.EncodeToString(s))
		}
		t.Errorf("MISMATCH (per-step timing) %s (line %d)\n  input: %s\n  want steps: %q\n  got steps:  %q",
			v.Name, v.Line, hexExcerpt(v.InputBytes()), w, g)
	}
}

func TestRealQemuGAReplaysVectors(t *testing.T) {
	needQemuGA(t)
	all := loadRealVectors(t)
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
	start := time.Now()
	var version string
	var once sync.Once
	t.Run("shards", func(t *testing.T) {
		for i, vs := range shards {
			t.Run(fmt.Sprintf("shard%d", i), func(t *testing.T) {
				t.Parallel()
				g := StartQemuGA(t)
				once.Do(func() { version = g.Version() })
				replayAll(t, g, vs, idle)
			})
		}
	})
	t.Logf("replayed %d vectors on %d qemu-ga %s processes (idle %v) in %v",
		len(small), nshards, version, idle, time.Since(start).Round(time.Millisecond))
}

func TestRealQemuGAReplaysBigVectors(t *testing.T) {
	if testing.Short() {
		t.Skip("big vectors send up to ~130 MiB each; skipped with -short")
	}
	needQemuGA(t)
	all := loadRealVectors(t)
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
	replayAll(t, g, big, DefaultIdle)
	t.Logf("replayed %d big vectors (%s) in %v", len(big), strings.Join(names, ", "), time.Since(start).Round(time.Millisecond))
}
