package sim

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/qgafuzz/qgafuzz/qga"
)

// This file renders runs, batches and failures for people (text) and
// machines (JSON): the seed, the fault mix, the violated invariant, one
// command that reproduces it, and the minimal schedule.

// Failure is a failing run as reported.
type Failure struct {
	Seed        uint64       `json:"seed"`
	Invariant   string       `json:"invariant"`
	Message     string       `json:"message"`
	Step        int          `json:"step"`
	Faults      []string     `json:"faults"`
	Reproduce   string       `json:"reproduce"`
	Minimal     *Schedule    `json:"minimal,omitempty"`
	Shrink      *ShrinkStats `json:"shrink,omitempty"`
	ShrinkError string       `json:"shrink_error,omitempty"`
	// MinimalResult is the replay of Minimal (with its trace when asked).
	MinimalResult *Result `json:"-"`
}

// NewFailure describes the failing run r, made with options o; when
// shrink is set it also shrinks it (trace keeps the minimal replay's
// trace lines), reporting to o.ShrinkProgress.
func NewFailure(r *Result, o Options, shrink, trace bool) *Failure {
	return NewFailureContext(context.Background(), r, o, shrink, trace)
}

// NewFailureContext is NewFailure shrinking as ShrinkContext does: when
// ctx ends, shrinking stops between two replays, and the failure has the
// smallest failing schedule found by then, with Shrink.Stopped set.
func NewFailureContext(ctx context.Context, r *Result, o Options, shrink, trace bool) *Failure {
	f := &Failure{Seed: r.Seed, Faults: r.Faults, Reproduce: ReproduceCommand(o, r.Seed)}
	if v := r.First(); v != nil {
		f.Invariant, f.Message, f.Step = v.Invariant, v.Message, v.Step
	}
	if !shrink || !r.Failed() {
		return f
	}
	min, _, st, err := shrinkReporting(ctx, r, o, 0)
	if err != nil {
		f.ShrinkError = err.Error()
		return f
	}
	f.Minimal, f.Shrink = min, &st
	if res, err := Replay(min, trace); err == nil {
		f.MinimalResult = res
	}
	return f
}

// ReproduceCommand returns the command line that runs seed with o.
func ReproduceCommand(o Options, seed uint64) string {
	client := o.Client
	if client == "" {
		client = Delimited
	}
	faults := o.Faults
	if faults == "" {
		faults = "swarm"
	}
	steps := o.Steps
	if steps <= 0 {
		steps = DefaultSteps
	}
	cmd := fmt.Sprintf("qgafuzz sim --seed %d --client %s --faults %s --steps %d", seed, client, ShellQuote(faults), steps)
	if o.AgentBug != qga.NoBug {
		cmd += " --plant-bug " + o.AgentBug.String()
	}
	return cmd
}

// ShellQuote returns s as one word for sh: as it is when it needs no
// quoting, else in single quotes; so that a printed command can be pasted.
func ShellQuote(s string) string {
	if s == "" {
		return "''"
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("_.,:=/+-", c)) {
			return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
		}
	}
	return s
}

// WriteText writes the failure report.
func (f *Failure) WriteText(w io.Writer) {
	fmt.Fprintf(w, "FAIL seed %d: %s violated: %s\n", f.Seed, f.Invariant, f.Message)
	fmt.Fprintf(w, "  fault mix: %s\n", orNone(f.Faults))
	fmt.Fprintf(w, "  reproduce: %s\n", f.Reproduce)
	switch {
	case f.Minimal != nil:
		fmt.Fprintf(w, "  minimal schedule (%s): faults %s\n", f.Shrink, orNone(f.Minimal.Faults))
		for _, e := range f.Minimal.Events {
			fmt.Fprintf(w, "    %s\n", e)
		}
		if v := f.Minimal.Violation; v != nil {
			fmt.Fprintf(w, "    then %s\n", stepName(v, len(f.Minimal.Ops)))
		}
	case f.ShrinkError != "":
		fmt.Fprintf(w, "  shrinking failed: %s\n", f.ShrinkError)
	}
}

// Describe renders v, found in a run whose workload has the given number
// of steps, as the reports of sim do: with its time and step, or "in the
// quiet phase" when it was found after the workload (Violation.String
// gives only the step number, which is then past the workload's end).
func (v Violation) Describe(steps int) string { return stepName(&v, steps) }

// stepName renders a violation with its step, naming the quiet phase.
func stepName(v *Violation, steps int) string {
	where := fmt.Sprintf("step %d", v.Step)
	if v.Step > steps {
		where = "the quiet phase"
	}
	return fmt.Sprintf("%s at t=%s in %s: %s", v.Invariant, fmtDur(v.T), where, v.Message)
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, " ")
}

// WriteText writes a one-run report.
func (r *Result) WriteText(w io.Writer) {
	s := r.Stats
	fmt.Fprintf(w, "seed %d, client %s, %d steps, faults %s\n", r.Seed, r.Client, len(r.Ops), orNone(r.Faults))
	fmt.Fprintf(w, "  %d calls: %d ok, %d agent errors, %d timeouts, %d protocol errors, %d closed; %d sessions\n",
		s.Calls, s.OK, s.AgentErrors, s.Timeouts, s.Protocol, s.Closed, s.Sessions)
	applied := Applied(r.Events)
	noEffect := ""
	if n := len(r.Events) - applied; n > 0 {
		noEffect = " (and " + itoa(int64(n)) + " that came to nothing)"
	}
	fmt.Fprintf(w, "  %d fault events%s, virtual time %s, %d trace lines, trace sha256 %s\n",
		applied, noEffect, fmtDur(s.Virtual), r.TraceLines, r.TraceHash)
	const show = 5
	for i := range r.Violations[:min(len(r.Violations), show)] {
		fmt.Fprintf(w, "  violation: %s\n", stepName(&r.Violations[i], len(r.Ops)))
	}
	if n := len(r.Violations); n > show {
		fmt.Fprintf(w, "  ... %d more violations recorded (at most %d per run)\n", n-show, maxViolations)
	}
	if !r.Failed() {
		fmt.Fprintf(w, "  ok: every invariant held (recovered in %d call(s) after the faults stopped)\n", s.LivenessCalls)
	}
}

// WriteText writes a batch summary.
func (s *Summary) WriteText(w io.Writer) {
	rate := 0.0
	if s.Elapsed > 0 {
		rate = float64(s.Runs) / s.Elapsed.Seconds()
	}
	fmt.Fprintf(w, "%d seeds (%d..%d), client %s, faults %s, %d steps: %d failing",
		s.Runs, s.From, s.To, s.Client, s.Faults, s.Steps, s.Failures)
	if len(s.ByInvariant) > 0 {
		var parts []string
		for _, inv := range []string{InvSafety, InvLiveness, InvAgentPanic, InvAgentMemory, InvAgentReply, InvPanic, InvDeterminism} {
			if n := s.ByInvariant[inv]; n > 0 {
				parts = append(parts, fmt.Sprintf("%s %d", inv, n))
			}
		}
		fmt.Fprintf(w, " (%s)", strings.Join(parts, ", "))
	}
	fmt.Fprintf(w, ", in %.1fs (%.0f seeds/s, %d calls, %s virtual)\n",
		s.Elapsed.Seconds(), rate, s.Calls, fmtDur(s.Virtual))
	if s.StoppedEarly {
		fmt.Fprintf(w, "STOPPED after %d failing seed(s) (the maximum): %d of %d seeds ran (seeds %d..%d)\n",
			s.Failures, s.Runs, s.To-s.From+1, s.From, s.From+uint64(s.Runs)-1)
	}
	if s.Interrupted {
		if s.Runs == 0 {
			fmt.Fprintf(w, "INTERRUPTED before any seed ran (%d planned)\n", s.To-s.From+1)
		} else {
			fmt.Fprintf(w, "INTERRUPTED after %d of %d seeds (seeds %d..%d ran)\n",
				s.Runs, s.To-s.From+1, s.From, s.From+uint64(s.Runs)-1)
		}
	}
	if seeds := s.FailingSeeds(); len(seeds) > 0 {
		fmt.Fprintf(w, "failing seeds: %s", joinSeeds(seeds))
		if n := s.FailingSeedsOmitted(); n > 0 {
			fmt.Fprintf(w, " ... and %d more (only the lowest %d are kept)", n, len(seeds))
		}
		fmt.Fprintln(w)
	}
	if len(s.Nondeterministic) > 0 {
		fmt.Fprintf(w, "NONDETERMINISTIC seeds (two runs, two traces): %s\n", joinSeeds(s.Nondeterministic))
	}
}

func joinSeeds(seeds []uint64) string {
	parts := make([]string, len(seeds))
	for i, s := range seeds {
		parts[i] = itoa(int64(s))
	}
	return strings.Join(parts, " ")
}

// FaultHelp lists the fault kinds for help texts.
func FaultHelp() string {
	var b strings.Builder
	for _, k := range kinds {
		fmt.Fprintf(&b, "  %-10s %s\n  %-10s   rate=%g %s\n", k.Name, k.Models, "", k.Rate, k.Params)
	}
	return b.String()
}
