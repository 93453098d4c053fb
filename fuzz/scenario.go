package fuzz

import (
	"fmt"
	"sort"
	"time"

	fuzzheaders "github.com/AdaLogics/go-fuzz-headers"

	"github.com/qgafuzz/qgafuzz/sim"
)

// The scenario target: go-fuzz-headers decodes the input into a Scenario
// (client strategy, fault kinds, the command stream, and the fault events
// that fire at chosen opportunities), which becomes a sim.Schedule; the
// simulator replays it deterministically and every invariant (safety,
// liveness, agent memory and replies, no panic) must hold. Only the careful
// strategies are fuzzed: the plain and naive clients are unsafe by design,
// and the simulator shows that on its own.

func init() {
	register(Target{
		Name: "scenario",
		Doc:  "go-fuzz-headers decodes a simulation (faults, client strategy, commands); sim's invariants must hold",
		Fn:   fuzzScenario,
	})
}

// Scenario is one simulation scenario as decoded from fuzz input. Enum
// fields are taken modulo their number of values, so every input decodes.
type Scenario struct {
	// Seed seeds what the schedule leaves to chance (the fault
	// parameters' defaults, the client's ids).
	Seed uint64
	// Client: 0 sim.Delimited, 1 sim.FlushPlain.
	Client uint8
	// Faults are fault kinds (indexes into sim.Kinds()).
	Faults []uint8
	Ops    []ScenarioOp
	Events []ScenarioEvent
}

// ScenarioOp is one call of the workload. Each field indexes a list,
// modulo its length.
type ScenarioOp struct {
	// Kind: sim.OpSync, OpSyncDelimited, OpPing, OpInfo, OpBadCommand,
	// OpBadArgument, OpBadPing.
	Kind uint8
	// Deadline: 20 ms, 50 ms, 200 ms, 1 s, 3 s.
	Deadline uint8
	// Think: 0, 100 µs, 5 ms, 100 ms.
	Think uint8
}

// ScenarioEvent fires fault Fault at its N-th opportunity (from 1) in
// workload step Step (from 1), with parameters drawn from Seed.
type ScenarioEvent struct {
	Fault uint8
	Step  uint8
	N     uint8
	Seed  uint64
}

var (
	scenarioOps = []string{sim.OpSync, sim.OpSyncDelimited, sim.OpPing, sim.OpInfo,
		sim.OpBadCommand, sim.OpBadArgument, sim.OpBadPing}
	scenarioDeadlines = []time.Duration{20 * time.Millisecond, 50 * time.Millisecond, 200 * time.Millisecond,
		time.Second, 3 * time.Second}
	scenarioThinks  = []time.Duration{0, 100 * time.Microsecond, 5 * time.Millisecond, 100 * time.Millisecond}
	scenarioClients = []sim.Strategy{sim.Delimited, sim.FlushPlain}
)

// Bounds that keep one run around a millisecond.
const (
	maxScenarioOps    = 24
	maxScenarioFaults = 6
	maxScenarioEvents = 24
)

// DecodeScenario decodes fuzz input into a Scenario with go-fuzz-headers.
// Input that runs out early gives a shorter scenario, never an error.
func DecodeScenario(data []byte) Scenario {
	var sc Scenario
	c := fuzzheaders.NewConsumer(data)
	_ = c.GenerateStruct(&sc)
	return sc
}

// Schedule turns the scenario into a simulator schedule.
func (sc Scenario) Schedule() *sim.Schedule {
	s := &sim.Schedule{Version: sim.ScheduleVersion, Seed: sc.Seed,
		Client: scenarioClients[int(sc.Client)%len(scenarioClients)], Events: []sim.Event{}}
	kinds := sim.Kinds()
	seen := map[string]bool{}
	for _, k := range sc.Faults {
		if name := kinds[int(k)%len(kinds)].Name; !seen[name] && len(s.Faults) < maxScenarioFaults {
			seen[name] = true
			s.Faults = append(s.Faults, name)
		}
	}
	for i, op := range sc.Ops {
		if i == maxScenarioOps {
			break
		}
		s.Ops = append(s.Ops, sim.Op{
			Kind:     scenarioOps[int(op.Kind)%len(scenarioOps)],
			N:        int64(i+1) * 1000003, // unique per call, as the workload's are
			Deadline: scenarioDeadlines[int(op.Deadline)%len(scenarioDeadlines)],
			Think:    scenarioThinks[int(op.Think)%len(scenarioThinks)],
		})
	}
	if len(s.Ops) == 0 {
		s.Ops = []sim.Op{{Kind: sim.OpSync, N: 1000003, Deadline: time.Second}}
	}
	type key struct{ f, step, n int }
	fired := map[key]bool{}
	for _, e := range sc.Events {
		if len(s.Faults) == 0 || len(s.Events) == maxScenarioEvents {
			break
		}
		k := key{int(e.Fault) % len(s.Faults), 1 + int(e.Step)%len(s.Ops), 1 + int(e.N)%8}
		if fired[k] {
			continue
		}
		fired[k] = true
		s.Events = append(s.Events, sim.Event{Fault: k.f, Kind: s.Faults[k.f], Step: k.step, N: uint64(k.n), Seed: e.Seed})
	}
	sort.Slice(s.Events, func(i, j int) bool {
		a, b := s.Events[i], s.Events[j]
		if a.Step != b.Step {
			return a.Step < b.Step
		}
		if a.N != b.N {
			return a.N < b.N
		}
		return a.Fault < b.Fault
	})
	return s
}

// RunScenario replays the scenario in the simulator.
func RunScenario(sc Scenario) (*sim.Result, error) {
	return sim.Replay(sc.Schedule(), false)
}

func fuzzScenario(data []byte) error {
	sc := DecodeScenario(data)
	r, err := RunScenario(sc)
	if err != nil {
		return violation("scenario", "schedule", "the simulator rejects the schedule: %v", err)
	}
	if v := r.First(); v != nil {
		s := sc.Schedule()
		detail := fmt.Sprintf("%s (client %s, faults %v, %d ops, events %v)", v, s.Client, s.Faults, len(s.Ops), s.Events)
		if v.Detail != "" {
			detail += "\n" + v.Detail
		}
		return violation("scenario", v.Invariant, "%s", detail)
	}
	return nil
}

// scenarioSeeds are scenario inputs in go-fuzz-headers' encoding: a slice
// is a big-endian uint32 length then its elements, a uint8 one byte, and a
// uint64 (oddly) one byte too.
func scenarioSeeds() map[string][]byte {
	u32 := func(n int) []byte { return []byte{0, 0, 0, byte(n)} }
	u64 := func(n byte) []byte { return []byte{n} }
	build := func(seed, client byte, faults []byte, ops [][3]byte, events [][4]byte) []byte {
		b := append(u64(seed), client)
		b = append(append(b, u32(len(faults))...), faults...)
		b = append(b, u32(len(ops))...)
		for _, o := range ops {
			b = append(b, o[:]...)
		}
		b = append(b, u32(len(events))...)
		for _, e := range events {
			b = append(append(b, e[:3]...), u64(e[3])...)
		}
		return b
	}
	kind := func(name string) byte {
		for i, k := range sim.Kinds() {
			if k.Name == name {
				return byte(i)
			}
		}
		panic("fuzz: no fault kind " + name)
	}
	calls := [][3]byte{{0, 3, 0}, {2, 3, 1}, {1, 3, 0}, {3, 4, 2}, {4, 2, 0}, {5, 3, 0}, {6, 3, 3}, {0, 4, 0}}
	seeds := map[string][]byte{
		"calm":            build(1, 0, nil, calls, nil),
		"calm-flushplain": build(2, 1, nil, calls, nil),
	}
	for _, f := range []string{"late", "restart", "reconnect", "utf8split", "ff", "truncate", "dup", "loss", "stall"} {
		ev := [][4]byte{{0, 1, 0, 1}, {0, 3, 1, 2}, {0, 5, 0, 3}}
		seeds["fault-"+f] = build(3, 0, []byte{kind(f)}, calls, ev)
	}
	seeds["mixed-flushplain"] = build(4, 1, []byte{kind("late"), kind("fragment"), kind("restart")}, calls,
		[][4]byte{{0, 1, 0, 1}, {1, 2, 0, 2}, {2, 4, 1, 3}, {0, 6, 0, 4}})
	return seeds
}
