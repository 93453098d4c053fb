package sim

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/qgafuzz/qgafuzz/internal/detmath"
)

// This file defines what a fault is: one small type per kind, behind the
// Fault interface, offered opportunities (sites) by the simulator or the
// proxy. Whether a fault fires at an opportunity is decided by its rate and
// its own random stream (or, when a schedule is replayed, by the schedule);
// what it then does is decided by Apply from a random source seeded for
// that one event, so that a recorded event replays exactly.

// Site is a kind of opportunity for a fault. A Fault's Sites is a set.
type Site uint8

const (
	// SiteH2A is a host write in flight to the agent (Opportunity.Chunk).
	SiteH2A Site = 1 << iota
	// SiteA2H is an agent reply in flight to the host (Opportunity.Chunk).
	SiteA2H
	// SiteAgentRead is the agent about to process one read of Len bytes.
	SiteAgentRead
	// SiteAgentReply is the agent about to write one reply (Chunk).
	SiteAgentReply
	// SiteStep is the host between two calls of its workload.
	SiteStep
	// SiteConn is, in the proxy only, a connection between two chunks.
	SiteConn
)

var siteNames = [...]string{"h2a", "a2h", "agent-read", "agent-reply", "step", "conn"}

func (s Site) String() string {
	var parts []string
	for i, n := range siteNames {
		if s&(1<<i) != 0 {
			parts = append(parts, n)
		}
	}
	return strings.Join(parts, "|")
}

// Action is an actor-level effect a fault asks for.
type Action uint8

const (
	ActNone      Action = iota // nothing beyond the edits to Chunk
	ActRestart                 // the agent restarts after Cut bytes (of the read or reply)
	ActReboot                  // the guest goes down After from now, for Down
	ActReconnect               // the host process dies After from now, or in the step's call (Strike); a new one connects Down later
	ActHangup                  // (proxy) the host connection is cut here
)

// Strike is where in the host's exchange an ActReconnect kills the host.
type Strike uint8

const (
	// StrikeIdle: After from now, on a timer (nearly always between calls).
	StrikeIdle Strike = iota
	// StrikeWrite: in the step's call, during its first write; Cut modulo
	// the write's length is the number of its bytes that reach the
	// channel.
	StrikeWrite
	// StrikeSent: in the step's call, when its first write has wholly
	// reached the agent.
	StrikeSent
	// StrikeRead: in the step's call, the first time it finds bytes to
	// read; Cut modulo their number (or the read's size, if smaller) is
	// how many it reads before it dies.
	StrikeRead
)

// Opportunity is one chance for a fault to fire. The simulator fills the
// inputs; Apply edits Chunk or sets the action fields.
type Opportunity struct {
	Site Site
	// Now is the virtual (or, in the proxy, elapsed) time.
	Now time.Duration
	// Deadline is the deadline of the host call in progress, or 0.
	Deadline time.Duration
	// Chunk is the bytes in flight (SiteH2A, SiteA2H, SiteAgentReply).
	Chunk *Chunk
	// Len is the size of the read at SiteAgentRead.
	Len int

	Action Action
	Cut    int           // ActRestart: bytes processed or written before it; ActReconnect: see Strike
	Strike Strike        // ActReconnect: where the host dies
	After  time.Duration // ActReboot, ActReconnect: delay before it starts
	Down   time.Duration // how long the actor is gone
}

// Fault is one kind of trouble, with its rate and parameters. Each kind is
// a small type in faults_*.go whose doc comment says what real-world event
// it models.
type Fault interface {
	// Name is the kind's name, as used by --faults and the proxy's SPEC.
	Name() string
	// Rate is the probability of firing at each opportunity.
	Rate() float64
	// Sites are the opportunities the fault is offered.
	Sites() Site
	// Apply performs the fault, drawing its parameters from r, and
	// returns a description for the trace. An empty description means
	// the opportunity did not suit the fault (no UTF-8 to split, an empty
	// chunk) and nothing changed.
	Apply(op *Opportunity, r *rand.Rand) string
	// Spec renders the fault as name:key=value,... with every parameter.
	Spec() string
}

// Kind describes one fault kind for the registry and the help text.
type Kind struct {
	Name string
	// Models is the real-world event the kind stands for.
	Models string
	// Params documents the parameters and their defaults.
	Params string
	// Rate is the default rate; swarm runs draw rates log-uniformly from
	// [Rate/8, min(3*Rate, 1)].
	Rate float64
	// SimOnly kinds need a simulated actor and are refused by the proxy.
	SimOnly bool
	new     func(p *params) Fault
}

// Kinds lists every fault kind in registry order.
func Kinds() []*Kind { return kinds }

// KindByName returns the kind with the given name.
func KindByName(name string) (*Kind, bool) {
	for _, k := range kinds {
		if k.Name == name {
			return k, true
		}
	}
	return nil, false
}

// NewFault builds a fault from its spec, e.g. "fragment:rate=0.5,min=1".
func NewFault(spec string) (Fault, error) {
	name, rest, _ := strings.Cut(strings.TrimSpace(spec), ":")
	k, ok := KindByName(name)
	if !ok {
		return nil, fmt.Errorf("unknown fault %q (known: %s)", name, kindNames())
	}
	p, err := parseParams(name, rest)
	if err != nil {
		return nil, err
	}
	p.rate = p.float("rate", k.Rate)
	if p.rate < 0 || p.rate > 1 {
		p.fail("rate must be in [0, 1]")
	}
	f := k.new(p)
	if err := p.finish(); err != nil {
		return nil, err
	}
	f.(interface{ setSpec(string) }).setSpec(p.spec())
	return f, nil
}

func kindNames() string {
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = k.Name
	}
	return strings.Join(names, ", ")
}

// ParseFaults parses a fault list: specs separated by ';', or by ',' where
// the next item is not a key=value parameter, so that
// "dup:rate=0.1,dir=h2a,late,fragment:min=2" is three faults. "none" (or
// "") is the empty list. The faults come back in registry order (the
// order in which they act on a chunk), whatever the order of the list.
func ParseFaults(list string) ([]Fault, error) {
	list = strings.TrimSpace(list)
	if list == "" || list == "none" {
		return nil, nil
	}
	var specs []string
	for _, part := range strings.FieldsFunc(list, func(r rune) bool { return r == ';' || r == ' ' }) {
		for _, item := range strings.Split(part, ",") {
			if strings.Contains(item, "=") && !strings.Contains(item, ":") && len(specs) > 0 {
				specs[len(specs)-1] += "," + item
				continue
			}
			specs = append(specs, item)
		}
	}
	out := make([]Fault, 0, len(specs))
	for _, s := range specs {
		f, err := NewFault(s)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	slices.SortStableFunc(out, func(a, b Fault) int { return kindIndex(a.Name()) - kindIndex(b.Name()) })
	return out, nil
}

func kindIndex(name string) int {
	for i, k := range kinds {
		if k.Name == name {
			return i
		}
	}
	return len(kinds)
}

// Specs returns the specs of faults.
func Specs(faults []Fault) []string {
	out := make([]string, len(faults))
	for i, f := range faults {
		out[i] = f.Spec()
	}
	return out
}

// AllFaults returns one fault of every kind at its default rate.
func AllFaults() []Fault {
	out := make([]Fault, 0, len(kinds))
	for _, k := range kinds {
		f, err := NewFault(k.Name)
		if err != nil {
			panic(err) // defaults are valid by construction
		}
		out = append(out, f)
	}
	return out
}

// SwarmFaults returns the swarm-testing mix for seed: each kind enabled
// with probability 1/2, at a rate drawn log-uniformly around its default.
func SwarmFaults(seed uint64) []Fault {
	r := newStream(seed, purposeSwarm, 0)
	var out []Fault
	for _, k := range kinds {
		on := r.IntN(2) == 0
		u := r.Float64()
		if !on {
			continue
		}
		lo, hi := k.Rate/8, min(3*k.Rate, 1)
		// detmath.Pow, not math.Pow: the mix must be the same on every
		// architecture, and math.Pow's last bits are not (assembly on
		// s390x, fused multiply-adds on arm64).
		rate := lo * detmath.Pow(hi/lo, u)
		out = append(out, swarmFault(k, fmt.Sprintf("%.4g", rate)))
	}
	return out
}

// swarmTemplate is a kind's fault with default parameters, and the part
// of its spec after the rate.
type swarmTemplate struct {
	f    Fault
	tail string
}

// swarmTemplates are built once: a swarm fault differs from its kind's
// default only in the rate, and parsing "name:rate=R" for every kind of
// every seed took 4% of a run.
var swarmTemplates = sync.OnceValue(func() map[string]swarmTemplate {
	m := map[string]swarmTemplate{}
	for _, f := range AllFaults() {
		spec := f.Spec()
		_, tail, _ := strings.Cut(spec, ",") // after name:rate=R
		if strings.Contains(spec, ",") {
			tail = "," + tail
		}
		m[f.Name()] = swarmTemplate{f: f, tail: tail}
	}
	return m
})

// swarmFault returns what NewFault(k.Name + ":rate=" + rate) returns (rate
// is a valid rate): a copy of the kind's template with that rate.
func swarmFault(k *Kind, rate string) Fault {
	t := swarmTemplates()[k.Name]
	r, err := strconv.ParseFloat(rate, 64)
	if err != nil || r < 0 || r > 1 {
		panic(fmt.Sprintf("sim: swarm rate %q", rate)) // a valid rate by construction
	}
	// A shallow copy is a fresh fault: faults hold only values.
	v := reflect.New(reflect.TypeOf(t.f).Elem())
	v.Elem().Set(reflect.ValueOf(t.f).Elem())
	f := v.Interface().(Fault)
	f.(interface{ setRate(float64, string) }).setRate(r, k.Name+":rate="+rate+t.tail)
	return f
}
