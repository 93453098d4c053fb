package qgatest

import (
	"strconv"
	"time"

	"github.com/qgafuzz/qgafuzz/qga"
)

// HostileMode names one way a guest agent (or the channel to it) can
// misbehave. A HostileAgent runs the reference agent for correct replies and
// applies exactly one mode to what it sends. Each mode is a case a careful
// host must survive: return the right reply or a clear typed error within
// its deadline, never a reply that belongs to another request, and never
// more memory than its configured limits.
type HostileMode uint8

const (
	// HostileNone is the reference agent, unchanged: the baseline.
	HostileNone HostileMode = iota
	// HostileStaleReplies queues stale replies before anything the new
	// client sends: plain replies, replies with ids the client never used,
	// an old guest-sync reply, a parse error, and half a reply with no
	// newline (which glues itself to the next line). Then it behaves.
	HostileStaleReplies
	// HostileStaleDelimited queues stale data containing 0xFF: old
	// guest-sync-delimited replies with other ids, 0xFF in the middle of
	// a line, bare 0xFF bytes, a delimited string id, and half a
	// delimited reply. Then it behaves.
	HostileStaleDelimited
	// HostileSplitBytes writes every reply one byte per write.
	HostileSplitBytes
	// HostileHalfReplySilence sends the first half of the first reply to
	// a request, then never sends anything again (it keeps reading).
	HostileHalfReplySilence
	// HostileRestartMidReply sends half of the first reply to a request,
	// then restarts: its parser state is lost and the rest of the reply is
	// never sent; later input is served by the fresh agent, on the same
	// channel (as over virtio-serial, where a restart does not close it).
	HostileRestartMidReply
	// HostileFlood answers the first request with a reply holding a
	// FloodSize-byte string (1 GiB by default), generated while it is
	// written, never held in memory.
	HostileFlood
	// HostileDeepNesting answers the first request with a reply nested
	// Depth levels deep (200,000 by default).
	HostileDeepNesting
	// HostileSilence reads everything and never writes.
	HostileSilence
	// HostileSlow writes correct replies one byte per Pace (one second by
	// default).
	HostileSlow
	// HostileWrongID precedes every sync reply with one for a different id
	// and echoes every request's id wrongly.
	HostileWrongID
	// HostileStringID precedes every sync reply with one whose id is a
	// string and echoes every request's id as a string.
	HostileStringID
	// HostileEOFMidReply sends half of the first reply to a request and
	// closes the connection. Later connections are served normally.
	HostileEOFMidReply
	// HostileDuplicate sends every reply twice.
	HostileDuplicate
	numHostileModes
)

var hostileNames = [...]string{
	"none", "stale-replies", "stale-delimited", "split-bytes", "half-reply-silence",
	"restart-mid-reply", "flood", "deep-nesting", "silence", "slow", "wrong-id",
	"string-id", "eof-mid-reply", "duplicate",
}

func (m HostileMode) String() string {
	if int(m) < len(hostileNames) {
		return hostileNames[m]
	}
	return "HostileMode(" + strconv.Itoa(int(m)) + ")"
}

// HostileModes lists every misbehaving mode (not HostileNone).
func HostileModes() []HostileMode {
	out := make([]HostileMode, 0, numHostileModes-1)
	for m := HostileNone + 1; m < numHostileModes; m++ {
		out = append(out, m)
	}
	return out
}

// ParseHostileMode returns the mode with the given name.
func ParseHostileMode(name string) (HostileMode, bool) {
	for i, n := range hostileNames {
		if n == name {
			return HostileMode(i), true
		}
	}
	return HostileNone, false
}

// Defaults for HostileConfig.
const (
	DefaultHostilePace  = time.Second
	DefaultHostileFlood = 1 << 30
	DefaultHostileDepth = 200_000
)

// HostileConfig tunes a HostileAgent. The zero value uses the defaults.
type HostileConfig struct {
	// Agent configures the reference agent that produces correct replies.
	Agent qga.AgentConfig
	// Pace is HostileSlow's pause before each byte (DefaultHostilePace).
	// Tests shorten it, and keep their deadlines short.
	Pace time.Duration
	// FloodSize is the length of HostileFlood's string (DefaultHostileFlood).
	FloodSize int64
	// Depth is HostileDeepNesting's nesting depth (DefaultHostileDepth).
	Depth int
}

func (c *HostileConfig) setDefaults() {
	if c.Pace <= 0 {
		c.Pace = DefaultHostilePace
	}
	if c.FloodSize <= 0 {
		c.FloodSize = DefaultHostileFlood
	}
	if c.Depth <= 0 {
		c.Depth = DefaultHostileDepth
	}
}

// staleReplies is what HostileStaleReplies has queued for a new client.
var staleReplies = []byte(`{"return": {}}
{"return": 1234}
{"return": {}, "id": 1}
{"id": 2, "error": {"class": "GenericError", "desc": "stale"}}
{"error": {"class": "GenericError", "desc": "JSON parse error, expecting value"}}
{"return": {"version": "7.2.22", "supported_comm`)

// staleDelimited is what HostileStaleDelimited has queued: stale data with
// 0xFF in every position a careless reader could trip over.
var staleDelimited = []byte("\xff{\"return\": 1}\n" +
	"{\"return\": {}}\n" +
	"\xff{\"return\": 9223372036854775807}\n" +
	"\xff{\"return\": 42, \"id\": 42}\n" +
	"{\"ret\xffurn\": 3}\n" +
	"\xff\xff\xff\n" +
	"\xff{\"return\": \"1\"}\n" +
	"\xff{\"retu")
