package qjson

// This file holds the Decoder and qemu-ga's streamer: the stage that groups
// tokens into messages by counting braces and brackets, and enforces the
// token size, token count and nesting depth limits.

// Limits are the streamer's limits. qemu-ga 7.2 uses DefaultLimits; other
// values exist for tests and for planted-bug agents.
type Limits struct {
	// MaxTokenSize bounds both one token (a longer one is cut and rejected)
	// and the total token text of one message (whitespace excluded).
	MaxTokenSize int
	// MaxTokenCount is the most tokens one message may have.
	MaxTokenCount int
	// MaxDepth is the most braces and brackets open at once, counted
	// together.
	MaxDepth int
}

// DefaultLimits are qemu-ga 7.2's limits.
var DefaultLimits = Limits{
	MaxTokenSize:  64 << 20,
	MaxTokenCount: 2 << 20,
	MaxDepth:      1024,
}

// Option configures a Decoder. NewDecoder ignores a nil Option, so that
// callers can build option lists conditionally.
type Option func(*Decoder)

// WithLimits replaces DefaultLimits. The zero Limits means DefaultLimits,
// as in qga.AgentConfig, since limits of zero would reject every token;
// any other value is taken as it is (a MaxDepth of 0 admits scalars only).
func WithLimits(l Limits) Option {
	return func(d *Decoder) {
		if l == (Limits{}) {
			l = DefaultLimits
		}
		d.lim = l
	}
}

// BoundaryOnly makes the Decoder find where each message ends without
// building values: message events carry no Value, parse errors are not
// detected (a complete message is reported as a message even if it would not
// parse), and no memory is allocated per message. Lexical and limit errors
// are reported as usual, so the events line up one to one with qemu-ga's
// replies to parsed-or-rejected input.
func BoundaryOnly() Option { return func(d *Decoder) { d.build = false } }

// ReuseValues lets the Decoder build each message's Value in the memory of
// the ones before it: an event's Value, with its strings, members and
// elements, is valid only until the next call to Feed, the way the bytes
// jsontext's ReadValue returns are valid only until the next read. A caller
// that is done with each message before it feeds more (as qemu-ga is)
// allocates nothing per message once the Decoder has warmed up, and the
// values it reads are still in the CPU cache. Use Value.Clone to keep one.
func ReuseValues() Option { return func(d *Decoder) { d.reuse = true } }

// Event is one outcome of the input: a complete message (a parsed Value, or
// in boundary mode just its end) or an error. qemu-ga sends exactly one
// reply per event.
type Event struct {
	// Offset is the 0-based stream offset of the byte that completed the
	// event. For a number or keyword ended by look-ahead, it is the offset
	// of the byte after the value, which has not been consumed yet.
	Offset int64
	// Value is the parsed message when Err is nil (zero in boundary mode).
	Value Value
	// Err is the lexical, limit or parse error, or nil.
	Err *Error
}

// Decoder is qemu-ga's input path (lexer, streamer, parser) as a push
// decoder: feed it bytes in chunks of any size and collect events. Its state
// persists across Feed calls the way qemu-ga's persists across reads and
// client connections; Reset gives the fresh state of a restarted agent.
//
// Create one with NewDecoder: the zero Decoder has limits of zero and
// rejects every token. A Decoder is not safe for concurrent use.
type Decoder struct {
	lim   Limits
	build bool
	reuse bool // ReuseValues

	// lexer
	state lexState
	quote byte   // closing quote of the string being lexed
	plain bool   // the string being lexed is ASCII without escapes
	buf   []byte // the current token's text from earlier chunks

	// streamer
	ntok           int
	size           int
	brace, bracket int

	pos int64 // stream offset of the next byte to consume
	ev  Event
	p   parser
}

// NewDecoder returns a Decoder in qemu-ga's start state.
func NewDecoder(opts ...Option) *Decoder {
	d := &Decoder{lim: DefaultLimits, build: true}
	for _, o := range opts {
		if o != nil {
			o(d)
		}
	}
	d.p.strings.reuse = d.reuse
	return d
}

// Reset returns d to its start state, as for a freshly started agent. The
// stream offset restarts at 0.
func (d *Decoder) Reset() {
	d.state = stStart
	d.resetMessage()
	d.pos = 0
	d.ev = Event{}
}

// Offset returns the stream offset of the next byte Feed will consume.
func (d *Decoder) Offset() int64 { return d.pos }

// Limits returns the limits in force.
func (d *Decoder) Limits() Limits { return d.lim }

// Pending reports whether d holds partial input: a token or message begun
// but not complete, or lexer recovery mode.
func (d *Decoder) Pending() bool {
	return d.state != stStart || d.ntok > 0
}

// Event returns the event completed by the last Feed call that reported one
// (the zero Event before the first, or after Reset: check Feed's result).
// Values share no memory with the input and, unless the Decoder has
// ReuseValues, are never modified afterwards: they may be kept. Their
// strings, and the members of their arrays and objects, share blocks of up
// to 16 KiB with those of other values the Decoder made, so a kept value
// keeps its blocks alive. The other way round is bounded: values the
// caller dropped stay alive through the Decoder's own blocks for at most
// about 4 MiB of values made since, whatever their size.
func (d *Decoder) Event() Event { return d.ev }

// resetMessage drops the partial message and zeroes the counters. Large
// buffers are released so that one huge message does not pin its memory.
func (d *Decoder) resetMessage() {
	const keep = 4 << 20
	if cap(d.buf) > keep {
		d.buf = nil
	}
	d.buf = d.buf[:0]
	d.ntok, d.size, d.brace, d.bracket = 0, 0, 0, 0
	if d.build && (d.p.state != psValue || len(d.p.frames) > 0) {
		d.p.reset()
	}
	if d.reuse {
		d.p.rewind()
	}
}

// fits reports whether a token of tlen bytes passes the streamer's limits
// (the brace and bracket counters already count it).
func (d *Decoder) fits(tlen int) bool {
	return d.size+tlen+1 <= d.lim.MaxTokenSize && d.ntok < d.lim.MaxTokenCount &&
		d.brace+d.bracket <= d.lim.MaxDepth
}

// tooBig raises the error of the first limit a token of tlen bytes trips.
func (d *Decoder) tooBig(tlen int, off int64) bool {
	switch {
	case d.size+tlen+1 > d.lim.MaxTokenSize:
		return d.limitError(off, descTokenSize)
	case d.ntok+1 > d.lim.MaxTokenCount:
		return d.limitError(off, descTokenCount)
	}
	return d.limitError(off, descNestingDepth)
}

// Kinds of scalar tokens.
const (
	tokString = iota
	tokNumber
	tokKeyword
)

// scalar hands a string, number or keyword token to the streamer (and the
// parser); text is the whole token, plain says a string is ASCII without
// escapes. It reports whether an event completed; off is the offset of the
// byte responsible.
func (d *Decoder) scalar(kind int, text []byte, plain bool, off int64) bool {
	if !d.fits(len(text)) {
		return d.tooBig(len(text), off)
	}
	d.size += len(text)
	d.ntok++
	if d.build {
		switch kind {
		case tokString:
			d.p.string(text, plain)
		case tokNumber:
			d.p.number(text)
		default:
			d.p.keyword(text)
		}
	}
	d.buf = d.buf[:0]
	if d.brace > 0 && d.bracket >= 0 || d.bracket > 0 && d.brace >= 0 {
		return false
	}
	return d.complete(off)
}

// complete ends the message and makes its event.
func (d *Decoder) complete(off int64) bool {
	if d.build {
		v, err := d.p.finish(off)
		d.ev = Event{Offset: off, Value: v, Err: err}
	} else {
		d.ev = Event{Offset: off}
	}
	d.resetMessage()
	return true
}

func (d *Decoder) limitError(off int64, desc string) bool {
	d.ev = Event{Offset: off, Err: &Error{Offset: off, Kind: LimitError, Class: genericError, Desc: desc}}
	d.resetMessage()
	d.state = stStart
	return true
}

// lexError raises a lexical error for the current token followed by byte c,
// drops the partial message and enters recovery mode.
func (d *Decoder) lexError(c byte, off int64) bool {
	d.buf = append(d.buf, c)
	err := newStrayError(off, d.buf)
	d.ev = Event{Offset: off, Err: err}
	d.resetMessage()
	d.state = stRecover
	return true
}
