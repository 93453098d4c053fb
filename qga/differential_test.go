package qga_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/qgafuzz/qgafuzz/qga"
	"github.com/qgafuzz/qgafuzz/qga/qgatest"
)

// envUint reads a numeric knob from the environment.
func envUint(t *testing.T, name string, def uint64) uint64 {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		t.Fatalf("%s=%q: %v", name, s, err)
	}
	return n
}

// TestDifferentialQemuGA sends generated streams to a live qemu-ga and to the
// reference agent and requires byte-identical output. Stream i of a run is a
// function of (seed, i) alone, and every stream ends with a fence that
// resets the agent, so any mismatch reproduces from the printed command.
//
//	QGAFUZZ_DIFF_STREAMS  number of streams (default 2000)
//	QGAFUZZ_DIFF_SEED     seed (default: time-based, printed)
func TestDifferentialQemuGA(t *testing.T) {
	ga := qgatest.StartQemuGA(t)
	n := envUint(t, "QGAFUZZ_DIFF_STREAMS", 2000)
	seed := envUint(t, "QGAFUZZ_DIFF_SEED", uint64(time.Now().UnixNano()))
	first := envUint(t, "QGAFUZZ_DIFF_FIRST", 0)
	cfg := qga.AgentConfig{Version: ga.Version()}
	sess := &qgatest.Session{Dial: ga.Dial}
	defer sess.Close()
	start := time.Now()
	var bytesSent, mismatches int
	for i := first; i < first+n; i++ {
		st := qgatest.GenStream(rand.New(rand.NewPCG(seed, i)), qgatest.StreamOptions{})
		want := qgatest.ReferenceReplies(cfg, st)
		wantAll := bytes.Join(want, nil)
		got, err := sess.Play(st, want)
		bytesSent += len(st.Bytes())
		if err != nil || !bytes.Equal(got, wantAll) {
			mismatches++
			t.Errorf("stream %d differs from qemu-ga (%v)\nreproduce: QGAFUZZ_DIFF_SEED=%d QGAFUZZ_DIFF_FIRST=%d QGAFUZZ_DIFF_STREAMS=1 go test -run TestDifferentialQemuGA ./qga/\ninput ops (hex): %s\n%s",
				i, err, seed, i, excerpt(st.String(), 0, 4096), diffReport(got, wantAll))
			// The agent's state is unknown now: start it afresh so that
			// one mismatch does not cascade into the next streams.
			sess.Close()
			if !ga.Alive() {
				t.Logf("qemu-ga had exited (log: %s)", ga.LogTail(5))
			}
			if err := ga.Restart(); err != nil {
				t.Fatal(err)
			}
			if mismatches >= 5 {
				t.Fatalf("stopping after %d mismatches", mismatches)
			}
		}
	}
	t.Logf("%d streams (%d bytes) compared with qemu-ga %s in %v, seed %d", n, bytesSent, ga.Version(), time.Since(start).Round(time.Millisecond), seed)
}

// diffReport shows where got and want part, with some context.
func diffReport(got, want []byte) string {
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	from := max(0, i-160)
	return fmt.Sprintf("first difference at byte %d of %d (qemu-ga) / %d (reference)\nqemu-ga:   %q\nreference: %q",
		i, len(got), len(want), excerpt(string(got), from, 480), excerpt(string(want), from, 480))
}

func excerpt(s string, from, n int) string {
	from = min(from, len(s))
	prefix := ""
	if from > 0 {
		prefix = "..."
	}
	if len(s)-from > n {
		return prefix + s[from:from+n] + "..."
	}
	return prefix + s[from:]
}
