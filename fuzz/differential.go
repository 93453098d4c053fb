package fuzz

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/qgafuzz/qgafuzz/qga"
	"github.com/qgafuzz/qgafuzz/qga/qgatest"
	"github.com/qgafuzz/qgafuzz/qjson"
)

// The differential target: request bytes, split and with reconnects as the
// input says, go to the reference agent and to an agent under test; the
// replies must match byte for byte (guest-info by structure, since the
// version and the command list's flags are a property of the installation).
// In process, the agent under test is the reference agent served through
// qga.Server (the socket code path), or, when QGAFUZZ_PLANT_BUG names a
// planted bug, a reference agent built with that bug. Agents behind sockets
// are compared by the differential driver (Differ), which uses the same
// comparison.

func init() {
	register(Target{Name: "differential", Doc: differentialDoc, Fn: fuzzDifferential})
}

const differentialDoc = "reference agent vs agent under test on split/reconnecting request streams: byte-identical replies"

// DifferentialTarget returns the differential target with bug planted in
// its agent under test (NoBug: the reference agent behind qga.Server),
// whatever $QGAFUZZ_PLANT_BUG says. A replay in process uses it rather
// than setting the variable, which the registered target reads once and
// which would stay set for what the process does next.
func DifferentialTarget(bug qga.Bug) Target {
	return Target{Name: "differential", Doc: differentialDoc, Fn: func(data []byte) error { return differential(data, bug) }}
}

// PlantBugEnv names the environment variable that selects the in-process
// agent under test of the differential target: a planted bug's name (see
// qga.Bugs), or empty for the reference agent behind qga.Server.
const PlantBugEnv = "QGAFUZZ_PLANT_BUG"

var (
	underTestOnce sync.Once
	underTestBug  qga.Bug
)

// plantedBug returns the bug selected by $QGAFUZZ_PLANT_BUG, read once.
func plantedBug() qga.Bug {
	underTestOnce.Do(func() {
		if name := os.Getenv(PlantBugEnv); name != "" {
			b, ok := qga.ParseBug(name)
			if !ok {
				panic(fmt.Sprintf("fuzz: %s=%q is not a planted bug (want one of %v)", PlantBugEnv, name, qga.Bugs()))
			}
			underTestBug = b
		}
	})
	return underTestBug
}

// diffBufs are the two reply streams of a run of the differential target
// (see scratch): they were built reply by reply, then joined, run after
// run.
type diffBufs struct{ want, got []byte }

var diffScratch scratch[diffBufs]

func fuzzDifferential(data []byte) error { return differential(data, plantedBug()) }

func differential(data []byte, bug qga.Bug) error {
	st := Chunks(data)
	st.Ops = append(st.Ops, qgatest.Op{Data: qgatest.Fence})
	bufs := diffScratch.get()
	defer func() {
		if max(len(bufs.want), len(bufs.got)) <= scratchKept {
			diffScratch.put(bufs)
		}
	}()
	want := referenceReplies(bufs.want[:0], qga.AgentConfig{}, st)
	bufs.want = want
	var got []byte
	if bug != qga.NoBug {
		got = referenceReplies(bufs.got[:0], qga.AgentConfig{Bug: bug}, st)
	} else {
		got = serveStream(bufs.got[:0], qga.NewAgent(qga.AgentConfig{}), st)
	}
	bufs.got = got
	if d := CompareReplies(want, got); d != "" {
		// The property names the kind of the first difference and its
		// request, so that the signature tells one agent bug from another.
		return violation("differential", "replies-match: "+DivergenceClass(st, want, got), "%s\ninput ops (hex): %s\nreference: %q\nagent:     %q",
			d, st.String(), clip(want), clip(got))
	}
	return nil
}

// referenceReplies appends to dst the replies of qgatest.ReferenceReplies,
// joined: a reference agent fed each op as one read.
func referenceReplies(dst []byte, cfg qga.AgentConfig, st qgatest.Stream) []byte {
	a := qga.NewAgent(cfg)
	for _, op := range st.Ops {
		dst = a.Feed(dst, op.Data)
	}
	return dst
}

// serveStream plays st through qga.Server.ServeConn, one write per read and
// a new connection at each reconnect, and appends to dst what the agent
// wrote.
func serveStream(dst []byte, a *qga.Agent, st qgatest.Stream) []byte {
	srv := &qga.Server{Agent: a, SurviveReset: true}
	c := &scriptConn{ops: st.Ops, out: dst}
	for c.more() {
		c.eof = false
		_ = srv.ServeConn(c)
	}
	return c.out
}

// scriptConn is an in-memory connection that delivers one op per Read and
// reports EOF at a reconnect.
type scriptConn struct {
	ops []qgatest.Op
	cur []byte
	eof bool
	out []byte
}

func (c *scriptConn) more() bool { return len(c.ops) > 0 || len(c.cur) > 0 }

func (c *scriptConn) Read(p []byte) (int, error) {
	for len(c.cur) == 0 {
		if len(c.ops) == 0 || c.eof {
			return 0, io.EOF
		}
		op := c.ops[0]
		c.ops = c.ops[1:]
		if op.Reconnect {
			c.eof = true
			return 0, io.EOF
		}
		c.cur = op.Data
	}
	n := copy(p, c.cur)
	c.cur = c.cur[n:]
	return n, nil
}

func (c *scriptConn) Write(p []byte) (int, error) {
	c.out = append(c.out, p...)
	return len(p), nil
}

// CompareReplies compares the reply stream of an agent under test with the
// reference's. It returns "" when they match: byte for byte, except that
// guest-info replies are compared by structure with the version string
// ignored. Otherwise it describes the first differing reply line.
func CompareReplies(ref, got []byte) string {
	if bytes.Equal(ref, got) {
		return ""
	}
	rl, gl := splitLines(ref), splitLines(got)
	for i := 0; i < max(len(rl), len(gl)); i++ {
		var r, g []byte
		if i < len(rl) {
			r = rl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if bytes.Equal(r, g) || sameInfo(r, g) {
			continue
		}
		switch {
		case r == nil:
			return fmt.Sprintf("reply line %d: the agent sent an extra line %q", i+1, clip(g))
		case g == nil:
			return fmt.Sprintf("reply line %d: the agent did not send %q", i+1, clip(r))
		}
		return fmt.Sprintf("reply line %d differs:\nreference %q\nagent     %q", i+1, clip(r), clip(g))
	}
	return ""
}

// splitLines splits a reply stream after each '\n'; a last line without
// '\n' is kept as it is (it is a divergence in itself).
func splitLines(b []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			out = append(out, b)
			break
		}
		out = append(out, b[:i+1])
		b = b[i+1:]
	}
	return out
}

// sameInfo reports whether two reply lines are guest-info replies that are
// equal but for the version.
func sameInfo(a, b []byte) bool {
	if !bytes.Contains(a, []byte(`"supported_commands"`)) || !bytes.Contains(b, []byte(`"supported_commands"`)) ||
		len(a) == 0 || len(b) == 0 || a[len(a)-1] != '\n' || b[len(b)-1] != '\n' {
		return false
	}
	va, err1 := parseOne(a[:len(a)-1])
	vb, err2 := parseOne(b[:len(b)-1])
	if err1 != nil || err2 != nil {
		return false
	}
	return qjson.Equal(withoutVersion(va), withoutVersion(vb))
}

// withoutVersion blanks return.version of a guest-info reply.
func withoutVersion(v qjson.Value) qjson.Value {
	ms := append([]qjson.Member(nil), v.Members()...)
	for i, m := range ms {
		if m.Key != "return" || m.Value.Kind() != qjson.Object {
			continue
		}
		inner := append([]qjson.Member(nil), m.Value.Members()...)
		for j := range inner {
			if inner[j].Key == "version" {
				inner[j].Value = qjson.StringValue("")
			}
		}
		ms[i].Value = qjson.ObjectValue(inner...)
	}
	return qjson.ObjectValue(ms...)
}

// Divergence is one difference found by differential fuzzing.
type Divergence struct {
	// Input is the stream that was sent (writes and reconnects).
	Input qgatest.Stream
	// Reference and Agent are the two reply streams.
	Reference, Agent []byte
	// Detail describes the first difference (or the hang, or the death of
	// the agent).
	Detail string
	// AgentDied says the agent's process (a CommandEndpoint) died.
	AgentDied bool
	// AgentHung says the agent, still running, neither answered nor read
	// the stream within the hang timeout.
	AgentHung bool
}

// Report renders the divergence: the input in hex (each write, and the
// reconnects), its encoding as a fuzz input, and both replies.
func (d *Divergence) Report() string {
	var b strings.Builder
	fmt.Fprintf(&b, "divergence: %s\n", d.Detail)
	fmt.Fprintf(&b, "input writes (hex, | between writes): %s\n", d.Input.String())
	fmt.Fprintf(&b, "input as a fuzz input (hex): %s\n", hex.EncodeToString(Encode(d.Input)))
	fmt.Fprintf(&b, "reference replies (%d bytes): %q\n", len(d.Reference), clip(d.Reference))
	fmt.Fprintf(&b, "agent replies     (%d bytes): %q\n", len(d.Agent), clip(d.Agent))
	return b.String()
}
