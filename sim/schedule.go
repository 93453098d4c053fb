package sim

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
	// NoEffect says why an actor event the fault scheduled (a reboot, a
	// reconnect) came to nothing, if it did: the faults stopped first,
	// the session it was to end had already ended, the agent was already
	// down for longer. Such an event stays in the schedule, so that a
	// replay gives the same trace, but reports do not count it.
	NoEffect string `json:"no_effect,omitempty"`
}

func (e Event) String() string {
	s := fmt.Sprintf("step %-3d t=%-9s %-9s %s #%d: %s", e.Step, fmtDur(e.T), e.Kind, e.Site, e.N, e.Info)
	if e.NoEffect != "" {
		s += " (no effect: " + e.NoEffect + ")"
	}
	return s
}

// Applied counts the events that had an effect (see Event.NoEffect).
func Applied(events []Event) int {
	n := 0
	for _, e := range events {
		if e.NoEffect == "" {
			n++
		}
	}
	return n
}

// ScheduleVersion is the format version written to schedule files.
// Version 2 came with reconnect's at parameter, whose default (any) strikes
// in calls too; a version 1 schedule is read with at=idle for a reconnect
// that names no at, the fault it was recorded with, so that it replays as
// it ran.
const ScheduleVersion = 2

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

// Replay re-runs a schedule. trace keeps the trace lines. A schedule no
// run could have recorded (an event outside the workload or of another
// kind than its fault, an unknown call) is an error, not a run in which
// that event silently never fires.
func Replay(s *Schedule, trace bool) (*Result, error) {
	return ReplayReporting(s, trace, nil, 0)
}

// ReplayReporting is Replay calling progress (if not nil) every every (2s
// if zero) of real time, between two workload steps, as
// Options.RunProgress does for Run: a long replay says how far it is. It
// changes nothing in the replay.
func ReplayReporting(s *Schedule, trace bool, progress func(RunProgress), every time.Duration) (*Result, error) {
	return replayReporting(s, &Options{Trace: trace, RunProgress: progress, RunProgressEvery: every})
}

// ReplayTo is ReplayReporting writing the trace lines to trace as the
// replay makes them (Options.TraceTo), not keeping them in Result.Trace.
func ReplayTo(s *Schedule, trace io.Writer, progress func(RunProgress), every time.Duration) (*Result, error) {
	if trace == nil {
		return nil, errors.New("sim: ReplayTo: no trace writer (nil io.Writer)")
	}
	return replayReporting(s, &Options{TraceTo: trace, RunProgress: progress, RunProgressEvery: every})
}

// replayReporting replays s with the trace and progress settings of o.
func replayReporting(s *Schedule, o *Options) (*Result, error) {
	progress := o.RunProgress
	if s == nil {
		return nil, errors.New("sim: Replay: no schedule (nil Schedule)")
	}
	faults, err := s.check()
	if err != nil {
		return nil, fmt.Errorf("sim: schedule: %w", err)
	}
	opts := &Options{Seed: s.Seed, Client: s.Client, Trace: o.Trace, TraceTo: o.TraceTo, Steps: len(s.Ops),
		RunProgress: progress, RunProgressEvery: o.RunProgressEvery}
	if s.AgentBug != "" {
		opts.AgentBug, _ = qga.ParseBug(s.AgentBug) // checked
	}
	return replayFaults(s, faults, opts, progress != nil)
}

// check reports what in s no run could have recorded, and returns the
// faults of s when there is nothing.
func (s *Schedule) check() ([]Fault, error) {
	if _, err := s.Client.resync(); err != nil {
		return nil, err
	}
	if s.AgentBug != "" {
		if _, ok := qga.ParseBug(s.AgentBug); !ok {
			return nil, fmt.Errorf("unknown agent bug %q", s.AgentBug)
		}
	}
	faults, err := s.newFaults()
	if err != nil {
		return nil, err
	}
	for i, op := range s.Ops {
		switch op.Kind {
		case OpSync, OpSyncDelimited, OpPing, OpInfo, OpBadCommand, OpBadArgument, OpBadPing:
		default:
			return nil, fmt.Errorf("ops[%d]: unknown kind %q (want %s, %s, %s, %s, %s, %s or %s)", i, op.Kind,
				OpSync, OpSyncDelimited, OpPing, OpInfo, OpBadCommand, OpBadArgument, OpBadPing)
		}
		if op.Deadline <= 0 || op.Think < 0 {
			return nil, fmt.Errorf("ops[%d]: deadline_ns %d, think_ns %d: want a positive deadline and a think time of 0 or more",
				i, op.Deadline, op.Think)
		}
	}
	seen := map[int]map[planKey]int{}
	for i, e := range s.Events {
		switch {
		case e.Fault < 0 || e.Fault >= len(faults):
			return nil, fmt.Errorf("events[%d]: fault %d, but there are %d faults", i, e.Fault, len(faults))
		case e.Kind != faults[e.Fault].Name():
			return nil, fmt.Errorf("events[%d]: kind %q, but fault %d is %s", i, e.Kind, e.Fault, faults[e.Fault].Name())
		case e.Step < 1 || e.Step > len(s.Ops):
			return nil, fmt.Errorf("events[%d]: step %d is not one of the workload's %d steps: the event could never fire", i, e.Step, len(s.Ops))
		case e.N < 1:
			return nil, fmt.Errorf("events[%d]: n %d: opportunities count from 1", i, e.N)
		}
		k := planKey{e.Step, e.N}
		if j, ok := seen[e.Fault][k]; ok {
			return nil, fmt.Errorf("events[%d]: the same opportunity as events[%d] (fault %d, step %d, n %d)", i, j, e.Fault, e.Step, e.N)
		}
		if seen[e.Fault] == nil {
			seen[e.Fault] = map[planKey]int{}
		}
		seen[e.Fault][k] = i
	}
	return faults, nil
}

// newFaults makes the faults of s.
func (s *Schedule) newFaults() ([]Fault, error) {
	faults := make([]Fault, len(s.Faults))
	for i, spec := range s.Faults {
		f, err := NewFault(spec)
		if err != nil {
			return nil, fmt.Errorf("faults[%d]: %w", i, err)
		}
		faults[i] = f
	}
	return faults, nil
}

// replayWith re-runs s with opts (which may carry a test agent).
func replayWith(s *Schedule, opts *Options) (*Result, error) {
	faults, err := s.newFaults()
	if err != nil {
		return nil, fmt.Errorf("sim: schedule: %w", err)
	}
	for _, e := range s.Events {
		if e.Fault < 0 || e.Fault >= len(faults) {
			return nil, fmt.Errorf("sim: schedule: event for fault %d, but there are %d faults", e.Fault, len(faults))
		}
	}
	return replayFaults(s, faults, opts, false)
}

// replayFaults re-runs s with its faults, made from s.Faults; progress
// has it call opts.RunProgress (ReplayReporting).
func replayFaults(s *Schedule, faults []Fault, opts *Options, progress bool) (*Result, error) {
	plan := s.Events
	if plan == nil {
		plan = []Event{}
	}
	return execute(&runConfig{seed: s.Seed, client: s.Client, faults: faults, ops: s.Ops,
		plan: plan, replay: true, progress: progress, opts: opts})
}

// Save writes the schedule as indented JSON.
func (s *Schedule) Save(path string) error {
	return writeFile(path, func(w *bufio.Writer) error {
		err := writeScheduleJSON(w, s, func(s *Schedule) any { return s }, 0, "  ")
		w.WriteByte('\n')
		return err
	})
}

// LoadSchedule reads a schedule file, or the header of a trace file
// written by WriteTrace. Its errors name the file, and the line where the
// JSON does not parse.
func LoadSchedule(path string) (*Schedule, error) {
	b, err := readScheduleFile(path)
	if err != nil {
		return nil, err
	}
	s, err := parseSchedule(b)
	if err != nil {
		return nil, fmt.Errorf("sim: %s: %w", path, err)
	}
	return s, nil
}

// readScheduleFile returns what parseSchedule needs of the file at path:
// of a trace file, its header line (and the blank lines before it), since
// the rest, some 2.5 KB a step, is not read; of anything else, all of it.
func readScheduleFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 64<<10)
	var head []byte
	for {
		line, err := br.ReadBytes('\n')
		if head == nil {
			head = line // no copy of a header line of many megabytes
		} else {
			head = append(head, line...)
		}
		if err == io.EOF {
			return head, nil
		}
		if err != nil {
			return nil, err
		}
		if t := bytes.TrimSpace(line); len(t) > 0 {
			if _, ok := headerSchedule(t); ok {
				return head, nil
			}
			break
		}
	}
	rest, err := io.ReadAll(br)
	if err != nil {
		return nil, err
	}
	return append(head, rest...), nil
}

// headerSchedule returns the schedule a trace's header line holds, if
// line is one.
func headerSchedule(line []byte) (json.RawMessage, bool) {
	var head struct {
		Actor    string          `json:"actor"`
		Schedule json.RawMessage `json:"schedule"`
	}
	if err := json.Unmarshal(line, &head); err == nil && head.Actor == "sim" && len(head.Schedule) > 0 && string(head.Schedule) != "null" {
		return head.Schedule, true
	}
	return nil, false
}

// ParseSchedule decodes a schedule (JSON), or takes it from the first line
// of a trace (JSON Lines whose header carries the schedule). A schedule of
// another version, or one no run could have recorded, is an error.
func ParseSchedule(b []byte) (*Schedule, error) {
	s, err := parseSchedule(b)
	if err != nil {
		return nil, fmt.Errorf("sim: %w", err)
	}
	return s, nil
}

func parseSchedule(b []byte) (*Schedule, error) {
	lead := len(b) - len(bytes.TrimLeft(b, " \t\r\n"))
	t := bytes.TrimSpace(b)
	if len(t) == 0 {
		return nil, errors.New("empty: not a schedule or a trace file")
	}
	var s *Schedule
	first, _, _ := bytes.Cut(t, []byte{'\n'})
	if raw, ok := headerSchedule(first); ok {
		s = new(Schedule)
		if err := json.Unmarshal(raw, s); err != nil {
			return nil, fmt.Errorf("line %d (the trace's header): %w", lineAt(b, int64(lead)), err)
		}
	} else {
		s = new(Schedule)
		dec := json.NewDecoder(bytes.NewReader(t))
		dec.DisallowUnknownFields()
		if err := dec.Decode(s); err != nil {
			return nil, fmt.Errorf("not a schedule or a trace file: %w", jsonErrorAt(b, lead, err))
		}
		end := int(dec.InputOffset())
		if rest := bytes.TrimLeft(t[end:], " \t\r\n"); len(rest) > 0 {
			at := lead + len(t) - len(rest)
			return nil, fmt.Errorf("line %d: data after the schedule", lineAt(b, int64(at)))
		}
	}
	switch {
	case s.Version > ScheduleVersion:
		return nil, fmt.Errorf("schedule version %d: this qgafuzz reads version %d (a newer one wrote it?)", s.Version, ScheduleVersion)
	case s.Version == 0:
		return nil, errors.New("not a schedule or a trace file: no schedule version")
	case s.Version == 1:
		s.upgradeV1()
	case s.Version != ScheduleVersion:
		return nil, fmt.Errorf("schedule version %d, want %d", s.Version, ScheduleVersion)
	}
	if _, err := s.check(); err != nil {
		return nil, err
	}
	return s, nil
}

// upgradeV1 makes a version 1 schedule a version 2 one that replays the
// same run: a reconnect fault without at struck only on its timer then.
func (s *Schedule) upgradeV1() {
	for i, spec := range s.Faults {
		name, ps, _ := strings.Cut(spec, ":")
		if name != "reconnect" || hasParam(ps, "at") {
			continue
		}
		if ps == "" {
			s.Faults[i] = "reconnect:at=idle"
		} else {
			s.Faults[i] = spec + ",at=idle"
		}
	}
	s.Version = ScheduleVersion
}

// hasParam reports whether the parameter list k=v,k=v names key.
func hasParam(ps, key string) bool {
	for kv := range strings.SplitSeq(ps, ",") {
		if k, _, _ := strings.Cut(kv, "="); strings.TrimSpace(k) == key {
			return true
		}
	}
	return false
}

// jsonErrorAt prefixes err, from decoding b[lead:], with the line (and
// column) of b where it lies, when err tells it.
func jsonErrorAt(b []byte, lead int, err error) error {
	var (
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
		off int64
	)
	switch {
	// Their offsets count the bytes read, the one at fault included.
	case errors.As(err, &syn):
		off = syn.Offset - 1
	case errors.As(err, &typ):
		off = typ.Offset - 1
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("line %d: the JSON ends early (a truncated file?): %w", lineAt(b, int64(len(bytes.TrimRight(b, " \t\r\n")))), err)
	default:
		// An unknown field, say: the decoder had read the whole
		// schedule, so its offset is the schedule's end, not the
		// field's place. The error names the field.
		return err
	}
	off += int64(lead)
	line := lineAt(b, off)
	col := off - int64(bytes.LastIndexByte(b[:min(off, int64(len(b)))], '\n'))
	return fmt.Errorf("line %d, column %d: %w", line, col, err)
}

// lineAt returns the line (from 1) of b that holds byte offset off.
func lineAt(b []byte, off int64) int {
	return 1 + bytes.Count(b[:min(max(off, 0), int64(len(b)))], []byte{'\n'})
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
