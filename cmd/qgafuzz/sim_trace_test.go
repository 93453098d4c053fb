package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/qgafuzz/qgafuzz/sim"
)

// TestSimTraceSpooled: --trace spools the lines of a run (a seed, a
// batch's failing seed with --no-shrink, a replay) to a temporary file and
// writes the same file sim.WriteTrace writes from a trace kept in memory,
// leaving nothing else behind.
func TestSimTraceSpooled(t *testing.T) {
	dir := t.TempDir()
	want := func(name string, o sim.Options) []byte {
		t.Helper()
		o.Trace = true
		r, err := sim.Run(o)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), name)
		if err := sim.WriteTrace(path, r); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	one, batch, replay := filepath.Join(dir, "one.jsonl"), filepath.Join(dir, "batch.jsonl"), filepath.Join(dir, "replay.jsonl")
	for _, c := range []struct {
		args []string
		path string
		want []byte
	}{
		// Passes: the file is the run's own trace, of several blocks.
		{[]string{"--seed", "1", "--steps", "300", "--trace", one}, one,
			want("one", sim.Options{Seed: 1, Steps: 300})},
		// Seed 1 is the lowest failing seed of the plain client.
		{[]string{"--seeds", "1..4", "--client", "plain", "--no-shrink", "--trace", batch}, batch,
			want("batch", sim.Options{Seed: 1, Client: sim.Plain})},
		// A replay of a run that passes writes the trace it replays.
		{[]string{"--replay", one, "--trace", replay}, replay,
			want("one", sim.Options{Seed: 1, Steps: 300})},
	} {
		code, out, errs := runSimCommand(c.args...)
		if code == exitUsage {
			t.Fatalf("%q: exit %d\n%s%s", c.args, code, out, errs)
		}
		got, err := os.ReadFile(c.path)
		if err != nil {
			t.Fatal(err)
		}
		if len(c.want) < 64<<10 && c.path == one {
			t.Fatalf("a trace of %d bytes does not test spooling", len(c.want))
		}
		if !bytes.Equal(got, c.want) {
			t.Fatalf("%q wrote %d bytes, not the %d sim.WriteTrace writes", c.args, len(got), len(c.want))
		}
	}
	left, _ := os.ReadDir(dir)
	if len(left) != 3 {
		var names []string
		for _, e := range left {
			names = append(names, e.Name())
		}
		t.Fatalf("the trace files' directory holds %q, want only the three traces", names)
	}
}

// TestTraceSpoolHasNoName: where an open file can be removed (not
// Windows), the spool is nameless from the start, so a traced run that is
// killed or interrupted leaves no temporary file, of gigabytes perhaps,
// beside --trace; the spool still holds the lines written to it.
func TestTraceSpoolHasNoName(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Windows cannot remove an open file")
	}
	dir := t.TempDir()
	s := newTraceSpool(filepath.Join(dir, "trace.jsonl"))
	if s == nil {
		t.Fatal("no spool")
	}
	defer s.remove()
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("the directory holds %v while the run writes its trace, want nothing a kill would leave", ents)
	}
	if _, err := s.f.WriteString("line\n"); err != nil {
		t.Fatal(err)
	}
	r := &sim.Result{}
	s.res = r
	lines, err := s.lines(r)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(lines); string(b) != "line\n" {
		t.Errorf("the spool gives back %q, want %q", b, "line\n")
	}
}
