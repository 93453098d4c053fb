package fuzz

import (
	"bytes"
	"fmt"

	"github.com/qgafuzz/qgafuzz/qga"
	"github.com/qgafuzz/qgafuzz/qjson"
)

// The agent target: request bytes go to the reference agent, split at the
// input's split points. An independent decoder finds the events (complete
// values and errors) in the same bytes, and the agent must answer each
// with exactly one well-formed reply line, in order: printable ASCII ending
// in '\n', a single JSON object with "return" or "error" (and the request's
// "id" echoed when it had one), prefixed with 0xFF exactly when it is the
// successful reply of guest-sync-delimited. The replies must not depend on
// how the input was split.

func init() {
	register(Target{
		Name: "agent",
		Doc:  "reference agent: one well-formed reply per value, each ending in \\n, 0xFF exactly for guest-sync-delimited",
		Fn:   fuzzAgent,
	})
}

// agentBufs are the reply streams of a run of the agent target (see
// scratch): building them reply by reply was a quarter of what the
// target allocated.
type agentBufs struct{ out, whole []byte }

var agentScratch scratch[agentBufs]

func fuzzAgent(data []byte) error {
	const name = "agent"
	all, cuts := joined(Chunks(data))
	chunks := splitAt(all, cuts)
	bufs := agentScratch.get()
	bufs.out, bufs.whole = bufs.out[:0], bufs.whole[:0]
	defer func() {
		if max(len(bufs.out), len(bufs.whole)) <= scratchKept {
			agentScratch.put(bufs)
		}
	}()

	for _, lim := range []qjson.Limits{qjson.DefaultLimits, smallLimits} {
		cfg := qga.AgentConfig{Limits: lim}
		out := bufs.out[:0]
		a := qga.NewAgent(cfg)
		for _, c := range chunks {
			out = a.Feed(out, c)
		}
		bufs.out = out
		if len(chunks) > 1 {
			whole := qga.NewAgent(cfg).Feed(bufs.whole[:0], all)
			bufs.whole = whole
			if !bytes.Equal(out, whole) {
				return violation(name, "chunking-independence", "limits %+v: split at %v gives %q, all at once %q",
					lim, cuts, clip(out), clip(whole))
			}
		}
		if err := checkReplies(out, all, lim); err != nil {
			return violation(name, err.property, "limits %+v: %s", lim, err.detail)
		}
	}
	// One byte per read, for short inputs: the agent's state between reads
	// (look-ahead, partial tokens) must not show in its replies.
	if len(all) <= 512 && len(chunks) < len(all) {
		a := qga.NewAgent(qga.AgentConfig{})
		one := bufs.out[:0]
		for i := range all {
			one = a.Feed(one, all[i:i+1])
		}
		bufs.out = one
		whole := qga.NewAgent(qga.AgentConfig{}).Feed(bufs.whole[:0], all)
		bufs.whole = whole
		if !bytes.Equal(one, whole) {
			return violation(name, "chunking-independence", "one byte per read gives %q, all at once %q", clip(one), clip(whole))
		}
	}
	return nil
}

type replyErr struct{ property, detail string }

// checkReplies matches the agent's output with the events an independent
// decoder finds in the input.
func checkReplies(out, in []byte, lim qjson.Limits) *replyErr {
	d := qjson.NewDecoder(qjson.WithLimits(lim))
	rest := out
	for i := 0; len(in) > 0; {
		n, ok := d.Feed(in)
		in = in[n:]
		if !ok {
			continue
		}
		ev := d.Event()
		if len(rest) == 0 {
			return &replyErr{"one-reply-per-event", fmt.Sprintf("no reply for event %d at offset %d (%s)", i, ev.Offset, eventText(ev))}
		}
		line, ff, after, err := nextReply(rest)
		if err != "" {
			return &replyErr{"well-formed", fmt.Sprintf("reply %d %q: %s", i, clip(rest), err)}
		}
		rest = after
		if err := checkReply(ev, line, ff); err != "" {
			return &replyErr{"reply-matches-request", fmt.Sprintf("reply %d %q to event at offset %d (%s): %s", i, line, ev.Offset, eventText(ev), err)}
		}
		i++
	}
	if len(rest) > 0 {
		return &replyErr{"one-reply-per-event", fmt.Sprintf("extra output after the last event's reply: %q", clip(rest))}
	}
	return nil
}

// nextReply cuts one reply line: an optional 0xFF, printable ASCII, '\n'.
func nextReply(b []byte) (line []byte, ff bool, rest []byte, problem string) {
	if b[0] == qga.Delimiter {
		ff, b = true, b[1:]
	}
	nl := bytes.IndexByte(b, '\n')
	if nl < 0 {
		return nil, ff, nil, "no terminating newline"
	}
	for _, c := range b[:nl] {
		if c < 0x20 || c > 0x7E {
			return nil, ff, nil, fmt.Sprintf("byte %#02x in a reply line (replies are printable ASCII)", c)
		}
	}
	return b[:nl], ff, b[nl+1:], ""
}

func eventText(ev qjson.Event) string {
	if ev.Err != nil {
		return "error " + ev.Err.Desc
	}
	return "value " + string(clip([]byte(ev.Value.String())))
}

// checkReply checks one reply against the event it answers.
func checkReply(ev qjson.Event, line []byte, ff bool) string {
	req := ev.Value
	reqID, hasID := qjson.Value{}, false
	isReq := ev.Err == nil && req.Kind() == qjson.Object
	if isReq {
		reqID, hasID = req.Get("id")
	}
	v, err := parseOne(line)
	if err != nil {
		if hasID && !reqID.Finite() {
			return "" // an echoed inf is not JSON, as in qemu-ga
		}
		return "reply is not one JSON value: " + err.Error()
	}
	if v.Kind() != qjson.Object {
		return "reply is not an object"
	}
	ret, isRet := v.Get("return")
	e, isErr := v.Get("error")
	id, replyHasID := v.Get("id")
	want := 1
	if replyHasID {
		want = 2
	}
	if isRet == isErr || v.Len() != want {
		return "reply needs exactly one of return and error, plus an optional id"
	}
	if isErr {
		class, ok1 := e.Get("class")
		desc, ok2 := e.Get("desc")
		if e.Len() != 2 || !ok1 || !ok2 || class.Kind() != qjson.String || desc.Kind() != qjson.String {
			return "error must be {class, desc} strings"
		}
		if ev.Err != nil {
			c, _ := class.Str()
			s, _ := desc.Str()
			if c != ev.Err.Class || !bytes.Equal(qjson.AppendString(nil, s), qjson.AppendString(nil, ev.Err.Desc)) {
				return fmt.Sprintf("want the parser's error %s %q", ev.Err.Class, ev.Err.Desc)
			}
		}
	}
	switch {
	case ev.Err != nil || !isReq:
		if !isErr || replyHasID {
			return "a parse error or non-object gets an error reply without id"
		}
	case hasID != replyHasID:
		return fmt.Sprintf("request id present %v, reply id present %v", hasID, replyHasID)
	case hasID && !qjson.Equal(id, reqID):
		return fmt.Sprintf("reply id %s is not the request's %s", id, reqID)
	}
	cmd := ""
	if isReq {
		x, _ := req.Get("execute")
		cmd, _ = x.Str()
	}
	if wantFF := isRet && cmd == qga.CmdSyncDelimited; ff != wantFF {
		return fmt.Sprintf("0xFF prefix %v, want %v", ff, wantFF)
	}
	if !isRet {
		return ""
	}
	args, _ := req.Get("arguments")
	switch cmd {
	case qga.CmdSync, qga.CmdSyncDelimited:
		a, _ := args.Get("id")
		if n, ok := a.Int(); !ok || !qjson.Equal(ret, qjson.IntValue(n)) {
			return fmt.Sprintf("%s returned %s for id %s", cmd, ret, a)
		}
	case qga.CmdPing:
		if ret.Kind() != qjson.Object || ret.Len() != 0 {
			return "guest-ping must return {}"
		}
	case qga.CmdInfo:
		if _, ok := ret.Get("supported_commands"); !ok {
			return "guest-info must return supported_commands"
		}
	default:
		return "only the four safe commands may succeed"
	}
	return ""
}

// parseOne parses b as exactly one value.
func parseOne(b []byte) (qjson.Value, error) {
	d := qjson.NewDecoder()
	in := append(bytes.Clone(b), ' ')
	n, ok := d.Feed(in)
	if !ok {
		return qjson.Value{}, fmt.Errorf("incomplete")
	}
	ev := d.Event()
	if ev.Err != nil {
		return qjson.Value{}, ev.Err
	}
	if len(bytes.TrimSpace(in[n:])) > 0 {
		return qjson.Value{}, fmt.Errorf("trailing data %q", in[n:])
	}
	return ev.Value, nil
}

// clip shortens b for messages.
func clip(b []byte) []byte {
	if len(b) > 300 {
		return append(bytes.Clone(b[:300]), "..."...)
	}
	return b
}
