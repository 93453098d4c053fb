package sim

import (
	"fmt"
	"runtime/debug"
	"time"

	"github.com/qgafuzz/qgafuzz/qga"
)

// This file is the guest side of the channel: the agent as an actor that
// reads what the channel delivers in reads of up to 4096 bytes, as
// qemu-ga does, answers through the reference transducer, and can be
// restarted or taken down by faults. It also checks the agent invariants:
// no panic, bounded memory, well-formed replies.

// Agent is what the simulator runs as the guest agent: a byte transducer
// that keeps its parser state between calls. *qga.Agent implements it;
// tests plug in broken ones to show that the agent invariants fire.
type Agent interface {
	// Step consumes input until it produces one reply or p is used up,
	// and returns the bytes consumed and the reply (nil if none).
	Step(p []byte) (n int, reply []byte)
	// Reset discards all state, as a restart of the agent process does.
	Reset()
}

var _ Agent = (*qga.Agent)(nil)

type agentActor struct {
	a       Agent
	maxHeld int // the most non-blank bytes it may hold without an event
	in      []piece
	inLen   int
	busy    bool // a read is due at readyAt
	readyAt time.Duration
	down    bool
	upAt    time.Duration
	held    int // non-blank bytes consumed since the last reply or restart
	memBad  bool
	// lastTag is the provenance of the last byte the agent consumed. A
	// reply the agent makes before consuming anything of a piece was
	// made on look-ahead (a number or keyword ends only at the next
	// byte): it answers bytes consumed earlier, not the piece's write.
	lastTag int32
}

func (ag *agentActor) receive(pc piece, now time.Duration) {
	ag.in = append(ag.in, pc)
	ag.inLen += len(pc.data)
	if !ag.busy && !ag.down {
		ag.busy, ag.readyAt = true, now+agentProc
	}
}

// take removes up to n bytes from the input, as one read.
func (ag *agentActor) take(n int, win []piece) []piece {
	for len(ag.in) > 0 && n > 0 {
		pc := ag.in[0]
		if len(pc.data) > n {
			win = append(win, piece{data: pc.data[:n], tag: pc.tag})
			ag.in[0].data = pc.data[n:]
			ag.inLen -= n
			break
		}
		win = append(win, pc)
		ag.in = ag.in[1:]
		ag.inLen -= len(pc.data)
		n -= len(pc.data)
	}
	if len(ag.in) == 0 {
		ag.in = nil
	}
	return win
}

// agentProcess performs one read: it steps the agent through the bytes
// and sends each reply as it is produced. A restart fault may strike in
// the middle of the read or of a reply.
func (w *world) agentProcess() {
	ag := &w.agent
	ag.busy = false
	if ag.down {
		return
	}
	w.win = ag.take(qga.ReadSize, w.win[:0])
	n := 0
	for _, pc := range w.win {
		n += len(pc.data)
	}
	w.opp = Opportunity{Site: SiteAgentRead, Len: n}
	w.offer(&w.opp)
	restart, cut, down := w.opp.Action == ActRestart, n, w.opp.Down
	if restart {
		cut = w.opp.Cut
	}
	done := 0
	for _, pc := range w.win {
		if done >= cut {
			break
		}
		data := pc.data[:min(len(pc.data), cut-done)]
		done += len(data)
		for len(data) > 0 {
			k, reply, ok := w.agentStep(data)
			if !ok {
				return
			}
			w.countHeld(data[:k])
			data = data[k:]
			tag := pc.tag
			if k == 0 {
				tag = ag.lastTag
			} else {
				ag.lastTag = pc.tag
			}
			if reply != nil {
				ag.held = 0
				if w.emitReply(reply, tag) {
					return // restarted mid-reply
				}
			}
			if k == 0 && reply == nil {
				break
			}
		}
	}
	if restart {
		w.agentDown(down, "restart mid-read, "+itoa(int64(n-cut))+" bytes of the read lost")
		return
	}
	if ag.inLen > 0 {
		ag.busy, ag.readyAt = true, w.now+agentProc
	}
}

// agentStep runs the agent on p and turns a panic into a violation that
// ends the run.
func (w *world) agentStep(p []byte) (n int, reply []byte, ok bool) {
	defer func() {
		if r := recover(); r != nil {
			w.violate(InvAgentPanic, fmt.Sprintf("the agent panicked on input %x: %v", p[:min(len(p), 64)], r))
			w.viol[len(w.viol)-1].Detail = string(debug.Stack())
			w.stop, ok = true, false
		}
	}()
	n, reply = w.agent.a.Step(p)
	return n, reply, true
}

// countHeld tracks the input the agent holds without answering: a
// partial message cannot hold more token text than the non-blank bytes
// consumed since the last event, and qemu-ga's limits cap that text.
func (w *world) countHeld(p []byte) {
	ag := &w.agent
	for _, c := range p {
		if c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			ag.held++
		}
	}
	if ag.held > ag.maxHeld && !ag.memBad {
		ag.memBad = true
		w.violate(InvAgentMemory, fmt.Sprintf("the agent holds %d bytes of input without an event, beyond its limit of %d", ag.held, ag.maxHeld))
	}
}

// emitReply checks one reply and sends it. It reports whether a restart
// fault struck while the reply was being written.
func (w *world) emitReply(reply []byte, tag int32) bool {
	w.tr.add(w.now, "agent", "reply", reply, "")
	if msg := w.chk.validateReply(reply); msg != "" {
		w.violate(InvAgentReply, fmt.Sprintf("malformed reply %q: %s", clip(reply, 120), msg))
	}
	c := NewChunk(reply, tag)
	w.opp = Opportunity{Site: SiteAgentReply, Chunk: c}
	w.offer(&w.opp)
	restart, cut, down := w.opp.Action == ActRestart, w.opp.Cut, w.opp.Down
	if restart {
		c.Cut(cut, c.Len())
	}
	w.send(&w.a2h, c, SiteA2H, 0)
	if restart {
		w.agentDown(down, "restart mid-reply after "+itoa(int64(cut))+" bytes")
	}
	return restart
}

// agentDown stops the agent for d: what it had read and not processed is
// lost, its state is reset, and the host's bytes wait in the channel.
func (w *world) agentDown(d time.Duration, why string) {
	ag := &w.agent
	lost := ag.inLen
	ag.in, ag.inLen, ag.busy, ag.held, ag.lastTag = nil, 0, false, 0, TagNone
	ag.a.Reset()
	up := w.now + d
	if !ag.down || up > ag.upAt {
		ag.upAt = up
	}
	ag.down = true
	w.h2a.hold = max(w.h2a.hold, ag.upAt)
	w.tm.add(timer{at: ag.upAt, kind: timerAgentUp})
	w.tr.add(w.now, "agent", "down", nil, why+"; "+itoa(int64(lost))+" unread bytes lost; back in "+fmtDur(ag.upAt-w.now))
}

// clip returns at most n bytes of b.
func clip(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}
