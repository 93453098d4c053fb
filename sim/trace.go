package sim

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"strconv"
	"time"
	"unicode/utf16"
)

// This file records what happens in a run as JSON Lines, one event per
// line: {"t": virtual ns, "actor": host|agent|chan|fault|check,
// "event": ..., "hex": bytes, "info": text}. Every run hashes its events
// (SHA-256) whether or not the lines are kept, so that determinism can be
// checked cheaply: the same seed and options give the same hash.

// TraceLine is one decoded trace line.
type TraceLine struct {
	T     int64  `json:"t"`
	Actor string `json:"actor"`
	Event string `json:"event"`
	Hex   string `json:"hex,omitempty"`
	Info  string `json:"info,omitempty"`
}

type tracer struct {
	h    hash.Hash
	keep bool
	// to, if not nil, takes the lines in blocks of about traceBlock bytes
	// (Options.TraceTo), so that out never holds more than one block: a
	// long run's trace (some 2.5 KB a step) need not fit in memory.
	to  io.Writer
	err error // the first error writing to to; later blocks are dropped
	out []byte
	bin []byte // binary events not hashed yet
	n   int
}

// traceBlock is how many bytes of lines the tracer holds before writing
// them to Options.TraceTo.
const traceBlock = 64 << 10

// Binary events are hashed in batches of about binBatch bytes: three
// hash writes per event cost a tenth of the tracer. Bytes of more than
// binDirect are hashed where they are, not copied into the batch.
const (
	binBatch  = 1 << 10
	binDirect = 256
)

// newTracer returns a tracer that only hashes, keeps the lines (keep), or
// writes them to to (if not nil).
func newTracer(keep bool, to io.Writer) tracer {
	t := tracer{h: sha256.New(), keep: keep || to != nil, to: to, bin: make([]byte, 0, 2*binBatch)}
	if to != nil {
		t.out = make([]byte, 0, traceBlock+4<<10)
	}
	return t
}

// add records one event. Every event is hashed in a binary form (time,
// then actor, event, bytes and info, each with its length), which is
// cheaper than hashing the JSON line and identical whether or not the
// line is kept; with keep the JSON line is appended to out. The hash
// sees one stream of bytes however it is cut into writes.
func (t *tracer) add(ts time.Duration, actor, event string, data []byte, info string) {
	b := binary.LittleEndian.AppendUint64(t.bin, uint64(ts))
	for _, s := range [...]string{actor, event} {
		b = append(binary.AppendUvarint(b, uint64(len(s))), s...)
	}
	b = binary.AppendUvarint(b, uint64(len(data)))
	if len(data) > binDirect {
		t.h.Write(b)
		t.h.Write(data)
		b = b[:0]
	} else {
		b = append(b, data...)
	}
	b = append(binary.AppendUvarint(b, uint64(len(info))), info...)
	if len(b) >= binBatch {
		t.h.Write(b)
		b = b[:0]
	}
	t.bin = b
	t.n++
	if !t.keep {
		return
	}
	l := append(t.out, `{"t":`...)
	l = strconv.AppendInt(l, int64(ts), 10)
	l = append(l, `,"actor":"`...)
	l = append(l, actor...)
	l = append(l, `","event":"`...)
	l = append(l, event...)
	l = append(l, '"')
	if data != nil {
		l = append(l, `,"hex":"`...)
		l = hex.AppendEncode(l, data)
		l = append(l, '"')
	}
	if info != "" {
		l = append(l, `,"info":`...)
		l = appendJSONString(l, info)
	}
	t.out = append(l, "}\n"...)
	if t.to != nil && len(t.out) >= traceBlock {
		t.flush()
	}
}

// flush writes the lines held to t.to.
func (t *tracer) flush() {
	if t.err == nil && len(t.out) > 0 {
		_, t.err = t.to.Write(t.out)
	}
	t.out = t.out[:0]
}

func (t *tracer) sum() string {
	t.h.Write(t.bin)
	t.bin = t.bin[:0]
	return hex.EncodeToString(t.h.Sum(nil))
}

// appendJSONString appends s as a JSON string in ASCII: what JSON needs
// escaped, and every other rune outside printable ASCII as \uXXXX
// (invalid UTF-8 as \ufffd), so that trace files are plain ASCII.
func appendJSONString(dst []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	u := func(dst []byte, r rune) []byte {
		return append(dst, '\\', 'u', hexDigits[r>>12&15], hexDigits[r>>8&15], hexDigits[r>>4&15], hexDigits[r&15])
	}
	dst = append(dst, '"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			dst = append(dst, '\\', byte(r))
		case r == '\n':
			dst = append(dst, '\\', 'n')
		case r >= 0x20 && r < 0x7f:
			dst = append(dst, byte(r))
		case r > 0xffff:
			r1, r2 := utf16.EncodeRune(r)
			dst = u(u(dst, r1), r2)
		default:
			dst = u(dst, r)
		}
	}
	return append(dst, '"')
}

// traceHeader is the first line of a trace file: the schedule that
// produced it, so that the file can be replayed.
type traceHeader struct {
	T        int64     `json:"t"`
	Actor    string    `json:"actor"`
	Event    string    `json:"event"`
	Schedule *Schedule `json:"schedule"`
}

// WriteTrace writes r's trace to path as JSON Lines, preceded by a header
// line holding its schedule (so "qgafuzz sim --replay" accepts the file).
// r must have been run with its trace kept.
func WriteTrace(path string, r *Result) error {
	if r == nil {
		return errors.New("sim: WriteTrace: no run (nil Result)")
	}
	if r.Trace == nil {
		return fmt.Errorf("sim: the run of seed %d did not keep its trace", r.Seed)
	}
	return WriteTraceFrom(path, r, bytes.NewReader(r.Trace))
}

// WriteTraceFrom is WriteTrace for a run whose trace lines went to
// Options.TraceTo (or ReplayTo): lines reads them back, and they are
// copied to path after the header, which needs the finished run. The
// file is the one WriteTrace would write had the run kept its trace.
func WriteTraceFrom(path string, r *Result, lines io.Reader) error {
	if r == nil {
		return errors.New("sim: WriteTraceFrom: no run (nil Result)")
	}
	return writeFile(path, func(w *bufio.Writer) error {
		err := writeScheduleJSON(w, r.Schedule(), func(s *Schedule) any {
			return traceHeader{Actor: "sim", Event: "schedule", Schedule: s}
		}, 1, "")
		if err != nil {
			return err
		}
		w.WriteByte('\n')
		_, err = w.ReadFrom(lines)
		return err
	})
}

// ReadTrace decodes trace lines (a header line, if present, is skipped).
func ReadTrace(rd io.Reader) ([]TraceLine, error) {
	var out []TraceLine
	sc := bufio.NewScanner(rd)
	sc.Buffer(nil, 64<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var tl TraceLine
		if err := json.Unmarshal(line, &tl); err != nil {
			return nil, fmt.Errorf("trace line %d: %w", n, err)
		}
		if tl.Actor == "sim" {
			continue
		}
		out = append(out, tl)
	}
	return out, sc.Err()
}
