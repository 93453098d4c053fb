package qjson

import (
	"encoding/binary"
	"unsafe"
)

// stringArena makes the strings of parsed values by copying their bytes
// into shared blocks, one allocation per block instead of one per string.
// Bytes once handed out are never written again (blocks only grow at the
// end, and a full block is left to the garbage collector), so the strings
// are as immutable as any (unless the Decoder has ReuseValues, which
// rewinds the block after each message). A value kept long keeps its block
// alive: at most arenaBlock bytes per string. Blocks start at arenaFirst
// bytes and double up to arenaBlock, as member blocks do: many Decoders
// parse a single short value (a reply line, a request checked once), and a
// first block of 16 KiB, zeroed and soon garbage, cost them more than the
// parse (it was most of what the fuzz targets allocated).
type stringArena struct {
	buf []byte
	// long holds the strings longer than arenaMax when the Decoder has
	// ReuseValues, so that they too are made without allocating.
	long  []byte
	reuse bool
	// alloc counts the bytes allocated for strings since the parser last
	// let go of the values made before (see parser.release).
	alloc int
}

const (
	arenaFirst = 256
	arenaBlock = 16 << 10
	// arenaMax is the longest string copied into a block; longer ones get
	// their own allocation, or go to the long buffer with ReuseValues.
	arenaMax = arenaBlock / 16
	// longKept is the most memory the long buffer keeps from one message
	// to the next, so that one huge string does not pin its memory.
	longKept = 4 << 20
)

// make returns b as a string. It may read b's capacity past its length:
// callers cap b at the end of their input.
func (a *stringArena) make(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if len(b) > cap(a.buf)-len(a.buf) {
		if len(b) > arenaMax {
			if !a.reuse {
				a.alloc += len(b)
				return string(b)
			}
			// A move of long to a bigger array leaves the strings
			// made before it in the old one, which stays valid.
			n, c := len(a.long), cap(a.long)
			a.long = append(a.long, b...)
			if cap(a.long) != c {
				a.alloc += cap(a.long)
			}
			return unsafe.String(&a.long[n], len(b))
		}
		size := min(max(2*cap(a.buf), arenaFirst), arenaBlock)
		for size < len(b) {
			size *= 2 // at most arenaBlock: len(b) <= arenaMax
		}
		a.buf = make([]byte, 0, size)
		a.alloc += size
	}
	n := len(a.buf)
	if len(b) <= 16 && cap(b) >= 16 && cap(a.buf)-n >= 16 {
		// Copy two words, which may take bytes past b (within its
		// capacity) into the free part of the block, where the next
		// string will overwrite them.
		dst := a.buf[n : n+16]
		binary.LittleEndian.PutUint64(dst, binary.LittleEndian.Uint64(b[:8:8]))
		binary.LittleEndian.PutUint64(dst[8:], binary.LittleEndian.Uint64(b[8:16:16]))
		a.buf = a.buf[:n+len(b)]
	} else {
		a.buf = append(a.buf, b...)
	}
	return unsafe.String(&a.buf[n], len(b))
}

// rewind frees the strings made so far for reuse (ReuseValues).
func (a *stringArena) rewind() {
	a.buf = a.buf[:0]
	a.long = a.long[:0]
	if cap(a.long) > longKept {
		a.long = nil
	}
}
