package sim

import (
	"bytes"
	"time"
)

// This file is the unit byte faults work on: a Chunk is one write in flight
// (a host write, an agent reply), as segments that each carry the pause
// before them and a provenance tag, so that whatever faults do to the
// bytes, the simulator still knows which host write each byte came from.

// Provenance tags. A positive tag is the number of the host write whose
// bytes these are (or, for a reply, whose bytes completed its request).
const (
	TagNone    int32 = 0  // no provenance
	TagFault   int32 = -1 // made up by a fault
	TagForeign int32 = -2 // written by another process on the channel
)

// Seg is a run of bytes with one provenance, delivered Gap after the
// previous segment of the same direction.
type Seg struct {
	Data []byte
	Tag  int32
	Gap  time.Duration
}

// Chunk is one write in flight. Faults edit it in place; the simulator (or
// the proxy) then delivers its segments in order, honouring each Gap.
type Chunk struct {
	Segs []Seg
}

// NewChunk returns a chunk holding a copy of p.
func NewChunk(p []byte, tag int32) *Chunk {
	return &Chunk{Segs: []Seg{{Data: bytes.Clone(p), Tag: tag}}}
}

// Len returns the number of bytes in the chunk.
func (c *Chunk) Len() int {
	n := 0
	for _, s := range c.Segs {
		n += len(s.Data)
	}
	return n
}

// Bytes returns the chunk's bytes, concatenated.
func (c *Chunk) Bytes() []byte {
	var b []byte
	for _, s := range c.Segs {
		b = append(b, s.Data...)
	}
	return b
}

// Split makes pos (0 <= pos <= Len) a segment boundary and returns the index
// of the segment that starts there (len(Segs) when pos == Len).
func (c *Chunk) Split(pos int) int {
	off := 0
	for i := range c.Segs {
		s := c.Segs[i]
		if pos == off {
			return i
		}
		if pos < off+len(s.Data) {
			k := pos - off
			head := Seg{Data: s.Data[:k:k], Tag: s.Tag, Gap: s.Gap}
			tail := Seg{Data: s.Data[k:], Tag: s.Tag}
			c.Segs = append(c.Segs, Seg{})
			copy(c.Segs[i+2:], c.Segs[i+1:])
			c.Segs[i], c.Segs[i+1] = head, tail
			return i + 1
		}
		off += len(s.Data)
	}
	return len(c.Segs)
}

// Pause adds d to the pause before the byte at pos, splitting there.
// Everything from pos on is delayed.
func (c *Chunk) Pause(pos int, d time.Duration) {
	i := c.Split(pos)
	if i == len(c.Segs) {
		return // nothing after pos to delay
	}
	c.Segs[i].Gap += d
}

// Insert inserts s before the byte at pos.
func (c *Chunk) Insert(pos int, s Seg) {
	i := c.Split(pos)
	c.Segs = append(c.Segs, Seg{})
	copy(c.Segs[i+1:], c.Segs[i:])
	c.Segs[i] = s
}

// Cut removes the bytes [from, to). A pause before a removed byte moves to
// the first byte after the cut, so that cutting never speeds delivery up.
func (c *Chunk) Cut(from, to int) {
	if from >= to {
		return
	}
	i := c.Split(from)
	j := c.Split(to)
	var gap time.Duration
	for _, s := range c.Segs[i:j] {
		gap += s.Gap
	}
	c.Segs = append(c.Segs[:i], c.Segs[j:]...)
	if i < len(c.Segs) {
		c.Segs[i].Gap += gap
	}
}

// At returns a pointer to the byte at pos, for faults that change bytes.
func (c *Chunk) At(pos int) *byte {
	for i := range c.Segs {
		if pos < len(c.Segs[i].Data) {
			return &c.Segs[i].Data[pos]
		}
		pos -= len(c.Segs[i].Data)
	}
	return nil
}

// tagNear returns the provenance of the byte at pos, or of the last byte
// when pos is the end; TagFault for an empty chunk.
func (c *Chunk) tagNear(pos int) int32 {
	tag := TagFault
	for _, s := range c.Segs {
		if len(s.Data) == 0 {
			continue
		}
		tag = s.Tag
		if pos < len(s.Data) {
			break
		}
		pos -= len(s.Data)
	}
	return tag
}

// Clone returns a deep copy.
func (c *Chunk) Clone() *Chunk {
	out := &Chunk{Segs: make([]Seg, len(c.Segs))}
	for i, s := range c.Segs {
		out.Segs[i] = Seg{Data: bytes.Clone(s.Data), Tag: s.Tag, Gap: s.Gap}
	}
	return out
}

// Append appends the segments of d after c's, the first one Gap later.
func (c *Chunk) Append(d *Chunk, gap time.Duration) {
	for i, s := range d.Segs {
		if i == 0 {
			s.Gap += gap
		}
		c.Segs = append(c.Segs, s)
	}
}

// utf8Inner returns the positions strictly inside multi-byte UTF-8
// sequences (after a lead byte and before its last continuation byte).
func utf8Inner(b []byte) []int {
	var out []int
	for i := 0; i < len(b); i++ {
		n := 0
		switch c := b[i]; {
		case c >= 0xc2 && c <= 0xdf:
			n = 2
		case c >= 0xe0 && c <= 0xef:
			n = 3
		case c >= 0xf0 && c <= 0xf4:
			n = 4
		default:
			continue
		}
		k := 1
		for k < n && i+k < len(b) && b[i+k]&0xc0 == 0x80 {
			k++
		}
		if k < n {
			continue // not a complete sequence
		}
		for j := 1; j < n; j++ {
			out = append(out, i+j)
		}
		i += n - 1
	}
	return out
}
