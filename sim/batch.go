package sim

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// This file runs many seeds: one worker per core (seeds are independent),
// a progress callback during long batches, and a summary. With
// CheckDeterminism every seed runs twice and must give the same trace. A
// batch stops between seeds when its context is done (Ctrl-C), and still
// summarises the seeds that ran.

// Batch configures a run of many seeds.
type Batch struct {
	Options                 // every run's options; Seed is ignored
	From, To         uint64 // seeds From..To, inclusive
	Workers          int    // parallel runs (GOMAXPROCS if zero)
	CheckDeterminism bool
	// MaxFailures stops the batch after this many failing seeds (0: run
	// every seed).
	MaxFailures int
	// KeepFailures is how many failing results (lowest seeds) the summary
	// keeps (DefaultKeepFailures if zero): results hold their whole
	// workload, and a long batch may fail on most seeds.
	KeepFailures int
	// Progress, if set, is called every ProgressEvery (2s if zero) from
	// another goroutine while the batch runs.
	Progress      func(Progress)
	ProgressEvery time.Duration
}

// DefaultKeepFailures is how many failing results a summary keeps unless
// Batch.KeepFailures says otherwise.
const DefaultKeepFailures = 20

// Progress is a snapshot of a running batch.
type Progress struct {
	Runs, Total, Failures int
	Elapsed               time.Duration
}

// Rate returns seeds per second so far.
func (p Progress) Rate() float64 {
	if p.Elapsed <= 0 {
		return 0
	}
	return float64(p.Runs) / p.Elapsed.Seconds()
}

// Summary is the outcome of a batch.
type Summary struct {
	Client      Strategy       `json:"client"`
	Faults      string         `json:"faults"`
	Steps       int            `json:"steps"`
	From        uint64         `json:"from"`
	To          uint64         `json:"to"`
	Runs        int            `json:"runs"`
	Failures    int            `json:"failures"`
	ByInvariant map[string]int `json:"by_invariant"`
	// FaultEvents counts the fault events that fired, by kind (not those
	// that came to nothing: Event.NoEffect).
	FaultEvents map[string]int `json:"fault_events"`
	Calls       int            `json:"calls"`
	Virtual     time.Duration  `json:"virtual_ns"`
	Elapsed     time.Duration  `json:"elapsed_ns"`
	// Interrupted is set when the context stopped the batch before its
	// last seed; Runs then counts the seeds that ran, From..From+Runs-1.
	Interrupted bool `json:"interrupted,omitempty"`
	// StoppedEarly is set when MaxFailures stopped the batch before its
	// last seed; Runs then counts the seeds that ran, From..From+Runs-1.
	StoppedEarly bool `json:"stopped_early,omitempty"`
	// Failed holds the failing results with the lowest seeds, at most
	// Batch.KeepFailures of the Failures.
	Failed []*Result `json:"-"`
	// Nondeterministic lists seeds whose two runs differed.
	Nondeterministic []uint64 `json:"nondeterministic,omitempty"`
}

// FailingSeeds returns the seeds of Failed.
func (s *Summary) FailingSeeds() []uint64 {
	out := make([]uint64, len(s.Failed))
	for i, r := range s.Failed {
		out[i] = r.Seed
	}
	return out
}

// FailingSeedsOmitted returns how many failing seeds FailingSeeds leaves
// out because the summary keeps only the lowest.
func (s *Summary) FailingSeedsOmitted() int { return s.Failures - len(s.Failed) }

// FirstFailure returns the failing result with the lowest seed, or nil.
func (s *Summary) FirstFailure() *Result {
	if len(s.Failed) == 0 {
		return nil
	}
	return s.Failed[0]
}

// Run runs every seed of the batch. It fails only on bad options.
func (b *Batch) Run() (*Summary, error) { return b.RunContext(context.Background()) }

// RunContext runs the batch until its last seed or until ctx is done,
// whichever comes first. A done ctx stops it between seeds: the seeds
// under way finish, no other starts, and the summary of those that ran
// is marked Interrupted. It fails only on bad options.
func (b *Batch) RunContext(ctx context.Context) (*Summary, error) {
	if _, err := ResolveFaults(b.Faults, b.From); err != nil {
		return nil, err
	}
	if _, err := b.Client.resync(); err != nil {
		return nil, err
	}
	// To < From would wrap around and run for ever; a span beyond int
	// cannot be counted (and would not end in a lifetime anyway).
	if b.To < b.From {
		return nil, fmt.Errorf("sim: batch seeds %d..%d: To is below From", b.From, b.To)
	}
	if b.To-b.From >= math.MaxInt {
		return nil, fmt.Errorf("sim: batch seeds %d..%d: too many seeds", b.From, b.To)
	}
	workers := b.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	keep := b.KeepFailures
	if keep <= 0 {
		keep = DefaultKeepFailures
	}
	steps := b.Steps
	if steps <= 0 {
		steps = DefaultSteps
	}
	total := int(b.To - b.From + 1)
	sum := &Summary{Client: b.Client, Faults: b.Faults, Steps: steps, From: b.From, To: b.To,
		ByInvariant: map[string]int{}, FaultEvents: map[string]int{}}
	if sum.Client == "" {
		sum.Client = Delimited
	}
	if sum.Faults == "" {
		sum.Faults = "swarm"
	}
	var (
		next           atomic.Uint64
		runs, failures atomic.Int64
		stop           atomic.Bool
		interrupted    atomic.Bool
		mu             sync.Mutex
		firstErr       error
		wg             sync.WaitGroup
		start          = time.Now()
	)
	record := func(r *Result, nondet bool) {
		mu.Lock()
		defer mu.Unlock()
		sum.Runs++
		sum.Calls += r.Stats.Calls
		sum.Virtual += r.Stats.Virtual
		for _, e := range r.Events {
			if e.NoEffect == "" {
				sum.FaultEvents[e.Kind]++
			}
		}
		if nondet {
			sum.Nondeterministic = append(sum.Nondeterministic, r.Seed)
		}
		if !r.Failed() && !nondet {
			return
		}
		sum.Failures++
		if nondet {
			sum.ByInvariant[InvDeterminism]++
		}
		if r.Failed() {
			sum.ByInvariant[r.First().Invariant]++
		}
		r.Trace = nil
		sum.Failed = append(sum.Failed, r)
		if len(sum.Failed) > 2*keep {
			slices.SortFunc(sum.Failed, func(a, b *Result) int { return cmpU64(a.Seed, b.Seed) })
			sum.Failed = sum.Failed[:keep]
		}
	}
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Seeds are claimed in order and a claimed seed always runs to
			// the end, so the seeds that ran are a prefix of the batch.
			for !stop.Load() {
				if ctx.Err() != nil {
					interrupted.Store(true)
					return
				}
				i := next.Add(1) - 1
				if i >= uint64(total) {
					return
				}
				o := b.Options
				o.Seed, o.Steps, o.Trace, o.TraceTo = b.From+i, steps, false, nil
				o.RunProgress = nil // the batch reports its own
				r, err := Run(o)
				if err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
					stop.Store(true)
					return
				}
				nondet := false
				if b.CheckDeterminism {
					again, _ := Run(o)
					nondet = again == nil || again.TraceHash != r.TraceHash
				}
				runs.Add(1)
				if r.Failed() || nondet {
					if n := failures.Add(1); b.MaxFailures > 0 && n >= int64(b.MaxFailures) {
						stop.Store(true)
					}
				}
				record(r, nondet)
			}
		}()
	}
	done := make(chan struct{})
	var pwg sync.WaitGroup
	if b.Progress != nil {
		every := b.ProgressEvery
		if every <= 0 {
			every = 2 * time.Second
		}
		pwg.Add(1)
		go func() {
			defer pwg.Done()
			t := time.NewTicker(every)
			defer t.Stop()
			for {
				select {
				case <-done:
					return
				case <-t.C:
					b.Progress(Progress{Runs: int(runs.Load()), Total: total,
						Failures: int(failures.Load()), Elapsed: time.Since(start)})
				}
			}
		}()
	}
	wg.Wait()
	close(done)
	pwg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	sum.Elapsed = time.Since(start)
	sum.Interrupted = interrupted.Load() && sum.Runs < total // not when the last seed was already done
	sum.StoppedEarly = !sum.Interrupted && sum.Runs < total
	slices.SortFunc(sum.Failed, func(a, b *Result) int { return cmpU64(a.Seed, b.Seed) })
	if len(sum.Failed) > keep {
		sum.Failed = sum.Failed[:keep]
	}
	slices.Sort(sum.Nondeterministic)
	return sum, nil
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
