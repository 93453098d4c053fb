package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/qgafuzz/qgafuzz/corpus"
	"github.com/qgafuzz/qgafuzz/fuzz"
	"github.com/qgafuzz/qgafuzz/qga"
	"github.com/qgafuzz/qgafuzz/qga/qgatest"
)

// This file is qgafuzz fuzz's differential mode: an agent behind a socket
// (--agent, or one started by --agent-cmd) compared stream by stream with
// the reference, and --replay of a stored divergence.

// diffEndpoints returns the agent under test and the reference (nil: the
// built-in one) of --agent or --agent-cmd and --reference; closeAll closes
// both. ctx cuts the start of an --agent-cmd agent short.
func diffEndpoints(ctx context.Context, f fuzzFlags) (agent, ref fuzz.Endpoint, closeAll func(), err error) {
	so := fuzz.SocketOptions{Hang: f.hang}
	if f.agentCmd != "" {
		ce, err := fuzz.StartCommandEndpoint(ctx, f.agentCmd, so)
		if err != nil {
			return nil, nil, nil, err
		}
		agent = ce
	} else {
		agent = fuzz.NewSocketEndpoint(f.agent, so)
	}
	if f.ref != "" {
		// The reference is trusted to send its replies and nothing more.
		so.Oracle = true
		ref = fuzz.NewSocketEndpoint(f.ref, so)
	}
	return agent, ref, func() {
		agent.Close()
		if ref != nil {
			ref.Close()
		}
	}, nil
}

// replayCommand is the command that replays a stored divergence against
// the same agents: qgafuzz repro replays in-process agents only.
func replayCommand(f fuzzFlags, crasher string) string {
	args := []string{"fuzz", "--target", "differential"}
	if f.agentCmd != "" {
		args = append(args, "--agent-cmd", absCommand(f.agentCmd))
	} else {
		args = append(args, "--agent", absAddr(f.agent))
	}
	if f.ref != "" {
		args = append(args, "--reference", absAddr(f.ref))
	}
	if f.hang != defaultHang {
		args = append(args, "--hang", f.hang.String())
	}
	return selfLine(append(args, "--replay", absPath(crasher))...)
}

// runReplay plays one stored stream to the agent under test and the
// reference, as the differential driver does: the reproduce line of its
// findings. It records the replay in j.
func runReplay(e *env, f fuzzFlags, j *fuzzJSON) int {
	j.Mode, j.Replay = "replay", absPath(f.replay)
	data, err := corpus.ReadFile(f.replay)
	if err != nil {
		fmt.Fprintln(e.stderr, "qgafuzz fuzz: --replay:", errText(err))
		j.setError(err)
		return exitUsage
	}
	st := fuzz.Chunks(data)
	// Stored findings end with the fence already; anything else gets it,
	// as every stream of the driver does.
	if n := len(st.Ops); n == 0 || !bytes.Equal(st.Ops[n-1].Data, qgatest.Fence) {
		st.Ops = append(st.Ops, qgatest.Op{Data: qgatest.Fence})
	}
	j.Writes = ptr(len(st.Ops))
	agent, ref, closeAll, err := diffEndpoints(context.Background(), f)
	if err != nil {
		fmt.Fprintln(e.stderr, "qgafuzz fuzz:", errText(err))
		j.setError(err)
		return exitTransport
	}
	defer closeAll()
	if ref == nil {
		ref = fuzz.InProcessEndpoint(qga.AgentConfig{})
	}
	j.Agent, j.Reference = agent.Name(), ref.Name()
	fmt.Fprintf(e.stdout, "qgafuzz fuzz: replay %s: %d writes to %s and %s\n", f.replay, len(st.Ops), agent.Name(), ref.Name())
	d, err := fuzz.Replay(ref, agent, st)
	if err == nil {
		// As a differential run counts them: a death or hang is part of
		// the divergence, and an --agent-cmd agent is restarted after it.
		j.AgentDeaths, j.AgentHangs = ptr(0), ptr(0)
		if d != nil && d.AgentDied {
			j.AgentDeaths = ptr(1)
		} else if d != nil && d.AgentHung {
			j.AgentHangs = ptr(1)
		}
	}
	if r, ok := agent.(interface{ Restarts() int }); ok && f.agentCmd != "" {
		j.AgentRestarts = ptr(r.Restarts())
	}
	switch {
	case err != nil:
		fmt.Fprintln(e.stderr, "qgafuzz fuzz:", errText(err))
		j.setError(err)
		return exitTransport
	case d != nil:
		j.Streams, j.Divergences = ptr(int64(1)), ptr(1)
		fmt.Fprintf(e.stdout, "qgafuzz fuzz: FAIL: the replies differ\n%s", d.Report())
		return exitFinding
	}
	j.Streams, j.Divergences = ptr(int64(1)), ptr(0)
	fmt.Fprintln(e.stdout, "qgafuzz fuzz: PASS: identical replies")
	return exitOK
}

// runDiffer compares an agent behind a socket with the reference and
// records the run in j.
func runDiffer(ctx context.Context, e *env, f fuzzFlags, j *fuzzJSON) int {
	j.Mode = "differential"
	started := time.Now()
	agent, ref, closeAll, err := diffEndpoints(ctx, f)
	if err != nil && ctx.Err() != nil {
		// Ctrl-C while the agent command started: an interrupted run,
		// not a failed one.
		fmt.Fprintln(e.stderr, "qgafuzz fuzz: interrupted while the agent command started")
		st := fuzz.DiffStats{Elapsed: time.Since(started)}
		fmt.Fprintf(e.stdout, "qgafuzz fuzz: done: differential: %s\n", diffText(st, f.agentCmd != ""))
		j.setDiffStats(st, f.agentCmd != "")
		return exitOK
	}
	if err != nil {
		fmt.Fprintln(e.stderr, "qgafuzz fuzz:", errText(err))
		j.setError(err)
		return exitTransport
	}
	defer closeAll()
	// The checked-in seeds as built in, not as found from the working
	// directory: the same --seed gives the same streams anywhere.
	seeds := corpus.DifferentialSeeds()
	if f.corpus != "" {
		_, more, err := fuzz.ReadCorpus(f.corpus)
		if err != nil {
			fmt.Fprintln(e.stderr, "qgafuzz fuzz:", errText(err))
			j.setError(err)
			return exitUsage
		}
		seeds = append(seeds, more...)
	}
	out := f.out
	if out == "" {
		out = filepath.Join("out", "crashers", "differential")
	}
	seed := f.seed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	refName := "the built-in reference agent"
	if ref != nil {
		refName = ref.Name()
	}
	// "built-in reference agent", as a --replay names it.
	j.Agent, j.Reference, j.Seed = agent.Name(), strings.TrimPrefix(refName, "the "), ptr(seed)
	fmt.Fprintf(e.stdout, "qgafuzz fuzz: differential: %s vs %s for %v (%d seeds, seed %d)\n",
		agent.Name(), refName, durationText(f.time), len(seeds), seed)
	store := fuzz.CrashStore{Dir: out}
	var storeErr error
	st, err := fuzz.Differ(ctx, fuzz.DiffOptions{
		Reference: ref, Agent: agent, Seeds: seeds, Seed: seed, Duration: f.time, StopAfter: f.maxFindings,
		OnDivergence: func(d *fuzz.Divergence) {
			input := fuzz.Encode(d.Input)
			// "differential: " first, so that qgafuzz repro finds the
			// target in the report.
			repro := replayCommand(f, store.PathOf(input))
			report := "differential: reproduce with: " + repro + "\n" + d.Report()
			c, err := store.Save(input, report)
			if err != nil {
				storeErr = err
			}
			if err == nil || errors.Is(err, fuzz.ErrNotDurable) {
				// Stored (perhaps not yet durably): a finding on disk
				// is in the JSON.
				j.Findings = append(j.Findings, fuzzFindingJSON{File: c.Path, Report: c.Report, Repro: repro})
			}
			fmt.Fprintf(e.stdout, "qgafuzz fuzz: FINDING (saved as %s)\n%s\n", c.Path, report)
		},
		OnProgress: func(s fuzz.DiffStats) {
			fmt.Fprintf(e.stdout, "qgafuzz fuzz: differential: %s\n", diffText(s, f.agentCmd != ""))
		},
	})
	if st.StoppedEarly {
		fmt.Fprintf(e.stdout, "qgafuzz fuzz: stopped early: %d divergences reached --max-findings\n", st.Divergences)
	}
	switch {
	case err == nil:
		fmt.Fprintf(e.stdout, "qgafuzz fuzz: done: differential: %s\n", diffText(st, f.agentCmd != ""))
	case st.Streams > 0:
		// What ran before the error, said as a failed run's: "done"
		// would read as a clean one.
		fmt.Fprintf(e.stdout, "qgafuzz fuzz: failed: differential: %s\n", diffText(st, f.agentCmd != ""))
	}
	// A run that never started (an unreachable agent) prints no summary,
	// only its error; its JSON object has the error and zero counts.
	j.setDiffStats(st, f.agentCmd != "")
	switch {
	case err != nil:
		fmt.Fprintln(e.stderr, "qgafuzz fuzz:", errText(err))
		j.setError(err)
		return exitTransport
	case storeErr != nil:
		fmt.Fprintln(e.stderr, "qgafuzz fuzz: storing a finding:", errText(storeErr))
		j.setError("storing a finding: " + storeErr.Error())
		return exitTransport
	case st.Divergences > 0:
		return exitFinding
	}
	return exitOK
}

// diffText is a differential run's progress and summary; restarts adds
// the restarts of an --agent-cmd agent.
func diffText(s fuzz.DiffStats, restarts bool) string {
	rate := 0.0
	if s.Elapsed > 0 {
		rate = float64(s.Streams) / s.Elapsed.Seconds()
	}
	text := fmt.Sprintf("elapsed %v, streams %d (%.0f/s), bytes %d, divergences %d, agent deaths %d, agent hangs %d",
		elapsedText(s.Elapsed), s.Streams, rate, s.Bytes, s.Divergences, s.AgentDeaths, s.AgentHangs)
	if restarts {
		text += fmt.Sprintf(", agent restarts %d", s.AgentRestarts)
	}
	return text
}

// elapsedText rounds a run's elapsed time as the rate beside it may be
// checked against: to the millisecond under a second, to a tenth of a
// second under 10 s (not "1s" for a 0.55 s run of 40 streams at 73/s), to
// the second beyond.
func elapsedText(d time.Duration) time.Duration {
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond)
	case d < 10*time.Second:
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(time.Second)
}
