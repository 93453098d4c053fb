package main

import (
	"fmt"
	"io"
	"time"

	"github.com/qgafuzz/qgafuzz/corpus"
)

// This file is qgafuzz corpus's --json summary, as qgafuzz fuzz's: one
// object on standard output at the end of every run that got past its
// flags, with the human summary moved to standard error. It holds only
// what the subcommand computed: a field it does not know is left out, not
// given as 0.

// corpusJSON is the --json output.
type corpusJSON struct {
	Subcommand string `json:"subcommand"` // minimize, merge, import, export or stats
	Target     string `json:"target,omitempty"`
	// Inputs are the directories read (DIR... or SRC...).
	Inputs []string `json:"inputs"`
	// Output is where files were written: --out, --into (its corpus/ for
	// a go-fuzz workdir), or an export's go-fuzz workdir's corpus/.
	Output string `json:"output,omitempty"`
	// Format is the format written (minimize: raw; merge, import, export).
	Format   corpus.Format `json:"format,omitempty"`
	Seconds  float64       `json:"seconds"`
	ExitCode int           `json:"exit_code"`
	// Error is why the run failed (exit 2 after the flags).
	Error string `json:"error,omitempty"`
	// Interrupted: Ctrl-C ended the run (exit 130).
	Interrupted bool `json:"interrupted,omitempty"`

	// minimize: the inputs before (duplicates and failing ones included)
	// and the minimized corpus; merge: files_before is --into's.
	FilesBefore *int   `json:"files_before,omitempty"`
	FilesAfter  *int   `json:"files_after,omitempty"`
	BytesBefore *int64 `json:"bytes_before,omitempty"`
	BytesAfter  *int64 `json:"bytes_after,omitempty"`
	// Coverage features (edge x hit-count bucket): minimize and merge.
	CoverageBefore *int `json:"coverage_before,omitempty"`
	CoverageAfter  *int `json:"coverage_after,omitempty"`
	// merge: the readable, non-failing inputs of DIR..., and those added.
	Candidates *int   `json:"candidates,omitempty"`
	Added      *int   `json:"added,omitempty"`
	BytesAdded *int64 `json:"bytes_added,omitempty"`
	// import and export: files written, their bytes, inputs already there.
	Written      *int   `json:"written,omitempty"`
	BytesWritten *int64 `json:"bytes_written,omitempty"`
	Existing     *int   `json:"existing,omitempty"`
	// stats.
	Files        *int   `json:"files,omitempty"`
	Bytes        *int64 `json:"bytes,omitempty"`
	Largest      string `json:"largest,omitempty"`
	LargestBytes *int64 `json:"largest_bytes,omitempty"`
	// stats --target.
	Coverage *int `json:"coverage,omitempty"`
	// minimize and stats: inputs equal to an earlier one; minimize and
	// stats --target: inputs that fail the target.
	Duplicates *int `json:"duplicates,omitempty"`
	Failing    *int `json:"failing,omitempty"`
	// Measuring time per input, and the target's own time per input
	// (minimize, stats --target).
	PerInputSeconds     *float64 `json:"per_input_seconds,omitempty"`
	ExecPerInputSeconds *float64 `json:"exec_per_input_seconds,omitempty"`
	// Skipped counts the files left out (unreadable, undecodable, not
	// regular, too large); Problems lists them, and the warnings.
	Skipped  *int                `json:"skipped,omitempty"`
	Problems []corpusProblemJSON `json:"problems,omitempty"`
}

// corpusProblemJSON is a corpus.Problem.
type corpusProblemJSON struct {
	Path    string `json:"path"`
	Message string `json:"message"`
	Warning bool   `json:"warning,omitempty"`
}

// setProblems records the problems of a run and the count of skipped files.
func (j *corpusJSON) setProblems(probs []corpus.Problem) {
	j.Skipped = ptr(corpus.Skipped(probs))
	j.Problems = nil
	for _, p := range probs {
		msg := ""
		if p.Err != nil {
			msg = p.Err.Error()
		}
		j.Problems = append(j.Problems, corpusProblemJSON{Path: p.Path, Message: msg, Warning: p.Warning})
	}
}

// setMinimize records what minimize did.
func (j *corpusJSON) setMinimize(r *corpus.MinimizeReport) {
	j.FilesBefore, j.FilesAfter = ptr(r.FilesBefore), ptr(r.FilesAfter)
	j.BytesBefore, j.BytesAfter = ptr(r.BytesBefore), ptr(r.BytesAfter)
	j.CoverageBefore, j.CoverageAfter = ptr(r.FeaturesBefore), ptr(r.FeaturesAfter)
	j.Duplicates, j.Failing = ptr(r.Duplicates), ptr(r.Failing)
	j.PerInputSeconds, j.ExecPerInputSeconds = ptr(r.PerInput.Seconds()), ptr(r.ExecPerInput.Seconds())
	j.setProblems(r.Problems)
}

// setMerge records what merge did.
func (j *corpusJSON) setMerge(r *corpus.MergeReport) {
	j.Output, j.Format = r.Dir, r.Format
	j.FilesBefore, j.Candidates, j.Added, j.BytesAdded = ptr(r.FilesBefore), ptr(r.Candidates), ptr(r.Added), ptr(r.BytesAdded)
	j.CoverageBefore, j.CoverageAfter = ptr(r.FeaturesBefore), ptr(r.FeaturesAfter)
	j.setProblems(r.Problems)
}

// setStats records what stats counted and, with a target, measured.
func (j *corpusJSON) setStats(st *corpus.Stats) {
	j.Files, j.Bytes, j.Duplicates = ptr(st.Files), ptr(st.Bytes), ptr(st.Duplicates)
	if st.Largest.Path != "" {
		j.Largest, j.LargestBytes = st.Largest.Path, ptr(int64(len(st.Largest.Data)))
	}
	if st.Target != "" {
		j.Coverage, j.Failing = ptr(st.Features), ptr(st.Failing)
		j.PerInputSeconds, j.ExecPerInputSeconds = ptr(st.PerInput.Seconds()), ptr(st.ExecPerInput.Seconds())
	}
	j.setProblems(st.Problems)
}

// setError records why the run failed (the first reason only).
func (j *corpusJSON) setError(err any) {
	if j.Error == "" {
		j.Error = fmt.Sprint(err)
	}
}

// emit prints j with the run's exit code and time; a JSON report that
// cannot be written is an error, as for qgafuzz fuzz --json.
func (j *corpusJSON) emit(w, errw io.Writer, code int, took time.Duration) int {
	j.ExitCode, j.Seconds = code, took.Seconds()
	if code == exitInterrupted {
		j.Interrupted = true
	}
	return writeJSON(w, errw, "corpus "+j.Subcommand, j, code)
}
