package sim

import (
	"testing"
	"time"
)

// TestCrashLiftsItsStall: bytes a host process had not finished writing
// when it died are lost, and so is the stall that held them back: the
// next host's writes must not wait for it. They used to, because the
// channel kept the lost bytes' arrival time as the earliest time for the
// next piece, and the new session timed out on a channel with nothing in
// it.
func TestCrashLiftsItsStall(t *testing.T) {
	w, err := newWorld(&runConfig{seed: 1, client: Delimited, opts: &Options{}})
	if err != nil {
		t.Fatal(err)
	}
	w.newSession()
	c := NewChunk([]byte(`{"execute":"guest-ping"}`), 1)
	c.Pause(5, 5*time.Second) // stalled mid-write
	w.send(&w.h2a, c, SiteH2A, w.host.sess)
	w.now = time.Second
	w.hostCrash("")
	w.newSession()
	w.send(&w.h2a, NewChunk([]byte(`{"execute":"guest-info"}`), 2), SiteH2A, w.host.sess)
	var last piece
	for _, pc := range w.h2a.q[w.h2a.head:] {
		last = pc
	}
	if last.tag != 2 || last.at != w.now+latency {
		t.Fatalf("the new host's write (tag %d) is due at %s, want %s", last.tag, last.at, w.now+latency)
	}
}
