package main

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/qgafuzz/qgafuzz/fuzz"
)

// This file is qgafuzz fuzz's --json summary: one object on standard
// output at the end of every run that got past its flags, with the human
// progress and summary moved to standard error. It holds only what the run
// measured: a field the run does not know is left out, not given as 0.

// fuzzJSON is the --json output.
type fuzzJSON struct {
	Mode   string `json:"mode"` // engine, differential or replay
	Target string `json:"target"`
	Engine string `json:"engine,omitempty"`
	// Seconds is the run's wall-clock time (an engine's build and an
	// agent command's start included).
	Seconds  float64 `json:"seconds"`
	ExitCode int     `json:"exit_code"`
	// Error is why the run failed (exit 2 after the flags, or 3).
	Error string `json:"error,omitempty"`
	// Interrupted: Ctrl-C or SIGTERM ended the run.
	Interrupted bool `json:"interrupted,omitempty"`

	// An engine run, from the engine's last status line (absent when it
	// stopped before its first one).
	EngineSeconds *float64 `json:"engine_seconds,omitempty"`
	Execs         *int64   `json:"execs,omitempty"`
	ExecsPerSec   *float64 `json:"execs_per_second,omitempty"`
	EngineCorpus  *int     `json:"engine_corpus,omitempty"`
	NewCoverage   *int     `json:"new_coverage,omitempty"`
	// Crashes is the engine's crash count (engine runs only).
	Crashes *int `json:"crashes,omitempty"`
	// DistinctSignatures counts the known signatures of the run's
	// crashers (engine runs only); CrashGroups groups the crashers by
	// signature, a crasher of unknown signature being a group of its own.
	DistinctSignatures *int             `json:"distinct_signatures,omitempty"`
	CrashGroups        []crashGroupJSON `json:"crash_groups,omitempty"`
	// HardStopped: the native engine overran --time by engineGrace and
	// was stopped.
	HardStopped bool `json:"hard_stopped,omitempty"`
	// The working corpus (--corpus) before and after the engine's finds
	// were brought into it (native and gofuzz; libFuzzer writes into it
	// itself and is not counted).
	Corpus       string `json:"corpus,omitempty"`
	CorpusBefore *int   `json:"corpus_before,omitempty"`
	CorpusAfter  *int   `json:"corpus_after,omitempty"`

	// Differential fuzzing and --replay.
	Agent     string  `json:"agent,omitempty"`
	Reference string  `json:"reference,omitempty"`
	Seed      *uint64 `json:"seed,omitempty"`
	Streams   *int64  `json:"streams,omitempty"`
	// StreamsPerSec and Bytes: differential fuzzing only.
	StreamsPerSec *float64 `json:"streams_per_second,omitempty"`
	Bytes         *int64   `json:"bytes,omitempty"`
	Divergences   *int     `json:"divergences,omitempty"`
	AgentDeaths   *int     `json:"agent_deaths,omitempty"`
	AgentHangs    *int     `json:"agent_hangs,omitempty"`
	// AgentRestarts: the --agent-cmd agent's restarts (--agent-cmd only).
	AgentRestarts *int `json:"agent_restarts,omitempty"`
	// StoppedEarly: the run stopped on reaching --max-findings.
	StoppedEarly bool `json:"stopped_early,omitempty"`
	// FirstDivergenceSeconds is the fuzzing time to the first divergence.
	FirstDivergenceSeconds *float64 `json:"first_divergence_seconds,omitempty"`
	// Replay is the stored stream a --replay played; Writes its writes.
	Replay string `json:"replay,omitempty"`
	Writes *int   `json:"writes,omitempty"`

	Findings []fuzzFindingJSON `json:"findings,omitempty"`
}

// fuzzFindingJSON is one stored crasher or divergence.
type fuzzFindingJSON struct {
	File   string `json:"file"`   // the raw input
	Report string `json:"report"` // its report
	// Repro is the command that reproduces it (engine runs: printed for
	// the smallest input of each signature only).
	Repro string `json:"repro,omitempty"`
	// Signature: engine runs, left out when unknown (see crash_groups).
	Signature string `json:"signature,omitempty"`
}

// crashGroupJSON is one group of an engine run's crashers in --json.
type crashGroupJSON struct {
	// Signature is left out when unknown; SignatureUnknown says why.
	Signature        string `json:"signature,omitempty"`
	SignatureUnknown string `json:"signature_unknown,omitempty"`
	// Inputs is how many crashers hit it, New how many of them this run
	// stored first (the others were stored by an earlier run).
	Inputs int `json:"inputs"`
	New    int `json:"new"`
	// Smallest is the smallest input's file, Repro its reproduce line.
	Smallest string `json:"smallest"`
	Repro    string `json:"repro,omitempty"`
	// Files is every input of the group, smallest first.
	Files []string `json:"files"`
}

// crashGroupsJSON returns groups as --json gives them.
func crashGroupsJSON(groups []fuzz.CrashGroup) []crashGroupJSON {
	var out []crashGroupJSON
	for _, g := range groups {
		first := g.Smallest()
		j := crashGroupJSON{Signature: g.Signature, Inputs: len(g.Crashers), New: g.New(), Smallest: first.Path, Repro: first.Repro}
		if g.Signature == "" {
			j.SignatureUnknown = first.NoSignature
		}
		for _, c := range g.Crashers {
			j.Files = append(j.Files, c.Path)
		}
		out = append(out, j)
	}
	return out
}

// ptr returns a pointer to a copy of v.
func ptr[T any](v T) *T { return &v }

// setError records why the run failed (the first reason only).
func (j *fuzzJSON) setError(err any) {
	if j.Error == "" {
		j.Error = fmt.Sprint(err)
	}
}

// setEngine records an engine's result and its crashers' groups.
func (j *fuzzJSON) setEngine(res fuzz.Result, groups []fuzz.CrashGroup) {
	if last := res.Last; last.Elapsed != 0 || last.Execs != 0 {
		// As doneLine: an engine without a status line has no counts.
		j.EngineSeconds = ptr(last.Elapsed.Seconds())
		j.Execs = ptr(last.Execs)
		j.ExecsPerSec = ptr(last.ExecsPerSec)
		j.EngineCorpus = ptr(last.Corpus)
		j.NewCoverage = ptr(last.NewCoverage)
	}
	j.Crashes = ptr(res.Last.Crashes)
	j.HardStopped = res.HardStopped
	for _, c := range res.Crashers {
		j.Findings = append(j.Findings, fuzzFindingJSON{File: c.Path, Report: c.Report, Repro: c.Repro, Signature: c.Signature})
	}
	j.DistinctSignatures = ptr(fuzz.DistinctSignatures(groups))
	j.CrashGroups = crashGroupsJSON(groups)
}

// setDiffStats records a differential run's counts; restarts those of an
// --agent-cmd agent.
func (j *fuzzJSON) setDiffStats(s fuzz.DiffStats, restarts bool) {
	rate := 0.0
	if s.Elapsed > 0 {
		rate = float64(s.Streams) / s.Elapsed.Seconds()
	}
	j.Streams, j.StreamsPerSec, j.Bytes = ptr(s.Streams), ptr(rate), ptr(s.Bytes)
	j.Divergences, j.AgentDeaths, j.AgentHangs = ptr(s.Divergences), ptr(s.AgentDeaths), ptr(s.AgentHangs)
	if restarts {
		j.AgentRestarts = ptr(s.AgentRestarts)
	}
	j.StoppedEarly = s.StoppedEarly
	if s.FirstDivergence > 0 {
		j.FirstDivergenceSeconds = ptr(s.FirstDivergence.Seconds())
	}
}

// emit prints j with the run's exit code and time; a JSON report that
// cannot be written (a full disk under "--json > FILE") is an error, as
// for qgafuzz sim --json.
func (j *fuzzJSON) emit(w, errw io.Writer, code int, took time.Duration) int {
	j.ExitCode, j.Seconds = code, took.Seconds()
	return writeJSON(w, errw, "fuzz", j, code)
}

// writeJSON prints v, indented, on w and returns code; a report that
// cannot be written (a full disk under "--json > FILE") is said on errw
// and is a usage error (exit 2) rather than a run that went fine. cmd
// names the command in that message.
func writeJSON(w, errw io.Writer, cmd string, v any, code int) int {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		fmt.Fprintf(errw, "qgafuzz %s: --json: %v\n", cmd, err)
		return exitUsage
	}
	return code
}

// targetListJSON is qgafuzz fuzz --list --json's output.
type targetListJSON struct {
	Targets []targetJSON `json:"targets"`
}

// targetJSON is one fuzz target.
type targetJSON struct {
	Name string `json:"name"`
	Doc  string `json:"doc"`
}

// emitTargetList prints the targets as one JSON object.
func emitTargetList(e *env) int {
	l := targetListJSON{Targets: []targetJSON{}}
	for _, t := range fuzz.Targets() {
		l.Targets = append(l.Targets, targetJSON{Name: t.Name, Doc: t.Doc})
	}
	return writeJSON(e.stdout, e.stderr, "fuzz", l, exitOK)
}
