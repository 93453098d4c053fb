package sim

import (
	"fmt"
	"io"
	"math/rand/v2"
	"runtime/debug"
	"strings"
	"time"

	"github.com/qgafuzz/qgafuzz/qga"
	"github.com/qgafuzz/qgafuzz/qjson"
)

// This file runs one simulation: options, the world that holds every
// actor, the workload loop, and the result.

// Strategy is the host client's way of staying in step with the agent.
type Strategy string

const (
	// Delimited is the careful qga.Client: 0xFF + guest-sync-delimited,
	// requests tagged with ids.
	Delimited Strategy = "delimited"
	// FlushPlain is the careful client for agents without the delimited
	// sync: 0xFF + guest-sync, ids on requests.
	FlushPlain Strategy = "flush-plain"
	// Plain is a pre-delimiter host: guest-sync without 0xFF, the next
	// line taken as the reply.
	Plain Strategy = "plain"
	// Naive never synchronises: it sends and takes the next line.
	Naive Strategy = "naive"
)

// Strategies lists the strategies in the order help shows them.
var Strategies = []Strategy{Delimited, FlushPlain, Plain, Naive}

func (s Strategy) resync() (qga.Resync, error) {
	switch s {
	case Delimited, "":
		return qga.ResyncDelimited, nil
	case FlushPlain:
		return qga.ResyncFlushPlain, nil
	case Plain:
		return qga.ResyncPlain, nil
	case Naive:
		return qga.ResyncNone, nil
	}
	return 0, fmt.Errorf("unknown client strategy %q (want delimited, flush-plain, plain or naive)", s)
}

// DefaultSteps is the workload length of a run.
const DefaultSteps = 40

// Options configure a run (or, in a batch, every run).
type Options struct {
	Seed   uint64
	Client Strategy // Delimited if empty
	// Faults is "swarm" (or empty: a random subset with random rates per
	// seed), "all", "none", or a list such as "dup:rate=0.1,late".
	Faults string
	Steps  int // DefaultSteps if zero
	// Trace keeps the trace lines in Result.Trace (the hash is always
	// computed).
	Trace bool
	// TraceTo, if set, receives the trace lines as the run makes them, in
	// blocks of about 64 KiB, instead of Result.Trace (which stays nil,
	// whatever Trace says): a long run's trace, some 2.5 KB a step, then
	// need not fit in memory. WriteTraceFrom makes a trace file of them.
	// Run fails if a write to it fails. A Batch ignores it.
	TraceTo io.Writer
	// AgentBug plants a bug in the reference agent (qga.AgentConfig.Bug).
	AgentBug qga.Bug
	// NewAgent replaces the reference agent (tests of the invariants).
	NewAgent func() Agent
	// AgentLimits are the parser limits the memory invariant checks
	// against (qjson.DefaultLimits if zero); the reference agent runs
	// with them.
	AgentLimits qjson.Limits
	// ShrinkProgress, if set, is called every ShrinkProgressEvery (2s if
	// zero) of real time, between two replays, while NewFailure shrinks
	// a failure of these options. Shrink itself reports nothing.
	ShrinkProgress      func(ShrinkProgress)
	ShrinkProgressEvery time.Duration
	// RunProgress, if set, is called every RunProgressEvery (2s if zero)
	// of real time, between two workload steps, while Run runs one seed:
	// a long run says how far it is. Replays (ReplayReporting aside, and
	// so shrinking) and the runs of a Batch, which has its own Progress,
	// do not call it. It changes nothing in the run: the wall clock only
	// decides when it is called.
	RunProgress      func(RunProgress)
	RunProgressEvery time.Duration
}

// RunProgress is a snapshot of a running seed.
type RunProgress struct {
	Seed        uint64
	Step, Steps int           // workload steps done, and in all
	Virtual     time.Duration // virtual time so far
	Elapsed     time.Duration // real time so far
}

// ResolveFaults returns the fault mix of spec for seed.
func ResolveFaults(spec string, seed uint64) ([]Fault, error) {
	switch strings.TrimSpace(spec) {
	case "", "swarm":
		return SwarmFaults(seed), nil
	case "all":
		return AllFaults(), nil
	}
	return ParseFaults(spec)
}

// runConfig is everything a run depends on.
type runConfig struct {
	seed   uint64
	client Strategy
	faults []Fault
	ops    []Op
	plan   []Event // replay: the events to fire; nil: roll the dice
	replay bool
	// progress: a replay calls opts.RunProgress too (ReplayReporting).
	progress bool
	opts     *Options
}

// world holds every actor of one run.
type world struct {
	cfg          *runConfig
	resync       qga.Resync
	now          time.Duration
	virtualNow   func() time.Time
	readable     func() bool
	tm           timers
	h2a, a2h     pipe
	agent        agentActor
	host         hostActor
	faults       []*faultInst
	tr           tracer
	chk          checker
	quiet, stop  bool
	step         int
	call         int32 // the call in progress, 0 between calls
	callDeadline time.Duration
	strike       strike    // a reconnect armed to kill the host in a call
	calls        []callRec // calls made, in order (call k is calls[k-1])
	quietOps     []Op      // the ops of the quiet phase's calls (after the workload's)
	writes       int32     // host writes so far: the last one's tag
	strayWrites  []int32   // the tags of host writes made between calls (none so far)
	events       []Event
	viol         []Violation
	stats        Stats
	opp          Opportunity
	win          []piece
	prmSrc       *rand.PCG
	prm          *rand.Rand
	progress     runProgress
}

// runProgress calls Options.RunProgress when its interval has passed.
type runProgress struct {
	f           func(RunProgress)
	every       time.Duration
	start, next time.Time
}

func newWorld(cfg *runConfig) (*world, error) {
	resync, err := cfg.client.resync()
	if err != nil {
		return nil, err
	}
	w := &world{cfg: cfg, resync: resync, tr: newTracer(cfg.opts.Trace, cfg.opts.TraceTo), chk: newChecker(),
		calls: make([]callRec, 0, len(cfg.ops)+livenessCalls)}
	w.virtualNow = func() time.Time { return Epoch.Add(w.now) }
	w.readable = func() bool { return w.host.rxLen > 0 || w.host.dead }
	w.prmSrc = rand.NewPCG(0, 0)
	w.prm = rand.New(w.prmSrc)
	var a Agent
	if cfg.opts.NewAgent != nil {
		a = cfg.opts.NewAgent()
	} else {
		// The reference agent runs with the limits the memory invariant
		// checks: with others it would hold more than the check allows.
		a = qga.NewAgent(qga.AgentConfig{Bug: cfg.opts.AgentBug, Limits: cfg.opts.AgentLimits})
	}
	lim := cfg.opts.AgentLimits
	if lim == (qjson.Limits{}) {
		lim = qjson.DefaultLimits
	}
	// A message's completed tokens hold less than MaxTokenSize bytes of
	// text, and the token in progress up to MaxTokenSize+1 more: the
	// message's total is checked only when that token ends (a longer
	// token is an error at once).
	w.agent = agentActor{a: a, maxHeld: 2 * lim.MaxTokenSize}
	seen := map[string]uint64{}
	for i, f := range cfg.faults {
		fi := &faultInst{f: f, idx: i, sites: f.Sites(),
			dec: newStream(cfg.seed, purposeFault+":"+f.Name(), seen[f.Name()])}
		seen[f.Name()]++
		if cfg.replay {
			fi.plan = map[planKey]uint64{}
			for _, e := range cfg.plan {
				if e.Fault == i {
					fi.plan[planKey{e.Step, e.N}] = e.Seed
				}
			}
		}
		w.faults = append(w.faults, fi)
	}
	return w, nil
}

// Run runs one seed.
func Run(opts Options) (*Result, error) {
	if opts.Steps <= 0 {
		opts.Steps = DefaultSteps
	}
	faults, err := ResolveFaults(opts.Faults, opts.Seed)
	if err != nil {
		return nil, err
	}
	return execute(&runConfig{seed: opts.Seed, client: opts.Client, faults: faults,
		ops: GenOps(opts.Seed, opts.Steps), opts: &opts})
}

func execute(cfg *runConfig) (*Result, error) {
	if cfg.client == "" {
		cfg.client = Delimited
	}
	if cfg.opts.NewAgent == nil {
		if err := CheckAgentBug(cfg.opts.AgentBug); err != nil {
			return nil, err
		}
	}
	w, err := newWorld(cfg)
	if err != nil {
		return nil, err
	}
	if f := cfg.opts.RunProgress; f != nil && (!cfg.replay || cfg.progress) {
		every := cfg.opts.RunProgressEvery
		if every <= 0 {
			every = 2 * time.Second
		}
		now := time.Now()
		w.progress = runProgress{f: f, every: every, start: now, next: now.Add(every)}
	}
	w.main()
	w.stats.Virtual = w.now
	if w.tr.to != nil {
		if w.tr.flush(); w.tr.err != nil {
			return nil, fmt.Errorf("sim: writing the trace of seed %d: %w", cfg.seed, w.tr.err)
		}
	}
	res := &Result{Seed: cfg.seed, Client: cfg.client, Faults: Specs(cfg.faults), Ops: cfg.ops,
		Events: w.events, Violations: w.viol, TraceHash: w.tr.sum(), TraceLines: w.tr.n,
		Stats: w.stats, Replayed: cfg.replay, AgentBug: cfg.opts.AgentBug}
	if cfg.opts.Trace && w.tr.to == nil {
		res.Trace = w.tr.out
	}
	return res, nil
}

// main is the host's life: the workload, then the quiet phase. A panic
// outside the agent (in the client or the simulator) is a finding too.
func (w *world) main() {
	defer func() {
		if r := recover(); r != nil {
			w.violate(InvPanic, fmt.Sprintf("panic: %v", r))
			w.viol[len(w.viol)-1].Detail = string(debug.Stack())
			w.stop = true
		}
	}()
	w.newSession()
	for i, op := range w.cfg.ops {
		if w.stop {
			return
		}
		w.reportProgress(i)
		w.step = i + 1
		w.opp = Opportunity{Site: SiteStep}
		w.offer(&w.opp)
		w.settleHost()
		if op.Think > 0 {
			w.runUntil(nil, w.now+op.Think)
		}
		w.settleHost()
		w.doCall(op)
	}
	if !w.stop {
		w.quietPhase()
	}
}

// reportProgress calls RunProgress, with done steps done, if its interval
// has passed. It reads the wall clock but changes nothing in the run.
func (w *world) reportProgress(done int) {
	p := &w.progress
	if p.f == nil {
		return
	}
	if now := time.Now(); !now.Before(p.next) {
		p.next = now.Add(p.every)
		p.f(RunProgress{Seed: w.cfg.seed, Step: done, Steps: len(w.cfg.ops), Virtual: w.now, Elapsed: now.Sub(p.start)})
	}
}

// Result is the outcome of one run.
type Result struct {
	Seed       uint64      `json:"seed"`
	Client     Strategy    `json:"client"`
	Faults     []string    `json:"faults"`
	Ops        []Op        `json:"-"`
	Events     []Event     `json:"events"`
	Violations []Violation `json:"violations,omitempty"`
	TraceHash  string      `json:"trace_sha256"`
	TraceLines int         `json:"trace_lines"`
	Stats      Stats       `json:"stats"`
	Replayed   bool        `json:"replayed,omitempty"`
	AgentBug   qga.Bug     `json:"-"`
	// Trace holds the JSON Lines when Options.Trace was set.
	Trace []byte `json:"-"`
}

// Failed reports whether an invariant was violated.
func (r *Result) Failed() bool { return len(r.Violations) > 0 }

// First returns the first violation, or nil.
func (r *Result) First() *Violation {
	if len(r.Violations) == 0 {
		return nil
	}
	return &r.Violations[0]
}
