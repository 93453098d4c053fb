package qjson

import (
	"strconv"
	"strings"
	"testing"
)

// TestLargeObjectDuplicateKeys checks duplicate detection past the point
// where the parser switches from a linear scan to a set, and that a huge
// object parses (a quadratic check would take minutes).
func TestLargeObjectDuplicateKeys(t *testing.T) {
	build := func(n int, dupAt int) []byte {
		var b strings.Builder
		b.WriteByte('{')
		for i := 0; i < n; i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			k := i
			if i == dupAt {
				k = dupAt / 2
			}
			b.WriteString(`"k` + strconv.Itoa(k) + `":1`)
		}
		b.WriteByte('}')
		return []byte(b.String())
	}
	for _, dupAt := range []int{5, 31, 32, 33, 100, 199999} {
		d := NewDecoder()
		ev, ok := feedOne(d, build(200000, dupAt))
		if !ok || ev.Err == nil || ev.Err.Desc != "JSON parse error, duplicate key" {
			t.Errorf("duplicate at member %d: got %+v", dupAt, ev)
		}
	}
	// With a quadratic check this alone would run for minutes.
	ev, ok := feedOne(NewDecoder(), build(400000, -1))
	if !ok || ev.Err != nil || ev.Value.Len() != 400000 {
		t.Fatalf("400000 distinct members: got ok=%v err=%v len=%d", ok, ev.Err, ev.Value.Len())
	}
}

// feedOne feeds p and returns its first event.
func feedOne(d *Decoder, p []byte) (Event, bool) {
	for len(p) > 0 {
		n, ok := d.Feed(p)
		p = p[n:]
		if ok {
			return d.Event(), true
		}
	}
	return Event{}, false
}
