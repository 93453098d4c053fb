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
	build := func(n, dupAt, dupOf int) []byte {
		var b strings.Builder
		b.WriteByte('{')
		for i := 0; i < n; i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			k := i
			if i == dupAt {
				k = dupOf
			}
			b.WriteString(`"k` + strconv.Itoa(k) + `":1`)
		}
		b.WriteByte('}')
		return []byte(b.String())
	}
	for _, dupAt := range []int{5, 31, 32, 33, 100, 199999} {
		// a key from the middle, and the first (which the set must
		// hold too once the parser switches to it)
		for _, dupOf := range []int{dupAt / 2, 0} {
			d := NewDecoder()
			ev, ok := feedOne(d, build(200000, dupAt, dupOf))
			if !ok || ev.Err == nil || ev.Err.Desc != "JSON parse error, duplicate key" {
				t.Errorf("member %d repeats member %d: got %+v", dupAt, dupOf, ev)
			}
		}
	}
	// With a quadratic check this alone would run for minutes.
	ev, ok := feedOne(NewDecoder(), build(400000, -1, 0))
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

// TestLargeObjectSplitValues splits an object large enough to keep its keys
// in a set at every byte: the hot path checks a member's key before its
// value and leaves a value the chunk cuts to the general code, which checks
// the key again. The second check must not find the key the first one saw.
func TestLargeObjectSplitValues(t *testing.T) {
	var b strings.Builder
	b.WriteByte('{')
	for i := range 40 {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(`"k` + strconv.Itoa(i) + `": `)
		b.WriteString([]string{"true", "12345", `"str"`, "[1, 2]", `{"a": null}`, "-1.5e3"}[i%6])
	}
	b.WriteByte('}')
	in := []byte(b.String())
	for split := 1; split < len(in); split++ {
		d := NewDecoder()
		var ev Event
		ok := false
		for _, part := range [][]byte{in[:split], in[split:]} {
			for len(part) > 0 {
				n, done := d.Feed(part)
				part = part[n:]
				if done {
					ev, ok = d.Event(), true
				}
			}
		}
		if !ok || ev.Err != nil || ev.Value.Len() != 40 {
			t.Fatalf("split at %d (%q|%q): ok=%v err=%v", split, in[max(0, split-20):split], in[split:min(len(in), split+20)], ok, ev.Err)
		}
	}
}
