package qga_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/qgafuzz/qgafuzz/qga"
	"github.com/qgafuzz/qgafuzz/qga/qgatest"
	"github.com/qgafuzz/qgafuzz/qjson"
)

// A model-based test of the client: rapid interleaves calls with everything
// that happens to a real channel (stale bytes, half-sent requests from
// earlier clients, replies delayed past their deadline or lost, agent
// restarts, hang-ups and reconnects, reads split at any byte) and checks,
// on the real client over an in-memory channel in virtual time:
//
//   - safety: every value (or agent error) a call returns is the reply to
//     that call: calls carry unique guest-sync ids, and the expected result
//     of every command is known;
//   - liveness: a call on a channel with no fault pending succeeds, once the
//     client has resynchronised (it does so whenever it is not in step).

// channelModel is the state of one rapid run.
type channelModel struct {
	clock  *qgatest.VirtualClock
	agent  *qga.Agent
	tr     *qgatest.LoopTransport
	c      *qga.Client
	live   bool   // check liveness (the strategy promises it)
	hold   bool   // the agent's output is held back ...
	held   []byte // ... and arrives on "release", late, possibly after a resync
	drop   bool   // the agent's output for the next write is lost
	split  int    // bytes per client read (0: as much as queued)
	dirty  bool   // faults injected since the client was last known in step
	nextID int64
	info   qjson.Value
	used   []int64 // ids of earlier calls, for stale replies that carry them
}

func newChannelModel(t *rapid.T, resync qga.Resync, info qjson.Value) *channelModel {
	m := &channelModel{
		clock:  qgatest.NewVirtualClock(),
		agent:  qga.NewAgent(qga.AgentConfig{}),
		live:   resync == qga.ResyncDelimited,
		nextID: 1,
		info:   info,
	}
	m.tr = m.newTransport()
	seed := rapid.Uint64().Draw(t, "seed")
	m.c = qga.NewClient(m.tr, qga.ClientOptions{
		Timeout:   time.Second,
		Resync:    resync,
		Reconnect: true,
		Redial: func(context.Context) (qga.Transport, error) {
			m.tr = m.newTransport() // bytes queued on the old connection are gone
			return m.tr, nil
		},
		Now:  m.clock.Now,
		Rand: rand.NewPCG(seed, seed^0x9e3779b97f4a7c15),
	})
	return m
}

// newTransport connects to the agent through the fault injectors.
func (m *channelModel) newTransport() *qgatest.LoopTransport {
	tr := qgatest.NewLoopTransport(func(p []byte) []byte {
		out := m.agent.Feed(nil, p)
		switch {
		case m.drop:
			m.drop = false
			return nil
		case m.hold:
			m.held = append(m.held, out...)
			return nil
		}
		return out
	}, m.clock)
	tr.MaxRead = m.split
	return tr
}

// command is one call the model can make and its known result.
type command struct {
	name  string
	args  any
	want  qjson.Value
	class string // the expected agent error class, if any
	desc  string
}

func (m *channelModel) drawCommand(t *rapid.T) command {
	switch rapid.IntRange(0, 9).Draw(t, "command") {
	case 0:
		return command{name: qga.CmdPing, want: qjson.ObjectValue()}
	case 1:
		return command{name: qga.CmdInfo, want: m.info}
	case 2:
		return command{name: "nope", class: "CommandNotFound", desc: "The command nope has not been found"}
	case 3:
		return command{name: "guest-get-time", class: "CommandNotFound", desc: "Command guest-get-time has been disabled"}
	case 4:
		id := m.nextID
		m.nextID++
		return command{name: qga.CmdSyncDelimited, args: syncArgs(id), want: qjson.IntValue(id)}
	}
	id := m.nextID
	m.nextID++
	return command{name: qga.CmdSync, args: syncArgs(id), want: qjson.IntValue(id)}
}

func (m *channelModel) call(t *rapid.T) {
	cmd := m.drawCommand(t)
	clean := !m.hold && !m.drop && (!m.c.Synced() || !m.dirty)
	var v qjson.Value
	err := m.c.Execute(context.Background(), cmd.name, cmd.args, &v)
	if n, ok := cmd.want.Int(); ok {
		m.used = append(m.used, n)
	}
	var ae *qga.AgentError
	switch {
	case err == nil:
		if cmd.class != "" || !qjson.Equal(v, cmd.want) {
			t.Fatalf("%s %v returned %.80s: the reply to another request", cmd.name, cmd.args, v)
		}
		m.dirty = false
	case errors.As(err, &ae):
		if ae.Class != cmd.class || ae.Desc != cmd.desc {
			t.Fatalf("%s %v failed with %v: the reply to another request", cmd.name, cmd.args, err)
		}
		m.dirty = false
	case errors.Is(err, qga.ErrTimeout), errors.Is(err, qga.ErrClosed),
		errors.Is(err, qga.ErrProtocol), errors.Is(err, qga.ErrReplyTooLarge):
		if clean && m.live {
			t.Fatalf("%s failed on a channel with no fault pending: %v", cmd.name, err)
		}
	default:
		t.Fatalf("%s failed with an untyped error: %v", cmd.name, err)
	}
}

// staleData is what earlier sessions can leave in the channel.
func (m *channelModel) staleData(t *rapid.T) []byte {
	old := int64(rapid.IntRange(0, 1<<20).Draw(t, "old"))
	if len(m.used) > 0 && rapid.Bool().Draw(t, "reuse") {
		old = rapid.SampledFrom(m.used).Draw(t, "used")
	}
	forms := []string{
		`{"return": {}}` + "\n",
		fmt.Sprintf(`{"return": %d}`+"\n", old),
		fmt.Sprintf("\xff{\"return\": %d}\n", old),
		fmt.Sprintf(`{"return": %d, "id": %d}`+"\n", old, old),
		fmt.Sprintf(`{"id": %d, "error": {"class": "GenericError", "desc": "x"}}`+"\n", old),
		`{"error": {"class": "GenericError", "desc": "JSON parse error, expecting value"}}` + "\n",
		`{"return": {"version": "7.2`,
		"\xff{\"ret",
		"\xff\xff\n",
		fmt.Sprintf("{\"re\xffturn\": %d}\n", old),
	}
	return []byte(rapid.SampledFrom(forms).Draw(t, "stale"))
}

func (m *channelModel) actions() map[string]func(*rapid.T) {
	return map[string]func(*rapid.T){
		"call": m.call,
		"stale": func(t *rapid.T) {
			m.tr.Inject(m.staleData(t))
			m.dirty = true
		},
		"half-request": func(t *rapid.T) {
			junk := rapid.SampledFrom([]string{
				`{"execute":"guest-ping",`, `{"execute":"gue`, `[[`, `"abc`, `{`, `{"execute":"guest-sync","arguments":{"id":`, `1`,
			}).Draw(t, "junk")
			m.tr.Inject(m.agent.Feed(nil, []byte(junk)))
			m.dirty = true
		},
		"hold":    func(*rapid.T) { m.hold = true },
		"resume":  func(*rapid.T) { m.hold = false }, // what was held stays in flight
		"drop":    func(*rapid.T) { m.drop = true },
		"restart": func(*rapid.T) { m.agent = qga.NewAgent(qga.AgentConfig{}); m.dirty = true },
		"hangup":  func(*rapid.T) { m.tr.Hangup(); m.dirty = true },
		"release": func(*rapid.T) {
			m.tr.Inject(m.held)
			m.hold, m.held, m.dirty = false, nil, true
		},
		"split": func(t *rapid.T) {
			m.split = rapid.SampledFrom([]int{0, 1, 2, 3, 7, 64}).Draw(t, "split")
			m.tr.MaxRead = m.split
		},
	}
}

func TestClientModel(t *testing.T) {
	info := referenceReturn(t, qga.CmdInfo)
	for _, r := range []qga.Resync{qga.ResyncDelimited, qga.ResyncFlushPlain} {
		t.Run(r.String(), func(t *testing.T) {
			rapid.Check(t, func(rt *rapid.T) {
				m := newChannelModel(rt, r, info)
				defer m.c.Close()
				rt.Repeat(m.actions())
			})
		})
	}
}

// TestClientDeterministic: with a virtual transport, a virtual clock and a
// seeded PRNG, the client's behaviour is reproducible bit for bit, which is
// what the simulator relies on.
func TestClientDeterministic(t *testing.T) {
	run := func() (wire []byte, results []string) {
		clock := qgatest.NewVirtualClock()
		agent := qga.NewAgent(qga.AgentConfig{})
		lost := 0
		tr := qgatest.NewLoopTransport(func(p []byte) []byte {
			wire = append(wire, p...)
			out := agent.Feed(nil, p)
			if lost++; lost == 3 {
				return nil // one reply lost: a timeout, then a resync
			}
			return out
		}, clock)
		tr.Inject([]byte("{\"return\": 1}\n\xff{\"ret"))
		c := qga.NewClient(tr, qga.ClientOptions{Now: clock.Now, Rand: rand.NewPCG(1, 2)})
		for i := range 6 {
			v, err := callValue(c, 0, qga.CmdSync, syncArgs(int64(i)))
			results = append(results, fmt.Sprintf("%s %v %v", v, err, clock.Now()))
		}
		c.Close()
		return wire, results
	}
	w1, r1 := run()
	w2, r2 := run()
	if string(w1) != string(w2) || fmt.Sprint(r1) != fmt.Sprint(r2) {
		t.Fatalf("two runs differ:\n%q\n%q\n%v\n%v", w1, w2, r1, r2)
	}
	t.Logf("%d bytes written; results %v", len(w1), r1)
}
