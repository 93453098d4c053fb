package sim

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// TestTraceToIsTheKeptTrace: the lines a run writes to Options.TraceTo
// (and a replay to ReplayTo) are byte for byte the ones Trace keeps, the
// hash is the same, and a trace file made by WriteTraceFrom is the one
// WriteTrace makes.
func TestTraceToIsTheKeptTrace(t *testing.T) {
	for _, o := range []Options{
		{Seed: 1, Steps: 400},
		{Seed: 7, Client: Plain, Steps: 200, Faults: "all"},
	} {
		o.Trace = true
		kept := mustRun(t, o)
		var buf bytes.Buffer
		o.TraceTo = &buf
		streamed := mustRun(t, o)
		if streamed.Trace != nil {
			t.Fatalf("seed %d: Result.Trace kept %d bytes with TraceTo set", o.Seed, len(streamed.Trace))
		}
		if !bytes.Equal(buf.Bytes(), kept.Trace) || streamed.TraceHash != kept.TraceHash || streamed.TraceLines != kept.TraceLines {
			t.Fatalf("seed %d: streamed %d bytes (hash %s, %d lines), kept %d (hash %s, %d lines)", o.Seed,
				buf.Len(), streamed.TraceHash, streamed.TraceLines, len(kept.Trace), kept.TraceHash, kept.TraceLines)
		}
		if buf.Len() < 2*traceBlock {
			t.Fatalf("seed %d: a trace of %d bytes does not test the blocks", o.Seed, buf.Len())
		}

		var rbuf bytes.Buffer
		rep, err := ReplayTo(kept.Schedule(), &rbuf, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(rbuf.Bytes(), kept.Trace) || rep.TraceHash != kept.TraceHash || rep.Trace != nil {
			t.Fatalf("seed %d: ReplayTo wrote another trace (hash %s, recorded %s)", o.Seed, rep.TraceHash, kept.TraceHash)
		}

		dir := t.TempDir()
		a, b := filepath.Join(dir, "kept.jsonl"), filepath.Join(dir, "streamed.jsonl")
		if err := WriteTrace(a, kept); err != nil {
			t.Fatal(err)
		}
		if err := WriteTraceFrom(b, streamed, &buf); err != nil {
			t.Fatal(err)
		}
		fa, _ := os.ReadFile(a)
		fb, _ := os.ReadFile(b)
		if len(fa) == 0 || !bytes.Equal(fa, fb) {
			t.Fatalf("seed %d: WriteTraceFrom wrote %d bytes, WriteTrace %d, not the same", o.Seed, len(fb), len(fa))
		}
	}
}

// TestTraceToWriteError: a trace that cannot be written fails the run
// rather than leaving a short trace behind.
func TestTraceToWriteError(t *testing.T) {
	full := errors.New("disk full")
	_, err := Run(Options{Seed: 1, Steps: 300, TraceTo: failWriter{full}})
	if !errors.Is(err, full) {
		t.Fatalf("Run with a failing TraceTo: %v, want %v", err, full)
	}
	if _, err := ReplayTo(mustRun(t, Options{Seed: 1}).Schedule(), nil, nil, 0); err == nil {
		t.Fatal("ReplayTo(nil writer) succeeded")
	}
}

type failWriter struct{ err error }

func (w failWriter) Write([]byte) (int, error) { return 0, w.err }

// TestTraceToMemoryBounded: a run that writes its trace to TraceTo does
// not hold it: between two points of a run, its live heap grows by what
// the schedule needs (the workload and fault events: about 100 bytes a
// step), not by the trace it wrote meanwhile (some 2.5 KB a step). When
// the tracer kept every line, this run's heap grew by some 40 MB.
func TestTraceToMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("a long run")
	}
	const steps, from, to = 20000, 2000, 18000
	var heap [2]uint64
	var written countWriter
	o := Options{Seed: 1, Steps: steps, TraceTo: &written, RunProgressEvery: time.Nanosecond}
	o.RunProgress = func(p RunProgress) {
		i := -1
		switch {
		case p.Step >= to && heap[1] == 0:
			i = 1
		case p.Step >= from && heap[0] == 0:
			i = 0
		}
		if i >= 0 {
			runtime.GC()
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			heap[i] = m.HeapAlloc
		}
	}
	r := mustRun(t, o)
	if heap[0] == 0 || heap[1] == 0 {
		t.Fatalf("progress was not reported at steps %d and %d", from, to)
	}
	grew := int64(heap[1]) - int64(heap[0])
	// Generous: the schedule's share is about 1.6 MB here.
	const bound = 8 << 20
	t.Logf("%d steps, %d trace bytes written: heap grew %d bytes from step %d to %d (%.0f bytes a step)",
		steps, written.n, grew, from, to, float64(grew)/(to-from))
	if written.n < 4*bound {
		t.Fatalf("only %d trace bytes written: the test does not tell a kept trace from a streamed one", written.n)
	}
	if grew > bound {
		t.Fatalf("heap grew %d bytes from step %d to %d (bound %d): the trace (%d bytes) is held in memory", grew, from, to, bound, written.n)
	}
	runtime.KeepAlive(r)
}

type countWriter struct{ n int64 }

func (w *countWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	return len(p), nil
}

// TestLoadScheduleReadsOnlyTheHeader: loading a trace file reads its
// header line, not the lines after it (some 2.5 KB a step: gigabytes for a
// long run), which the schedule does not need.
func TestLoadScheduleReadsOnlyTheHeader(t *testing.T) {
	// Without faults the header is only the workload's ops.
	r := mustRun(t, Options{Seed: 1, Steps: 2000, Faults: "none", Trace: true})
	path := filepath.Join(t.TempDir(), "t.jsonl")
	if err := WriteTrace(path, r); err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	s, err := LoadSchedule(path)
	runtime.ReadMemStats(&after)
	if err != nil || s.TraceHash != r.TraceHash || len(s.Ops) != len(r.Ops) {
		t.Fatalf("LoadSchedule(%s): %v", path, err)
	}
	// Decoding the header allocates a few times its size; the lines
	// after it are ten times more than that.
	alloc := after.TotalAlloc - before.TotalAlloc
	if alloc > uint64(len(r.Trace))*3/5 {
		t.Fatalf("loading a trace of %d bytes of lines allocated %d bytes: it reads them", len(r.Trace), alloc)
	}
	t.Logf("a trace of %d bytes of lines: loading it allocated %d bytes", len(r.Trace), alloc)
}
