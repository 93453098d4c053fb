package sim

import (
	"math/rand/v2"
	"sort"
	"strconv"
	"time"
)

// This file holds what makes a run a function of its seed: virtual time,
// the timers of actor events, and independent pseudo-random streams.

// Epoch is virtual time zero: 2100-01-01 UTC. The client sees Epoch plus
// the virtual time as its clock, and call deadlines are contexts with a
// deadline in virtual time, so they are decades away in real time and never
// fire on their own: only the virtual Transport ends a blocked call.
var Epoch = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)

// forever is a virtual instant later than any run reaches.
const forever = time.Duration(1<<63 - 1)

// Stream purposes. Every consumer of randomness has its own stream, so
// that removing a fault or a workload step while shrinking does not shift
// the choices of anything else.
const (
	purposeWorkload = "workload"
	purposeQuiet    = "quiet"
	purposeSwarm    = "swarm"
	purposeClient   = "client"
	purposeFault    = "fault"
	purposeParams   = "params"
	purposeProxy    = "proxy"
)

// newStream returns the PCG stream of seed for purpose and index.
func newStream(seed uint64, purpose string, index uint64) *rand.Rand {
	return rand.New(streamSource(seed, purpose, index))
}

func streamSource(seed uint64, purpose string, index uint64) *rand.PCG {
	h := uint64(14695981039346656037) // FNV-1a
	for i := 0; i < len(purpose); i++ {
		h ^= uint64(purpose[i])
		h *= 1099511628211
	}
	return rand.NewPCG(splitmix(seed^splitmix(h)), splitmix(h+index*0x9e3779b97f4a7c15))
}

// splitmix is SplitMix64's finaliser, a bijective 64-bit mixer.
func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// uniformDur returns a duration uniform in [lo, hi].
func uniformDur(r *rand.Rand, lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(r.Int64N(int64(hi-lo)+1))
}

// timerKind names an actor event due at a virtual instant.
type timerKind uint8

const (
	timerAgentDown timerKind = iota + 1 // a scheduled guest reboot begins
	timerAgentUp                        // the agent is back with a fresh state
	timerHostCrash                      // the host process dies
)

type timer struct {
	at   time.Duration
	seq  uint64 // ties are broken by insertion order
	kind timerKind
	dur  time.Duration // timerAgentDown: how long the agent stays down; timerHostCrash: the reconnect delay
	arg  int64         // timerHostCrash: the session that dies
	ev   int           // timerAgentDown, timerHostCrash: the fault event that scheduled it (events[ev-1]), 0 if none
}

// timers is a small queue ordered by (at, seq). Runs have a handful of
// timers at a time, so a sorted slice beats a heap.
type timers struct {
	q   []timer
	seq uint64
}

func (t *timers) add(tm timer) {
	t.seq++
	tm.seq = t.seq
	i := sort.Search(len(t.q), func(i int) bool {
		return t.q[i].at > tm.at || (t.q[i].at == tm.at && t.q[i].seq > tm.seq)
	})
	t.q = append(t.q, timer{})
	copy(t.q[i+1:], t.q[i:])
	t.q[i] = tm
}

func (t *timers) next() (time.Duration, bool) {
	if len(t.q) == 0 {
		return 0, false
	}
	return t.q[0].at, true
}

func (t *timers) pop() timer {
	tm := t.q[0]
	t.q = t.q[1:]
	return tm
}

// cancel drops every timer of the given kinds and returns them, in the
// order they were due.
func (t *timers) cancel(kinds ...timerKind) []timer {
	var dropped []timer
	out := t.q[:0]
	for _, tm := range t.q {
		drop := false
		for _, k := range kinds {
			drop = drop || tm.kind == k
		}
		if drop {
			dropped = append(dropped, tm)
		} else {
			out = append(out, tm)
		}
	}
	t.q = out
	return dropped
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// fmtDur renders a virtual duration compactly for traces and reports.
func fmtDur(d time.Duration) string {
	switch {
	case d == 0:
		return "0"
	case d%time.Second == 0:
		return d.String()
	case d >= time.Second:
		return d.Round(time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond).String()
	}
	return d.String()
}
