package sim

import (
	"math/rand/v2"
	"time"
)

// This file is the scheduler. A run is one goroutine: the workload calls
// the real qga.Client, whose only blocking points are the virtual
// Transport's Read calls, and a Read that has nothing to return runs this
// event loop (deliveries, the agent, actor timers) until it can, or until
// its deadline in virtual time. Nothing else ever runs, so the order of
// events is a function of the seed alone, and no handoff between
// goroutines is needed.

// Channel timing without faults.
const (
	latency   = 100 * time.Microsecond // one way, per chunk
	agentProc = 20 * time.Microsecond  // from bytes arriving to the agent reading them
)

// piece is a run of bytes scheduled for delivery.
type piece struct {
	data []byte
	tag  int32
	sess int32 // h2a: the host session that wrote it
	at   time.Duration
}

// pipe is one direction of the channel: a FIFO of pieces in flight.
type pipe struct {
	q    []piece
	head int
	last time.Duration // no piece is due before the one ahead of it
	hold time.Duration // nothing is delivered before this instant
}

func (p *pipe) push(pc piece) {
	pc.at = max(pc.at, p.last)
	p.last = pc.at
	p.q = append(p.q, pc)
}

func (p *pipe) next() (time.Duration, bool) {
	if p.head == len(p.q) {
		return 0, false
	}
	return max(p.q[p.head].at, p.hold), true
}

func (p *pipe) pop() piece {
	pc := p.q[p.head]
	p.q[p.head] = piece{}
	p.head++
	if p.head == len(p.q) {
		p.q, p.head = p.q[:0], 0
	}
	return pc
}

// holds reports whether a piece of write tag is still in flight.
func (p *pipe) holds(tag int32) bool {
	for i := p.head; i < len(p.q); i++ {
		if p.q[i].tag == tag {
			return true
		}
	}
	return false
}

// drop removes the pending pieces for which gone is true and returns the
// number of bytes removed. The pieces that stay set when the next one may
// arrive: a delay that held back only removed pieces holds nothing back.
func (p *pipe) drop(gone func(*piece) bool) int {
	n := 0
	out := p.q[:p.head]
	p.last = 0
	for i := p.head; i < len(p.q); i++ {
		if gone(&p.q[i]) {
			n += len(p.q[i].data)
			continue
		}
		out = append(out, p.q[i])
		p.last = p.q[i].at
	}
	p.q = out
	return n
}

// faultInst is one configured fault in a run: its decision stream, its
// opportunity counter and, when replaying, its plan.
type faultInst struct {
	f     Fault
	idx   int
	sites Site
	dec   *rand.Rand
	step  int                // the workload step n counts in
	n     uint64             // opportunities so far in that step
	plan  map[planKey]uint64 // replay: opportunity -> parameter seed
}

// planKey names an opportunity by workload step and its number within the
// step, which stays meaningful when shrinking removes other steps.
type planKey struct {
	step int
	n    uint64
}

// roll decides one opportunity in step. The decision stream is consumed
// the same way whether or not the fault fires, so later decisions do not
// depend on this one.
func (fi *faultInst) roll(step int, quiet bool) (bool, uint64) {
	if fi.step != step {
		fi.step, fi.n = step, 0
	}
	fi.n++
	if fi.plan != nil {
		s, ok := fi.plan[planKey{step, fi.n}]
		return ok && !quiet, s
	}
	u, s := fi.dec.Float64(), fi.dec.Uint64()
	return u < fi.f.Rate() && !quiet, s
}

type eventKind uint8

const (
	evNone eventKind = iota
	evTimer
	evH2A
	evAgent
	evA2H
)

// nextEvent returns the earliest pending event; ties go to timers, then
// host-to-agent delivery, the agent, and agent-to-host delivery.
func (w *world) nextEvent() (time.Duration, eventKind) {
	best, which := forever, evNone
	if t, ok := w.tm.next(); ok && t < best {
		best, which = t, evTimer
	}
	if t, ok := w.h2a.next(); ok && t < best {
		best, which = t, evH2A
	}
	if w.agent.busy && w.agent.readyAt < best {
		best, which = w.agent.readyAt, evAgent
	}
	if t, ok := w.a2h.next(); ok && t < best {
		best, which = t, evA2H
	}
	return best, which
}

// runUntil processes events until done reports true, the run stops, or
// the next event lies beyond limit (the clock then moves to limit, unless
// limit is forever). A nil done runs until limit.
func (w *world) runUntil(done func() bool, limit time.Duration) {
	for !w.stop && (done == nil || !done()) {
		t, which := w.nextEvent()
		if which == evNone || t > limit {
			if limit != forever && limit > w.now {
				w.now = limit
			}
			return
		}
		w.now = max(w.now, t)
		switch which {
		case evTimer:
			w.fireTimer(w.tm.pop())
		case evH2A:
			pc := w.h2a.pop()
			w.tr.add(w.now, "chan", "h2a", pc.data, "")
			w.agent.receive(pc, w.now)
			if w.strike.tag != 0 && pc.tag == w.strike.tag && w.striking(StrikeSent) && !w.h2a.holds(pc.tag) {
				w.strikeHost("sent: its write has reached the agent")
			}
		case evAgent:
			w.agentProcess()
		case evA2H:
			pc := w.a2h.pop()
			w.tr.add(w.now, "chan", "a2h", pc.data, "")
			w.host.receive(pc)
		}
	}
}

func (w *world) fireTimer(tm timer) {
	switch tm.kind {
	case timerAgentDown:
		if w.agent.down && w.now+tm.dur <= w.agent.upAt {
			w.noEffect(tm, "the agent was already down until t="+fmtDur(w.agent.upAt))
			return
		}
		w.agentDown(tm.dur, "reboot")
	case timerAgentUp:
		if w.agent.down && w.now >= w.agent.upAt {
			w.agent.down = false
			w.tr.add(w.now, "agent", "up", nil, "fresh state")
		}
	case timerHostCrash:
		if int32(tm.arg) == w.host.sess && !w.host.dead {
			w.host.backAfter = tm.dur // this crash's own reconnect delay
			w.hostCrash("")
		} else {
			w.noEffect(tm, "session "+itoa(tm.arg)+" had already ended")
		}
	}
}

// noEffect marks the fault event that scheduled tm as one that came to
// nothing, and says so in the trace, so that reports count only the
// events that happened.
func (w *world) noEffect(tm timer, why string) { w.eventNoEffect(tm.ev, why) }

// eventNoEffect marks the fault event events[ev-1] as one that came to
// nothing (see noEffect).
func (w *world) eventNoEffect(ev int, why string) {
	if ev <= 0 || ev > len(w.events) {
		return
	}
	e := &w.events[ev-1]
	e.NoEffect = why
	w.tr.add(w.now, "fault", "no-effect", nil, e.Kind+" of step "+itoa(int64(e.Step))+" ("+e.Site+" #"+itoa(int64(e.N))+"): "+why)
}

// offer gives every fault that takes site a chance to fire at op. Byte
// faults all apply in configuration order; at actor sites the first
// action wins and the offer stops there.
func (w *world) offer(op *Opportunity) {
	op.Now, op.Deadline = w.now, w.callDeadline
	for _, fi := range w.faults {
		if fi.sites&op.Site == 0 {
			continue
		}
		fire, seed := fi.roll(w.step, w.quiet)
		if !fire {
			continue
		}
		w.prmSrc.Seed(seed, 0x5eed)
		desc := fi.f.Apply(op, w.prm)
		if desc == "" {
			continue
		}
		w.events = append(w.events, Event{Fault: fi.idx, Kind: fi.f.Name(), N: fi.n, Seed: seed,
			T: w.now, Step: w.step, Site: op.Site.String(), Info: desc})
		w.tr.add(w.now, "fault", fi.f.Name(), nil, op.Site.String()+" #"+itoa(int64(fi.n))+": "+desc)
		if op.Action == ActNone {
			continue
		}
		if op.Site&(SiteAgentRead|SiteAgentReply) != 0 {
			return // the caller performs the restart
		}
		w.act(op)
		op.Action = ActNone
	}
}

// act schedules the actor event a fault asked for at a step boundary.
func (w *world) act(op *Opportunity) {
	ev := len(w.events) // offer has just recorded the event
	switch op.Action {
	case ActReboot:
		w.tm.add(timer{at: w.now + op.After, kind: timerAgentDown, dur: op.Down, ev: ev})
	case ActReconnect:
		if op.Strike != StrikeIdle {
			if w.strike.at != StrikeIdle {
				w.eventNoEffect(ev, "another reconnect strikes this call")
				return
			}
			w.strike = strike{at: op.Strike, call: int32(w.step), cut: op.Cut, down: op.Down, ev: ev}
			return
		}
		w.tm.add(timer{at: w.now + op.After, kind: timerHostCrash, dur: op.Down, arg: int64(w.host.sess), ev: ev})
	}
}

// send passes a chunk through the faults of site and schedules its
// segments on p, each Gap after the previous one actually arrives.
func (w *world) send(p *pipe, c *Chunk, site Site, sess int32) {
	w.opp = Opportunity{Site: site, Chunk: c}
	w.offer(&w.opp)
	prev := w.now + latency
	for _, s := range c.Segs {
		at := prev + s.Gap
		if len(s.Data) == 0 {
			prev = at
			continue
		}
		p.push(piece{data: s.Data, tag: s.Tag, sess: sess, at: at})
		prev = p.last
	}
	w.opp.Chunk = nil
}

// hostCrash kills the host process: bytes it had not finished writing
// (pieces of its session that a fault delays, so that they are not due
// yet) are lost; bytes already in the channel, even if the agent is not
// reading them, stay. how, if not empty, says where in a call it died.
func (w *world) hostCrash(how string) {
	w.host.dead = true
	sess, now := w.host.sess, w.now
	n := w.h2a.drop(func(pc *piece) bool { return pc.sess == sess && pc.at > now })
	info := "session " + itoa(int64(sess)) + ", " + itoa(int64(n)) + " unsent bytes lost"
	if how != "" {
		info += ", in call #" + itoa(int64(w.call)) + ", " + how
	}
	w.tr.add(w.now, "host", "crash", nil, info)
}

// strike is a reconnect fault armed to kill the host in the call of the
// step that rolled it, at a point of the exchange (Strike).
type strike struct {
	at   Strike // StrikeIdle: none armed
	call int32  // the call it strikes: the step's (workload call k is step k)
	cut  int
	down time.Duration // the reconnect delay
	ev   int           // the fault event (events[ev-1])
	tag  int32         // StrikeSent: the write it waits for, once made
}

// striking reports whether a reconnect is armed to strike the call in
// progress at point at.
func (w *world) striking(at Strike) bool {
	return at != StrikeIdle && w.strike.at == at && w.call != 0 && w.call == w.strike.call && !w.host.dead
}

// strikeHost kills the host in its call, as the armed strike says.
func (w *world) strikeHost(how string) {
	w.host.backAfter = w.strike.down
	w.strike = strike{}
	w.hostCrash(how)
}

// endStrike disarms a strike that its call ended without: the call wrote
// nothing, or read what it needed before the point came, or the host had
// already died.
func (w *world) endStrike(k int32) {
	s := w.strike
	if s.at == StrikeIdle || s.call != k {
		return
	}
	w.strike = strike{}
	why := "call #" + itoa(int64(k)) + " ended before its " + strikeNames[s.at] + " point"
	if w.host.dead {
		why = "the host had already died in call #" + itoa(int64(k))
	}
	w.eventNoEffect(s.ev, why)
}

// settleHost waits out a dead host's reconnect delay and starts a new
// session.
func (w *world) settleHost() {
	if !w.host.dead || w.stop {
		return
	}
	w.runUntil(nil, w.now+w.host.backAfter)
	w.newSession()
}

// drainTime is when every delay already scheduled has passed: the pipes
// are empty and the agent is up.
func (w *world) drainTime() time.Duration {
	t := max(w.h2a.last, w.a2h.last, w.now)
	if w.agent.down {
		t = max(t, w.agent.upAt)
	}
	return t
}
