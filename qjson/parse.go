package qjson

import "unsafe"

// This file is qemu-ga's parser. qemu-ga parses a message once the
// streamer has collected all its tokens, by recursive descent, stopping at
// the first error. This parser takes the tokens as the lexer produces them,
// as a pushdown automaton making the same checks in the same order, so it
// finds the same first error; the streamer still decides where the message
// ends, and the event carries the error or value then.

// pstate is what the parser expects next.
type pstate uint8

const (
	psValue  pstate = iota // a value: first, after ':', after ',' in an array
	psElem                 // after '[': a value or ']'
	psKey                  // after ',' in an object: a key (parsed as a value)
	psMember               // after '{': a key or '}'
	psColon                // after a key
	psSep                  // after a value in a container: ',' or the closer
	psDone                 // the message's value is complete
	psFailed               // an error was found; the rest is ignored
)

// frame is an open container.
type frame struct {
	base   int  // the container's first member in its level's block
	object bool // an object, not an array
	inKey  bool // the container stands where its parent wants a key
	// checked says that the container's key in its parent object is not
	// a duplicate: the hot path checks it at the opener, the general code
	// at the closer.
	checked bool
	// keys has bit keyBit(k) set for each key k of the object's members,
	// so that the hot path can skip the duplicate check for a key whose
	// bit is clear (all bits, once the object keeps a set).
	keys uint64
	key  string              // the parent object's key for the container
	seen map[string]struct{} // an object's keys, once it is large
}

// Members are written once, where they stay: each nesting level has a
// block of members that the containers at that level fill one after the
// other, as they never are open at the same time; a container's members
// are a slice of the block. A container that outgrows its block moves to
// a bigger one. Blocks are never rewritten, so values stay valid (unless
// the Decoder has ReuseValues: then each message rewinds them).
type parser struct {
	state  pstate
	frames []frame
	levels [][]Member // each level's block, up to its last member in use
	big    bool       // a block is bigger than levelBlock, or deep
	key    string     // the key of the object member being parsed
	v      Value      // the message's value, in psDone
	msg    string     // the error, in psFailed
	sbuf   []byte     // scratch space for decoding strings
	// alloc counts the bytes of member blocks allocated since the parser
	// last let go of the values made before (see release).
	alloc int
	// stale says that the kept blocks are to be cleared (ReuseValues).
	stale bool
	// dirty bounds the members written in the kept blocks since they were
	// last cleared (ReuseValues): the longest any level grew to.
	dirty int

	strings stringArena // where the values' strings are made
}

const (
	// levelBlock is the number of members a level allocates at once, once
	// it has used a few blocks: 16 KiB, as a string block. Fewer, larger
	// blocks cost less to allocate (doubling to 16 KiB made kept values
	// parse about 2% faster), but a kept value keeps its whole block alive.
	levelBlock = 512
	// keptLevels is how many levels keep their blocks between messages.
	keptLevels = 16
	// pinnedMax bounds the memory that the blocks kept between messages
	// may keep alive for values their callers have dropped: members of
	// earlier messages sit in them (below the part in use without
	// ReuseValues, past it with), and point at strings and at other
	// blocks. Once more than this was allocated for values since the
	// parser last let go of them, it lets go again (release).
	pinnedMax = 4 << 20
)

// finish ends the message at offset off with its value or first error.
func (p *parser) finish(off int64) (Value, *Error) {
	var (
		v   Value
		err *Error
	)
	switch p.state {
	case psDone:
		v = p.v
	case psFailed:
		err = newParseError(off, p.msg)
	default: // the streamer ends no message early for qemu-ga's limits
		err = newParseError(off, msgPrematureEnd)
	}
	p.reset()
	return v, err
}

// reset drops the message being parsed.
func (p *parser) reset() {
	clear(p.frames)
	p.frames = p.frames[:0]
	if p.big { // keep no huge block, nor many levels
		for i, blk := range p.levels {
			if cap(blk) > levelBlock || i >= keptLevels {
				p.levels[i] = nil
			}
		}
		p.levels = p.levels[:min(len(p.levels), keptLevels)]
		p.big = false
	}
	if cap(p.sbuf) > 1<<16 {
		p.sbuf = nil
	}
	if p.pinning() {
		p.release()
	}
	p.state, p.key, p.v, p.msg = psValue, "", Value{}, ""
}

// pinning reports whether, without ReuseValues, the kept blocks may keep
// more than pinnedMax of dropped values alive.
func (p *parser) pinning() bool {
	return !p.strings.reuse && p.alloc+p.strings.alloc > pinnedMax
}

// release lets go of the values of earlier messages, without ReuseValues:
// the kept blocks hold them (the callers' values are those very members),
// so the blocks are dropped and new ones start empty. No container is
// open.
func (p *parser) release() {
	clear(p.levels)
	p.levels = p.levels[:0]
	p.strings.buf = nil
	p.alloc, p.strings.alloc = 0, 0
}

// clearStale clears the members written in the kept blocks since the last
// clear (up to dirty), with ReuseValues, so that no stale member of an
// earlier message keeps a dropped string or block alive. Clearing only
// what was used keeps a small message that allocated (one nested deeper
// than keptLevels) from paying for every kept block's capacity. It runs at
// the next Feed, since the last event's value lives in those blocks until
// then.
func (p *parser) clearStale() {
	for _, blk := range p.levels {
		clear(blk[:min(p.dirty, cap(blk))])
	}
	p.stale, p.dirty = false, 0
}

// maxParseMsg is the longest parse error message qemu-ga produces: on a
// live 7.2 agent an invalid keyword of 1006 letters or more comes back cut
// to 1023 bytes of message, closing quote lost.
const maxParseMsg = 1024 - 1

// rewind makes the memory of the values built so far free for the next
// message (ReuseValues). The parser has no open container.
func (p *parser) rewind() {
	if p.alloc+p.strings.alloc > 0 {
		// The message allocated: stale members may point at memory
		// that is no longer kept (a dropped long buffer, a block that
		// was replaced).
		p.stale = true
		p.alloc, p.strings.alloc = 0, 0
	}
	for i := range p.levels {
		p.dirty = max(p.dirty, len(p.levels[i]))
		p.levels[i] = p.levels[i][:0]
	}
	p.strings.rewind()
}

func (p *parser) fail(msg string) {
	if p.state != psFailed {
		if len(msg) > maxParseMsg {
			msg = msg[:maxParseMsg]
		}
		p.state, p.msg = psFailed, msg
	}
}

// unexpected fails on a token the state has no place for.
func (p *parser) unexpected() {
	switch p.state {
	case psValue, psElem, psKey, psMember:
		p.fail(msgExpectingValue)
	case psColon:
		p.fail(msgMissingColon)
	case psSep:
		if p.frames[len(p.frames)-1].object {
			p.fail(msgDictSeparator)
		} else {
			p.fail(msgListSeparator)
		}
	}
	// psDone cannot see more tokens; psFailed ignores them.
}

// wantsValue reports whether the state takes a value (in key position
// too, as qemu-ga parses a key as any value and then checks it).
func (p *parser) wantsValue() bool { return p.state <= psMember }

// inKey reports whether a value now would stand in key position.
func (p *parser) inKey() bool { return p.state == psKey || p.state == psMember }

// place returns where a complete value goes, its key (in an object)
// already set, or nil after failing; inKey and key say where it stands.
// The caller sets the fields of the zero Value it gets.
func (p *parser) place(inKey bool, key string) *Value {
	if inKey {
		p.fail(msgKeyNotString) // only a string token makes a valid key
		return nil
	}
	n := len(p.frames) - 1
	if n < 0 {
		p.state = psDone
		return &p.v
	}
	f := &p.frames[n]
	blk := p.levels[n]
	if f.object && isDuplicate(f, blk[f.base:], key) {
		p.fail(msgDuplicateKey)
		return nil
	}
	p.state = psSep
	if len(blk) == cap(blk) {
		blk = p.grow(f, blk, n)
	}
	blk = blk[:len(blk)+1]
	p.levels[n] = blk
	m := &blk[len(blk)-1]
	if f.object {
		m.Key = key
		f.addKey(key)
	}
	return &m.Value
}

// addKey records key, the key of a member just added, for the duplicate
// checks of later members.
func (f *frame) addKey(key string) {
	f.keys |= keyBit(key)
	if f.seen != nil {
		f.seen[key] = struct{}{}
	}
}

// keyBit is a key's bit in frame.keys: two keys with different bits are
// different.
func keyBit(key string) uint64 {
	n := len(key)
	if n > 0 {
		n += int(key[0])
	}
	return 1 << (n & 63)
}

// grow moves the members of the container f, at level n, to a new block,
// bigger than the last up to levelBlock (a level may hold one member only),
// and returns the block.
func (p *parser) grow(f *frame, blk []Member, n int) []Member {
	size := max(min(2*cap(blk), levelBlock), 4, 2*(len(blk)-f.base))
	p.big = p.big || size > levelBlock || n >= keptLevels
	nb := make([]Member, len(blk)-f.base, size)
	p.alloc += size * int(unsafe.Sizeof(Member{}))
	copy(nb, blk[f.base:])
	f.base = 0
	return nb
}

// structural takes one of '{', '}', '[', ']', ':' and ','.
func (p *parser) structural(c byte) {
	switch c {
	case ':':
		if p.state == psColon {
			p.state = psValue
			return
		}
	case ',':
		if p.state == psSep {
			p.state = psValue
			if p.frames[len(p.frames)-1].object {
				p.state = psKey
			}
			return
		}
	case '{', '[':
		if p.wantsValue() {
			n := len(p.frames)
			if n == len(p.levels) {
				p.levels = append(p.levels, nil)
				// Levels past keptLevels are dropped at the end of the
				// message even if none got a block (the message ended,
				// at the nesting limit or in error, before a member was
				// placed there): rewind, with ReuseValues, visits every
				// level after every message.
				p.big = p.big || n >= keptLevels
			}
			f := frame{base: len(p.levels[n]), object: c == '{', inKey: p.inKey()}
			if !f.inKey && n > 0 && p.frames[n-1].object {
				f.key = p.key
			}
			p.frames = append(p.frames, f)
			p.state = psElem
			if f.object {
				p.state = psMember
			}
			return
		}
	default: // '}', ']'
		obj := c == '}'
		if p.state == psSep && p.frames[len(p.frames)-1].object == obj ||
			p.state == psElem && !obj || p.state == psMember && obj {
			p.close()
			return
		}
	}
	p.unexpected()
}

// close ends the innermost container.
func (p *parser) close() {
	n := len(p.frames) - 1
	f := p.frames[n]
	p.frames[n] = frame{}
	p.frames = p.frames[:n]
	var list []Member
	if blk := p.levels[n]; f.base < len(blk) {
		list = blk[f.base:len(blk):len(blk)]
	}
	if v := p.place(f.inKey, f.key); v != nil {
		kind := Array
		if f.object {
			kind = Object
		}
		*v = listValue(kind, list)
	}
}

// dupLinear is the size from which isDuplicate looks keys up in a set.
const dupLinear = 32

// isDuplicate checks key against an object's members so far: linearly while
// the object is small, through a set once it is large, so that a hostile
// object of a million members costs linear time, not quadratic. It only
// looks: the hot path checks a key before its value and may leave that
// value to the general code, which checks the key again (addKey records
// the key once the member is added).
func isDuplicate(f *frame, members []Member, key string) bool {
	if len(members) < dupLinear {
		return hasKey(members, key)
	}
	if f.seen == nil {
		// From now on every key must reach the set: no key is filtered.
		f.keys = ^uint64(0)
		f.seen = make(map[string]struct{}, 2*len(members))
		for i := range members {
			f.seen[members[i].Key] = struct{}{}
		}
	}
	_, ok := f.seen[key]
	return ok
}

func hasKey(members []Member, key string) bool {
	for i := range members {
		if members[i].Key == key {
			return true
		}
	}
	return false
}

// string takes a string token (quotes included); plain says it is ASCII
// without escapes.
func (p *parser) string(tok []byte, plain bool) {
	if !p.wantsValue() {
		p.unexpected()
		return
	}
	var s string
	if plain {
		s = p.strings.make(tok[1 : len(tok)-1 : len(tok)])
	} else {
		var ok bool
		if s, ok = p.str(tok); !ok {
			return
		}
	}
	if p.inKey() {
		p.key, p.state = s, psColon
		return
	}
	if v := p.place(false, p.key); v != nil {
		*v = stringValue(s)
	}
}

// number takes a number token.
func (p *parser) number(text []byte) {
	if !p.wantsValue() {
		p.unexpected()
		return
	}
	if v := p.place(p.inKey(), p.key); v != nil {
		*v = numberValue(text)
	}
}

// keyword takes a keyword token.
func (p *parser) keyword(text []byte) {
	if !p.wantsValue() {
		p.unexpected()
		return
	}
	var v Value
	switch {
	case len(text) == 4 && string(text) == "true":
		v = BoolValue(true)
	case len(text) == 5 && string(text) == "false":
		v = BoolValue(false)
	case len(text) == 4 && string(text) == "null":
	default:
		p.fail("invalid keyword '" + string(text) + "'")
		return
	}
	if dst := p.place(p.inKey(), p.key); dst != nil {
		*dst = v
	}
}
