package qga

import (
	"context"
	"math/rand/v2"
	"strconv"
	"time"
)

// This file holds what a Client is configured with: the resync strategy,
// the options and their defaults, and the counters it keeps.

// Resync selects how a Client gets back in step with the agent.
type Resync uint8

const (
	// ResyncDelimited is the careful strategy of spec §7.1: send 0xFF and
	// guest-sync-delimited with a fresh id, discard every byte up to a
	// 0xFF, and accept only {"return": id} right after it. Requests carry
	// an "id" member and replies must echo it. Only this strategy (and its
	// fallback ResyncFlushPlain) guarantees never to return a stale reply.
	ResyncDelimited Resync = iota
	// ResyncFlushPlain is the careful strategy for agents without
	// guest-sync-delimited: 0xFF (which flushes the agent's parser), then
	// guest-sync; lines are skipped until {"return": id}, and a 0xFF in the
	// input starts a new line. A stale partial line can make it time out
	// (never return a wrong reply); the next call then succeeds.
	ResyncFlushPlain
	// ResyncPlain is the naive pre-delimited host: guest-sync without 0xFF,
	// read lines until {"return": id}; requests carry no "id" and the next
	// line is taken as the reply. A half-sent request left in the agent
	// swallows the sync. It exists to be shown broken by the simulator.
	ResyncPlain
	// ResyncNone never synchronises: send the request, take the next line.
	// Stale replies are returned as if they were fresh. Simulator use only.
	ResyncNone
)

var resyncNames = [...]string{"delimited", "flush-plain", "plain", "none"}

func (r Resync) String() string {
	if int(r) < len(resyncNames) {
		return resyncNames[r]
	}
	return "Resync(" + strconv.Itoa(int(r)) + ")"
}

// careful reports whether the strategy tags requests with ids and matches
// replies by them.
func (r Resync) careful() bool { return r == ResyncDelimited || r == ResyncFlushPlain }

// Defaults for ClientOptions.
const (
	// DefaultTimeout bounds a call whose context has no deadline.
	DefaultTimeout = 10 * time.Second
	// DefaultMaxReplySize is 16 MiB: four orders of magnitude above the
	// largest reply of the read-only commands (guest-info is ~3 KB; fsinfo
	// and network listings of big guests are tens of KB), and enough for
	// guest-file-read chunks of several MiB, while keeping a misbehaving
	// agent from costing more than a few tens of MiB. Callers that fetch
	// larger payloads (guest-exec-status can carry 16 MiB of output,
	// base64-encoded) raise it.
	DefaultMaxReplySize = 16 << 20
	// DefaultMaxDiscard is 64 MiB, qemu-ga's own limit on one message
	// (spec §2.8, §3.4): a resynchronisation that must skip more than that
	// is facing a flood, not stale replies, and gives up with a
	// ProtocolError (the next call continues skipping). Discarding streams
	// and costs no memory.
	DefaultMaxDiscard = 64 << 20
	// DefaultDrainTimeout bounds the drain done by Close.
	DefaultDrainTimeout = 500 * time.Millisecond
	// MinReplySize is the least MaxReplySize: room for every sync reply
	// (0xFF, {"return": N} with N of up to 20 characters, newline: 34
	// bytes), without which no call could resynchronise; it would wait
	// for a reply it cannot read until its deadline.
	MinReplySize = 64
	// MinDiscard is the least MaxDiscard: room for the error replies an
	// agent may send before the sync reply (its answer to the 0xFF, and to
	// a partial request it held; qemu-ga's are under 1.1 KiB each),
	// without which every resynchronisation would fail.
	MinDiscard = 4 << 10
)

// ClientOptions configure a Client. The zero value is the careful client
// with the defaults above, the real clock and crypto-seeded ids.
type ClientOptions struct {
	// Timeout bounds each call whose context has no deadline
	// (DefaultTimeout if zero). It covers the resync, the request and the
	// reply together; a reconnection (Redial) is bounded by the call's
	// context only.
	Timeout time.Duration
	// MaxReplySize is the longest reply line accepted, in bytes
	// (DefaultMaxReplySize if zero, MinReplySize if less). A longer reply fails the call with
	// *ReplyTooLargeError after reading MaxReplySize+1 bytes of it; the
	// line buffer never grows beyond that. It also caps the JSON tokens of
	// one reply at MaxReplySize/64 (at least 4096, at most
	// qjson.DefaultLimits.MaxTokenCount).
	MaxReplySize int
	// MaxDiscard caps the bytes one call may skip (stale data before the
	// sync reply, own stale replies), DefaultMaxDiscard if zero,
	// MinDiscard if less.
	MaxDiscard int64
	// Resync is the synchronisation strategy; the zero value, and any
	// value other than the four named ones, is ResyncDelimited.
	Resync Resync
	// FallbackPlain lets ResyncDelimited switch, for the rest of the
	// Client's life, to ResyncFlushPlain when the agent answers
	// guest-sync-delimited with CommandNotFound. Without it such an agent
	// fails the sync with a ProtocolError that says so.
	FallbackPlain bool
	// Reconnect lets a call redial (with Redial) when the transport has
	// reached EOF or failed, instead of returning ErrClosed. The new
	// connection is always resynchronised first, since qemu-ga keeps
	// parser state across connections. A request whose reply was cut off
	// by EOF is never re-sent: that call returns ErrClosed and the next
	// one redials.
	Reconnect bool
	// Redial opens a new transport. DialClient sets it to redial the same
	// address; a simulator sets its own.
	Redial func(ctx context.Context) (Transport, error)
	// DrainTimeout bounds the drain in Close (DefaultDrainTimeout if zero).
	DrainTimeout time.Duration
	// Now is the clock used for deadlines (time.Now if nil).
	Now func() time.Time
	// Rand supplies sync and request ids (a ChaCha8 seeded from
	// crypto/rand if nil). Ids are Uint64()>>1, i.e. in [0, 2^63-1].
	Rand rand.Source
}

// ClientStats count what a Client has done, for tests and simulations.
type ClientStats struct {
	Calls        int64 // Execute calls made on an open Client, including those that failed before sending
	Syncs        int64 // resynchronisations attempted
	Redials      int64 // transports replaced
	Discarded    int64 // bytes skipped while resynchronising or as stale replies
	StaleReplies int64 // replies to earlier calls recognised and skipped
}
