package fuzz

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/qgafuzz/qgafuzz/qga"
	"github.com/qgafuzz/qgafuzz/qjson"
)

// The delimiter target: the input is the agent→host byte stream (see
// delimiter_transport.go for its control operations) that a careful
// qga.Client reads during a fixed sequence of Sync and Execute calls. The
// client must never return anything but the reply to its own request (a
// success must be the "return" of a line that echoes the request's id, a
// sync must have seen its own sync reply), must fail only with its typed
// errors, must return by its deadline (in virtual time), and must stay
// within its memory caps however long the lines and floods are.

func init() {
	register(Target{
		Name: "delimiter",
		Doc:  "qga.Client reading an arbitrary agent stream: only its own replies, typed errors, deadlines and memory caps hold",
		Fn:   fuzzDelimiter,
	})
}

// Client settings of the target: small caps so that the input can exceed
// them, and a timeout of a few virtual seconds.
const (
	delimTimeout    = 5 * time.Second
	delimMaxReply   = 1 << 10
	delimMaxDiscard = 256 << 10
	// delimMemBudget is the heap allocation one call may make on top of
	// 64 bytes per literal input byte (lines that get parsed): far below
	// what buffering a flood or an over-long line would take.
	delimMemBudget = 2 << 20
	maxHangups     = 8
)

// delimiterCalls is the call sequence; with the FlushPlain plan (input
// starting with 00 50 "P") the client uses ResyncFlushPlain.
var delimiterCalls = []string{"sync", qga.CmdPing, qga.CmdInfo, qga.CmdPing, "sync", qga.CmdPing}

const opPlan = 'P'

func fuzzDelimiter(data []byte) error {
	const name = "delimiter"
	pieces := decodeInput(data, delimiterOps+string(opPlan))
	resync := qga.ResyncDelimited
	if len(pieces) > 0 && pieces[0].Op == opPlan {
		resync = qga.ResyncFlushPlain
		pieces = pieces[1:]
	}
	literal := 0
	for _, p := range pieces {
		literal += len(p.Data)
	}
	s := newScript(pieces)
	defer s.release() // after c.Close, which may still read
	opts := qga.ClientOptions{
		Timeout:      delimTimeout,
		MaxReplySize: delimMaxReply,
		MaxDiscard:   delimMaxDiscard,
		Resync:       resync,
		Reconnect:    true,
		Now:          s.Now,
		Rand:         rand.NewPCG(0x9e3779b97f4a7c15, 1),
		DrainTimeout: time.Second,
	}
	opts.Redial = func(context.Context) (qga.Transport, error) {
		if s.hangups > maxHangups {
			return nil, errors.New("scripted agent: no more connections")
		}
		return &scriptTransport{s: s}, nil
	}
	c := qga.NewClient(&scriptTransport{s: s}, opts)
	defer c.Close()

	for i, call := range delimiterCalls {
		start, recFrom := s.now, len(s.rec)
		nsync, nreq := len(s.syncIDs), len(s.reqIDs)
		wall := time.Now()
		before, recAlloc := heapAllocs(), s.recAlloc
		var v qjson.Value
		var err error
		if call == "sync" {
			err = c.Sync(context.Background())
		} else {
			err = c.Execute(context.Background(), call, nil, &v)
		}
		// What rec took is not the client's (no branch: whether rec grew
		// in this call depends on the buffer reused, see scratch).
		used := heapAllocs() - before
		used -= min(s.recAlloc-recAlloc, used)
		// Described only for a violation.
		what := func() string { return fmt.Sprintf("call %d (%s, %v)", i, call, resync) }
		if d := s.now.Sub(start); d > delimTimeout {
			return violation(name, "deadline", "%s returned %v after the %v deadline (err %v)", what(), d, delimTimeout, err)
		}
		if d := time.Since(wall); d > 10*time.Second {
			return violation(name, "deadline", "%s took %v of real time", what(), d)
		}
		if budget := uint64(delimMemBudget + 64*literal); used > budget {
			return violation(name, "memory", "%s allocated %d bytes (budget %d, max reply %d, max discard %d)",
				what(), used, budget, delimMaxReply, delimMaxDiscard)
		}
		if err != nil && !typedClientError(err) {
			return violation(name, "typed-errors", "%s failed with an untyped error %T: %v", what(), err, err)
		}
		if s.recLost {
			continue // too much was delivered to check the content
		}
		// A line read in part during an earlier call counts from its start.
		got := s.rec[bytes.LastIndexByte(s.rec[:recFrom], '\n')+1:]
		if call == "sync" {
			if err == nil && !sawSyncReply(got, s.syncIDs[nsync:], resync == qga.ResyncDelimited) {
				return violation(name, "own-reply", "%s succeeded without its sync reply (ids %v) in %q",
					what(), s.syncIDs[nsync:], clip(got))
			}
			continue
		}
		if msg := checkOwnReply(got, s.reqIDs[nreq:], v, err); msg != "" {
			return violation(name, "own-reply", "%s: %s; stream during the call %q", what(), msg, clip(got))
		}
	}
	return nil
}

// typedClientError reports whether err is one of the errors the Client
// documents.
func typedClientError(err error) bool {
	var ae *qga.AgentError
	return errors.As(err, &ae) || errors.Is(err, qga.ErrTimeout) || errors.Is(err, qga.ErrClosed) ||
		errors.Is(err, qga.ErrProtocol) || errors.Is(err, qga.ErrReplyTooLarge)
}

// replyLines calls fn with every object that a line of b (ended by '\n')
// could hold as a reply: the part after the line's last 0xFF, and each
// suffix of the line that starts with '{' near its end (a client that drops
// a partial line when a call fails starts its next line later than the
// agent did, so a line's head may be junk it never parsed). ff tells
// whether the candidate follows a 0xFF of its line.
func replyLines(b []byte, fn func(v qjson.Value, ff bool)) {
	const (
		maxSuffixes = 64
		window      = 2 * delimMaxReply
	)
	for {
		nl := bytes.IndexByte(b, '\n')
		if nl < 0 {
			return
		}
		line := b[:nl]
		b = b[nl+1:]
		ffAt := bytes.LastIndexByte(line, qga.Delimiter)
		start := max(ffAt+1, len(line)-window)
		tries := 0
		for i := len(line) - 1; i >= start && tries < maxSuffixes; i-- {
			if line[i] != '{' {
				continue
			}
			tries++
			if v, err := parseOne(line[i:]); err == nil && v.Kind() == qjson.Object {
				fn(v, ffAt >= 0)
			}
		}
	}
}

// sawSyncReply reports whether b holds {"return": id} for one of the ids
// (after a 0xFF, when needFF).
func sawSyncReply(b []byte, ids []int64, needFF bool) bool {
	found := false
	replyLines(b, func(v qjson.Value, ff bool) {
		r, ok := v.Get("return")
		n, isInt := r.Int()
		if !ok || !isInt || v.Len() != 1 || (needFF && !ff) {
			return
		}
		for _, id := range ids {
			found = found || n == id
		}
	})
	return found
}

// checkOwnReply checks the outcome of an Execute against the lines that
// arrived during the call: a result or an agent error must come from a
// line that echoes one of the call's request ids.
func checkOwnReply(b []byte, ids []int64, v qjson.Value, err error) string {
	var ae *qga.AgentError
	isAgentErr := errors.As(err, &ae)
	if err != nil && !isAgentErr {
		return ""
	}
	matched := false
	replyLines(b, func(line qjson.Value, _ bool) {
		id, ok := line.Get("id")
		n, isInt := id.Int()
		if !ok || !isInt {
			return
		}
		own := false
		for _, x := range ids {
			own = own || x == n
		}
		if !own {
			return
		}
		if isAgentErr {
			e, _ := line.Get("error")
			class, _ := e.Get("class")
			desc, _ := e.Get("desc")
			cs, _ := class.Str()
			ds, _ := desc.Str()
			matched = matched || (cs == ae.Class && ds == ae.Desc)
			return
		}
		r, ok := line.Get("return")
		matched = matched || (ok && qjson.Equal(r, v))
	})
	if matched {
		return ""
	}
	if isAgentErr {
		return fmt.Sprintf("agent error %q is not from a line with the request's id %v", ae, ids)
	}
	return fmt.Sprintf("result %s is not the return of a line with the request's id %v", clip([]byte(v.String())), ids)
}
