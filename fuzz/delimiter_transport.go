package fuzz

import (
	"bytes"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/qgafuzz/qgafuzz/qga"
	"github.com/qgafuzz/qgafuzz/qjson"
)

// This file is the scripted agent of the delimiter target: a qga.Transport
// whose read side plays the fuzz input as the agent→host byte stream, in
// virtual time. Control operations of the input (after the 0x00 escape)
// make the stream react to the client:
//
//	00 7C "|"  end of one read: the client's Read returns here
//	00 57 "W"  what follows is sent only after the client writes again
//	           (the agent waits for a request and answers it)
//	00 53 "S"  the decimal id of the client's latest sync request
//	00 49 "I"  the decimal id ("id" member) of the client's latest request
//	00 54 "T"  one second passes before the next byte
//	00 4C "L"  a flood: the next two literal bytes c, x stand for
//	           (c+1) KiB of the byte x, generated lazily
//	00 52 "R"  the agent hangs up: EOF, and the client's redial gets a new
//	           connection that continues the script
//
// Reads that find nothing to deliver behave as a blocked read does when its
// deadline passes: the virtual clock jumps to the deadline and the read
// fails with os.ErrDeadlineExceeded.

const (
	opWait  = 'W'
	opSync  = 'S'
	opReqID = 'I'
	opTick  = 'T'
	opFlood = 'L'
	// delimiterOps are the delimiter target's own operations.
	delimiterOps = "WSITL"
	floodUnit    = 1 << 10
	tick         = time.Second
)

// script is the shared state of the scripted agent across connections.
type script struct {
	pieces  []Piece
	pos     int    // next piece
	cur     []byte // literal bytes of the current piece not yet delivered
	flood   int    // bytes of the current flood not yet delivered
	fill    byte
	delay   time.Duration // virtual time still to pass before the next byte
	gateAt  int           // client writes seen when the current W was reached, or -1
	writes  int           // client writes seen
	now     time.Time
	syncIDs []int64 // ids of sync requests, in order
	reqIDs  []int64 // ids of requests, in order
	// rec records what was delivered, up to recCap bytes.
	rec      []byte
	recLost  bool
	recAlloc uint64 // bytes allocated for rec, not charged to the client
	hangups  int
}

const recCap = 1 << 20

// recScratch keeps the record buffer of a run for the next (see scratch):
// growing it to the size of a flood, run after run, was most of what the
// target allocated.
var recScratch scratch[[]byte]

func newScript(pieces []Piece) *script {
	return &script{pieces: pieces, gateAt: -1, now: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
		rec: recScratch.get()[:0]}
}

// release keeps the record buffer for a later run; s.rec may not be used
// afterwards. The buffer never holds more than recCap bytes.
func (s *script) release() {
	recScratch.put(s.rec[:0])
	s.rec = nil
}

func (s *script) Now() time.Time { return s.now }

func (s *script) lastID(ids []int64) []byte {
	if len(ids) == 0 {
		return []byte("0")
	}
	return strconv.AppendInt(nil, ids[len(ids)-1], 10)
}

// advance loads the next deliverable bytes into cur or flood. It returns
// false when the stream is blocked (gate, end of script) or split, and eof
// when the agent hangs up here.
func (s *script) advance() (ok, split, eof bool) {
	for len(s.cur) == 0 && s.flood == 0 {
		if s.delay > 0 {
			return false, false, false
		}
		if s.pos == len(s.pieces) {
			return false, false, false
		}
		p := s.pieces[s.pos]
		switch p.Op {
		case 0:
			s.cur = p.Data
		case opWait:
			if s.gateAt < 0 {
				s.gateAt = s.writes // the agent waits for a request from now
			}
			if s.writes <= s.gateAt {
				return false, false, false
			}
			s.gateAt = -1
		case opSync:
			s.cur = s.lastID(s.syncIDs)
		case opReqID:
			s.cur = s.lastID(s.reqIDs)
		case opTick:
			s.delay += tick
		case opFlood:
			if s.pos+1 < len(s.pieces) && s.pieces[s.pos+1].Op == 0 && len(s.pieces[s.pos+1].Data) >= 2 {
				next := &s.pieces[s.pos+1]
				s.flood, s.fill = (int(next.Data[0])+1)*floodUnit, next.Data[1]
				next.Data = next.Data[2:]
			}
		case opReconn:
			s.pos++
			s.hangups++
			s.record([]byte{'\n'}) // lines do not continue across connections
			return false, false, true
		case opSplit:
			s.pos++
			return false, true, false
		}
		s.pos++
	}
	return true, false, false
}

// scriptConn is one connection to the scripted agent.
type scriptTransport struct {
	s      *script
	rdl    time.Time
	eof    bool
	closed bool
}

// Read delivers script bytes up to the next split point.
func (t *scriptTransport) Read(p []byte) (int, error) {
	s := t.s
	switch {
	case t.closed:
		return 0, os.ErrClosed
	case t.eof:
		return 0, io.EOF
	}
	n := 0
	for n < len(p) {
		if s.delay > 0 {
			if n > 0 {
				break
			}
			if !t.rdl.IsZero() && !s.now.Add(s.delay).Before(t.rdl) {
				s.delay -= t.rdl.Sub(s.now)
				s.now = t.rdl
				return 0, os.ErrDeadlineExceeded
			}
			s.now = s.now.Add(s.delay)
			s.delay = 0
		}
		ok, split, eof := s.advance()
		if eof {
			t.eof = true
			if n > 0 {
				break
			}
			return 0, io.EOF
		}
		if split && n > 0 {
			break
		}
		if !ok {
			if split || s.delay > 0 {
				continue
			}
			break
		}
		var k int
		if len(s.cur) > 0 {
			k = copy(p[n:], s.cur)
			s.record(s.cur[:k])
			s.cur = s.cur[k:]
		} else {
			k = min(len(p)-n, s.flood)
			fill(p[n:n+k], s.fill)
			s.record(p[n : n+k])
			s.flood -= k
		}
		n += k
	}
	if n > 0 {
		return n, nil
	}
	// Nothing can arrive: the read blocks until its deadline.
	if !t.rdl.IsZero() && t.rdl.After(s.now) {
		s.now = t.rdl
	}
	return 0, os.ErrDeadlineExceeded
}

// fill sets every byte of b to c, by doubling copies: floods fill reads of
// 32 KiB, and a byte at a time that was a tenth of the target.
func fill(b []byte, c byte) {
	if len(b) == 0 {
		return
	}
	b[0] = c
	for i := 1; i < len(b); i *= 2 {
		copy(b[i:], b[:i])
	}
}

func (s *script) record(b []byte) {
	if len(s.rec)+len(b) > recCap {
		s.recLost = true
		return
	}
	c := cap(s.rec)
	s.rec = append(s.rec, b...)
	// A new array of cap(s.rec) bytes if the capacity changed, written
	// without a branch: whether a run's record grows depends on the
	// buffer it was given (see scratch).
	s.recAlloc += uint64(cap(s.rec)) * uint64(min(cap(s.rec)-c, 1))
}

// Write notes the ids the client sends.
func (t *scriptTransport) Write(p []byte) (int, error) {
	switch {
	case t.closed:
		return 0, os.ErrClosed
	case t.eof:
		return 0, io.ErrClosedPipe
	}
	s := t.s
	s.writes++
	body := bytes.TrimLeft(p, "\xff")
	if v, err := parseOne(bytes.TrimSpace(body)); err == nil {
		cmd, _ := v.Get("execute")
		name, _ := cmd.Str()
		args, _ := v.Get("arguments")
		if name == qga.CmdSync || name == qga.CmdSyncDelimited {
			if id, ok := args.Get("id"); ok {
				if n, ok := id.Int(); ok {
					s.syncIDs = append(s.syncIDs, n)
				}
			}
		}
		if id, ok := v.Get("id"); ok && id.Kind() == qjson.Int {
			n, _ := id.Int()
			s.reqIDs = append(s.reqIDs, n)
		}
	}
	return len(p), nil
}

func (t *scriptTransport) Close() error { t.closed = true; return nil }

func (t *scriptTransport) SetReadDeadline(d time.Time) error { t.rdl = d; return nil }

func (t *scriptTransport) SetWriteDeadline(time.Time) error { return nil }

// CloseWrite lets Client.Close drain without waiting for the script.
func (t *scriptTransport) CloseWrite() error { return nil }
