package sim

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"time"
)

// This file holds the faults that change the bytes themselves: loss, bit
// flips, duplication, an injected 0xFF, and a reply cut short. Bytes keep
// their provenance tag through every change (an injected byte is tagged
// TagFault), so a corrupted reply is still the reply to its call.

// loss models bytes lost on the way: an ISA serial port or a console
// multiplexer dropping characters on overrun, a buggy relay. One to max
// bytes at random positions are removed.
type loss struct {
	base
	dir Site
	max int
}

func newLoss(p *params) Fault {
	f := &loss{base: newBase(p), dir: p.dir(SiteH2A|SiteA2H, SiteH2A|SiteA2H), max: p.int("max", 1)}
	if f.max < 1 {
		p.fail("max must be at least 1")
	}
	return f
}

func (f *loss) Sites() Site { return f.dir }

func (f *loss) Apply(op *Opportunity, r *rand.Rand) string {
	n := op.Chunk.Len()
	if n == 0 {
		return ""
	}
	k := min(1+r.IntN(f.max), n)
	pos := distinct(r, n, k)
	for i := len(pos) - 1; i >= 0; i-- { // from the end, so positions stay valid
		op.Chunk.Cut(pos[i], pos[i]+1)
	}
	return "bytes at " + joinInts(pos)
}

// bitflip models corruption: line noise on a serial link, a memory error,
// a buggy proxy. bits random bits of the chunk (default 1) are inverted.
type bitflip struct {
	base
	dir  Site
	bits int
}

func newBitflip(p *params) Fault {
	f := &bitflip{base: newBase(p), dir: p.dir(SiteH2A|SiteA2H, SiteH2A|SiteA2H), bits: p.int("bits", 1)}
	if f.bits < 1 {
		p.fail("bits must be at least 1")
	}
	return f
}

func (f *bitflip) Sites() Site { return f.dir }

func (f *bitflip) Apply(op *Opportunity, r *rand.Rand) string {
	n := op.Chunk.Len()
	if n == 0 {
		return ""
	}
	var where []int
	for range f.bits {
		pos, bit := r.IntN(n), r.IntN(8)
		*op.Chunk.At(pos) ^= 1 << bit
		where = append(where, pos*8+bit)
	}
	return "bits " + joinInts(where)
}

// dup models a write that arrives twice: a relay or management layer that
// retries a write it believes failed, a proxy replaying its buffer. The
// chunk is delivered again, up to gap after itself.
type dup struct {
	base
	dir Site
	gap time.Duration
}

func newDup(p *params) Fault {
	return &dup{base: newBase(p), dir: p.dir(SiteH2A|SiteA2H, SiteH2A|SiteA2H), gap: p.dur("gap", time.Millisecond)}
}

func (f *dup) Sites() Site { return f.dir }

func (f *dup) Apply(op *Opportunity, r *rand.Rand) string {
	if op.Chunk.Len() == 0 {
		return ""
	}
	d := uniformDur(r, 0, f.gap)
	// The copy is the retried write, sent whole: the pauses earlier
	// faults put into the chunk (a delay before it, a stall or cuts in
	// it) are the channel's, and held back the original only, so the
	// copy comes d after the original's last byte, not d plus them all.
	again := op.Chunk.Clone()
	for i := range again.Segs {
		again.Segs[i].Gap = 0
	}
	op.Chunk.Append(again, d)
	return "again after " + fmtDur(d)
}

// ff models a stray 0xFF byte: another host tool flushing the agent's
// parser in the middle of a request, or a layer that inserts one. In the
// reply stream it is a delimiter that delimits nothing. count bytes 0xFF
// (default 1) go in at random positions; each belongs to the write it
// lands in (it takes that write's provenance tag).
type ff struct {
	base
	dir   Site
	count int
}

func newFF(p *params) Fault {
	f := &ff{base: newBase(p), dir: p.dir(SiteH2A|SiteA2H, SiteH2A|SiteA2H), count: p.int("count", 1)}
	if f.count < 1 {
		p.fail("count must be at least 1")
	}
	return f
}

func (f *ff) Sites() Site { return f.dir }

func (f *ff) Apply(op *Opportunity, r *rand.Rand) string {
	var where []int
	for range f.count {
		pos := r.IntN(op.Chunk.Len() + 1)
		op.Chunk.Insert(pos, Seg{Data: []byte{0xff}, Tag: op.Chunk.tagNear(pos)})
		where = append(where, pos)
	}
	return "at " + joinInts(where)
}

// truncate models a reply cut short: the agent's write failing half-way,
// a relay closing early, or one that forwards lines cut to a length. The
// reply loses a random part of its end. If it ends in '\n', a coin
// decides whether the '\n' goes too (what is left runs into the next
// reply) or stays (the client reads a complete line that is not a whole
// reply); it used to go every time, since the cut always took the last
// byte, and a one-line reply never kept it.
type truncate struct {
	base
}

func newTruncate(p *params) Fault { return &truncate{base: newBase(p)} }

func (f *truncate) Sites() Site { return SiteA2H }

func (f *truncate) Apply(op *Opportunity, r *rand.Rand) string {
	n := op.Chunk.Len()
	if n == 0 {
		return ""
	}
	end, nl := n, ""
	if n >= 2 && *op.Chunk.At(n - 1) == '\n' && r.IntN(2) == 0 {
		end, nl = n-1, ", newline kept"
	}
	keep := r.IntN(end)
	op.Chunk.Cut(keep, end)
	return "to " + strconv.Itoa(keep) + " of " + strconv.Itoa(n) + " bytes" + nl
}

// distinct returns k distinct positions in [0, n), ascending.
func distinct(r *rand.Rand, n, k int) []int {
	var pos []int
	for len(pos) < k {
		p := r.IntN(n)
		if !slices.Contains(pos, p) {
			pos = append(pos, p)
		}
	}
	slices.Sort(pos)
	return pos
}
