package sim

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/qgafuzz/qgafuzz/internal/stack"
)

// This file shrinks a failing schedule: it removes fault events and
// workload steps while a replay still fails the same way (the same
// invariant, and for a panic the same place, see failureSig): it cuts
// the steps after the failing one, then delta debugs over the events, then
// over the steps, until neither shrinks or the budget of replays is used
// up. A replay fires only the events it is given, so every candidate is a
// subset of what failed, and the result lists only what the failure needs.
// ShrinkContext also stops when its context ends, between two replays,
// with the smallest failing schedule it has by then.

// ShrinkStats say how much shrinking did.
type ShrinkStats struct {
	Replays      int `json:"replays"`
	EventsBefore int `json:"events_before"`
	Events       int `json:"events"`
	StepsBefore  int `json:"steps_before"`
	Steps        int `json:"steps"`
	// BudgetUsedUp is set when shrinking stopped because it had used its
	// budget of replays: the schedule fails, but may not be minimal.
	BudgetUsedUp bool `json:"budget_used_up,omitempty"`
	// Stopped is set when shrinking stopped because its context ended
	// (ShrinkContext): the schedule fails, but may not be minimal.
	Stopped bool `json:"stopped,omitempty"`
}

func (s ShrinkStats) String() string {
	out := fmt.Sprintf("%d of %d fault events, %d of %d steps, %d replays",
		s.Events, s.EventsBefore, s.Steps, s.StepsBefore, s.Replays)
	switch {
	case s.Stopped:
		out += ", stopped before the end (its time ran out, or it was interrupted): may not be minimal"
	case s.BudgetUsedUp:
		out += ", stopped at the replay budget: may not be minimal"
	}
	return out
}

// DefaultShrinkBudget bounds the replays one shrink may use.
const DefaultShrinkBudget = 4000

// ShrinkProgress is a snapshot of a running shrink (Options.ShrinkProgress).
type ShrinkProgress struct {
	Replays, Budget int // replays so far, and the budget of replays
	Events, Steps   int // the fault events and steps of the smallest failing schedule so far
	Elapsed         time.Duration
}

type shrinker struct {
	ctx    context.Context
	opts   *Options
	target string
	budget int
	stats  ShrinkStats
	// For progress: the budget, the size of the last candidate that
	// failed, and when shrinking started and last reported.
	total               int
	curEvents, curSteps int
	start, lastLog      time.Time
}

// Shrink minimises the failing run r and returns the minimal schedule and
// its replay (a run that did not fail is an error). budget bounds the
// replays (DefaultShrinkBudget if zero or less).
func Shrink(r *Result, budget int) (*Schedule, *Result, ShrinkStats, error) {
	return shrinkReporting(context.Background(), r, Options{}, budget)
}

// ShrinkContext is Shrink stopping when ctx ends: it checks ctx between
// two replays (one replay is not interrupted), and then returns the
// smallest failing schedule it has found so far (the run's own schedule
// if it had no time to remove anything), replayed once more to check it
// and fill in its violation, with ShrinkStats.Stopped set. A schedule is
// returned whenever r fails: a caller with a deadline still gets one to
// store.
func ShrinkContext(ctx context.Context, r *Result, budget int) (*Schedule, *Result, ShrinkStats, error) {
	return shrinkReporting(ctx, r, Options{}, budget)
}

// shrinkReporting is ShrinkContext reporting its progress to
// o.ShrinkProgress.
func shrinkReporting(ctx context.Context, r *Result, o Options, budget int) (*Schedule, *Result, ShrinkStats, error) {
	switch {
	case r == nil:
		return nil, nil, ShrinkStats{}, errors.New("sim: Shrink: no run (nil Result)")
	case !r.Failed():
		return nil, nil, ShrinkStats{}, fmt.Errorf("sim: Shrink: the run of seed %d did not fail: there is nothing to shrink", r.Seed)
	}
	return shrinkWith(ctx, r.Schedule(), &Options{Seed: r.Seed, Client: r.Client, AgentBug: r.AgentBug,
		ShrinkProgress: o.ShrinkProgress, ShrinkProgressEvery: o.ShrinkProgressEvery}, budget)
}

// shrinkWith shrinks s under opts (which may carry a test agent) until
// ctx ends.
func shrinkWith(ctx context.Context, s *Schedule, opts *Options, budget int) (*Schedule, *Result, ShrinkStats, error) {
	if budget <= 0 {
		budget = DefaultShrinkBudget
	}
	first, err := replayWith(s, opts)
	if err != nil {
		return nil, nil, ShrinkStats{}, err
	}
	if !first.Failed() {
		return nil, nil, ShrinkStats{}, fmt.Errorf("sim: the schedule of seed %d does not fail when replayed", s.Seed)
	}
	sh := &shrinker{ctx: ctx, opts: opts, target: failureSig(first.First()), budget: budget,
		total: budget, curEvents: len(first.Events), curSteps: len(s.Ops), start: time.Now()}
	sh.lastLog = sh.start
	sh.stats = ShrinkStats{Replays: 1, EventsBefore: len(s.Events), StepsBefore: len(s.Ops)}
	cur := *s
	cur.Events = first.Events
	// The steps after the one that failed have not run when it fails:
	// without them the run is the same up to the failure.
	if v := first.First().Step; v >= 1 && v < len(cur.Ops) {
		if ops, ev, ok := sh.cut(&cur, cur.Ops, cur.Events, v, len(cur.Ops)); ok {
			cur.Ops, cur.Events = ops, ev
		}
	}
	for changed := true; changed && sh.budget > 0 && !sh.stats.Stopped; {
		changed = false
		if ev, ok := sh.events(&cur); ok {
			cur.Events, changed = ev, true
		}
		if ops, ev, ok := sh.steps(&cur); ok {
			cur.Ops, cur.Events, changed = ops, ev, true
		}
	}
	min := compact(&cur)
	res, err := replayWith(min, opts)
	if err != nil {
		return nil, nil, sh.stats, err
	}
	sh.stats.Replays++
	if !res.Failed() || failureSig(res.First()) != sh.target {
		return nil, nil, sh.stats, fmt.Errorf("sim: internal error: the shrunk schedule of seed %d no longer fails", s.Seed)
	}
	min.Violation, min.TraceHash = res.First(), res.TraceHash
	sh.stats.Events, sh.stats.Steps = len(min.Events), len(min.Ops)
	sh.stats.BudgetUsedUp = sh.budget <= 0 && !sh.stats.Stopped
	return min, res, sh.stats, nil
}

// try replays s with ops and events and reports whether its first
// violation still has the target signature, returning the events that
// actually fired. A candidate that fails another invariant first, or
// panics elsewhere, is refused: the final schedule must fail as the
// original did (its first violation is what the report shows, and what
// shrinkWith checks).
func (sh *shrinker) try(s *Schedule, ops []Op, events []Event) ([]Event, bool) {
	if sh.budget <= 0 || sh.stats.Stopped {
		return nil, false
	}
	if sh.ctx.Err() != nil {
		sh.stats.Stopped = true
		return nil, false
	}
	sh.budget--
	sh.stats.Replays++
	c := *s
	c.Ops, c.Events = ops, events
	r, err := replayWith(&c, sh.opts)
	ok := err == nil && r.Failed() && failureSig(r.First()) == sh.target
	if ok {
		sh.curEvents, sh.curSteps = len(r.Events), len(ops)
	}
	sh.progress()
	if !ok {
		return nil, false
	}
	return r.Events, true
}

// progress calls opts.ShrinkProgress when its interval has passed.
func (sh *shrinker) progress() {
	f := sh.opts.ShrinkProgress
	if f == nil {
		return
	}
	every := sh.opts.ShrinkProgressEvery
	if every <= 0 {
		every = 2 * time.Second
	}
	if now := time.Now(); now.Sub(sh.lastLog) >= every {
		sh.lastLog = now
		f(ShrinkProgress{Replays: sh.stats.Replays, Budget: sh.total, Events: sh.curEvents, Steps: sh.curSteps, Elapsed: now.Sub(sh.start)})
	}
}

// events removes fault events: whole faults first, then delta debugging
// over what is left, then one at a time.
func (sh *shrinker) events(s *Schedule) ([]Event, bool) {
	ev, changed := s.Events, false
	for _, f := range faultsOf(ev) {
		rest := slices.DeleteFunc(slices.Clone(ev), func(e Event) bool { return e.Fault == f })
		if got, ok := sh.try(s, s.Ops, rest); ok {
			ev, changed = got, true
		}
	}
	for n := 2; len(ev) >= 2; {
		size := (len(ev) + n - 1) / n
		reduced := false
		for i := 0; i < len(ev); i += size {
			rest := slices.Concat(ev[:i], ev[min(i+size, len(ev)):])
			if got, ok := sh.try(s, s.Ops, rest); ok {
				ev, changed, reduced = got, true, true
				n = max(n-1, 2)
				break
			}
		}
		if !reduced {
			if n >= len(ev) {
				break
			}
			n = min(2*n, len(ev))
		}
	}
	for i := len(ev) - 1; i >= 0 && i < len(ev); i-- {
		rest := slices.Delete(slices.Clone(ev), i, i+1)
		if got, ok := sh.try(s, s.Ops, rest); ok {
			ev, changed = got, true
		}
	}
	return ev, changed
}

// steps removes workload steps: halves from the end, then one at a time
// from the end (shrinkWith has cut the tail after the failure first).
func (sh *shrinker) steps(s *Schedule) ([]Op, []Event, bool) {
	ops, ev, changed := s.Ops, s.Events, false
	accept := func(from, to int) bool {
		o, e, ok := sh.cut(s, ops, ev, from, to)
		if ok {
			ops, ev, changed = o, e, true
		}
		return ok
	}
	for k := len(ops) / 2; k >= 1 && len(ops) > 1; k /= 2 {
		for len(ops) > k && accept(len(ops)-k, len(ops)) {
		}
	}
	for i := len(ops) - 1; i >= 0 && len(ops) > 1; i-- {
		if i < len(ops) {
			accept(i, i+1)
		}
	}
	return ops, ev, changed
}

// cut tries ops without steps from+1..to (ops[from:to]) and returns the
// candidate's ops and the events that fired if it still fails. Events of
// a removed step go with it; later events move up.
func (sh *shrinker) cut(s *Schedule, ops []Op, ev []Event, from, to int) ([]Op, []Event, bool) {
	cand := slices.Concat(ops[:from], ops[to:])
	var cev []Event
	for _, e := range ev {
		switch {
		case e.Step <= from:
			cev = append(cev, e)
		case e.Step > to:
			e.Step -= to - from
			cev = append(cev, e)
		}
	}
	got, ok := sh.try(s, cand, cev)
	return cand, got, ok
}

func faultsOf(ev []Event) []int {
	var out []int
	for _, e := range ev {
		if !slices.Contains(out, e.Fault) {
			out = append(out, e.Fault)
		}
	}
	return out
}

// compact drops the faults that no longer fire and renumbers the events.
// A fault without events never fires in a replay, so this changes nothing.
func compact(s *Schedule) *Schedule {
	c := *s
	used := faultsOf(s.Events)
	slices.Sort(used)
	c.Faults = nil
	remap := map[int]int{}
	for _, f := range used {
		remap[f] = len(c.Faults)
		c.Faults = append(c.Faults, s.Faults[f])
	}
	c.Events = make([]Event, len(s.Events))
	for i, e := range s.Events {
		e.Fault = remap[e.Fault]
		c.Events[i] = e
	}
	return &c
}

// failureSig tells one failure from another while shrinking: the
// invariant, and for a panic the top three frames of the code that
// panicked (function names only, above the recover that took it), so that
// a panic is never shrunk into another one; the fuzz targets' signatures
// follow the same rule.
func failureSig(v *Violation) string {
	var harness string
	switch v.Invariant {
	case InvAgentPanic:
		harness = "github.com/qgafuzz/qgafuzz/sim.(*world).agentStep"
	case InvPanic:
		harness = "github.com/qgafuzz/qgafuzz/sim.(*world).main"
	default:
		return v.Invariant
	}
	return v.Invariant + " at " + strings.Join(stack.Frames(stack.Above(v.Detail, harness), 3, harness+"."), " < ")
}
