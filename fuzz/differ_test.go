package fuzz_test

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/qgafuzz/qgafuzz/fuzz"
	"github.com/qgafuzz/qgafuzz/qga"
	"github.com/qgafuzz/qgafuzz/qga/qgatest"
)

// findLimit is the time the issue allows for finding each planted bug.
const findLimit = 60 * time.Second

func differentialSeeds(t testing.TB) [][]byte {
	_, seeds, err := fuzz.ReadCorpus(filepath.Join("..", "corpus", "differential"))
	if err != nil || len(seeds) == 0 {
		t.Fatalf("corpus/differential: %v (%d seeds)", err, len(seeds))
	}
	return seeds
}

// timeToFind runs the driver against agent until the first divergence.
func timeToFind(t *testing.T, agent fuzz.Endpoint, seeds [][]byte) (time.Duration, fuzz.DiffStats) {
	t.Helper()
	var first *fuzz.Divergence
	st, err := fuzz.Differ(context.Background(), fuzz.DiffOptions{
		Agent: agent, Seeds: seeds, Seed: 1, Duration: findLimit, StopAfter: 1,
		OnDivergence: func(d *fuzz.Divergence) { first = d },
	})
	if err != nil {
		t.Fatal(err)
	}
	if first == nil {
		t.Fatalf("no divergence from %s in %v (%d streams)", agent.Name(), st.Elapsed, st.Streams)
	}
	if !st.StoppedEarly || st.AgentRestarts != 0 {
		t.Errorf("stats %+v: want stopped early (StopAfter 1 reached) and no restarts (not a command endpoint)", st)
	}
	if !strings.Contains(first.Report(), "input writes (hex") {
		t.Errorf("report lacks the input: %s", first.Report())
	}
	return st.FirstDivergence, st
}

// TestDifferFindsPlantedBugs: every planted-bug variant of the reference
// agent is found, in process, both from the seed corpus and from blind
// generation (no seeds), well within the limit.
func TestDifferFindsPlantedBugs(t *testing.T) {
	seeds := differentialSeeds(t)
	for _, bug := range qga.Bugs() {
		t.Run(bug.String(), func(t *testing.T) {
			agent := fuzz.InProcessEndpoint(qga.AgentConfig{Bug: bug})
			d, st := timeToFind(t, agent, seeds)
			blind, bst := timeToFind(t, agent, nil)
			t.Logf("time to find %s in process: %v with seeds (%d streams), %v blind (%d streams)",
				bug, d.Round(time.Microsecond), st.Streams, blind.Round(time.Microsecond), bst.Streams)
		})
	}
}

// serveBuggy serves a reference agent with a planted bug on a unix socket.
func serveBuggy(t testing.TB, bug qga.Bug) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "qgafuzz")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "a.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &qga.Server{Agent: qga.NewAgent(qga.AgentConfig{Bug: bug}), SurviveReset: true}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	t.Cleanup(func() {
		l.Close()
		if err := <-done; err != nil && !errors.Is(err, net.ErrClosed) {
			t.Log(err)
		}
	})
	return "unix:" + sock
}

// TestDifferFindsPlantedBugsOverSockets: the same, with the buggy agent
// behind a unix socket, read by qga.Server in 4 KiB reads: the driver must
// pace its writes so that splits reach the agent as separate reads. Blind
// generation only (the seeds find every bug at once).
func TestDifferFindsPlantedBugsOverSockets(t *testing.T) {
	for _, bug := range qga.Bugs() {
		t.Run(bug.String(), func(t *testing.T) {
			agent := fuzz.NewSocketEndpoint(serveBuggy(t, bug), fuzz.SocketOptions{})
			defer agent.Close()
			d, st := timeToFind(t, agent, nil)
			t.Logf("time to find %s over a socket: %v blind (%d streams)", bug, d.Round(time.Millisecond), st.Streams)
		})
	}
}

// TestDifferQemuGA: an unmodified qemu-ga 7.2 shows no divergence from the
// reference agent over a short run (seeds, then generated streams).
func TestDifferQemuGA(t *testing.T) {
	ga := qgatest.StartQemuGA(t)
	agent := fuzz.NewSocketEndpoint("unix:"+ga.Socket, fuzz.SocketOptions{})
	defer agent.Close()
	var reports []string
	st, err := fuzz.Differ(context.Background(), fuzz.DiffOptions{
		Agent: agent, Seeds: differentialSeeds(t), Seed: uint64(time.Now().UnixNano()),
		Duration: 15 * time.Second, StopAfter: 3,
		OnDivergence: func(d *fuzz.Divergence) { reports = append(reports, d.Report()) },
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range reports {
		t.Errorf("qemu-ga %s diverges from the reference:\n%s", ga.Version(), r)
	}
	if st.Streams < 100 {
		t.Errorf("only %d streams in %v", st.Streams, st.Elapsed)
	}
	t.Logf("qemu-ga %s: %d streams (%d bytes) in %v, no divergence", ga.Version(), st.Streams, st.Bytes, st.Elapsed.Round(time.Millisecond))
}

// TestDifferUnreachableAgent: an agent that cannot be reached at all is an
// error of the run, not a divergence.
func TestDifferUnreachableAgent(t *testing.T) {
	agent := fuzz.NewSocketEndpoint("unix:"+filepath.Join(t.TempDir(), "nope.sock"), fuzz.SocketOptions{})
	defer agent.Close()
	divergences := 0
	st, err := fuzz.Differ(context.Background(), fuzz.DiffOptions{
		Agent: agent, Seed: 1, Duration: 5 * time.Second,
		OnDivergence: func(*fuzz.Divergence) { divergences++ },
	})
	if !errors.Is(err, fuzz.ErrUnreachable) {
		t.Errorf("error %v, want one wrapping fuzz.ErrUnreachable", err)
	}
	if divergences > 0 || st.Divergences > 0 {
		t.Errorf("%d divergences reported (stats %d) for an unreachable agent", divergences, st.Divergences)
	}
}
