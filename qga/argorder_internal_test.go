package qga

import (
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
