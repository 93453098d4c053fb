package sim

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// This file holds the faults that change when bytes arrive, never which
// bytes: fragmentation, delay, stall, a split inside a UTF-8 character, and
// a reply that comes after its call gave up. A byte stream keeps its order,
// so delaying one chunk delays everything behind it in that direction.

// fragment models writes and reads that do not line up with messages: a
// host writing a request in several write calls, virtio ring buffers and
// the agent's 4096-byte reads cutting a message anywhere, a serial line
// delivering a few bytes at a time. The chunk is cut into pieces of min to
// max bytes (max=0: up to the whole rest; max=1: single bytes), with a
// pause of up to gap before each piece. The last piece is what is left,
// so it may be shorter than min (keeping recorded schedules' cuts as they
// were matters more than that piece's size).
type fragment struct {
	base
	dir      Site
	min, max int
	gap      time.Duration
}

func newFragment(p *params) Fault {
	f := &fragment{base: newBase(p), dir: p.dir(SiteH2A|SiteA2H, SiteH2A|SiteA2H),
		min: p.int("min", 1), max: p.int("max", 0), gap: p.dur("gap", 2*time.Millisecond)}
	if f.min < 1 {
		p.fail("min must be at least 1")
	}
	if f.max != 0 && f.max < f.min {
		p.fail("max=%d is below min=%d", f.max, f.min)
	}
	return f
}

func (f *fragment) Sites() Site { return f.dir }

func (f *fragment) Apply(op *Opportunity, r *rand.Rand) string {
	n := op.Chunk.Len()
	if n < 2 || f.min >= n {
		return ""
	}
	var cuts []int
	for pos := 0; ; {
		hi := n - pos
		if f.max > 0 {
			hi = min(hi, f.max)
		}
		lo := min(f.min, hi)
		pos += lo + r.IntN(hi-lo+1)
		if pos >= n {
			break
		}
		cuts = append(cuts, pos)
	}
	if len(cuts) == 0 {
		return ""
	}
	for _, c := range cuts {
		op.Chunk.Pause(c, uniformDur(r, 0, f.gap))
	}
	if len(cuts) > 8 {
		return strconv.Itoa(len(cuts)+1) + " pieces, cut at " + joinInts(cuts[:8]) + ",..."
	}
	return "cut at " + joinInts(cuts)
}

// delay models a slow channel: a guest vCPU that is not scheduled, a host
// under load, a busy QEMU main loop. The chunk arrives min to max late.
type delay struct {
	base
	dir      Site
	min, max time.Duration
}

func newDelay(p *params) Fault {
	f := &delay{base: newBase(p), dir: p.dir(SiteH2A|SiteA2H, SiteH2A|SiteA2H)}
	f.min, f.max = p.durRange("min", "max", 0, 200*time.Millisecond)
	return f
}

func (f *delay) Sites() Site { return f.dir }

func (f *delay) Apply(op *Opportunity, r *rand.Rand) string {
	d := uniformDur(r, f.min, f.max)
	op.Chunk.Pause(0, d)
	return "by " + fmtDur(d)
}

// stall models the channel freezing in the middle of a message: a guest
// paused for live migration or a snapshot, a host process stopped or
// swapped out. A random non-empty prefix of the chunk gets through; the
// rest waits min to max.
type stall struct {
	base
	dir      Site
	min, max time.Duration
}

func newStall(p *params) Fault {
	f := &stall{base: newBase(p), dir: p.dir(SiteH2A|SiteA2H, SiteH2A|SiteA2H)}
	f.min, f.max = p.durRange("min", "max", 500*time.Millisecond, 5*time.Second)
	return f
}

func (f *stall) Sites() Site { return f.dir }

func (f *stall) Apply(op *Opportunity, r *rand.Rand) string {
	n := op.Chunk.Len()
	if n < 2 {
		return ""
	}
	pos := 1 + r.IntN(n-1)
	d := uniformDur(r, f.min, f.max)
	op.Chunk.Pause(pos, d)
	return "at " + strconv.Itoa(pos) + " for " + fmtDur(d)
}

// utf8split models a writer whose buffer boundary falls inside a
// character: a host writing a path or file data with non-ASCII text in
// fixed-size pieces, a terminal layer flushing mid-sequence. When the chunk
// holds a multi-byte UTF-8 sequence, it is split inside one and the rest
// arrives min to max later; otherwise nothing happens.
type utf8split struct {
	base
	dir      Site
	min, max time.Duration
}

func newUTF8Split(p *params) Fault {
	f := &utf8split{base: newBase(p), dir: p.dir(SiteH2A|SiteA2H, SiteH2A|SiteA2H)}
	f.min, f.max = p.durRange("min", "max", time.Millisecond, 100*time.Millisecond)
	return f
}

func (f *utf8split) Sites() Site { return f.dir }

func (f *utf8split) Apply(op *Opportunity, r *rand.Rand) string {
	inner := utf8Inner(op.Chunk.Bytes())
	if len(inner) == 0 {
		return ""
	}
	pos := inner[r.IntN(len(inner))]
	d := uniformDur(r, f.min, f.max)
	op.Chunk.Pause(pos, d)
	return "at " + strconv.Itoa(pos) + " for " + fmtDur(d)
}

// late models a reply that arrives after the host gave up on it: a guest
// paused while answering, or QEMU holding the output of an earlier host
// session in its chardev buffer and flushing it when the next host
// connects. The reply (and what follows it) is held until the deadline of
// the call in progress has passed, plus up to extra; between calls, for up
// to extra.
type late struct {
	base
	extra time.Duration
}

func newLate(p *params) Fault {
	f := &late{base: newBase(p), extra: p.dur("extra", time.Second)}
	if f.extra < time.Millisecond {
		p.fail("extra must be at least 1ms")
	}
	return f
}

func (f *late) Sites() Site { return SiteA2H }

func (f *late) Apply(op *Opportunity, r *rand.Rand) string {
	d := uniformDur(r, time.Millisecond, f.extra)
	if op.Deadline > op.Now {
		d += op.Deadline - op.Now
	}
	op.Chunk.Pause(0, d)
	return "by " + fmtDur(d)
}

func joinInts(v []int) string {
	var b strings.Builder
	for i, n := range v {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(n))
	}
	return b.String()
}
