package sim

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// This file holds the faults that strike the actors rather than the bytes
// (agent restart, guest reboot, host reconnect, another writer on the
// channel) and the registry of every kind.

// restart models the agent process crashing and being restarted by its
// service manager (or upgraded): its parser state is lost, with the bytes
// it had read and not yet processed. It strikes in the middle of a read
// (mid-request) or of a reply (the reply is cut after a random number of
// bytes), as at says (read, reply or both), and the agent is gone for min
// to max, during which the host's bytes wait in the channel.
type restart struct {
	base
	sites    Site
	min, max time.Duration
}

func newRestart(p *params) Fault {
	f := &restart{base: newBase(p)}
	switch at := p.lookup("at", "both"); at {
	case "read":
		f.sites = SiteAgentRead
	case "reply":
		f.sites = SiteAgentReply
	case "both":
		f.sites = SiteAgentRead | SiteAgentReply
	default:
		p.fail("at=%q: want read, reply or both", at)
	}
	f.min, f.max = p.durRange("min", "max", 10*time.Millisecond, 500*time.Millisecond)
	return f
}

func (f *restart) Sites() Site { return f.sites }

func (f *restart) Apply(op *Opportunity, r *rand.Rand) string {
	op.Action, op.Down = ActRestart, uniformDur(r, f.min, f.max)
	if op.Site == SiteAgentReply {
		op.Cut = r.IntN(op.Chunk.Len())
		return "mid-reply after " + strconv.Itoa(op.Cut) + " bytes, down " + fmtDur(op.Down)
	}
	op.Cut = r.IntN(op.Len + 1)
	return "mid-read after " + strconv.Itoa(op.Cut) + " of " + strconv.Itoa(op.Len) + " bytes, down " + fmtDur(op.Down)
}

// reboot models a guest reboot: the agent disappears, with everything it
// had read and not answered, for min to max, and comes back with a fresh
// state. While the guest is down QEMU does not read the host's side of the
// channel, so the host's writes wait there for the new agent. The reboot
// starts within `within` of the step that rolled it.
type reboot struct {
	base
	min, max, within time.Duration
}

func newReboot(p *params) Fault {
	f := &reboot{base: newBase(p)}
	f.min, f.max = p.durRange("min", "max", time.Second, 10*time.Second)
	f.within = p.dur("within", 50*time.Millisecond)
	return f
}

func (f *reboot) Sites() Site { return SiteStep }

func (f *reboot) Apply(op *Opportunity, r *rand.Rand) string {
	op.Action = ActReboot
	op.After, op.Down = uniformDur(r, 0, f.within), uniformDur(r, f.min, f.max)
	return "in " + fmtDur(op.After) + " for " + fmtDur(op.Down)
}

// reconnect models the host side going away and coming back: libvirtd or a
// management agent restarted, or a host that times out, closes the channel
// and reopens it. The host process dies, losing what it had read and not
// consumed and what it had not finished writing; a new one connects up to
// delay later and finds the previous session's replies still in the
// channel. Where it dies is what at says:
//
//   - idle: within `within` of the step that rolled it, on a timer. Calls
//     are short in virtual time, so this is nearly always between calls.
//   - call: in the step's own call, at one of three points drawn evenly:
//     mid-write (some bytes of the call's first write reach the channel,
//     the rest never do: the next host finds half a request in the
//     agent's parser), sent (that write has reached the agent, whose reply
//     will find no one to read it) or mid-read (the first time the call
//     finds bytes to read, it reads some of them, maybe none, and dies:
//     the rest of the reply waits for the next host). If the call's
//     deadline comes first, the host dies then, still waiting.
//   - any (the default): idle or call, half each.
//
// In the proxy (SiteConn) the client connection is cut at once, on the
// chunk that rolled it (the upstream one is drained and closed gracefully,
// so that a real qemu-ga survives it): on a request chunk once the chunk
// has been read from the host (it still reaches the agent, whose reply
// finds no one), on a reply chunk before it reaches the host (the reply is
// lost). Both are in a call, so at=call and at=any are the same there;
// at=idle, within and delay cannot be honoured and are refused (proxyCheck).
type reconnect struct {
	base
	call, idle    bool // the kinds of death at allows
	within, delay time.Duration
	// given are the parameters the proxy does not use that the spec
	// gave, in the order given, for proxyCheck.
	given []string
}

func newReconnect(p *params) Fault {
	f := &reconnect{base: newBase(p)}
	switch at := p.lookup("at", "any"); at {
	case "call":
		f.call = true
	case "idle":
		f.idle = true
	case "any":
		f.call, f.idle = true, true
	default:
		p.fail("at=%q: want call, idle or any", at)
	}
	f.within, f.delay = p.dur("within", time.Second), p.dur("delay", 200*time.Millisecond)
	for _, k := range p.keys {
		if k == "within" || k == "delay" {
			f.given = append(f.given, k+"="+p.given[k])
		}
	}
	return f
}

// proxyCheck refuses what a proxy cannot honour rather than ignore it: it
// sees only the traffic, not the host's calls, so it cannot strike between
// them (at=idle), and it cuts the client at once, leaving the reconnecting
// to the host (within, delay).
func (f *reconnect) proxyCheck() error {
	if !f.call {
		return errors.New("fault reconnect: at=idle cannot be applied by a proxy: it sees only the traffic, " +
			"not the host's calls, so it cannot strike between them; use at=call (or any, the same in a proxy), " +
			"which cuts the client connection on a request or reply chunk")
	}
	if len(f.given) > 0 {
		return fmt.Errorf("fault reconnect: %s is not used by a proxy, which cuts the client connection at once "+
			"and leaves reconnecting to the host (within and delay are sim only); leave it out", f.given[0])
	}
	return nil
}

// proxySpec is the spec without the parameters a proxy does not use
// (within, delay): what a proxy prints for its fault list, and what it
// accepts back.
func (f *reconnect) proxySpec() string {
	name, ps, _ := strings.Cut(f.Spec(), ":")
	var keep []string
	for _, kv := range strings.Split(ps, ",") {
		if k, _, _ := strings.Cut(kv, "="); k != "within" && k != "delay" {
			keep = append(keep, kv)
		}
	}
	return name + ":" + strings.Join(keep, ",")
}

func (f *reconnect) Sites() Site { return SiteStep | SiteConn }

// strikeNames are the points of a call where a reconnect strikes, as the
// trace says them.
var strikeNames = [...]string{StrikeWrite: "mid-write", StrikeSent: "sent", StrikeRead: "mid-read"}

func (f *reconnect) Apply(op *Opportunity, r *rand.Rand) string {
	if op.Site == SiteConn {
		op.Action = ActHangup
		return "cut the client connection"
	}
	op.Action = ActReconnect
	// With at=idle no draw is added: its runs are those of the fault
	// before at existed.
	if f.call && (!f.idle || r.IntN(2) == 0) {
		op.Strike = StrikeWrite + Strike(r.IntN(3))
		op.Cut = r.IntN(1 << 30)
		op.Down = uniformDur(r, time.Millisecond, max(f.delay, time.Millisecond))
		return "host dies in this call (" + strikeNames[op.Strike] + "), back " + fmtDur(op.Down) + " later"
	}
	op.After, op.Down = uniformDur(r, 0, f.within), uniformDur(r, time.Millisecond, max(f.delay, time.Millisecond))
	return "host dies in " + fmtDur(op.After) + ", back " + fmtDur(op.Down) + " later"
}

// foreign models another process writing on the same channel: an
// operator's socat session, a second management tool, a leftover script.
// Before the host's write it writes a request of its own (with raw UTF-8
// in a string), half of one (it died mid-write), or a few bytes of
// garbage. Its replies are stale data for the host. Requests use only
// guest-ping, guest-sync, guest-sync-delimited and unknown commands, so it
// is safe in front of a real agent.
type foreign struct {
	base
}

func newForeign(p *params) Fault { return &foreign{base: newBase(p)} }

func (f *foreign) Sites() Site { return SiteH2A }

var foreignRequests = []string{
	"{\"execute\":\"guest-ping\",\"id\":\"fremd-\xc3\xa9-%d\"}",
	"{\"execute\":\"guest-sync\",\"arguments\":{\"id\":%d},\"id\":\"\xc3\xbcber\"}",
	"\xff{\"execute\":\"guest-sync-delimited\",\"arguments\":{\"id\":%d}}\n",
	"{\"execute\":\"guest-fr\xc3\xa9md-%d\"}",
	"{'execute':'guest-ping','id':'\xe2\x82\xac%d'}\n",
	"{\"execute\":\"guest-sync\",\"arguments\":{\"id\":\"\xf0\x9f\x98\x80%d\"}}",
}

const garbageAlphabet = "\xff\xfe\x00\x01\x0c\x7f\x80\xc3\xa9{}[]:,\"'\\ \n\r\t-.e019aT%"

func (f *foreign) Apply(op *Opportunity, r *rand.Rand) string {
	var b []byte
	what := ""
	switch k := r.IntN(8); {
	case k < 5:
		b = fmtReq(foreignRequests[r.IntN(len(foreignRequests))], r.IntN(1000000))
		what = "request"
	case k < 7:
		req := fmtReq(foreignRequests[r.IntN(len(foreignRequests))], r.IntN(1000000))
		b = req[:1+r.IntN(len(req)-1)]
		what = "half a request"
	default:
		b = make([]byte, 1+r.IntN(6))
		for i := range b {
			b[i] = garbageAlphabet[r.IntN(len(garbageAlphabet))]
		}
		what = "garbage"
	}
	op.Chunk.Insert(0, Seg{Data: b, Tag: TagForeign})
	return what + " (" + strconv.Itoa(len(b)) + " bytes)"
}

func fmtReq(format string, n int) []byte {
	for i := 0; i+1 < len(format); i++ {
		if format[i] == '%' && format[i+1] == 'd' {
			return []byte(format[:i] + strconv.Itoa(n) + format[i+2:])
		}
	}
	return []byte(format)
}

// kinds is the registry, in the order swarm draws them, help lists them
// and a chunk is offered to them: foreign comes first so that its bytes go
// through the other faults of the channel too.
var kinds = []*Kind{
	{Name: "foreign", Rate: 0.02, new: newForeign,
		Models: "another process writing on the channel (requests, halves, garbage)",
		Params: "(host to agent only)"},
	{Name: "fragment", Rate: 0.3, new: newFragment,
		Models: "writes/reads cut anywhere (partial writes, ring buffers, 4 KiB reads)",
		Params: "dir=both min=1 max=0 (0: any; 1: single bytes) gap=2ms"},
	{Name: "delay", Rate: 0.1, new: newDelay,
		Models: "a slow channel (vCPU not scheduled, host under load)",
		Params: "dir=both min=0 max=200ms"},
	{Name: "stall", Rate: 0.02, new: newStall,
		Models: "the channel frozen mid-message (migration, stopped process)",
		Params: "dir=both min=500ms max=5s"},
	{Name: "loss", Rate: 0.02, new: newLoss,
		Models: "bytes lost (serial overrun, buggy relay)",
		Params: "dir=both max=1"},
	{Name: "bitflip", Rate: 0.02, new: newBitflip,
		Models: "corrupted bytes (line noise, memory error)",
		Params: "dir=both bits=1"},
	{Name: "dup", Rate: 0.03, new: newDup,
		Models: "a write delivered twice (a relay retrying)",
		Params: "dir=both gap=1ms"},
	{Name: "ff", Rate: 0.03, new: newFF,
		Models: "a stray 0xFF (another tool flushing the parser)",
		Params: "dir=both count=1"},
	{Name: "truncate", Rate: 0.02, new: newTruncate,
		Models: "a reply cut short, maybe without its newline",
		Params: "(agent to host only)"},
	{Name: "utf8split", Rate: 0.5, new: newUTF8Split,
		Models: "a write split inside a multi-byte UTF-8 character (the simulator's own traffic is ASCII: in sim it splits what foreign injects; in the proxy, real traffic)",
		Params: "dir=both min=1ms max=100ms"},
	{Name: "late", Rate: 0.03, new: newLate,
		Models: "a reply delivered after its call gave up (earlier session flushed late)",
		Params: "extra=1s (agent to host only)"},
	{Name: "restart", Rate: 0.01, SimOnly: true, new: newRestart,
		Models: "the agent restarting mid-request or mid-reply (parser state lost)",
		Params: "at=both (read|reply|both) min=10ms max=500ms"},
	{Name: "reboot", Rate: 0.02, SimOnly: true, new: newReboot,
		Models: "a guest reboot (agent gone for a while, back fresh)",
		Params: "min=1s max=10s within=50ms"},
	{Name: "reconnect", Rate: 0.03, new: newReconnect,
		Models: "the host process dying, in a call or between calls, and a new one connecting (unread replies, half a request left in the channel)",
		Params: "at=any (call: in the step's call, mid-write, sent or mid-read; idle: on a timer within `within`, nearly always between calls; any: half each) within=1s delay=200ms (proxy: cuts the client at once, in a call; at=idle, within and delay are refused)"},
}
