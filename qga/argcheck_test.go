package qga_test

import (
	"bufio"
	"strings"
	"testing"
	"time"

	"github.com/qgafuzz/qgafuzz/qga"
	"github.com/qgafuzz/qgafuzz/qga/qgatest"
)

// argCheckCases pin replies that the generated differential streams reach
// only by chance. Requests with more than one thing wrong in their
// arguments: qemu-ga's generated marshallers visit the declared parameters
// first (missing, then wrong type) and only then look for left-over
// members, so the declared parameter's error wins. And an "id" of null,
// which is echoed like any other id, also on guest-info (whose reply
// without an id the reference agent caches). A want that begins with "..."
// is a suffix (guest-info's return value depends on the installation).
// The replies were taken from qemu-ga 7.2 (TestArgumentCheckOrderQemuGA
// checks them against a live one).
var argCheckCases = []struct{ in, want string }{
	{`{"execute":"guest-sync","arguments":{"id":"s","x":1}}`,
		`{"error": {"class": "GenericError", "desc": "Invalid parameter type for 'id', expected: integer"}}` + "\n"},
	{`{"execute":"guest-sync-delimited","arguments":{"x":1,"id":null}}`,
		`{"error": {"class": "GenericError", "desc": "Invalid parameter type for 'id', expected: integer"}}` + "\n"},
	{`{"execute":"guest-sync","arguments":{"x":1}}`,
		`{"error": {"class": "GenericError", "desc": "Parameter 'id' is missing"}}` + "\n"},
	{`{"execute":"guest-sync-delimited","arguments":{"id":1.5,"bogus":[]},"id":7}`,
		`{"id": 7, "error": {"class": "GenericError", "desc": "Invalid parameter type for 'id', expected: integer"}}` + "\n"},
	{`{"execute":"guest-ping","id":null}`, `{"return": {}, "id": null}` + "\n"},
	{`{"execute":"guest-info","id":null}`, `...]}, "id": null}` + "\n"},
	{`{"execute":"guest-info"}`, `...]}}` + "\n"},
}

// replyMatches reports whether got is the reply want describes.
func replyMatches(got, want string) bool {
	if suffix, ok := strings.CutPrefix(want, "..."); ok {
		return strings.HasSuffix(got, suffix) && strings.Count(got, "\n") == 1
	}
	return got == want
}

// TestArgumentCheckOrder: the reference agent answers argCheckCases as
// qemu-ga does. One agent answers them all, in order, so that guest-info's
// cached reply is made before a request with an id asks for it.
func TestArgumentCheckOrder(t *testing.T) {
	a := qga.NewAgent(qga.AgentConfig{})
	for _, tc := range append(argCheckCases, argCheckCases...) {
		got := a.Feed(nil, []byte(tc.in))
		if !replyMatches(string(got), tc.want) {
			t.Errorf("%s:\ngot  %q\nwant %q", tc.in, got, tc.want)
		}
	}
}

// TestArgumentCheckOrderQemuGA checks argCheckCases against a live qemu-ga.
func TestArgumentCheckOrderQemuGA(t *testing.T) {
	ga := qgatest.StartQemuGA(t)
	c, err := ga.Dial()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	for _, tc := range argCheckCases {
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write([]byte(tc.in + "\n")); err != nil {
			t.Fatal(err)
		}
		got, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		if !replyMatches(got, tc.want) {
			t.Errorf("qemu-ga, %s:\ngot  %q\nwant %q", tc.in, got, tc.want)
		}
	}
}
