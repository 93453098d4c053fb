package qga

import "strconv"

// Bug names one deliberate divergence from qemu-ga 7.2 that a reference
// Agent can be built with (AgentConfig.Bug). Each models a mistake a
// re-implementation of the agent plausibly makes; the differential fuzzer's
// tests plant each one and check that it is found.
type Bug uint8

const (
	// NoBug is the faithful reference agent.
	NoBug Bug = iota
	// BugSilentFlush: 0xFF flushes the parser but gets no error reply (as
	// agents before QEMU 3.0 behaved).
	BugSilentFlush
	// BugDepthOffByOne: the nesting limit trips at 1026 instead of 1025.
	BugDepthOffByOne
	// BugNoDelimiterLargeID: guest-sync-delimited omits the 0xFF prefix
	// for ids that do not fit 32 bits.
	BugNoDelimiterLargeID
	// BugDroppedNewline: CommandNotFound replies for unknown commands lack
	// their '\n'.
	BugDroppedNewline
	// BugDuplicateReply: guest-ping with an "id" member is answered twice.
	BugDuplicateReply
	// BugSplitUTF8: a read that ends inside a multi-byte UTF-8 sequence
	// loses the partial sequence.
	BugSplitUTF8
	numBugs
)

var bugNames = [...]string{"none", "silent-flush", "depth-off-by-one", "no-delimiter-large-id", "dropped-newline", "duplicate-reply", "split-utf8"}

func (b Bug) String() string {
	if int(b) < len(bugNames) {
		return bugNames[b]
	}
	return "Bug(" + strconv.Itoa(int(b)) + ")"
}

// Bugs lists every plantable bug.
func Bugs() []Bug {
	out := make([]Bug, 0, numBugs-1)
	for b := NoBug + 1; b < numBugs; b++ {
		out = append(out, b)
	}
	return out
}

// ParseBug returns the Bug with the given name.
func ParseBug(name string) (Bug, bool) {
	for i, n := range bugNames {
		if n == name {
			return Bug(i), true
		}
	}
	return NoBug, false
}

// trimPartialUTF8 drops an incomplete UTF-8 sequence at the end of p, the
// mistake BugSplitUTF8 plants.
func trimPartialUTF8(p []byte) []byte {
	for k := 1; k <= 3 && k <= len(p); k++ {
		c := p[len(p)-k]
		if c&0xC0 == 0x80 {
			continue // continuation byte: look further back
		}
		need := 0
		switch {
		case c >= 0xF0 && c < 0xF8:
			need = 4
		case c >= 0xE0 && c < 0xF0:
			need = 3
		case c >= 0xC2 && c < 0xE0:
			need = 2
		}
		if need > k {
			return p[:len(p)-k]
		}
		return p
	}
	return p
}
