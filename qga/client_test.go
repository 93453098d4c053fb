package qga_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"math"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/qgafuzz/qgafuzz/qga"
	"github.com/qgafuzz/qgafuzz/qjson"
)

// Client tests against the reference agent: the request cycle, typed
// errors, argument and result conversions, concurrency, and stale data
// left by earlier users of the channel.

func TestClientReference(t *testing.T) {
	addr := serveReference(t, qga.AgentConfig{}, false)
	c := newTestClient(t, addr, qga.ClientOptions{Timeout: 5 * time.Second})
	checkBasicCalls(t, c, referenceReturn(t, qga.CmdInfo))
	if s := c.Stats(); s.Syncs != 1 || s.Redials != 0 {
		t.Errorf("stats %+v: want exactly one sync", s)
	}
}

// checkBasicCalls runs the calls every agent must answer alike: the
// reference agent and a live qemu-ga.
func checkBasicCalls(t *testing.T, c *qga.Client, info qjson.Value) {
	t.Helper()
	ctx := context.Background()
	if err := c.Sync(ctx); err != nil {
		t.Fatalf("Sync: %v", err)
	}
	v, err := callValue(c, 0, qga.CmdPing, nil)
	if err != nil || v.Kind() != qjson.Object || v.Len() != 0 {
		t.Fatalf("guest-ping = %s, %v; want {}", v, err)
	}
	v, err = callValue(c, 0, qga.CmdInfo, nil)
	if err != nil || !qjson.Equal(v, info) {
		t.Fatalf("guest-info = %.200s, %v", v, err)
	}
	var typed struct {
		Version  string `json:"version"`
		Commands []struct {
			Name    string `json:"name"`
			Enabled bool   `json:"enabled"`
		} `json:"supported_commands"`
	}
	if err := c.Execute(ctx, qga.CmdInfo, nil, &typed); err != nil || typed.Version == "" || len(typed.Commands) < 4 {
		t.Fatalf("guest-info into a struct: %+v, %v", typed, err)
	}
	var raw json.RawMessage
	if err := c.Execute(ctx, qga.CmdPing, map[string]any{}, &raw); err != nil || string(raw) != "{}" {
		t.Fatalf("guest-ping as raw JSON = %q, %v", raw, err)
	}
	for _, n := range []int64{0, 1, 42, math.MaxInt64} {
		v, err := callValue(c, 0, qga.CmdSync, syncArgs(n))
		wantSync(t, v, err, n)
	}
	v, err = callValue(c, 0, qga.CmdSyncDelimited, []byte(`{'id': 7}`))
	wantSync(t, v, err, 7)

	agentErrs := []struct {
		command string
		args    any
		class   string
		desc    string
	}{
		{"nope", nil, "CommandNotFound", "The command nope has not been found"},
		{"guest-get-time", nil, "CommandNotFound", "Command guest-get-time has been disabled"},
		{qga.CmdSync, nil, "GenericError", "Parameter 'id' is missing"},
		{qga.CmdSync, map[string]any{"id": "7"}, "GenericError", "Invalid parameter type for 'id', expected: integer"},
		{qga.CmdPing, map[string]int{"x": 1}, "GenericError", "Parameter 'x' is unexpected"},
	}
	for _, tc := range agentErrs {
		_, err := callValue(c, 0, tc.command, tc.args)
		var ae *qga.AgentError
		if !errors.As(err, &ae) || ae.Class != tc.class || ae.Desc != tc.desc {
			t.Errorf("%s %v: got %v, want agent error %s: %s", tc.command, tc.args, err, tc.class, tc.desc)
		}
	}
	// An agent error leaves the channel in step: the next call does not
	// resynchronise.
	syncs := c.Stats().Syncs
	v, err = callValue(c, 0, qga.CmdSync, syncArgs(99))
	wantSync(t, v, err, 99)
	if got := c.Stats().Syncs; got != syncs {
		t.Errorf("a call after agent errors resynchronised (%d syncs, want %d)", got, syncs)
	}
}

func TestClientInvalidRequest(t *testing.T) {
	addr := serveReference(t, qga.AgentConfig{}, false)
	c := newTestClient(t, addr, qga.ClientOptions{})
	deep := strings.Repeat("[", 1100) + strings.Repeat("]", 1100)
	for _, args := range []any{
		[]int{1}, []byte(`{"a":1,"a":2}`), []byte(`{"a":`), []byte(`{} {}`), []byte(`{"a":` + deep + `}`),
		qjson.ObjectValue(qjson.Member{Key: "x", Value: qjson.FloatValue(math.Inf(1))}),
		func() {},
	} {
		_, err := callValue(c, 0, qga.CmdPing, args)
		wantErr(t, err, qga.ErrInvalidRequest)
	}
	if s := c.Stats(); s.Calls != 0 || s.Syncs != 0 {
		t.Errorf("invalid requests touched the channel: %+v", s)
	}
	v, err := callValue(c, 0, qga.CmdSync, syncArgs(5))
	wantSync(t, v, err, 5)
}

// TestClientStaleInPipe leaves replies and half a request in one
// connection, as an earlier user of a virtio-serial port would, then hands
// the same connection to a new client.
func TestClientStaleInPipe(t *testing.T) {
	addr := serveReference(t, qga.AgentConfig{}, false)
	c := clientAfterStaleData(t, addr, 20*time.Millisecond)
	defer c.Close()
	v, err := callValue(c, 0, qga.CmdInfo, nil)
	if err != nil || !qjson.Equal(v, referenceReturn(t, qga.CmdInfo)) {
		t.Fatalf("guest-info = %.100s, %v", v, err)
	}
}

// clientAfterStaleData writes replies-to-be and half a request into a new
// connection to addr, waits settle for the replies to arrive, and returns
// a client on that connection after checking that its first call (a
// guest-sync) is right and discarded all of them.
func clientAfterStaleData(t *testing.T, addr string, settle time.Duration) *qga.Client {
	t.Helper()
	conn := rawConn(t, addr)
	junk := `{"execute":"guest-ping"}{"execute":"guest-sync","arguments":{"id":5}}` +
		"\xff{\"execute\":\"guest-sync-delimited\",\"arguments\":{\"id\":6}}" +
		`{"execute":"guest-info","id":1}{"execute":"guest-ping",`
	if _, err := conn.Write([]byte(junk)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(settle)
	c := qga.NewClient(conn, qga.ClientOptions{Timeout: 5 * time.Second})
	v, err := callValue(c, 0, qga.CmdSync, syncArgs(1))
	wantSync(t, v, err, 1)
	if s := c.Stats(); s.Discarded < int64(len(junk)) {
		t.Errorf("stats %+v: the stale replies were not discarded", s)
	}
	return c
}

// TestClientReconnectStale checks a new connection after earlier clients
// left a half request in the agent, and left replies unread (which the
// reference agent survives here; qemu-ga 7.2 would exit).
func TestClientReconnectStale(t *testing.T) {
	addr := serveReference(t, qga.AgentConfig{}, true)
	for _, junk := range []string{
		`{"execute":"guest-ping",`,            // swallows a plain guest-sync
		`{"execute":"gue`,                     // inverts string parity
		`{"execute":"guest-ping"}{"execute":`, // a reply left unread, and half a request
		`[[[[{"id":`,
	} {
		conn := rawConn(t, addr)
		conn.Write([]byte(junk))
		time.Sleep(10 * time.Millisecond)
		conn.Close()
		c := newTestClient(t, addr, qga.ClientOptions{Timeout: 5 * time.Second})
		v, err := callValue(c, 0, qga.CmdSync, syncArgs(3))
		wantSync(t, v, err, 3)
		c.Close()
	}
}

func TestClientConcurrent(t *testing.T) {
	addr := serveReference(t, qga.AgentConfig{}, false)
	c := newTestClient(t, addr, qga.ClientOptions{Timeout: 10 * time.Second})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				n := int64(g*1000 + i)
				v, err := callValue(c, 0, qga.CmdSync, syncArgs(n))
				if got, ok := v.Int(); err != nil || !ok || got != n {
					t.Errorf("guest-sync %d = %s, %v", n, v, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestClientContext(t *testing.T) {
	addr := serveReference(t, qga.AgentConfig{}, false)
	c := newTestClient(t, addr, qga.ClientOptions{})
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	err := c.Execute(ctx, qga.CmdPing, nil, nil)
	wantErr(t, err, qga.ErrTimeout)
	wantErr(t, err, context.DeadlineExceeded)
	wantErr(t, err, os.ErrDeadlineExceeded)
	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	wantErr(t, c.Execute(ctx, qga.CmdPing, nil, nil), context.Canceled)
	if _, err := callValue(c, 0, qga.CmdPing, nil); err != nil {
		t.Fatal(err)
	}
}

func TestClientClosed(t *testing.T) {
	addr := serveReference(t, qga.AgentConfig{}, false)
	c := newTestClient(t, addr, qga.ClientOptions{})
	if _, err := callValue(c, 0, qga.CmdPing, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	_, err := callValue(c, 0, qga.CmdPing, nil)
	wantErr(t, err, qga.ErrClosed)
	if c.Close() != nil {
		t.Error("second Close failed")
	}
}

// TestClientCloseAfterFailedRedial: a redial closes the dead transport
// before it dials; when the dial fails, Close has nothing left to close
// and must not report the second close's "use of closed network
// connection" as an error.
func TestClientCloseAfterFailedRedial(t *testing.T) {
	a, b := socketPair(t)
	b.Close() // the agent is gone: the first call reads EOF
	c := qga.NewClient(a, qga.ClientOptions{Timeout: time.Second, DrainTimeout: time.Millisecond, Reconnect: true,
		Redial: func(context.Context) (qga.Transport, error) { return nil, errors.New("agent still down") }})
	for range 2 {
		_, err := callValue(c, 0, qga.CmdPing, nil)
		wantErr(t, err, qga.ErrClosed)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("Close after a failed redial: %v", err)
	}
}

// TestDialClientNegativeTimeout: a negative Timeout means DefaultTimeout,
// for redials too (DialClient's redial once took it as a deadline already
// passed, so a client whose calls worked could never reconnect).
func TestDialClientNegativeTimeout(t *testing.T) {
	addr := "unix:" + filepath.Join(shortTempDir(t), "agent.sock")
	l, err := qga.Listen(addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &qga.Server{Agent: qga.NewAgent(qga.AgentConfig{})}
	done := make(chan error, 1)
	go func() {
		// The first connection is hung up at once, so the first call
		// reads EOF and redials.
		if conn, err := l.Accept(); err == nil {
			conn.Close()
		}
		done <- srv.Serve(l)
	}()
	t.Cleanup(func() { l.Close(); <-done })
	c := newTestClient(t, addr, qga.ClientOptions{Timeout: -time.Second, Reconnect: true})
	v, err := callValue(c, 0, qga.CmdSync, syncArgs(4))
	wantSync(t, v, err, 4)
	if s := c.Stats(); s.Redials != 1 {
		t.Errorf("stats %+v: want one redial", s)
	}
}

// TestDialTransportNotADevice: file:PATH on a regular file is refused before
// anything is written (the resynchronisation would overwrite the file's
// first bytes), and so is a directory.
func TestDialTransportNotADevice(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "data")
	const content = "important data\n"
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, dir} {
		if tr, err := qga.DialTransport(context.Background(), "file:"+p); err == nil {
			tr.Close()
			t.Errorf("DialTransport(file:%s) succeeded; want an error", p)
		}
	}
	c, err := qga.DialClient(context.Background(), "file:"+path, qga.ClientOptions{Timeout: time.Second})
	if err == nil {
		c.Execute(context.Background(), qga.CmdPing, nil, nil)
		c.Close()
		t.Errorf("DialClient(file:%s) succeeded; want an error", path)
	} else if !strings.Contains(err.Error(), "not a character device") {
		t.Errorf("DialClient(file:%s): %v; want it to say the file is not a character device", path, err)
	}
	if got, _ := os.ReadFile(path); string(got) != content {
		t.Errorf("the file now holds %q; want %q", got, content)
	}
}

// TestClientNoDeadlines runs the client over a stream without deadline
// support, through the documented adapter.
func TestClientNoDeadlines(t *testing.T) {
	a, b := net.Pipe()
	srv := &qga.Server{Agent: qga.NewAgent(qga.AgentConfig{})}
	go srv.ServeConn(b)
	defer b.Close()
	c := qga.NewClient(qga.NoDeadlines(a), qga.ClientOptions{Timeout: 2 * time.Second})
	defer c.Close()
	v, err := callValue(c, 0, qga.CmdSync, syncArgs(12))
	wantSync(t, v, err, 12)
}

// TestClientWithoutDelimited: an agent that lacks guest-sync-delimited, or
// has it disabled, fails the careful sync with an explanation, unless the
// client may fall back to a flushed plain guest-sync.
func TestClientWithoutDelimited(t *testing.T) {
	var removed, disabled []qga.CommandInfo
	for _, ci := range qga.Commands72() {
		if ci.Name != qga.CmdSyncDelimited {
			removed = append(removed, ci)
		} else {
			ci.Enabled = false
		}
		disabled = append(disabled, ci)
	}
	for _, cmds := range [][]qga.CommandInfo{removed, disabled} {
		addr := serveReference(t, qga.AgentConfig{Commands: cmds}, false)
		c := newTestClient(t, addr, qga.ClientOptions{Timeout: 2 * time.Second})
		_, err := callValue(c, 0, qga.CmdPing, nil)
		if !errors.Is(err, qga.ErrProtocol) || !strings.Contains(err.Error(), "guest-sync-delimited") {
			t.Fatalf("without FallbackPlain: got %v, want a protocol error naming guest-sync-delimited", err)
		}
		c.Close()
		for _, opts := range []qga.ClientOptions{{FallbackPlain: true}, {Resync: qga.ResyncFlushPlain}} {
			c := newTestClient(t, addr, opts)
			v, err := callValue(c, 0, qga.CmdSync, syncArgs(8))
			wantSync(t, v, err, 8)
			c.Close()
		}
	}
}

// TestClientRefusalConsumed: a refusal of guest-sync-delimited fails its
// call, pointing at the refusal, and is consumed with it, so that the next
// call syncs afresh. The refusal may have been a misread (a bit flip made
// the request or the reply name another command); sim found a client that
// kept finding the same buffered refusal, and failed every later call.
func TestClientRefusalConsumed(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	const stale = "stale 123\n"
	go func() {
		// Answer the first request with a stale line and a refusal in one
		// write, so that both sit in the client's buffer, then serve.
		// The client writes nothing more before it has its answer, so the
		// reader holds nothing past the request when the server takes b.
		if _, err := bufio.NewReader(b).ReadBytes('\n'); err != nil {
			return
		}
		refusal := `{"error": {"class": "CommandNotFound", "desc": "The command guest-sync-delimited has not been found"}}` + "\n"
		if _, err := b.Write([]byte(stale + refusal)); err != nil {
			return
		}
		srv := &qga.Server{Agent: qga.NewAgent(qga.AgentConfig{})}
		srv.ServeConn(b)
	}()
	c := qga.NewClient(qga.NoDeadlines(a), qga.ClientOptions{Timeout: 2 * time.Second})
	defer c.Close()
	_, err := callValue(c, 0, qga.CmdPing, nil)
	var pe *qga.ProtocolError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "guest-sync-delimited") {
		t.Fatalf("first call: got %v, want a protocol error naming guest-sync-delimited", err)
	}
	if pe.Offset != int64(len(stale)) {
		t.Errorf("the error points at offset %d, want %d, where the refusal starts", pe.Offset, len(stale))
	}
	for n := int64(1); n <= 3; n++ {
		v, err := callValue(c, 0, qga.CmdSync, syncArgs(n))
		wantSync(t, v, err, n)
	}
}

func TestErrorMessages(t *testing.T) {
	pe := &qga.ProtocolError{Offset: 10, Excerpt: []byte{0xff, '{'}, Reason: "bad"}
	if got, want := pe.Error(), "qga: protocol error at offset 10: bad (bytes ff7b)"; got != want {
		t.Errorf("ProtocolError = %q, want %q", got, want)
	}
	ae := &qga.AgentError{Class: "GenericError", Desc: "x"}
	if ae.Error() != "GenericError: x" {
		t.Errorf("AgentError = %q", ae.Error())
	}
	var rt error = &qga.ReplyTooLargeError{Limit: 5}
	wantErr(t, rt, qga.ErrReplyTooLarge)
	wantErr(t, pe, qga.ErrProtocol)
}

// TestClientTinyReplyLimit: a MaxReplySize below the size of a sync reply
// is raised to MinReplySize, so calls resynchronise, and a reply over the
// limit fails at once with ReplyTooLargeError instead of the deadline.
func TestClientTinyReplyLimit(t *testing.T) {
	addr := serveReference(t, qga.AgentConfig{}, false)
	for _, limit := range []int{1, 28, qga.MinReplySize} {
		c := newTestClient(t, addr, qga.ClientOptions{MaxReplySize: limit, Timeout: 5 * time.Second})
		ctx := context.Background()
		if err := c.Execute(ctx, "guest-ping", nil, nil); err != nil {
			t.Fatalf("limit %d: guest-ping: %v", limit, err)
		}
		start := time.Now()
		err := c.Execute(ctx, "guest-info", nil, nil)
		var tooLarge *qga.ReplyTooLargeError
		if !errors.As(err, &tooLarge) || tooLarge.Limit != qga.MinReplySize {
			t.Fatalf("limit %d: guest-info (~3 KB): %v, want a ReplyTooLargeError at %d", limit, err, qga.MinReplySize)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("limit %d: the error took %v", limit, d)
		}
		c.Close()
	}
}

// TestClientTinyDiscardLimit: a MaxDiscard below the size of the error
// reply that the agent sends for the client's own 0xFF is raised to
// MinDiscard; every resynchronisation failed with a ProtocolError.
func TestClientTinyDiscardLimit(t *testing.T) {
	addr := serveReference(t, qga.AgentConfig{}, false)
	for _, limit := range []int64{1, 80} {
		c := newTestClient(t, addr, qga.ClientOptions{MaxDiscard: limit, Timeout: 5 * time.Second})
		if err := c.Execute(context.Background(), "guest-ping", nil, nil); err != nil {
			t.Fatalf("MaxDiscard %d: guest-ping: %v", limit, err)
		}
		c.Close()
	}
}
