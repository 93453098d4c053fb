package qga

import (
	"bytes"
	"testing"

	"github.com/qgafuzz/qgafuzz/qjson"
)

func argsOf(keys ...string) qjson.Value {
	m := make([]qjson.Member, len(keys))
	for i, k := range keys {
		m[i] = qjson.Member{Key: k, Value: qjson.IntValue(1)}
	}
	return qjson.ObjectValue(m...)
}

// TestUnexpectedArgumentOrder pins cases observed on a live qemu-ga 7.2,
// where the reported member is neither the first in input order nor the
// first in the dictionary's hash order.
func TestUnexpectedArgumentOrder(t *testing.T) {
	cases := []struct {
		keys     []string
		declared string
		want     string
	}{
		{[]string{"a", "id"}, "", "id"},
		{[]string{"id", "a"}, "", "id"},
		{[]string{"a", "b"}, "", "b"},
		{[]string{"x", "a", "b"}, "", "b"},
		{[]string{"foo", "a"}, "", "a"},
		{[]string{"a", "id"}, "id", "a"},
		{[]string{"id", "id2", "a"}, "id", "id2"},
		{[]string{"execute", "z9", "b", "\u00fc", "", "foo", "path", "whence"}, "", "b"},
		{[]string{"buf-b64", "b", "handle", "qwertyuiop", "id2", "id", "foo", "bogus", "path", "whence"}, "id", "b"},
		{[]string{"arguments", ""}, "", ""},
		{[]string{""}, "", ""},
		{[]string{"qwertyuiop", "bogus", "foo", "arguments", "buf-b64", "x", "execute", "", "handle", "a", "mode"}, "", ""},
		{[]string{"qwertyuiop", "bogus", "foo", "arguments", "buf-b64", "x", "execute", "handle", "a", "mode"}, "", "buf-b64"},
	}
	for _, c := range cases {
		var params []string
		if c.declared != "" {
			params = []string{c.declared}
		}
		got, ok := unexpectedArgument(argsOf(c.keys...), params...)
		if !ok || got != c.want {
			t.Errorf("%q minus %q: got %q, want %q", c.keys, c.declared, got, c.want)
		}
	}
}

// TestAgentReleasesHugeReply: a reply that quotes a hostile 8 MiB token
// (here a lexical error: qemu-ga quotes the whole token, each byte 0x80 as
// \uFFFD) must not stay pinned in the Agent's reply buffer once later
// replies are small.
func TestAgentReleasesHugeReply(t *testing.T) {
	a := NewAgent(AgentConfig{})
	in := append(append([]byte(`"`), bytes.Repeat([]byte{0x80}, 8<<20)...), 0xff)
	in = append(in, `{"execute":"guest-ping"}`...)
	largest := 0
	for p := in; len(p) > 0; {
		c := p[:min(ReadSize, len(p))]
		p = p[len(c):]
		for len(c) > 0 {
			n, r := a.Step(c)
			c = c[n:]
			largest = max(largest, len(r))
		}
	}
	if largest < 8<<20 {
		t.Fatalf("largest reply %d bytes: the hostile token was not quoted", largest)
	}
	if c := cap(a.reply); c > 64<<10 {
		t.Fatalf("after a %d-byte reply and a ping the agent keeps a %d-byte reply buffer (want at most 64 KiB)", largest, c)
	}
}
