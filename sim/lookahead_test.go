package sim

import (
	"bytes"
	"testing"
)

// TestLookaheadReplyKeepsItsProvenance: qemu-ga ends a top-level number
// only when the next byte arrives, so another writer's "1" followed by a
// host request gets its error reply while the agent reads the request's
// first byte, without consuming it. That reply answers the other
// writer's bytes; tagged with the host write, it let a client that
// returned it pass the safety check.
func TestLookaheadReplyKeepsItsProvenance(t *testing.T) {
	w, err := newWorld(&runConfig{seed: 1, client: Naive, opts: &Options{}})
	if err != nil {
		t.Fatal(err)
	}
	w.agent.receive(piece{data: []byte("1"), tag: TagForeign}, 0)
	w.agent.receive(piece{data: []byte(`{"execute":"guest-ping","id":5}`), tag: 1}, 0)
	w.agentProcess()
	got := append([]piece(nil), w.a2h.q[w.a2h.head:]...)
	if len(got) != 2 {
		t.Fatalf("want 2 replies, got %d: %v", len(got), got)
	}
	if !bytes.Contains(got[0].data, []byte("QMP input must be a JSON object")) || got[0].tag != TagForeign {
		t.Errorf("reply to the other writer's 1: %q with tag %d, want tag %d", got[0].data, got[0].tag, TagForeign)
	}
	if !bytes.Contains(got[1].data, []byte(`"id": 5`)) || got[1].tag != 1 {
		t.Errorf("reply to the host's request: %q with tag %d, want tag 1", got[1].data, got[1].tag)
	}
}
