package qgatest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/qgafuzz/qgafuzz/qga"
	"github.com/qgafuzz/qgafuzz/qjson"
)

// Tests of the hostile agent's transducer (what each mode does to the
// reference agent's replies) and of LoopTransport. The client's behaviour
// against each mode is tested in package qga.

const (
	hostileSync    = "\xff{\"execute\":\"guest-sync-delimited\",\"arguments\":{\"id\":7}}"
	hostileRequest = `{"execute":"guest-info","id":5}`
)

// play feeds a sync, then a request, and returns the outputs of each.
func play(h *HostileAgent) (syncOut, reqOut []Output) {
	return h.Feed([]byte(hostileSync)), h.Feed([]byte(hostileRequest))
}

func joined(outs []Output) []byte {
	var b []byte
	for _, o := range outs {
		b = append(b, o.Data...)
		b = append(b, bytes.Repeat([]byte{o.Fill}, int(min(o.FillLen, 1<<20)))...)
	}
	return b
}

func TestHostileModeNames(t *testing.T) {
	modes := HostileModes()
	if len(modes) != 13 {
		t.Errorf("%d hostile modes, want the 13 misbehaviours of issue 3", len(modes))
	}
	for _, m := range append(modes, HostileNone) {
		got, ok := ParseHostileMode(m.String())
		if !ok || got != m || strings.HasPrefix(m.String(), "HostileMode(") {
			t.Errorf("mode %d: name %q does not round-trip", m, m)
		}
	}
}

func TestHostileTransducer(t *testing.T) {
	ref := qga.NewAgent(qga.AgentConfig{})
	wantSync := ref.Feed(nil, []byte(hostileSync))
	wantReq := ref.Feed(nil, []byte(hostileRequest))
	syncReply := wantSync[bytes.IndexByte(wantSync, qga.Delimiter):]
	cfg := HostileConfig{Pace: time.Millisecond, FloodSize: 1 << 30, Depth: 1000}

	check := func(mode HostileMode, f func(t *testing.T, h *HostileAgent, s, r []Output)) {
		t.Run(mode.String(), func(t *testing.T) {
			h := NewHostileAgent(mode, cfg)
			s, r := play(h)
			f(t, h, s, r)
		})
	}
	same := func(t *testing.T, s, r []Output) {
		t.Helper()
		if !bytes.Equal(joined(s), wantSync) || !bytes.Equal(joined(r), wantReq) {
			t.Errorf("replies %q / %.60q differ from the reference", joined(s), joined(r))
		}
	}
	check(HostileNone, func(t *testing.T, h *HostileAgent, s, r []Output) {
		same(t, s, r)
		if h.Connect() != nil {
			t.Error("HostileNone queues stale data")
		}
	})
	for _, m := range []HostileMode{HostileStaleReplies, HostileStaleDelimited} {
		check(m, func(t *testing.T, h *HostileAgent, s, r []Output) {
			same(t, s, r)
			if c := h.Connect(); len(c) != 1 || len(c[0].Data) < 50 || c[0].Data[len(c[0].Data)-1] == '\n' {
				t.Errorf("Connect = %q, want stale lines ending in half a line", joined(c))
			}
		})
	}
	check(HostileSplitBytes, func(t *testing.T, h *HostileAgent, s, r []Output) {
		same(t, s, r)
		for _, o := range append(s, r...) {
			if len(o.Data) != 1 || o.Delay != 0 {
				t.Fatalf("output %+v is not one undelayed byte", o)
			}
		}
	})
	check(HostileSlow, func(t *testing.T, h *HostileAgent, s, r []Output) {
		same(t, s, r)
		for _, o := range append(s, r...) {
			if len(o.Data) != 1 || o.Delay != cfg.Pace {
				t.Fatalf("output %+v is not one byte after %v", o, cfg.Pace)
			}
		}
	})
	check(HostileDuplicate, func(t *testing.T, h *HostileAgent, s, r []Output) {
		if !bytes.Equal(joined(r), append(bytes.Clone(wantReq), wantReq...)) || len(s) != 4 {
			t.Errorf("replies not doubled: %d sync outputs, request %.60q", len(s), joined(r))
		}
	})
	check(HostileHalfReplySilence, func(t *testing.T, h *HostileAgent, s, r []Output) {
		if !bytes.Equal(joined(r), wantReq[:len(wantReq)/2]) {
			t.Errorf("request reply %q, want its first half", joined(r))
		}
		if more := h.Feed([]byte(hostileSync)); len(more) != 0 {
			t.Errorf("agent spoke after going silent: %q", joined(more))
		}
	})
	check(HostileRestartMidReply, func(t *testing.T, h *HostileAgent, s, r []Output) {
		if !bytes.Equal(joined(r), wantReq[:len(wantReq)/2]) {
			t.Errorf("request reply %q, want its first half", joined(r))
		}
		if again := h.Feed([]byte(hostileSync)); !bytes.Equal(joined(again), wantSync) {
			t.Errorf("restarted agent answered the sync with %q", joined(again))
		}
	})
	check(HostileEOFMidReply, func(t *testing.T, h *HostileAgent, s, r []Output) {
		if len(r) != 1 || !r[0].Hangup || !bytes.Equal(r[0].Data, wantReq[:len(wantReq)/2]) {
			t.Errorf("request outputs %+v, want half the reply and a hangup", r)
		}
	})
	check(HostileFlood, func(t *testing.T, h *HostileAgent, s, r []Output) {
		if !bytes.Equal(joined(s), wantSync) {
			t.Errorf("sync reply %q", joined(s))
		}
		var n int64
		for _, o := range r {
			n += o.Len()
		}
		if n != cfg.FloodSize+int64(len(`{"return": ""}`+"\n")) || r[0].Fill != 'A' {
			t.Errorf("flood of %d bytes, want the configured %d plus the reply around it", n, cfg.FloodSize)
		}
	})
	check(HostileDeepNesting, func(t *testing.T, h *HostileAgent, s, r []Output) {
		want := `{"return": ` + strings.Repeat("[", cfg.Depth) + strings.Repeat("]", cfg.Depth) + "}\n"
		if string(joined(r)) != want {
			t.Errorf("deep reply is not %d levels of arrays", cfg.Depth)
		}
	})
	check(HostileSilence, func(t *testing.T, h *HostileAgent, s, r []Output) {
		if len(s)+len(r) != 0 {
			t.Errorf("silent agent sent %q", joined(append(s, r...)))
		}
	})
	check(HostileWrongID, func(t *testing.T, h *HostileAgent, s, r []Output) {
		want := bytes.Replace(wantSync, syncReply, []byte("\xff{\"return\": 6}\n\xff{\"return\": 7}\n"), 1)
		if !bytes.Equal(joined(s), want) || !bytes.Contains(joined(r), []byte(`"id": 4}`)) {
			t.Errorf("sync %q, request %.40q…", joined(s), joined(r)[len(joined(r))-20:])
		}
	})
	check(HostileStringID, func(t *testing.T, h *HostileAgent, s, r []Output) {
		want := bytes.Replace(wantSync, syncReply, []byte("\xff{\"return\": \"7\"}\n\xff{\"return\": 7}\n"), 1)
		if !bytes.Equal(joined(s), want) || !bytes.Contains(joined(r), []byte(`"id": "5"}`)) {
			t.Errorf("sync %q, request …%q", joined(s), joined(r)[len(joined(r))-20:])
		}
	})
}

func TestLoopTransport(t *testing.T) {
	clock := NewVirtualClock()
	agent := qga.NewAgent(qga.AgentConfig{})
	tr := NewLoopTransport(func(p []byte) []byte { return agent.Feed(nil, p) }, clock)
	tr.MaxRead = 3
	if _, err := tr.Write([]byte(`{"execute":"guest-ping"}`)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	if n, err := tr.Read(buf); n != 3 || err != nil || string(buf[:3]) != `{"r` {
		t.Fatalf("Read = %d %q %v, want 3 bytes", n, buf[:n], err)
	}
	got, _ := io.ReadAll(io.LimitReader(tr, int64(len(tr.Pending()))))
	if string(got) != `eturn": {}}`+"\n" {
		t.Fatalf("rest of the reply = %q", got)
	}
	start := clock.Now()
	tr.SetReadDeadline(start.Add(time.Minute))
	if _, err := tr.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) || clock.Now() != start.Add(time.Minute) {
		t.Fatalf("empty read: %v at %v, want a deadline error at the deadline", err, clock.Now().Sub(start))
	}
	tr.Inject([]byte("x"))
	tr.Hangup()
	if n, _ := tr.Read(buf); n != 1 {
		t.Fatal("queued bytes lost at hangup")
	}
	if _, err := tr.Read(buf); err != io.EOF {
		t.Fatalf("read after hangup: %v, want EOF", err)
	}
	if _, err := tr.Write([]byte("x")); err == nil {
		t.Fatal("write after hangup succeeded")
	}
}

// TestHostileServeConnPipe serves over an unbuffered net.Pipe: the stale
// data queued at connect must not deadlock against the client's first
// write.
func TestHostileServeConnPipe(t *testing.T) {
	a, b := net.Pipe()
	h := NewHostileAgent(HostileStaleDelimited, HostileConfig{})
	done := make(chan error, 1)
	go func() { done <- h.ServeConn(b) }()
	c := qga.NewClient(a, qga.ClientOptions{Timeout: 5 * time.Second})
	var v qjson.Value
	err := c.Execute(context.Background(), qga.CmdSync, []byte(`{"id": 3}`), &v)
	if n, ok := v.Int(); err != nil || !ok || n != 3 {
		t.Fatalf("guest-sync 3 over a pipe = %s, %v", v, err)
	}
	c.Close()
	h.Close()
	<-done
}
