package sim

import (
	"errors"
	"net"
	"os"
	"time"

	"github.com/qgafuzz/qgafuzz/qga"
)

// This file is the host side: the virtual Transport the real qga.Client
// talks through, and host sessions. A session is one host process with its
// own Client; a reconnect fault kills it and a new one starts, while the
// channel (and whatever the agent wrote into it) carries on, as on
// virtio-serial.

var (
	// errHostGone is what a dead host process's transport returns; the
	// client reports it as a closed channel, and the workload starts a
	// new session.
	errHostGone = errors.New("sim: the host process died (reconnect fault)")
	// errDeadlock is returned by a read without a deadline when nothing
	// can ever arrive.
	errDeadlock = errors.New("sim: read without a deadline and nothing in flight")
	// errStopped is returned once the run has stopped (agent panic).
	errStopped = errors.New("sim: run stopped")
)

type hostActor struct {
	sess      int32
	dead      bool
	client    *qga.Client
	backAfter time.Duration // reconnect delay after a crash
	rx        []piece       // delivered to the host, not yet read
	rxLen     int
}

func (h *hostActor) receive(pc piece) {
	h.rx = append(h.rx, pc)
	h.rxLen += len(pc.data)
}

// transport is one session's qga.Transport over the virtual channel.
type transport struct {
	w      *world
	sess   int32
	closed bool
	rdl    time.Duration
	hasRDL bool
}

// unusable returns why the transport can no longer be read or written:
// closed, its host process gone, or the run stopped; nil if it can.
func (t *transport) unusable() error {
	switch w := t.w; {
	case t.closed:
		return net.ErrClosed
	case w.host.sess != t.sess || w.host.dead:
		return errHostGone
	case w.stop:
		return errStopped
	}
	return nil
}

// Read returns what the channel has delivered, or runs the simulation
// until something arrives or the read deadline passes in virtual time.
func (t *transport) Read(p []byte) (int, error) {
	w := t.w
	for {
		if err := t.unusable(); err != nil {
			return 0, err
		}
		switch {
		case len(p) == 0:
			return 0, nil
		case w.host.rxLen > 0:
			if w.striking(StrikeRead) {
				// The host dies having read k of the bytes ready, which
				// it takes with it; the rest wait for the next host.
				ready := w.host.rxLen
				k := w.strike.cut % min(ready, len(p))
				if k > 0 {
					w.hostRead(p[:k])
				}
				w.strikeHost("mid-read: " + itoa(int64(k)) + " of " + itoa(int64(ready)) + " bytes read")
				return 0, errHostGone
			}
			return w.hostRead(p), nil
		case t.hasRDL && w.now >= t.rdl:
			if w.striking(w.strike.at) {
				// Still waiting when its deadline comes: the host dies
				// then, before the point it was to die at.
				w.strikeHost("at its deadline, before its " + strikeNames[w.strike.at] + " point")
				return 0, errHostGone
			}
			w.tr.add(w.now, "host", "timeout", nil, "")
			// The client reads only once it has consumed everything
			// read before, and a failed read ends the call: the
			// partial line it had collected is dropped, and its next
			// line starts with the next byte it reads.
			w.chk.resetLine()
			return 0, os.ErrDeadlineExceeded
		}
		limit := forever
		if t.hasRDL {
			limit = t.rdl
		}
		w.runUntil(w.readable, limit)
		if !t.hasRDL && w.host.rxLen == 0 && !w.host.dead && !w.stop {
			return 0, errDeadlock
		}
	}
}

// hostRead copies delivered bytes into p and shows them to the checker,
// which learns which replies the client has seen.
func (w *world) hostRead(p []byte) int {
	h := &w.host
	n := 0
	for n < len(p) && len(h.rx) > 0 {
		pc := &h.rx[0]
		k := copy(p[n:], pc.data)
		w.chk.feed(pc.data[:k], pc.tag)
		n += k
		if k == len(pc.data) {
			h.rx = h.rx[1:]
		} else {
			pc.data = pc.data[k:]
		}
	}
	if len(h.rx) == 0 {
		h.rx = nil
	}
	h.rxLen -= n
	w.tr.add(w.now, "host", "read", p[:n], "")
	return n
}

// Write hands p to the channel at once: writes never block. Faults decide
// how and when its bytes arrive.
func (t *transport) Write(p []byte) (int, error) {
	w := t.w
	if err := t.unusable(); err != nil {
		return 0, err
	}
	if w.striking(StrikeWrite) && len(p) > 0 {
		// The host dies mid-write: k bytes reach the channel, the rest
		// never do.
		k := w.strike.cut % len(p)
		w.strikeHost("mid-write: " + itoa(int64(k)) + " of " + itoa(int64(len(p))) + " bytes written")
		if k > 0 {
			w.hostWrite(p[:k], t.sess)
		}
		return k, errHostGone
	}
	tag := w.hostWrite(p, t.sess)
	if w.striking(StrikeSent) && w.strike.tag == 0 {
		w.strike.tag = tag
	}
	return len(p), nil
}

// hostWrite sends one write of session sess and returns its tag.
func (w *world) hostWrite(p []byte, sess int32) int32 {
	w.writes++
	tag := w.writes
	if w.call == 0 {
		w.strayWrites = append(w.strayWrites, tag)
	}
	w.tr.add(w.now, "host", "write", p, "")
	w.send(&w.h2a, NewChunk(p, tag), SiteH2A, sess)
	return tag
}

// Close closes this session's end. The channel itself stays.
func (t *transport) Close() error {
	t.closed = true
	return nil
}

// SetReadDeadline sets the virtual instant at which a blocked Read fails
// with os.ErrDeadlineExceeded.
func (t *transport) SetReadDeadline(d time.Time) error {
	t.hasRDL = !d.IsZero()
	t.rdl = d.Sub(Epoch)
	return nil
}

// SetWriteDeadline is accepted; writes never block.
func (t *transport) SetWriteDeadline(time.Time) error { return nil }

// newSession starts a host process: a new transport and a new Client,
// with its own id stream (a restarted host does not reuse ids).
func (w *world) newSession() {
	h := &w.host
	h.sess++
	h.dead = false
	h.client = qga.NewClient(&transport{w: w, sess: h.sess}, qga.ClientOptions{
		Resync: w.resync,
		Now:    w.virtualNow,
		Rand:   streamSource(w.cfg.seed, purposeClient, uint64(h.sess)),
	})
	w.chk.newSession()
	w.stats.Sessions++
	w.tr.add(w.now, "host", "session", nil, "session "+itoa(int64(h.sess))+", client "+string(w.cfg.client))
}
