package qga_test

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/qgafuzz/qgafuzz/qga"
	"github.com/qgafuzz/qgafuzz/qga/qgatest"
	"github.com/qgafuzz/qgafuzz/qjson"
)

// The Client's limits exactly at their documented values, and the
// bookkeeping they rest on (the bytes skipped, the ids it remembers),
// driven in virtual time over a LoopTransport.

// peerReq is one request a scripted peer received.
type peerReq struct {
	cmd    string
	syncID int64 // arguments.id, for the syncs
	id     int64 // the top-level "id", for the careful client's requests
}

// scriptPeer returns a LoopTransport peer that parses each request the
// client writes (after the 0xFF that may precede it) and sends back what
// reply returns for it.
func scriptPeer(reply func(r peerReq) string) func([]byte) []byte {
	return func(p []byte) []byte {
		var out []byte
		for _, line := range bytes.Split(p, []byte("\n")) {
			line = bytes.TrimLeft(line, "\xff")
			d := qjson.NewDecoder()
			if _, ok := d.Feed(line); !ok || d.Event().Err != nil {
				continue
			}
			req := d.Event().Value
			var r peerReq
			x, _ := req.Get("execute")
			r.cmd, _ = x.Str()
			args, _ := req.Get("arguments")
			sid, _ := args.Get("id")
			r.syncID, _ = sid.Int()
			id, _ := req.Get("id")
			r.id, _ = id.Int()
			out = append(out, reply(r)...)
		}
		return out
	}
}

// delimitedReply is the agent's reply to guest-sync-delimited alone (without
// the error reply to the 0xFF before the request).
func delimitedReply(r peerReq) string {
	return "\xff{\"return\": " + strconv.FormatInt(r.syncID, 10) + "}\n"
}

// TestClientReplyAtDeadline: a reply that arrives when the call's deadline
// is reached is too late, as for a context with that deadline; one that
// arrives a nanosecond before is taken.
func TestClientReplyAtDeadline(t *testing.T) {
	const timeout = time.Second
	for _, tc := range []struct {
		delay time.Duration
		late  bool
	}{{timeout - time.Nanosecond, false}, {timeout, true}} {
		clock := qgatest.NewVirtualClock()
		agent := qga.NewAgent(qga.AgentConfig{})
		tr := qgatest.NewLoopTransport(func(p []byte) []byte {
			out := agent.Feed(nil, p)
			if bytes.Contains(p, []byte(`"guest-ping"`)) {
				clock.Advance(tc.delay) // the agent takes this long to answer
			}
			return out
		}, clock)
		c := qga.NewClient(tr, qga.ClientOptions{Now: clock.Now, Timeout: timeout})
		err := c.Execute(context.Background(), qga.CmdPing, nil, nil)
		switch {
		case tc.late && !errors.Is(err, qga.ErrTimeout):
			t.Errorf("reply after %v of a %v timeout: %v, want ErrTimeout", tc.delay, timeout, err)
		case !tc.late && err != nil:
			t.Errorf("reply after %v of a %v timeout: %v", tc.delay, timeout, err)
		}
		c.Close()
	}
}

// TestClientMaxDiscardExact: a sync may skip exactly MaxDiscard bytes, not
// one more, and Stats counts every byte skipped: the stale bytes, the
// lines after a 0xFF that are not the sync reply (with their newline), and
// the 0xFF before the reply.
func TestClientMaxDiscardExact(t *testing.T) {
	// Padded to MinDiscard, the least MaxDiscard.
	stale := "junk\n\xff{\"return\": 1}\n{\"error\": 2}\nmore junk"
	stale += strings.Repeat("x", qga.MinDiscard-len(stale))
	skipped := int64(len(stale) + 1) // and the 0xFF of the reply
	for _, max := range []int64{skipped, skipped - 1} {
		clock := qgatest.NewVirtualClock()
		tr := qgatest.NewLoopTransport(scriptPeer(func(r peerReq) string {
			if r.cmd == qga.CmdSyncDelimited {
				return delimitedReply(r)
			}
			return ""
		}), clock)
		tr.Inject([]byte(stale))
		c := qga.NewClient(tr, qga.ClientOptions{Now: clock.Now, MaxDiscard: max, Rand: rand.NewPCG(1, 2)})
		err := c.Sync(context.Background())
		if max == skipped {
			if err != nil {
				t.Errorf("MaxDiscard %d, %d bytes to skip: %v", max, skipped, err)
			} else if got := c.Stats().Discarded; got != skipped {
				t.Errorf("Stats().Discarded = %d, want %d", got, skipped)
			}
		} else if !errors.Is(err, qga.ErrProtocol) || !strings.Contains(err.Error(), "MaxDiscard") {
			t.Errorf("MaxDiscard %d, %d bytes to skip: %v, want a protocol error about MaxDiscard", max, skipped, err)
		}
		c.Close()
	}
}

// TestClientMaxReplySizeExact: a reply line (without its newline) of
// MaxReplySize bytes is taken; one byte more is a ReplyTooLargeError.
func TestClientMaxReplySizeExact(t *testing.T) {
	const limit = 200
	for _, size := range []int{limit, limit + 1} {
		clock := qgatest.NewVirtualClock()
		tr := qgatest.NewLoopTransport(scriptPeer(func(r peerReq) string {
			if r.cmd == qga.CmdSyncDelimited {
				return delimitedReply(r)
			}
			head, tail := `{"return": "`, `", "id": `+strconv.FormatInt(r.id, 10)+"}"
			return head + strings.Repeat("x", size-len(head)-len(tail)) + tail + "\n"
		}), clock)
		c := qga.NewClient(tr, qga.ClientOptions{Now: clock.Now, MaxReplySize: limit})
		var v qjson.Value
		err := c.Execute(context.Background(), qga.CmdPing, nil, &v)
		var tooLarge *qga.ReplyTooLargeError
		if size <= limit {
			if s, _ := v.Str(); err != nil || len(s) == 0 {
				t.Errorf("a reply of %d bytes, MaxReplySize %d: %v %s", size, limit, err, v)
			}
		} else if !errors.As(err, &tooLarge) || tooLarge.Limit != limit || tooLarge.Tokens {
			t.Errorf("a reply of %d bytes, MaxReplySize %d: %v, want a ReplyTooLargeError of %d bytes", size, limit, err, limit)
		}
		c.Close()
	}
}

// TestClientReplyTokenCap: a reply may have MaxReplySize/64 JSON tokens
// (16384 for 1 MiB), not one more.
func TestClientReplyTokenCap(t *testing.T) {
	const maxReply = 1 << 20
	const tokens = maxReply / 64
	// {"return": [E, E, ...], "id": N} has 2k+9 tokens for k elements of
	// one token each; an element [] has two.
	at, over := (tokens-10)/2, (tokens+1-9)/2
	for _, tc := range []struct {
		elems string
		n     int
	}{
		{"[], " + strings.Repeat("0, ", at-2) + "0", 2*at + 10},
		{strings.Repeat("0, ", over-1) + "0", 2*over + 9},
	} {
		clock := qgatest.NewVirtualClock()
		tr := qgatest.NewLoopTransport(scriptPeer(func(r peerReq) string {
			if r.cmd == qga.CmdSyncDelimited {
				return delimitedReply(r)
			}
			return `{"return": [` + tc.elems + `], "id": ` + strconv.FormatInt(r.id, 10) + "}\n"
		}), clock)
		c := qga.NewClient(tr, qga.ClientOptions{Now: clock.Now, MaxReplySize: maxReply})
		err := c.Execute(context.Background(), qga.CmdPing, nil, nil)
		var tooLarge *qga.ReplyTooLargeError
		if tc.n <= tokens {
			if err != nil {
				t.Errorf("a reply of %d tokens, cap %d: %v", tc.n, tokens, err)
			}
		} else if !errors.As(err, &tooLarge) || !tooLarge.Tokens || tooLarge.Limit != tokens {
			t.Errorf("a reply of %d tokens, cap %d: %v, want a ReplyTooLargeError of %d tokens", tc.n, tokens, err, tokens)
		}
		c.Close()
	}
}

// TestClientStaleWindow: late replies to any of the client's last 16 ids
// (syncs and requests) are skipped as stale, however the ring of ids has
// wrapped.
func TestClientStaleWindow(t *testing.T) {
	const window = 16
	var seen []int64 // the ids the client used, in order
	stale := 0
	clock := qgatest.NewVirtualClock()
	tr := qgatest.NewLoopTransport(scriptPeer(func(r peerReq) string {
		if r.cmd == qga.CmdSyncDelimited {
			seen = append(seen, r.syncID)
			return delimitedReply(r)
		}
		var out string
		for _, id := range seen[max(0, len(seen)-window):] {
			out += `{"return": {}, "id": ` + strconv.FormatInt(id, 10) + "}\n"
			stale++
		}
		seen = append(seen, r.id)
		return out + `{"return": {}, "id": ` + strconv.FormatInt(r.id, 10) + "}\n"
	}), clock)
	c := qga.NewClient(tr, qga.ClientOptions{Now: clock.Now})
	defer c.Close()
	for i := range 2*window + 3 {
		if err := c.Execute(context.Background(), qga.CmdPing, nil, nil); err != nil {
			t.Fatalf("call %d, after late replies to the last %d ids: %v", i, min(len(seen)-1, window), err)
		}
	}
	if st := c.Stats(); st.StaleReplies != int64(stale) || st.Syncs != 1 {
		t.Errorf("Stats = %+v, want %d stale replies and one sync", st, stale)
	}
}

// TestClientRedialsOnce: a transport that dies during the sync is
// redialled once per call, not again and again.
func TestClientRedialsOnce(t *testing.T) {
	clock := qgatest.NewVirtualClock()
	dead := func() *qgatest.LoopTransport {
		tr := qgatest.NewLoopTransport(nil, clock)
		tr.Hangup()
		return tr
	}
	dials := 0
	c := qga.NewClient(dead(), qga.ClientOptions{Now: clock.Now, Reconnect: true,
		Redial: func(context.Context) (qga.Transport, error) {
			if dials++; dials > 3 {
				return nil, errors.New("redialled too often")
			}
			return dead(), nil
		}})
	defer c.Close()
	err := c.Execute(context.Background(), qga.CmdPing, nil, nil)
	if !errors.Is(err, qga.ErrClosed) || dials != 1 {
		t.Errorf("agent gone: %v after %d redials, want ErrClosed after one", err, dials)
	}
}

// TestClientArgsAtLimits: arguments that bring the request to qemu-ga's
// depth limit of 1024 are sent (and reach the agent's argument check);
// one level more, or arguments beyond its 64 MiB token size limit, are
// refused before anything is sent.
func TestClientArgsAtLimits(t *testing.T) {
	clock := qgatest.NewVirtualClock()
	agent := qga.NewAgent(qga.AgentConfig{})
	tr := qgatest.NewLoopTransport(func(p []byte) []byte { return agent.Feed(nil, p) }, clock)
	c := qga.NewClient(tr, qga.ClientOptions{Now: clock.Now})
	defer c.Close()
	// The request is depth 1, its arguments 2, and n arrays in them 3..n+2.
	nested := func(n int) []byte {
		return []byte(`{"a":` + strings.Repeat("[", n) + strings.Repeat("]", n) + `}`)
	}
	err := c.Execute(context.Background(), qga.CmdPing, nested(1022), nil)
	var ae *qga.AgentError
	if !errors.As(err, &ae) || ae.Desc != "Parameter 'a' is unexpected" {
		t.Fatalf("arguments at depth 1024: %v, want the agent's own error", err)
	}
	written := tr.Written
	_, err = callValue(c, 0, qga.CmdPing, nested(1023))
	wantErr(t, err, qga.ErrInvalidRequest)
	if testing.Short() {
		return
	}
	big := qjson.ObjectValue(qjson.Member{Key: "a", Value: qjson.StringValue(strings.Repeat("x", 64<<20))})
	_, err = callValue(c, 0, qga.CmdPing, big)
	wantErr(t, err, qga.ErrInvalidRequest)
	if tr.Written != written {
		t.Errorf("invalid requests were sent (%d bytes)", tr.Written-written)
	}
}
