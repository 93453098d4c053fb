package fuzz

import (
	"bytes"

	"github.com/qgafuzz/qgafuzz/qga/qgatest"
)

// This file is the input format shared by the byte-stream targets. A fuzz
// input is the byte stream itself, with the byte 0x00 as an escape that
// introduces control operations:
//
//	00 00   a literal 0x00 byte
//	00 7C   "|": a split point, i.e. the end of one write (one read on the
//	        other side)
//	00 52   "R": a reconnect (a split point too): the client closes its
//	        connection, after reading its replies, and opens a new one
//	00 X    for any other X: a literal 0x00 followed by X, unless the target
//	        gives X a meaning of its own (the delimiter target does)
//
// A trailing lone 0x00 is a literal. Every byte string is a valid input, so
// mutations never produce rejects; plain protocol bytes without NULs mean
// themselves, so recorded vectors and hand-written requests are seeds as
// they are, and the dictionary's tokens can be spliced anywhere.

// Escape bytes of the input format.
const (
	escByte   = 0x00
	opSplit   = '|'
	opReconn  = 'R'
	maxChunks = 4096
)

// Piece is one element of a decoded input: a run of literal bytes (Op 0)
// or a control operation.
type Piece struct {
	Op   byte
	Data []byte
}

// decodeInput splits data into literal runs and the control operations
// named in ops. Consecutive literals are merged.
func decodeInput(data []byte, ops string) []Piece {
	var out []Piece
	lit := func(b []byte) {
		if n := len(out); n > 0 && out[n-1].Op == 0 {
			out[n-1].Data = append(out[n-1].Data, b...)
			return
		}
		out = append(out, Piece{Data: append([]byte(nil), b...)})
	}
	for len(data) > 0 {
		i := bytes.IndexByte(data, escByte)
		if i < 0 {
			lit(data)
			break
		}
		if i > 0 {
			lit(data[:i])
		}
		if i+1 == len(data) { // trailing lone escape
			lit(data[i:])
			break
		}
		c := data[i+1]
		switch {
		case c == escByte:
			lit(data[i : i+1])
		case c == opSplit || c == opReconn || bytes.IndexByte([]byte(ops), c) >= 0:
			out = append(out, Piece{Op: c})
		default:
			lit(data[i : i+2])
		}
		data = data[i+2:]
	}
	return out
}

// Chunks decodes an input of the byte-stream targets into the writes it
// describes: the stream split at the split points, with a reconnect marked
// as an Op{Reconnect: true} between two writes. Empty writes are dropped.
// Once 4096 ops (writes and reconnects) are made, later split points and
// reconnects are ignored: the rest of the input is one last write.
func Chunks(data []byte) qgatest.Stream {
	var s qgatest.Stream
	var cur []byte
	flush := func() {
		if len(cur) > 0 {
			s.Ops = append(s.Ops, qgatest.Op{Data: cur})
			cur = nil
		}
	}
	for _, p := range decodeInput(data, "") {
		switch {
		case p.Op == 0:
			cur = append(cur, p.Data...)
		case len(s.Ops) >= maxChunks:
		case p.Op == opReconn:
			flush()
			if n := len(s.Ops); n > 0 && !s.Ops[n-1].Reconnect {
				s.Ops = append(s.Ops, qgatest.Op{Reconnect: true})
			}
		default:
			flush()
		}
	}
	flush()
	return s
}

// Encode is the inverse of Chunks: it escapes each write's NUL bytes and
// joins the writes with split points (reconnect ops become reconnects).
// Seeds are written with it.
func Encode(s qgatest.Stream) []byte {
	var out []byte
	for i, op := range s.Ops {
		if op.Reconnect {
			out = append(out, escByte, opReconn)
			continue
		}
		if i > 0 && !s.Ops[i-1].Reconnect {
			out = append(out, escByte, opSplit)
		}
		out = appendEscaped(out, op.Data)
	}
	return out
}

// EncodeBytes encodes one write.
func EncodeBytes(p []byte) []byte { return appendEscaped(nil, p) }

func appendEscaped(dst, p []byte) []byte {
	for _, c := range p {
		dst = append(dst, c)
		if c == escByte {
			dst = append(dst, escByte)
		}
	}
	return dst
}

// joined returns all the bytes a stream writes and the offsets at which
// writes end (split points), reconnects included as split points.
func joined(s qgatest.Stream) ([]byte, []int) {
	var all []byte
	var cuts []int
	for _, op := range s.Ops {
		all = append(all, op.Data...)
		if n := len(cuts); n == 0 || cuts[n-1] != len(all) {
			cuts = append(cuts, len(all))
		}
	}
	return all, cuts
}

// splitAt cuts b at the given ascending offsets.
func splitAt(b []byte, cuts []int) [][]byte {
	var out [][]byte
	prev := 0
	for _, c := range cuts {
		if c > prev && c <= len(b) {
			out = append(out, b[prev:c])
			prev = c
		}
	}
	if prev < len(b) {
		out = append(out, b[prev:])
	}
	return out
}
