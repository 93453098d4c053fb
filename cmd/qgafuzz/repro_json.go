package main

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// This file is qgafuzz repro's --json summary, as qgafuzz fuzz's: one
// object on standard output at the end of every replay that got past its
// flags, with the human text (the verdict, the stack or the violations)
// moved to standard error. A field the replay does not know is left out.

// reproJSON is the --json output.
type reproJSON struct {
	// Mode is "input" (a fuzz input replayed in process), "schedule" (a
	// simulation schedule or trace), "seed" (--seed) or "qemu-ga"
	// (--agent qemu-ga).
	Mode string `json:"mode"`
	File string `json:"file,omitempty"`
	// Format is the file's format as detected (raw, native, gofuzz,
	// libfuzzer or sim); Bytes the decoded input's size.
	Format string `json:"format,omitempty"`
	Bytes  *int   `json:"bytes,omitempty"`
	Target string `json:"target,omitempty"`
	// TargetFrom says where the target came from: "--target", "the path",
	// or the report file beside FILE that named it.
	TargetFrom string `json:"target_from,omitempty"`
	// PlantedBug is the bug planted in the agent (--agent bug:NAME, the
	// environment, or the report or repro.txt beside FILE).
	PlantedBug string `json:"planted_bug,omitempty"`
	// A simulation: the seed (--seed, or the schedule's), its client,
	// faults and steps.
	Seed   *uint64 `json:"seed,omitempty"`
	Client string  `json:"client,omitempty"`
	Faults string  `json:"faults,omitempty"`
	Steps  *int    `json:"steps,omitempty"`
	// QemuGA is the version of the qemu-ga played to (--agent qemu-ga);
	// Writes the stream's writes.
	QemuGA string `json:"qemu_ga,omitempty"`
	Writes *int   `json:"writes,omitempty"`

	// Verdict is "fails" (exit 1) or "passes" (exit 0); left out when the
	// replay could not run.
	Verdict string `json:"verdict,omitempty"`
	// Failure is the first line of the failure: the violated property or
	// the panic, the first invariant violation, or the first difference
	// of the replies.
	Failure string `json:"failure,omitempty"`
	// Signature is the deduplication signature, as qgafuzz nightly files
	// the failure (fuzz inputs and simulations).
	Signature string `json:"signature,omitempty"`
	// Violations counts a simulation's invariant violations.
	Violations *int `json:"violations,omitempty"`

	Seconds  float64 `json:"seconds"`
	ExitCode int     `json:"exit_code"`
	// Error is why the replay could not run (exit 2 after the flags, or 3).
	Error string `json:"error,omitempty"`
}

// firstLine returns the first non-empty line of s, trimmed.
func firstLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			return l
		}
	}
	return ""
}

// setError records why the replay failed (the first reason only).
func (j *reproJSON) setError(err any) {
	if j.Error == "" {
		j.Error = fmt.Sprint(err)
	}
}

// emit prints j with the replay's exit code and time; a JSON report that
// cannot be written is an error, as for qgafuzz fuzz --json.
func (j *reproJSON) emit(w, errw io.Writer, code int, took time.Duration) int {
	j.ExitCode, j.Seconds = code, took.Seconds()
	switch {
	case j.Error != "":
	case code == exitOK:
		j.Verdict = "passes"
	case code == exitFinding:
		j.Verdict = "fails"
	}
	return writeJSON(w, errw, "repro", j, code)
}
