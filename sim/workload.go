package sim

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/qgafuzz/qgafuzz/qga"
	"github.com/qgafuzz/qgafuzz/qjson"
)

// This file is the host's workload: a random mix of calls with deadlines,
// each of which has a reply that identifies it (a unique sync id, a unique
// bad command or argument name), so that a stale reply returned as fresh
// is detectable.

// Op kinds.
const (
	OpSync          = "sync"           // guest-sync with a unique id: returns that id
	OpSyncDelimited = "sync-delimited" // guest-sync-delimited as a request: 0xFF-prefixed reply
	OpPing          = "ping"           // guest-ping: returns {}
	OpInfo          = "info"           // guest-info: returns the command list (~3 KB)
	OpBadCommand    = "bad-command"    // an unknown command with a unique name: CommandNotFound
	OpBadArgument   = "bad-argument"   // guest-sync with a unique unexpected argument
	OpBadPing       = "bad-ping"       // guest-ping with a unique unexpected argument
)

var opWeights = []struct {
	kind   string
	weight int
}{
	{OpSync, 30}, {OpPing, 18}, {OpSyncDelimited, 8}, {OpInfo, 4},
	{OpBadCommand, 10}, {OpBadArgument, 10}, {OpBadPing, 10},
}

// Deadlines and pauses between calls, in virtual time.
var (
	deadlines = []time.Duration{20 * time.Millisecond, 50 * time.Millisecond, 200 * time.Millisecond,
		time.Second, 3 * time.Second}
	thinks = []time.Duration{0, 100 * time.Microsecond, 5 * time.Millisecond, 100 * time.Millisecond}
)

// Op is one call of the workload.
type Op struct {
	Kind     string        `json:"kind"`
	N        int64         `json:"n"`           // the call's unique number (sync id, name suffix)
	Deadline time.Duration `json:"deadline_ns"` // from the start of the call
	Think    time.Duration `json:"think_ns"`    // pause before the call
}

// GenOps returns the workload of seed: steps calls (none if steps <= 0).
func GenOps(seed uint64, steps int) []Op {
	r := newStream(seed, purposeWorkload, 0)
	total := 0
	for _, o := range opWeights {
		total += o.weight
	}
	ops := make([]Op, max(steps, 0))
	for i := range ops {
		k := r.IntN(total)
		kind := ""
		for _, o := range opWeights {
			if k < o.weight {
				kind = o.kind
				break
			}
			k -= o.weight
		}
		ops[i] = Op{Kind: kind, N: int64(r.Uint64() >> 1),
			Deadline: deadlines[r.IntN(len(deadlines))], Think: thinks[r.IntN(len(thinks))]}
	}
	return ops
}

// request returns the command and arguments of op.
func (op Op) request() (string, any) {
	suffix := strconv.FormatInt(op.N%1000000000, 10)
	id := qjson.Member{Key: "id", Value: qjson.IntValue(op.N)}
	switch op.Kind {
	case OpSync:
		return qga.CmdSync, qjson.ObjectValue(id)
	case OpSyncDelimited:
		return qga.CmdSyncDelimited, qjson.ObjectValue(id)
	case OpInfo:
		return qga.CmdInfo, nil
	case OpBadCommand:
		return "guest-nope-" + suffix, nil
	case OpBadArgument:
		return qga.CmdSync, qjson.ObjectValue(id, qjson.Member{Key: "x" + suffix, Value: qjson.IntValue(1)})
	case OpBadPing:
		return qga.CmdPing, qjson.ObjectValue(qjson.Member{Key: "p" + suffix, Value: qjson.BoolValue(true)})
	}
	return qga.CmdPing, nil
}

func (op Op) describe() string { return describeRequest(op.request()) }

// describeRequest is Op.describe for a request already made.
func describeRequest(cmd string, args any) string {
	if v, ok := args.(qjson.Value); ok {
		return cmd + " " + v.String()
	}
	return cmd
}

// callRec is one call made: the number of host writes made by its end.
// A call's writes are the tags after the previous call's count up to its
// own, strays aside (request, writeCall), so that no record is kept per
// write. Its op is not kept either: a workload call's is in the workload
// (call k is step k), and the quiet phase's few are kept apart, so that a
// run's records cost 4 bytes a call.
type callRec struct {
	writes int32
}

// request returns the tag of call k's request (its last write), 0 if it
// wrote none.
func (w *world) request(k int32) int32 {
	n, prev := w.calls[k-1].writes, int32(0)
	if k > 1 {
		prev = w.calls[k-2].writes
	}
	if n > prev && !slices.Contains(w.strayWrites, n) {
		return n
	}
	return 0
}

// writeCall returns the call that made host write tag, 0 if none did (a
// write between calls); tag is one of the writes made so far.
func (w *world) writeCall(tag int32) int32 {
	if slices.Contains(w.strayWrites, tag) {
		return 0
	}
	// The counts only grow: a call's record starts at the count before it.
	return int32(sort.Search(len(w.calls), func(i int) bool { return w.calls[i].writes >= tag })) + 1
}

// callOp returns the op of call k.
func (w *world) callOp(k int32) Op {
	if n := int32(len(w.cfg.ops)); k > n {
		return w.quietOps[k-n-1]
	}
	return w.cfg.ops[k-1]
}

// Liveness: once faults stop and their effects have passed, the client
// must succeed within livenessCalls calls of livenessDeadline each.
const (
	livenessCalls    = 5
	livenessDeadline = 2 * time.Second
)

// doCall runs one call of the workload through the session's client and
// checks what it returned. It reports whether the call succeeded.
func (w *world) doCall(op Op) bool {
	w.calls = append(w.calls, callRec{writes: w.writes})
	k := int32(len(w.calls))
	if k > int32(len(w.cfg.ops)) {
		w.quietOps = append(w.quietOps, op)
	}
	w.chk.startCall()
	w.call, w.callDeadline = k, w.now+op.Deadline
	cmd, args := op.request()
	w.tr.add(w.now, "host", "call", nil, "#"+itoa(int64(k))+" "+describeRequest(cmd, args)+" deadline "+fmtDur(op.Deadline))
	var raw []byte
	ctx := callCtx{Context: context.Background(), deadline: Epoch.Add(w.callDeadline)}
	err := w.host.client.Execute(ctx, cmd, args, &raw)
	w.endStrike(k)
	w.call, w.callDeadline = 0, 0
	w.calls[k-1].writes = w.writes // its last write, if any, is its request
	w.stats.count(err)
	if err == nil {
		w.tr.add(w.now, "host", "result", nil, "#"+itoa(int64(k))+" ok "+string(clip(raw, 200)))
	} else {
		w.tr.add(w.now, "host", "result", nil, "#"+itoa(int64(k))+" "+err.Error())
	}
	w.call = k // violations found now belong to this call
	w.checkCall(k, raw, err)
	w.call = 0
	return err == nil
}

// callCtx is a call's context: a deadline in virtual time, and no more.
// It is never cancelled and its deadline never passes in real time, as
// with context.WithDeadline, which also armed a real timer (for the year
// 2100) and made a channel on every call.
type callCtx struct {
	context.Context // Background: no Done channel, no error, no values
	deadline        time.Time
}

func (c callCtx) Deadline() (time.Time, bool) { return c.deadline, true }

// quietPhase stops the faults, lets their effects pass, and checks that
// the client recovers.
func (w *world) quietPhase() {
	w.quiet = true
	w.step = len(w.cfg.ops) + 1
	for _, tm := range w.tm.cancel(timerAgentDown, timerHostCrash) {
		w.noEffect(tm, "the faults stopped first")
	}
	w.runUntil(nil, w.drainTime())
	w.tr.add(w.now, "host", "quiet", nil, "faults stopped and drained")
	start := w.now
	r := newStream(w.cfg.seed, purposeQuiet, 0)
	for i := 1; i <= livenessCalls && !w.stop; i++ {
		w.settleHost()
		op := Op{Kind: OpSync, N: int64(r.Uint64() >> 1), Deadline: livenessDeadline}
		if i%2 == 0 {
			op.Kind = OpPing
		}
		if w.doCall(op) {
			w.stats.LivenessCalls, w.stats.LivenessTime = i, w.now-start
			return
		}
	}
	if !w.stop {
		w.violate(InvLiveness, fmt.Sprintf("no call succeeded in %d calls (%s) after the faults stopped and drained",
			livenessCalls, fmtDur(w.now-start)))
	}
}

// Stats count what happened in a run.
type Stats struct {
	Calls         int           `json:"calls"`
	OK            int           `json:"ok"`
	AgentErrors   int           `json:"agent_errors"`
	Timeouts      int           `json:"timeouts"`
	Protocol      int           `json:"protocol_errors"`
	Closed        int           `json:"closed"`
	Sessions      int           `json:"sessions"`
	LivenessCalls int           `json:"liveness_calls"`
	LivenessTime  time.Duration `json:"liveness_ns"`
	Virtual       time.Duration `json:"virtual_ns"`
}

func (s *Stats) count(err error) {
	s.Calls++
	var ae *qga.AgentError
	switch {
	case err == nil:
		s.OK++
	case errors.As(err, &ae):
		s.AgentErrors++
	case errors.Is(err, qga.ErrTimeout):
		s.Timeouts++
	case errors.Is(err, qga.ErrClosed):
		s.Closed++
	default:
		s.Protocol++
	}
}
