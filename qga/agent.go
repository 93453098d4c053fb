package qga

import (
	"github.com/qgafuzz/qgafuzz/qjson"
)

// Delimiter is the byte that flushes qemu-ga's parser on input and prefixes
// the reply of guest-sync-delimited on output.
const Delimiter = 0xFF

// AgentConfig configures a reference Agent. The zero value is qemu-ga 7.2
// with every command but the four safe ones blocked.
type AgentConfig struct {
	// Version is reported by guest-info; empty means DefaultVersion.
	Version string
	// Commands is the command table in guest-info order; nil means
	// Commands72(). Commands other than guest-sync, guest-sync-delimited,
	// guest-ping and guest-info that are enabled here answer "this feature
	// or command is not currently supported".
	Commands []CommandInfo
	// Limits are the parser limits; zero means qjson.DefaultLimits.
	Limits qjson.Limits

	// Bug plants one deliberate divergence from qemu-ga. It exists to
	// prove that the differential fuzzer finds such divergences; leave it
	// NoBug everywhere else.
	Bug Bug
}

// Agent is the reference guest agent: a transducer from request bytes to
// reply bytes that answers exactly as qemu-ga 7.2 does. It holds parser
// state across calls, as qemu-ga holds it across reads and connections.
// The zero Agent is NewAgent(AgentConfig{}), qemu-ga 7.2 as is. An Agent
// is not safe for concurrent use.
type Agent struct {
	cfg    AgentConfig
	dec    *qjson.Decoder
	byName map[string]int
	info   qjson.Value // guest-info's return value, built on first use
	// infoReply is the reply to guest-info without an id, serialized on
	// first use.
	infoReply []byte
	reply     []byte
	replies   int64
	// defaultTable says cfg.Commands is the shared default table.
	defaultTable bool
}

// NewAgent returns an agent in the start state.
func NewAgent(cfg AgentConfig) *Agent {
	if cfg.Version == "" {
		cfg.Version = DefaultVersion
	}
	var byName map[string]int
	defaultTable := cfg.Commands == nil
	if defaultTable {
		cfg.Commands, byName = defaultCommandTable, defaultCommandIndex
	}
	if cfg.Limits == (qjson.Limits{}) {
		cfg.Limits = qjson.DefaultLimits
	}
	if byName == nil {
		byName = commandIndex(cfg.Commands)
	}
	a := &Agent{cfg: cfg, byName: byName, defaultTable: defaultTable}
	lim := cfg.Limits
	if cfg.Bug == BugDepthOffByOne {
		lim.MaxDepth++
	}
	// Each request is answered before more input is fed, so its value
	// may live in memory the next one reuses.
	a.dec = qjson.NewDecoder(qjson.WithLimits(lim), qjson.ReuseValues())
	return a
}

// ready makes the zero Agent the default one.
func (a *Agent) ready() {
	if a.dec == nil {
		*a = *NewAgent(AgentConfig{})
	}
}

// The default command table and its index are built once and shared by
// every Agent (which never modifies them): the fuzz targets and the
// simulator make agents by the thousand a second, and building both was
// most of NewAgent (about 4 µs and 2.9 of its 3.4 KB). They are built when
// the package is initialised, not on first use, so that no run of a fuzz
// target executes code that the runs after it skip.
var (
	defaultCommandTable = Commands72()
	defaultCommandIndex = commandIndex(defaultCommandTable)
)

// commandIndex maps each command's name to its index in cmds.
func commandIndex(cmds []CommandInfo) map[string]int {
	m := make(map[string]int, len(cmds))
	for i, c := range cmds {
		m[c.Name] = i
	}
	return m
}

// Reset discards all parser state, as a restart of the agent process does.
func (a *Agent) Reset() {
	a.ready()
	a.dec.Reset()
}

// Pending reports whether the agent holds partial input.
func (a *Agent) Pending() bool {
	a.ready()
	return a.dec.Pending()
}

// Replies returns how many replies the agent has produced.
func (a *Agent) Replies() int64 { return a.replies }

// replyKept is the largest reply buffer an Agent keeps for the next reply
// (guest-info's reply, the largest regular one, is about 3 KB; an error
// reply quoting a hostile token can take hundreds of MiB).
const replyKept = 64 << 10

// Step consumes input from p until it produces one reply or p is used up.
// It returns the bytes consumed and the reply (nil if none), which is valid
// until the next call and ends in '\n'.
func (a *Agent) Step(p []byte) (n int, reply []byte) {
	a.ready()
	if cap(a.reply) > replyKept {
		a.reply = nil // the last reply was huge: do not pin its memory
	}
	for n < len(p) {
		k, ok := a.dec.Feed(p[n:])
		n += k
		if !ok {
			continue
		}
		ev := a.dec.Event()
		a.reply = a.respond(a.reply[:0], ev)
		if a.reply == nil {
			continue // a command that sends no reply on success
		}
		a.replies++
		return n, a.reply
	}
	return n, nil
}

// Feed processes all of p, the bytes of one read, and appends every reply
// to dst.
func (a *Agent) Feed(dst, p []byte) []byte {
	a.ready()
	if a.cfg.Bug == BugSplitUTF8 {
		p = trimPartialUTF8(p)
	}
	for len(p) > 0 {
		n, r := a.Step(p)
		p = p[n:]
		dst = append(dst, r...)
	}
	return dst
}

// respond appends the reply to one parser event, or returns nil when the
// event gets no reply.
func (a *Agent) respond(dst []byte, ev qjson.Event) []byte {
	if ev.Err != nil {
		if a.cfg.Bug == BugSilentFlush && ev.Err.Desc == "JSON parse error, stray '\xff'" {
			return nil
		}
		return appendReply(dst, errorReply(genericError, ev.Err.Desc), qjson.Value{}, false)
	}
	return a.dispatch(dst, ev.Value)
}
