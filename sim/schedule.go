package sim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/qgafuzz/qgafuzz/qga"
)

// This file is the schedule: what a run needs to be replayed exactly
// (seed, client, fault mix, workload, and the fault events that fired),
// saved as JSON. Replaying fires exactly the recorded events, with their
// recorded parameter seeds, at the recorded opportunities; a schedule with
// some events or steps removed replays as the run without them, which is
// what shrinking explores.

// Event is one fault that fired: the N-th opportunity of fault number
// Fault during workload step Step.
type Event struct {
	Fault int    `json:"fault"` // index in Schedule.Faults
	Kind  string `json:"kind"`
	Step  int    `json:"step"`
	N     uint64 `json:"n"`    // the fault's opportunity number within the step
	Seed  uint64 `json:"seed"` // seeds the fault's parameters
	// The rest is informational.
	T    time.Duration `json:"t_ns"`
	Site string        `json:"site"`
	Info string        `json:"info,omitempty"`
}

func (e Event) String() string {
	return fmt.Sprintf("step %-3d t=%-9s %-9s %s #%d: %s", e.Step, fmtDur(e.T), e.Kind, e.Site, e.N, e.Info)
}

// ScheduleVersion is the format version written to schedule files.
const ScheduleVersion = 1

// Schedule is a replayable run.
type Schedule struct {
	Version  int      `json:"version"`
	Seed     uint64   `json:"seed"`
	Client   Strategy `json:"client"`
	AgentBug string   `json:"agent_bug,omitempty"`
	Faults   []string `json:"faults"`
	Ops      []Op     `json:"ops"`
	Events   []Event  `json:"events"`
	// What the run found and its trace hash, to compare a replay with.
	Violation *Violation `json:"violation,omitempty"`
	TraceHash string     `json:"trace_sha256,omitempty"`
}

// Schedule returns the schedule that replays r.
func (r *Result) Schedule() *Schedule {
	s := &Schedule{Version: ScheduleVersion, Seed: r.Seed, Client: r.Client, Faults: r.Faults,
		Ops: r.Ops, Events: r.Events, Violation: r.First(), TraceHash: r.TraceHash}
	if r.AgentBug != qga.NoBug {
		s.AgentBug = r.AgentBug.String()
	}
	if s.Events == nil {
		s.Events = []Event{}
	}
	return s
}

// Replay re-runs a schedule. trace keeps the trace lines.
func Replay(s *Schedule, trace bool) (*Result, error) {
	if s == nil {
		return nil, errors.New("sim: Replay: no schedule (nil Schedule)")
	}
	opts := &Options{Seed: s.Seed, Client: s.Client, Trace: trace, Steps: len(s.Ops)}
	if s.AgentBug != "" {
		b, ok := qga.ParseBug(s.AgentBug)
		if !ok {
			return nil, fmt.Errorf("sim: schedule: unknown agent bug %q", s.AgentBug)
		}
		opts.AgentBug = b
	}
	return replayWith(s, opts)
}

// replayWith re-runs s with opts (which may carry a test agent).
func replayWith(s *Schedule, opts *Options) (*Result, error) {
	faults := make([]Fault, len(s.Faults))
	for i, spec := range s.Faults {
		f, err := NewFault(spec)
		if err != nil {
			return nil, fmt.Errorf("sim: schedule: %w", err)
		}
		faults[i] = f
	}
	for _, e := range s.Events {
		if e.Fault < 0 || e.Fault >= len(faults) {
			return nil, fmt.Errorf("sim: schedule: event for fault %d, but there are %d faults", e.Fault, len(faults))
		}
	}
	plan := s.Events
	if plan == nil {
		plan = []Event{}
	}
	return execute(&runConfig{seed: s.Seed, client: s.Client, faults: faults, ops: s.Ops,
		plan: plan, replay: true, opts: opts})
}

// Save writes the schedule as indented JSON.
func (s *Schedule) Save(path string) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// LoadSchedule reads a schedule file, or the header of a trace file
// written by WriteTrace.
func LoadSchedule(path string) (*Schedule, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseSchedule(b)
}

// ParseSchedule decodes a schedule (JSON), or takes it from the first line
// of a trace (JSON Lines whose header carries the schedule).
func ParseSchedule(b []byte) (*Schedule, error) {
	b = bytes.TrimSpace(b)
	var s *Schedule
	first, _, _ := bytes.Cut(b, []byte{'\n'})
	var head traceHeader
	if err := json.Unmarshal(first, &head); err == nil && head.Actor == "sim" && head.Schedule != nil {
		s = head.Schedule
	} else {
		s = new(Schedule)
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(s); err != nil {
			return nil, fmt.Errorf("sim: not a schedule or a trace file: %w", err)
		}
	}
	if s.Version != ScheduleVersion {
		return nil, fmt.Errorf("sim: schedule version %d, want %d", s.Version, ScheduleVersion)
	}
	if _, err := s.Client.resync(); err != nil {
		return nil, fmt.Errorf("sim: schedule: %w", err)
	}
	return s, nil
}

// FaultKinds returns the distinct fault kinds that fire in s, in order.
func (s *Schedule) FaultKinds() []string {
	var out []string
	for _, e := range s.Events {
		found := false
		for _, k := range out {
			found = found || k == e.Kind
		}
		if !found {
			out = append(out, e.Kind)
		}
	}
	return out
}

// String renders the schedule for a failure report.
func (s *Schedule) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "seed %d, client %s, %d steps, %d fault events", s.Seed, s.Client, len(s.Ops), len(s.Events))
	if len(s.Faults) > 0 {
		fmt.Fprintf(&b, " (faults %s)", strings.Join(s.Faults, " "))
	}
	for _, e := range s.Events {
		b.WriteString("\n  " + e.String())
	}
	return b.String()
}
