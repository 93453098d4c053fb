package fuzz_test

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"github.com/qgafuzz/qgafuzz/fuzz"
	"github.com/qgafuzz/qgafuzz/qga"
	"github.com/qgafuzz/qgafuzz/qga/qgatest"
)

// BenchmarkTargets measures one execution of each target over its seed
// corpus (ns/op is per input, averaged over the corpus); execs/s is the
// single-core throughput a fuzzing engine can reach at best. B/s is input
// bytes per second (SetBytes takes the corpus's mean input size, since
// inputs differ in length).
func BenchmarkTargets(b *testing.B) {
	for _, tg := range fuzz.Targets() {
		_, seeds, err := fuzz.ReadCorpus(filepath.Join("..", "corpus", tg.Name))
		if err != nil || len(seeds) == 0 {
			b.Fatalf("corpus/%s: %v (%d seeds)", tg.Name, err, len(seeds))
		}
		total := 0
		for _, s := range seeds {
			total += len(s)
		}
		b.Run(tg.Name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(total / len(seeds)))
			for i := 0; b.Loop(); i++ {
				if f := fuzz.Run(tg, seeds[i%len(seeds)]); f != nil {
					b.Fatal(f.Report())
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "execs/s")
		})
	}
}

// BenchmarkReplayQemuGA measures the differential driver against a live
// qemu-ga, as the nightly job's qemu-ga share and `qgafuzz fuzz
// --reference` run it: each op plays one seed stream of
// corpus/differential, fenced, to qemu-ga and to the in-process agent,
// and compares the replies. The rate is set by waiting (pacing, replies),
// not by the CPU: a fixed pause per stream shows here at once (streams/s
// went from about 80 to 1,500–2,400 when the reference stopped waiting 10 ms a
// stream for extra bytes after the fence's reply).
func BenchmarkReplayQemuGA(b *testing.B) {
	g := qgatest.StartQemuGA(b) // skips without qemu-ga
	ref := fuzz.NewSocketEndpoint("unix:"+g.Socket, fuzz.SocketOptions{Oracle: true})
	defer ref.Close()
	benchReplay(b, ref, fuzz.InProcessEndpoint(qga.AgentConfig{}))
}

// BenchmarkReplaySocketAgent measures the driver against an agent under
// test behind a socket, as `qgafuzz fuzz --agent` runs it: the reference
// agent served on a unix socket, compared with the in-process reference.
// It shows what finding the end of a stream costs an agent under test,
// which is not trusted to send its replies and nothing more: about 80
// streams/s while every stream was watched 10 ms for extra bytes, about
// 4,000 with the probe that replaced the watch.
func BenchmarkReplaySocketAgent(b *testing.B) {
	agent := fuzz.NewSocketEndpoint(serveBuggy(b, qga.NoBug), fuzz.SocketOptions{})
	defer agent.Close()
	benchReplay(b, nil, agent)
}

// benchReplay replays the seed streams of corpus/differential, fenced,
// one per op, to ref and agent (nil ref: the in-process reference), and
// fails on any divergence.
func benchReplay(b *testing.B, ref, agent fuzz.Endpoint) {
	var streams []qgatest.Stream
	total := 0
	for _, s := range differentialSeeds(b) {
		st := fuzz.Chunks(s)
		if n := len(st.Ops); n == 0 || !bytes.Equal(st.Ops[n-1].Data, qgatest.Fence) {
			st.Ops = append(st.Ops, qgatest.Op{Data: qgatest.Fence})
		}
		streams = append(streams, st)
		total += len(st.Bytes())
	}
	b.ReportAllocs()
	b.SetBytes(int64(total / len(streams)))
	for i := 0; b.Loop(); i++ {
		d, err := fuzz.Replay(ref, agent, streams[i%len(streams)])
		if err != nil || d != nil {
			b.Fatalf("stream %d: %v %v", i%len(streams), err, d)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "streams/s")
}

// BenchmarkDifferSocketAgent measures the driver on generated streams (no
// seeds: generated and re-split streams, many with a write per byte, as a
// long `qgafuzz fuzz --agent` run plays them) against the reference agent
// served on a unix socket. Each op is the same differStreams streams (the
// generator's seed is fixed). Unlike the seed replays above, the rate is
// set by the wait after each write that expects no reply, until the agent
// has read it: about 300 streams/s on 2 cores while it slept between
// polls (a 10 µs sleep lasts 0.15–0.9 ms), about 1,100 since it polls
// without sleeping for up to 100 µs first.
func BenchmarkDifferSocketAgent(b *testing.B) {
	const differStreams = 200
	agent := fuzz.NewSocketEndpoint(serveBuggy(b, qga.NoBug), fuzz.SocketOptions{})
	defer agent.Close()
	b.ReportAllocs()
	var streams, total int64
	for b.Loop() {
		st, err := fuzz.Differ(context.Background(), fuzz.DiffOptions{Agent: agent, Seed: 1, MaxStreams: differStreams})
		if err != nil || st.Divergences != 0 {
			b.Fatalf("%v %+v", err, st)
		}
		streams += st.Streams
		total += st.Bytes
	}
	b.SetBytes(total / int64(b.N))
	b.ReportMetric(float64(streams)/b.Elapsed().Seconds(), "streams/s")
}
