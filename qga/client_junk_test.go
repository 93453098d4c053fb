package qga_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/qgafuzz/qgafuzz/qga"
	"github.com/qgafuzz/qgafuzz/qga/qgatest"
	"github.com/qgafuzz/qgafuzz/qjson"
)

// junkBeforeReplyAgent answers the client's requests over c: a delimited
// sync with its 0xFF reply preceded by syncPrefix, and any other request
// with its reply preceded, on the same line, by prefix (junk that may hold
// 0xFF bytes, such as the start of a reply cut by a restart). It returns
// when c is closed.
func junkBeforeReplyAgent(c net.Conn, syncPrefix, prefix string) {
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadBytes('\n')
		if err != nil {
			return
		}
		line = bytes.TrimLeft(line, "\xff")
		d := qjson.NewDecoder()
		if _, ok := d.Feed(line); !ok || d.Event().Err != nil {
			continue
		}
		req := d.Event().Value
		x, _ := req.Get("execute")
		cmd, _ := x.Str()
		if cmd == qga.CmdSyncDelimited {
			args, _ := req.Get("arguments")
			id, _ := args.Get("id")
			n, _ := id.Int()
			c.Write([]byte(syncPrefix + "\xff{\"return\": " + strconv.FormatInt(n, 10) + "}\n"))
			continue
		}
		id, _ := req.Get("id")
		c.Write([]byte(prefix + `{"return": {}, "id": ` + id.String() + "}\n"))
	}
}

// TestClientReplyAfterLastDelimiter: a careful client takes what follows a
// line's last 0xFF as the reply; junk before it, even junk that holds
// 0xFF bytes of its own (a cut reply, a flush's echo), is discarded.
func TestClientReplyAfterLastDelimiter(t *testing.T) {
	for _, prefix := range []string{
		"junk\xff",
		"\xff{\"return\": {}, \"i\xff",
		"\xff\xff",
		"x\xffy\xffz\xff",
	} {
		host, agent := net.Pipe()
		go junkBeforeReplyAgent(agent, "", prefix)
		c := qga.NewClient(host, qga.ClientOptions{Timeout: 2 * time.Second})
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		var v qjson.Value
		err := c.Execute(ctx, qga.CmdPing, nil, &v)
		cancel()
		c.Close()
		agent.Close()
		if err != nil {
			t.Errorf("junk %q before the reply: %v", prefix, err)
		} else if v.Kind() != qjson.Object || v.Len() != 0 {
			t.Errorf("junk %q before the reply: returned %s, want {}", prefix, v)
		}
	}
}

// TestClientSyncAfterCutDelimitedReply: a 0xFF starts a new line while a
// delimited sync waits for its reply, so a delimited reply cut short (an
// older sync's, or garbage) does not swallow the one that follows it.
func TestClientSyncAfterCutDelimitedReply(t *testing.T) {
	for _, prefix := range []string{
		"\xff{\"return\": 1",
		"\xff{\"return\": 1\xff\xff{\"ret",
		"junk\n\xff{",
	} {
		host, agent := net.Pipe()
		go junkBeforeReplyAgent(agent, prefix, "")
		c := qga.NewClient(host, qga.ClientOptions{Timeout: 2 * time.Second})
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := c.Sync(ctx)
		cancel()
		c.Close()
		agent.Close()
		if err != nil {
			t.Errorf("%q before the sync reply: %v", prefix, err)
		}
	}
}

// TestClientSyncReplyExact: only {"return": id} after a 0xFF ends a
// delimited sync. The same id in a reply with more members (the answer to
// a sync request that carried an "id" of its own) is skipped, and with
// nothing else to read the sync times out.
func TestClientSyncReplyExact(t *testing.T) {
	clock := qgatest.NewVirtualClock()
	tr := qgatest.NewLoopTransport(scriptPeer(func(r peerReq) string {
		return "\xff{\"return\": " + strconv.FormatInt(r.syncID, 10) + ", \"id\": 1}\n"
	}), clock)
	c := qga.NewClient(tr, qga.ClientOptions{Now: clock.Now, Timeout: time.Second})
	defer c.Close()
	if err := c.Sync(context.Background()); !errors.Is(err, qga.ErrTimeout) {
		t.Errorf("sync answered with {\"return\": id, \"id\": 1}: %v, want ErrTimeout", err)
	}
}

// TestClientLateSyncReplyExact: a reply without an id is skipped as a late
// reply to one of the client's syncs only when it is exactly
// {"return": sync id}; with another member it is out of step.
func TestClientLateSyncReplyExact(t *testing.T) {
	var sync int64
	clock := qgatest.NewVirtualClock()
	tr := qgatest.NewLoopTransport(scriptPeer(func(r peerReq) string {
		if r.cmd == qga.CmdSyncDelimited {
			sync = r.syncID
			return "\xff{\"return\": " + strconv.FormatInt(r.syncID, 10) + "}\n"
		}
		return `{"return": ` + strconv.FormatInt(sync, 10) + `, "x": 1}` + "\n"
	}), clock)
	c := qga.NewClient(tr, qga.ClientOptions{Now: clock.Now, Timeout: time.Second})
	defer c.Close()
	if err := c.Execute(context.Background(), qga.CmdPing, nil, nil); !errors.Is(err, qga.ErrProtocol) {
		t.Errorf("ping answered with {\"return\": sync id, \"x\": 1}: %v, want ErrProtocol", err)
	}
}

// TestClientRefusalLookalike: a CommandNotFound error whose desc only
// begins like qemu-ga's "Command guest-sync-delimited has been disabled"
// is junk before the 0xFF, not a refusal of the sync.
func TestClientRefusalLookalike(t *testing.T) {
	clock := qgatest.NewVirtualClock()
	tr := qgatest.NewLoopTransport(scriptPeer(func(r peerReq) string {
		return `{"error": {"class": "CommandNotFound", "desc": "Command guest-sync-delimited has been disabledX"}}` + "\n" +
			"\xff{\"return\": " + strconv.FormatInt(r.syncID, 10) + "}\n"
	}), clock)
	c := qga.NewClient(tr, qga.ClientOptions{Now: clock.Now, Timeout: time.Second})
	defer c.Close()
	if err := c.Sync(context.Background()); err != nil {
		t.Errorf("sync after a refusal lookalike: %v", err)
	}
}
