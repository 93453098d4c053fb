package fuzz

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/qgafuzz/qgafuzz/qga"
	"github.com/qgafuzz/qgafuzz/qga/qgatest"
)

// This file is the differential driver behind `qgafuzz fuzz --target
// differential --agent ...`: it generates request streams (the seed corpus,
// mutations of it, and qgatest.GenStream's generated streams, all re-split
// at random points), plays each against the reference and the agent under
// test, and reports every divergence. Each stream ends with the fence
// (0xFF, then a guest-sync), which puts any agent back in its start state
// as far as the protocol allows; after a divergence, an error or a hang the
// agent is reset harder (reconnect, restart).

// DiffOptions configure Differ.
type DiffOptions struct {
	// Reference is the agent taken as right (nil: the built-in reference).
	Reference Endpoint
	// Agent is the agent under test.
	Agent Endpoint
	// Seeds are inputs in the byte-stream format (see Chunks), played
	// first and then mutated.
	Seeds [][]byte
	// Seed seeds the generator; the same seed gives the same streams.
	Seed uint64
	// Duration bounds the run (0: until ctx is done or MaxStreams).
	Duration time.Duration
	// MaxStreams bounds the number of streams (0: no bound).
	MaxStreams int64
	// StopAfter ends the run after that many divergences (0: never).
	StopAfter int
	// OnDivergence is called for each divergence.
	OnDivergence func(*Divergence)
	// OnProgress is called about once a second.
	OnProgress func(DiffStats)
}

// errNoAgent is returned by Differ and Replay without an agent under test.
var errNoAgent = errors.New("fuzz: no agent under test (DiffOptions.Agent is nil)")

// DiffStats summarise a run.
type DiffStats struct {
	Elapsed     time.Duration
	Streams     int64
	Bytes       int64
	Divergences int
	AgentDeaths int
	// AgentHangs counts the divergences where a live agent hung (an
	// --agent-cmd agent is then killed and restarted).
	AgentHangs int
	// AgentRestarts counts the run's restarts of an agent that the driver
	// restarts itself (a CommandEndpoint: after every divergence); 0 for
	// any other agent.
	AgentRestarts int
	// StoppedEarly: the run ended because it reached StopAfter
	// divergences.
	StoppedEarly bool
	// FirstDivergence is the time to the first divergence (0: none).
	FirstDivergence time.Duration
}

// Differ runs differential fuzzing until the duration, MaxStreams or
// StopAfter is reached, or ctx is done. It returns an error only when an
// endpoint cannot be used at all (a nil Agent included).
func Differ(ctx context.Context, o DiffOptions) (DiffStats, error) {
	if o.Agent == nil {
		return DiffStats{}, errNoAgent
	}
	if o.Reference == nil {
		o.Reference = InProcessEndpoint(qga.AgentConfig{})
	}
	var seeds []qgatest.Stream
	for _, s := range o.Seeds {
		if st := Chunks(s); len(st.Ops) > 0 {
			seeds = append(seeds, st)
		}
	}
	g := &streamGen{r: rand.New(rand.NewPCG(o.Seed, 0x71a9)), seeds: seeds}
	start := time.Now()
	var end time.Time
	if o.Duration > 0 {
		end = start.Add(o.Duration)
	}
	// Ctrl-C cuts the stream being played short rather than letting a
	// silent agent hold the run for --hang (or a write it never reads).
	defer context.AfterFunc(ctx, func() {
		interrupt(o.Agent)
		interrupt(o.Reference)
	})()
	var st DiffStats
	lastProgress := start
	// The endpoint counts its restarts over its life, earlier runs'
	// included.
	restartsBefore := restarts(o.Agent)
	// stamp brings the time and restart counts up to now.
	stamp := func() { st.Elapsed, st.AgentRestarts = time.Since(start), restarts(o.Agent)-restartsBefore }
	for {
		if o.StopAfter > 0 && st.Divergences >= o.StopAfter {
			st.StoppedEarly = true
			break
		}
		if ctx.Err() != nil || (!end.IsZero() && time.Now().After(end)) || (o.MaxStreams > 0 && st.Streams >= o.MaxStreams) {
			break
		}
		s := g.next()
		s.Ops = append(s.Ops, qgatest.Op{Data: qgatest.Fence})
		d, err := playBoth(o.Reference, o.Agent, s)
		if ctx.Err() != nil {
			break // a stream cut short by the interrupt is not judged
		}
		if err != nil {
			stamp()
			return st, err
		}
		st.Streams++
		st.Bytes += int64(len(s.Bytes()))
		if d != nil {
			if st.Divergences == 0 {
				st.FirstDivergence = time.Since(start)
			}
			st.Divergences++
			if d.AgentDied {
				st.AgentDeaths++
			} else if d.AgentHung {
				st.AgentHangs++
			}
			if o.OnDivergence != nil {
				o.OnDivergence(d)
			}
			if err := resetTwice(ctx, o.Agent); err != nil && ctx.Err() == nil {
				stamp()
				return st, fmt.Errorf("fuzz: resetting %s after a divergence failed, so the run stops: %w", o.Agent.Name(), err)
			}
		}
		if o.OnProgress != nil && time.Since(lastProgress) >= time.Second {
			lastProgress = time.Now()
			stamp()
			o.OnProgress(st)
		}
	}
	stamp()
	return st, nil
}

// restarts returns how many times the driver restarted an endpoint's
// agent (0 for one it cannot restart).
func restarts(e Endpoint) int {
	if r, ok := e.(interface{ Restarts() int }); ok {
		return r.Restarts()
	}
	return 0
}

// interrupt cuts an endpoint's streams short, if it can wait on them.
func interrupt(e Endpoint) {
	if i, ok := e.(interface{ Interrupt() }); ok {
		i.Interrupt()
	}
}

// resetTwice resets an endpoint, trying again once (an agent restarted
// after a death can be slow to accept its first client) unless ctx is done:
// an interrupted run ends rather than start the agent again.
func resetTwice(ctx context.Context, e Endpoint) error {
	if err := e.Reset(); err != nil {
		if ctx.Err() != nil {
			return err
		}
		time.Sleep(100 * time.Millisecond)
		return e.Reset()
	}
	return nil
}

// Replay plays one stream on the reference and the agent under test, as
// Differ does, and returns how the agent's replies differ, or nil. The
// stream should end with qgatest.Fence, which leaves both agents in their
// start state for the next replay; after a divergence the agent is also
// reset. Minimizing a divergence runs Replay for every candidate. A nil
// ref is the built-in reference, as in DiffOptions; a nil agent is an
// error.
func Replay(ref, agent Endpoint, s qgatest.Stream) (*Divergence, error) {
	if agent == nil {
		return nil, errNoAgent
	}
	if ref == nil {
		ref = InProcessEndpoint(qga.AgentConfig{})
	}
	d, err := playBoth(ref, agent, s)
	if err == nil && d != nil {
		err = resetTwice(context.Background(), agent)
	}
	return d, err
}

// playBoth plays one stream on both agents and compares. It returns an
// error when the reference fails twice in a row or the agent cannot be
// reached at all; any other failure of the agent (a hang, a closed
// connection, a death) is part of the divergence.
func playBoth(ref, agent Endpoint, s qgatest.Stream) (*Divergence, error) {
	pace := qgatest.ReferenceReplies(qga.AgentConfig{}, s)
	want, err := ref.Play(s, pace)
	if err != nil {
		// The reference itself failed: reset it and try once more.
		if rerr := ref.Reset(); rerr != nil {
			return nil, fmt.Errorf("fuzz: the reference %s failed (%v) and cannot be reset: %w", ref.Name(), err, rerr)
		}
		if want, err = ref.Play(s, pace); err != nil {
			return nil, fmt.Errorf("fuzz: the reference %s fails on this stream: %w\n%s", ref.Name(), err, s.String())
		}
	}
	got, err := agent.Play(s, pace)
	if errors.Is(err, ErrUnreachable) {
		return nil, err
	}
	detail := CompareReplies(want, got)
	if err != nil {
		if detail == "" {
			detail = "the agent's replies match so far"
		}
		detail = err.Error() + "; " + detail
	}
	if detail == "" {
		return nil, nil
	}
	if p, ok := agent.(interface{ sentAfterFence() int }); ok {
		if n := p.sentAfterFence(); n > 0 {
			// Bytes the user did not see asked for: say where the line
			// between the stream's replies and the rest was drawn.
			detail += fmt.Sprintf(" (the agent sent %d of its bytes after the fence's reply and before its reply to the guest-sync probe %s"+
				" that qgafuzz sends after each stream to catch replies sent late or twice; the probe's reply is left out)", n, qgatest.Probe)
		}
	}
	d := &Divergence{Input: s, Reference: want, Agent: got, Detail: detail, AgentHung: errors.Is(err, errHang)}
	if ce, ok := agent.(*CommandEndpoint); ok && !ce.waitExit(500*time.Millisecond) {
		d.AgentDied, d.AgentHung = true, false
		d.Detail = "the agent process died (" + ce.ExitStatus() + "); " + d.Detail
	} else if ok && d.AgentHung {
		d.Detail = "the agent hung (it is killed and restarted); " + d.Detail
	}
	return d, nil
}

// streamGen makes the streams of a run.
type streamGen struct {
	r     *rand.Rand
	seeds []qgatest.Stream
	n     int
}

// next returns the next stream: every seed once, in order, then a mix of
// mutated seeds and generated streams.
func (g *streamGen) next() qgatest.Stream {
	defer func() { g.n++ }()
	if g.n < len(g.seeds) {
		return cloneStream(g.seeds[g.n])
	}
	var s qgatest.Stream
	if len(g.seeds) > 0 && g.r.IntN(3) == 0 {
		s = g.mutate(cloneStream(g.seeds[g.r.IntN(len(g.seeds))]))
	} else {
		s = qgatest.GenStream(g.r, qgatest.StreamOptions{LongString: 4 << 10})
		s.Ops = s.Ops[:len(s.Ops)-1] // the driver appends the fence
	}
	if g.r.IntN(2) == 0 {
		s = g.resplit(s)
	}
	return s
}

func cloneStream(s qgatest.Stream) qgatest.Stream {
	out := qgatest.Stream{Ops: make([]qgatest.Op, len(s.Ops))}
	for i, op := range s.Ops {
		out.Ops[i] = qgatest.Op{Data: bytes.Clone(op.Data), Reconnect: op.Reconnect}
	}
	return out
}

// resplit cuts the stream's bytes at new random points: mostly a few
// cuts, sometimes one byte per write, and always some cuts right after a
// UTF-8 lead byte or inside a token when there are any.
func (g *streamGen) resplit(s qgatest.Stream) qgatest.Stream {
	all, _ := joined(s)
	if len(all) < 2 {
		return s
	}
	var cuts []int
	switch g.r.IntN(6) {
	case 0:
		if len(all) <= 512 {
			for i := 1; i < len(all); i++ {
				cuts = append(cuts, i)
			}
		}
	default:
		for n := 1 + g.r.IntN(6); n > 0; n-- {
			cuts = append(cuts, 1+g.r.IntN(len(all)-1))
		}
		// Inside multi-byte UTF-8 sequences, where agents that decode per
		// read go wrong.
		for i := 0; i+1 < len(all) && len(cuts) < 64; i++ {
			if all[i] >= 0xC2 && all[i] <= 0xF4 && g.r.IntN(3) == 0 {
				cuts = append(cuts, i+1)
			}
		}
	}
	sortInts(cuts)
	var out qgatest.Stream
	for _, c := range splitAt(all, cuts) {
		out.Ops = append(out.Ops, qgatest.Op{Data: c})
		if g.r.IntN(40) == 0 {
			out.Ops = append(out.Ops, qgatest.Op{Reconnect: true})
		}
	}
	return out
}

// mutate applies one byte-level mutation to a seed stream.
func (g *streamGen) mutate(s qgatest.Stream) qgatest.Stream {
	all, _ := joined(s)
	pos := 0
	if len(all) > 0 {
		pos = g.r.IntN(len(all) + 1)
	}
	switch g.r.IntN(5) {
	case 0: // insert a protocol token
		tok := dictTokens[g.r.IntN(len(dictTokens))]
		all = append(all[:pos:pos], append([]byte(tok), all[pos:]...)...)
	case 1: // splice another seed
		o, _ := joined(g.seeds[g.r.IntN(len(g.seeds))])
		all = append(all[:pos:pos], o...)
	case 2: // duplicate a region
		if pos < len(all) {
			n := 1 + g.r.IntN(len(all)-pos)
			all = append(all[:pos+n:pos+n], all[pos:]...)
		}
	case 3: // replace a byte
		if pos < len(all) {
			all[pos] = byte(g.r.IntN(256))
		}
	case 4: // delete a region
		if pos < len(all) {
			all = append(all[:pos:pos], all[pos+1+g.r.IntN(len(all)-pos):]...)
		}
	}
	return qgatest.Stream{Ops: []qgatest.Op{{Data: all}}}
}

func sortInts(a []int) {
	for i := 1; i < len(a); i++ {
		for j := i; j > 0 && a[j] < a[j-1]; j-- {
			a[j], a[j-1] = a[j-1], a[j]
		}
	}
}

// dictTokens are the protocol's tokens, shared with the dictionary file
// (corpus/qga.dict) used by go-fuzz and libFuzzer.
var dictTokens = []string{
	"\xff", "\n", "\r", "\t", " ", "\x00", "{", "}", "[", "]", ":", ",", `"`, "'", `\`,
	`\"`, `\'`, `\\`, `\/`, `\b`, `\f`, `\n`, `\r`, `\t`, `\u`, `\u0000`, `\uD83D\uDE00`, `\ud800`, `\uffff`,
	"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xc0\x80", "\xef\xbb\xbf",
	"true", "false", "null", "-0", "1e400", "0.1", "9223372036854775807", "9223372036854775808",
	"-9223372036854775808", "4294967296", "2147483648",
	`"execute"`, `"arguments"`, `"id"`, `"return"`, `"error"`,
	`"guest-sync"`, `"guest-sync-delimited"`, `"guest-ping"`, `"guest-info"`, `"guest-shutdown"`,
	`{"execute":"guest-sync-delimited","arguments":{"id":`, `{"execute":"guest-ping"}`,
	`{"execute":"guest-sync","arguments":{"id":1}}`, `{"execute":"guest-info"}`, `"id":1`,
	"[[[[[[[[[[[[[[[[", "]]]]]]]]]]]]]]]]", "{\"a\":{\"a\":{\"a\":{\"a\":",
}
