package sim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
)

// These tests check that each fault does what its doc comment says, first
// on one chunk, then in a small simulated channel.

var sample = []byte(`{"execute":"guest-ping","id":"caf` + "\xc3\xa9" + `"}` + "\n")

func mustFault(t *testing.T, spec string) Fault {
	t.Helper()
	f, err := NewFault(spec)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// applyOnce applies f to a fresh chunk of sample until it does something.
func applyOnce(t *testing.T, f Fault, site Site, seed uint64) (*Opportunity, string) {
	t.Helper()
	op := &Opportunity{Site: site, Chunk: NewChunk(sample, 7), Len: len(sample), Now: time.Second, Deadline: 3 * time.Second}
	desc := f.Apply(op, rand.New(rand.NewPCG(seed, 1)))
	if desc == "" {
		t.Fatalf("%s did nothing", f.Spec())
	}
	return op, desc
}

func gaps(c *Chunk) (n int, total time.Duration) {
	for _, s := range c.Segs {
		if s.Gap > 0 {
			n++
			total += s.Gap
		}
	}
	return n, total
}

func TestFaultsOnOneChunk(t *testing.T) {
	var strikes [StrikeRead + 1]int // where reconnect (at=any) strikes
	for seed := uint64(1); seed <= 20; seed++ {
		// fragment max=1: single bytes, same content, pauses within gap.
		op, _ := applyOnce(t, mustFault(t, "fragment:max=1,gap=1ms"), SiteH2A, seed)
		if !bytes.Equal(op.Chunk.Bytes(), sample) || len(op.Chunk.Segs) != len(sample) {
			t.Fatalf("fragment max=1: %d segments for %d bytes", len(op.Chunk.Segs), len(sample))
		}
		if _, total := gaps(op.Chunk); total > time.Duration(len(sample))*time.Millisecond {
			t.Fatalf("fragment: total pause %v", total)
		}
		// delay: whole chunk late, within [min, max].
		op, _ = applyOnce(t, mustFault(t, "delay:min=10ms,max=20ms"), SiteA2H, seed)
		if g := op.Chunk.Segs[0].Gap; g < 10*time.Millisecond || g > 20*time.Millisecond || len(op.Chunk.Segs) != 1 {
			t.Fatalf("delay: %v in %d segments", g, len(op.Chunk.Segs))
		}
		// stall: a non-empty prefix, then a pause in [min, max].
		op, _ = applyOnce(t, mustFault(t, "stall:min=1s,max=2s"), SiteH2A, seed)
		if len(op.Chunk.Segs) != 2 || op.Chunk.Segs[0].Gap != 0 || op.Chunk.Segs[1].Gap < time.Second || len(op.Chunk.Segs[0].Data) == 0 {
			t.Fatalf("stall: %+v", op.Chunk.Segs)
		}
		// loss: 1..max bytes gone.
		op, _ = applyOnce(t, mustFault(t, "loss:max=3"), SiteH2A, seed)
		if lost := len(sample) - op.Chunk.Len(); lost < 1 || lost > 3 {
			t.Fatalf("loss: %d bytes lost", lost)
		}
		// bitflip: exactly bits bits differ (two flips of one bit cancel).
		op, _ = applyOnce(t, mustFault(t, "bitflip:bits=1"), SiteA2H, seed)
		if d := bitDiff(sample, op.Chunk.Bytes()); d != 1 {
			t.Fatalf("bitflip: %d bits differ", d)
		}
		// dup: the chunk twice, with its provenance.
		op, _ = applyOnce(t, mustFault(t, "dup"), SiteA2H, seed)
		if !bytes.Equal(op.Chunk.Bytes(), append(bytes.Clone(sample), sample...)) || op.Chunk.Segs[1].Tag != 7 {
			t.Fatalf("dup: %q", op.Chunk.Bytes())
		}
		// ff: one 0xFF more, belonging to the write it lands in.
		op, _ = applyOnce(t, mustFault(t, "ff"), SiteH2A, seed)
		b := op.Chunk.Bytes()
		if len(b) != len(sample)+1 || bytes.Count(b, []byte{0xff}) != 1 || !bytes.Equal(bytes.Replace(b, []byte{0xff}, nil, 1), sample) {
			t.Fatalf("ff: %q", b)
		}
		for _, s := range op.Chunk.Segs {
			if s.Tag != 7 {
				t.Fatalf("ff: injected byte has tag %d", s.Tag)
			}
		}
		// truncate: a strict prefix, or one of all but the newline and
		// then the newline.
		op, _ = applyOnce(t, mustFault(t, "truncate"), SiteA2H, seed)
		if b := op.Chunk.Bytes(); len(b) >= len(sample) || !bytes.HasPrefix(sample, bytes.TrimSuffix(b, []byte("\n"))) {
			t.Fatalf("truncate: %q", b)
		}
		// utf8split: the pause falls between the two bytes of "é".
		op, _ = applyOnce(t, mustFault(t, "utf8split"), SiteH2A, seed)
		if len(op.Chunk.Segs) != 2 || !bytes.HasSuffix(op.Chunk.Segs[0].Data, []byte{0xc3}) || op.Chunk.Segs[1].Gap == 0 {
			t.Fatalf("utf8split: %q", op.Chunk.Segs)
		}
		// late: held beyond the deadline of the call in progress.
		op, _ = applyOnce(t, mustFault(t, "late:extra=100ms"), SiteA2H, seed)
		if g := op.Chunk.Segs[0].Gap; g <= 2*time.Second || g > 2*time.Second+100*time.Millisecond {
			t.Fatalf("late: held %v, the deadline is 2s away", g)
		}
		// foreign: bytes of another writer in front, tagged as such.
		op, _ = applyOnce(t, mustFault(t, "foreign"), SiteH2A, seed)
		if op.Chunk.Segs[0].Tag != TagForeign || !bytes.HasSuffix(op.Chunk.Bytes(), sample) {
			t.Fatalf("foreign: %q", op.Chunk.Bytes())
		}
		// restart: mid-read after a cut within the read, or mid-reply
		// after a strict prefix of the reply.
		op, _ = applyOnce(t, mustFault(t, "restart:min=10ms,max=20ms"), SiteAgentRead, seed)
		if op.Action != ActRestart || op.Cut < 0 || op.Cut > len(sample) || op.Down < 10*time.Millisecond || op.Down > 20*time.Millisecond {
			t.Fatalf("restart mid-read: %+v", op)
		}
		op, _ = applyOnce(t, mustFault(t, "restart"), SiteAgentReply, seed)
		if op.Action != ActRestart || op.Cut >= len(sample) {
			t.Fatalf("restart mid-reply: %+v", op)
		}
		// reboot and reconnect: actor events with their timing.
		op, _ = applyOnce(t, mustFault(t, "reboot:min=1s,max=2s,within=10ms"), SiteStep, seed)
		if op.Action != ActReboot || op.After > 10*time.Millisecond || op.Down < time.Second || op.Down > 2*time.Second {
			t.Fatalf("reboot: %+v", op)
		}
		op, _ = applyOnce(t, mustFault(t, "reconnect:within=50ms"), SiteStep, seed)
		if op.Action != ActReconnect || op.After > 50*time.Millisecond || op.Strike > StrikeRead {
			t.Fatalf("reconnect: %+v", op)
		}
		strikes[op.Strike]++
		op, _ = applyOnce(t, mustFault(t, "reconnect:at=idle,within=50ms"), SiteStep, seed)
		if op.Action != ActReconnect || op.Strike != StrikeIdle || op.After > 50*time.Millisecond {
			t.Fatalf("reconnect at=idle: %+v", op)
		}
		op, _ = applyOnce(t, mustFault(t, "reconnect:at=call,delay=10ms"), SiteStep, seed)
		if op.Action != ActReconnect || op.Strike == StrikeIdle || op.Strike > StrikeRead || op.After != 0 || op.Cut < 0 ||
			op.Down < time.Millisecond || op.Down > 10*time.Millisecond {
			t.Fatalf("reconnect at=call: %+v", op)
		}
		op, _ = applyOnce(t, mustFault(t, "reconnect"), SiteConn, seed)
		if op.Action != ActHangup {
			t.Fatalf("reconnect in the proxy: %+v", op)
		}
	}
	// at=any: on a timer and in a call, at each point.
	for st, n := range strikes {
		if n == 0 {
			t.Errorf("reconnect: never strikes at %d in 20 seeds: %v", st, strikes)
		}
	}
	// utf8split leaves chunks without multi-byte characters alone.
	op := &Opportunity{Site: SiteH2A, Chunk: NewChunk([]byte(`{"execute":"guest-ping"}`), 1)}
	if desc := mustFault(t, "utf8split").Apply(op, rand.New(rand.NewPCG(1, 1))); desc != "" {
		t.Fatalf("utf8split on ASCII: %s", desc)
	}
}

func bitDiff(a, b []byte) int {
	if len(a) != len(b) {
		return -1
	}
	n := 0
	for i := range a {
		n += bits.OnesCount8(a[i] ^ b[i])
	}
	return n
}

// TestFaultsInChannel runs each kind alone at a high rate and checks that
// it fired and that its effect shows in the trace.
func TestFaultsInChannel(t *testing.T) {
	marks := map[string]string{
		"restart":   `"actor":"agent","event":"down","info":"restart`,
		"reboot":    `"actor":"agent","event":"down","info":"reboot`,
		"reconnect": `"actor":"host","event":"crash"`,
		"late":      `"actor":"host","event":"timeout"`,
		"stall":     `"actor":"host","event":"timeout"`,
	}
	rates := map[string]string{"restart": "0.05", "reboot": "0.2", "reconnect": "0.3", "foreign": "0.5"}
	for _, k := range Kinds() {
		t.Run(k.Name, func(t *testing.T) {
			rate := rates[k.Name]
			if rate == "" {
				rate = "0.5"
			}
			spec := k.Name + ":rate=" + rate
			if k.Name == "utf8split" {
				spec += ";foreign:rate=1" // something with UTF-8 to split
			}
			r, err := Run(Options{Seed: 3, Client: Delimited, Faults: spec, Steps: 30, Trace: true})
			if err != nil {
				t.Fatal(err)
			}
			fired := 0
			for _, e := range r.Events {
				if e.Kind == k.Name {
					fired++
				}
			}
			if fired == 0 {
				t.Fatalf("%s never fired in %d steps", spec, len(r.Ops))
			}
			if m := marks[k.Name]; m != "" && !strings.Contains(string(r.Trace), m) {
				t.Fatalf("%s fired %d times but the trace lacks %s", k.Name, fired, m)
			}
			if k.Name == "foreign" {
				written, delivered := traceBytes(t, r.Trace, "host", "write"), traceBytes(t, r.Trace, "chan", "h2a")
				if delivered <= written {
					t.Fatalf("foreign fired %d times, but the agent got %d bytes for the host's %d", fired, delivered, written)
				}
			}
			if r.Failed() {
				t.Fatalf("the careful client failed under %s: %v", spec, r.First())
			}
		})
	}
}

// traceBytes sums the bytes of the trace events of actor and event.
func traceBytes(t *testing.T, trace []byte, actor, event string) int {
	t.Helper()
	lines, err := ReadTrace(bytes.NewReader(trace))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, l := range lines {
		if l.Actor == actor && l.Event == event {
			n += len(l.Hex) / 2
		}
	}
	return n
}

func TestParseFaults(t *testing.T) {
	fs, err := ParseFaults("late,dup:rate=0.1,dir=h2a;fragment:min=2,max=4 foreign")
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(Specs(fs), " ")
	want := "foreign:rate=0.02 fragment:rate=0.3,dir=both,min=2,max=4,gap=2ms dup:rate=0.1,dir=h2a,gap=1ms late:rate=0.03,extra=1s"
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	for _, f := range append(fs, AllFaults()...) {
		again, err := NewFault(f.Spec())
		if err != nil || again.Spec() != f.Spec() {
			t.Fatalf("spec %s does not round-trip: %v %v", f.Spec(), again, err)
		}
	}
	for _, bad := range []string{"nope", "dup:rate=2", "dup:foo=1", "dup:dir=up", "truncate:dir=h2a",
		"fragment:min=0", "stall:min=2s,max=1s", "dup:rate", "restart:at=never", "reconnect:at=both", "late:extra=-1s",
		// NaN fails every comparison, so range checks alone let it in.
		"stall:rate=NaN", "dup:rate=nan", "dup:rate=+Inf", "dup:rate=-Inf", "dup:rate=1e400"} {
		if _, err := ParseFaults(bad); err == nil {
			t.Errorf("ParseFaults(%q) succeeded", bad)
		}
	}
	// Of several unknown parameters, the first one given is named, every
	// time (not whichever a map's order picks).
	for range 20 {
		if _, err := ParseFaults("dup:foo=1,bar=2,baz=3"); err == nil || !strings.Contains(err.Error(), `"foo"`) {
			t.Fatalf("dup:foo=1,bar=2,baz=3: %v, want foo named", err)
		}
	}
	if fs, err := ParseFaults("none"); err != nil || len(fs) != 0 {
		t.Fatalf("none: %v %v", fs, err)
	}
	if len(Kinds()) < 12 {
		t.Fatalf("only %d fault kinds", len(Kinds()))
	}
	for _, k := range Kinds() {
		if k.Models == "" || k.Params == "" {
			t.Errorf("kind %s is undocumented", k.Name)
		}
	}
}

func TestSwarmVaries(t *testing.T) {
	mixes := map[string]bool{}
	for seed := uint64(1); seed <= 50; seed++ {
		mixes[strings.Join(Specs(SwarmFaults(seed)), " ")] = true
		if a, b := Specs(SwarmFaults(seed)), Specs(SwarmFaults(seed)); strings.Join(a, " ") != strings.Join(b, " ") {
			t.Fatalf("swarm mix of seed %d is not stable", seed)
		}
	}
	if len(mixes) < 45 {
		t.Fatalf("50 seeds gave only %d fault mixes", len(mixes))
	}
}

// TestSwarmFaultsAreParsed: a swarm fault, a copy of its kind's default
// with another rate, is exactly the fault its rate's spec parses to, and
// copies are independent.
func TestSwarmFaultsAreParsed(t *testing.T) {
	for seed := uint64(1); seed <= 2000; seed++ {
		for _, f := range SwarmFaults(seed) {
			spec := fmt.Sprintf("%s:rate=%.4g", f.Name(), f.Rate())
			want := mustFault(t, spec)
			if !reflect.DeepEqual(f, want) {
				t.Fatalf("seed %d: swarm fault %#v, want %#v (from %q)", seed, f, want, spec)
			}
		}
	}
	a, b := SwarmFaults(3), SwarmFaults(3)
	if a[0] == b[0] {
		t.Fatal("two runs share a fault")
	}
}

// TestReconnectDelayIsTheCrashs: each host crash is followed by the
// reconnect delay its own fault drew, not by that of a later reconnect
// fault rolled while the host was already dead (which used to overwrite
// it, so that the new host came back sooner than its fault said).
func TestReconnectDelayIsTheCrashs(t *testing.T) {
	type line struct {
		T     time.Duration `json:"t"`
		Actor string        `json:"actor"`
		Event string        `json:"event"`
		Info  string        `json:"info"`
	}
	checked, struck := 0, 0
	for seed := uint64(1); seed <= 40; seed++ {
		r := mustRun(t, Options{Seed: seed, Faults: "reconnect:rate=0.5,within=20ms,delay=1s", Trace: true})
		type pending struct{ at, back time.Duration }
		var pend []pending
		var crashAt, back, callBack time.Duration = -1, 0, -1
		for _, l := range strings.Split(strings.TrimSpace(string(r.Trace)), "\n")[1:] {
			var d line
			if err := json.Unmarshal([]byte(l), &d); err != nil {
				t.Fatal(err)
			}
			switch {
			case d.Actor == "fault" && d.Event == "reconnect":
				var in, later string
				if _, err := fmtSscan(d.Info, &in, &later); err != nil {
					t.Fatalf("%q: %v", d.Info, err)
				}
				b, _ := time.ParseDuration(later)
				if in == "this call" {
					callBack = b // it strikes in this step's call
					continue
				}
				a, _ := time.ParseDuration(in)
				pend = append(pend, pending{d.T + a, b})
			case d.Actor == "host" && d.Event == "crash" && strings.Contains(d.Info, ", in call #"):
				crashAt, back, callBack = d.T, callBack, -1
				if back < 0 {
					t.Fatalf("seed %d: crash in a call at %v matches no reconnect fault", seed, d.T)
				}
				struck++
			case d.Actor == "host" && d.Event == "crash":
				// Trace durations are rounded (to 10µs below 1s, 1ms
				// above): take the closest fault.
				crashAt, back = d.T, -1
				best := time.Millisecond
				for _, p := range pend {
					if dd := (p.at - d.T).Abs(); dd <= best {
						best, back = dd, p.back
					}
				}
				if back < 0 {
					t.Fatalf("seed %d: crash at %v matches no reconnect fault", seed, d.T)
				}
			case d.Actor == "host" && d.Event == "session" && crashAt >= 0:
				if gap := d.T - crashAt; gap < back-time.Millisecond {
					t.Fatalf("seed %d: host crashed at %v with a reconnect delay of %v, back after %v", seed, crashAt, back, gap)
				}
				checked++
				crashAt = -1
			}
		}
	}
	if checked < 20 || struck < 10 {
		t.Fatalf("only %d reconnects checked, %d of them in a call", checked, struck)
	}
}

// fmtSscan extracts A and B from "step #N: host dies in A, back B later"
// (A is "this call" for a reconnect that strikes in the step's call).
func fmtSscan(info string, in, later *string) (int, error) {
	_, rest, ok := strings.Cut(info, "host dies in ")
	a, rest2, ok2 := strings.Cut(rest, ", back ")
	if c, _, isCall := strings.Cut(a, " ("); isCall && c == "this call" {
		a = c
	}
	b, _, ok3 := strings.Cut(rest2, " later")
	if !ok || !ok2 || !ok3 {
		return 0, &json.SyntaxError{}
	}
	*in, *later = a, b
	return 2, nil
}

// TestTruncateMaybeKeepsNewline: a reply cut short sometimes loses its
// newline and sometimes keeps it, as the help says ("maybe without its
// newline"). The cut used to take the last byte every time, so a one-line
// reply never kept its newline.
func TestTruncateMaybeKeepsNewline(t *testing.T) {
	kept, lost := 0, 0
	for seed := uint64(1); seed <= 40; seed++ {
		op, desc := applyOnce(t, mustFault(t, "truncate"), SiteA2H, seed)
		b := op.Chunk.Bytes()
		body := bytes.TrimSuffix(b, []byte("\n"))
		switch {
		case len(b) >= len(sample) || !bytes.HasPrefix(sample, body):
			t.Fatalf("seed %d: %q is not the reply cut short", seed, b)
		case len(body) < len(b):
			kept++
			if !strings.HasSuffix(desc, "newline kept") || bytes.Count(b, []byte("\n")) != 1 {
				t.Fatalf("seed %d: %q, described as %q", seed, b, desc)
			}
		default:
			lost++
		}
	}
	if kept == 0 || lost == 0 {
		t.Errorf("of 40 replies cut short, %d kept their newline and %d lost it: want both", kept, lost)
	}
}
