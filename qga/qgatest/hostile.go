package qgatest

import (
	"bytes"
	"strconv"
	"time"

	"github.com/qgafuzz/qgafuzz/qga"
	"github.com/qgafuzz/qgafuzz/qjson"
)

// This file is the hostile agent's core: a deterministic transducer from the
// bytes a client sends to a script of timed outputs. It does no I/O and
// reads no clock, so a simulator can play the script in virtual time;
// ServeConn (hostile_serve.go) plays it on a real socket.

// Output is one step of what a HostileAgent sends: wait Delay, write Data,
// then FillLen copies of Fill (generated while writing, never allocated),
// then close the connection if Hangup.
type Output struct {
	Delay   time.Duration
	Data    []byte
	Fill    byte
	FillLen int64
	Hangup  bool
}

// Len returns the number of bytes the output writes.
func (o Output) Len() int64 { return int64(len(o.Data)) + o.FillLen }

// HostileAgent is the reference agent with one misbehaviour. It keeps
// parser state across Feed calls and connections, like qemu-ga. It is not
// safe for concurrent use; ServeConn feeds it from one goroutine.
type HostileAgent struct {
	mode   HostileMode
	cfg    HostileConfig
	agent  *qga.Agent
	dec    *qjson.Decoder
	fired  bool // a one-shot misbehaviour has happened
	silent bool
	out    []Output

	// Serving state (hostile_serve.go).
	srv hostileServer
}

// NewHostileAgent returns an agent that misbehaves as mode says.
func NewHostileAgent(mode HostileMode, cfg HostileConfig) *HostileAgent {
	cfg.setDefaults()
	return &HostileAgent{
		mode:  mode,
		cfg:   cfg,
		agent: qga.NewAgent(cfg.Agent),
		dec:   qjson.NewDecoder(),
		srv:   newHostileServer(),
	}
}

// Mode returns the agent's misbehaviour.
func (h *HostileAgent) Mode() HostileMode { return h.mode }

// Connect returns what a newly connected client finds waiting for it.
func (h *HostileAgent) Connect() []Output {
	switch h.mode {
	case HostileStaleReplies:
		return []Output{{Data: staleReplies}}
	case HostileStaleDelimited:
		return []Output{{Data: staleDelimited}}
	}
	return nil
}

// Feed consumes bytes from the client and returns what the agent sends in
// response, in order. The slice is the caller's.
func (h *HostileAgent) Feed(p []byte) []Output {
	h.out = nil
	for len(p) > 0 {
		n, reply := h.agent.Step(p)
		p = p[n:]
		if reply != nil {
			h.respond(bytes.Clone(reply))
		}
	}
	return h.out
}

func (h *HostileAgent) emit(o Output) { h.out = append(h.out, o) }

func (h *HostileAgent) send(b []byte) { h.emit(Output{Data: b}) }

// replyKind classifies a correct reply so that modes can target replies to
// requests and leave the protocol's own traffic alone.
type replyKind uint8

const (
	kindOther   replyKind = iota // an error without id: the answer to junk or to a 0xFF
	kindSync                     // a guest-sync(-delimited) reply
	kindRequest                  // the reply to a request
)

// classify parses a reply (which the reference agent produced, so it is
// valid) and says what it answers.
func (h *HostileAgent) classify(reply []byte) (replyKind, qjson.Value) {
	body := bytes.TrimPrefix(reply, []byte{qga.Delimiter})
	h.dec.Reset()
	var v qjson.Value
	if _, ok := h.dec.Feed(body); ok && h.dec.Event().Err == nil {
		v = h.dec.Event().Value
	}
	_, hasID := v.Get("id")
	r, hasRet := v.Get("return")
	_, retInt := r.Int()
	_, hasErr := v.Get("error")
	switch {
	case len(body) < len(reply) && !hasID:
		return kindSync, v
	case !hasID && hasRet && retInt && v.Len() == 1:
		return kindSync, v // guest-sync's {"return": id}
	case !hasID && hasErr:
		return kindOther, v
	}
	return kindRequest, v
}

// respond applies the mode to one correct reply.
func (h *HostileAgent) respond(reply []byte) {
	if h.silent || h.mode == HostileSilence {
		return
	}
	kind, v := h.classify(reply)
	first := kind == kindRequest && !h.fired
	half := reply[:len(reply)/2]
	switch h.mode {
	case HostileSplitBytes:
		for i := range reply {
			h.send(reply[i : i+1])
		}
		return
	case HostileSlow:
		for i := range reply {
			h.emit(Output{Delay: h.cfg.Pace, Data: reply[i : i+1]})
		}
		return
	case HostileDuplicate:
		h.send(reply)
		h.send(reply)
		return
	case HostileWrongID, HostileStringID:
		h.misnumber(reply, kind, v)
		return
	}
	if !first {
		h.send(reply)
		return
	}
	h.fired = true
	switch h.mode {
	case HostileHalfReplySilence:
		h.send(half)
		h.silent = true
	case HostileRestartMidReply:
		h.send(half)
		h.agent.Reset()
	case HostileEOFMidReply:
		h.emit(Output{Data: half, Hangup: true})
	case HostileFlood:
		h.emit(Output{Data: []byte(`{"return": "`), Fill: 'A', FillLen: h.cfg.FloodSize})
		h.send([]byte("\"}\n"))
	case HostileDeepNesting:
		d := int64(h.cfg.Depth)
		h.emit(Output{Data: []byte(`{"return": `), Fill: '[', FillLen: d})
		h.emit(Output{Fill: ']', FillLen: d})
		h.send([]byte("}\n"))
	default:
		h.send(reply)
	}
}

// misnumber implements HostileWrongID and HostileStringID: a sync reply is
// preceded by one for a wrong (or string) id, and a request's echoed id is
// replaced.
func (h *HostileAgent) misnumber(reply []byte, kind replyKind, v qjson.Value) {
	wrong := func(n int64) qjson.Value {
		if h.mode == HostileStringID {
			return qjson.StringValue(strconv.FormatInt(n, 10))
		}
		return qjson.IntValue(n ^ 1)
	}
	prefix := reply[:len(reply)-len(bytes.TrimPrefix(reply, []byte{qga.Delimiter}))]
	switch kind {
	case kindSync:
		r, _ := v.Get("return")
		n, _ := r.Int()
		h.send(appendLine(prefix, replaceMember(v, "return", wrong(n))))
		h.send(reply)
	case kindRequest:
		id, _ := v.Get("id")
		n, ok := id.Int()
		if !ok {
			h.send(reply)
			return
		}
		h.send(appendLine(prefix, replaceMember(v, "id", wrong(n))))
	default:
		h.send(reply)
	}
}

// replaceMember returns a copy of object v with member key set to val.
func replaceMember(v qjson.Value, key string, val qjson.Value) qjson.Value {
	ms := append([]qjson.Member(nil), v.Members()...)
	for i := range ms {
		if ms[i].Key == key {
			ms[i].Value = val
		}
	}
	return qjson.ObjectValue(ms...)
}

// appendLine serialises v as qemu-ga would, after prefix, with a newline.
func appendLine(prefix []byte, v qjson.Value) []byte {
	out := append(bytes.Clone(prefix), qjson.AppendValue(nil, v)...)
	return append(out, '\n')
}
