package qjson_test

import (
	"bytes"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/qgafuzz/qgafuzz/qjson"
)

// The Decoder makes the strings and members of values in shared blocks
// (see arena.go and parser): a kept value must keep alive all it reaches,
// whatever block it lies in, and a value must not change when later
// messages fill the blocks. TestKeptValuesSurviveCollection keeps every
// value of a stream with messages of all sizes, from a few bytes to
// several blocks, fed in random pieces while the collector runs without
// pause, then overwrites freed memory and checks every value against the
// message parsed alone. A Decoder with ReuseValues takes the same pieces,
// and each of its values is checked before the next Feed.

// arenaValue generates a value of about size bytes of JSON, nested up to
// depth, with distinct keys.
func arenaValue(r *rand.Rand, size, depth int) qjson.Value {
	switch k := r.IntN(10); {
	case size < 16 || depth == 0 || k < 3:
		switch r.IntN(5) {
		case 0:
			return qjson.IntValue(r.Int64())
		case 1:
			return qjson.BoolValue(r.IntN(2) == 0)
		case 2:
			return qjson.NullValue()
		}
		n := r.IntN(max(size, 1) + 1)
		b := make([]byte, n)
		for i := range b {
			b[i] = byte('a' + r.IntN(26))
		}
		if n > 0 && r.IntN(4) == 0 {
			b[r.IntN(n)] = '\n' // escaped in the encoding
		}
		return qjson.StringValue(string(b) + strings.Repeat("é", r.IntN(2)))
	case k < 6:
		n := 1 + r.IntN(min(size/16, 600)+1)
		elems := make([]qjson.Value, n)
		for i := range elems {
			elems[i] = arenaValue(r, size/n, depth-1)
		}
		return qjson.ArrayValue(elems...)
	default:
		n := r.IntN(min(size/16, 600) + 1)
		members := make([]qjson.Member, n)
		for i := range members {
			members[i] = qjson.Member{Key: "k" + strconv.Itoa(i) + strings.Repeat("x", r.IntN(20)), Value: arenaValue(r, size/max(n, 1), depth-1)}
		}
		return qjson.ObjectValue(members...)
	}
}

// QGAFUZZ_KEPT_SEED sets its seed (default 1).
func TestKeptValuesSurviveCollection(t *testing.T) {
	seed := uint64(1)
	if s := os.Getenv("QGAFUZZ_KEPT_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("QGAFUZZ_KEPT_SEED: %v", err)
		}
	}
	defer func() {
		if t.Failed() {
			t.Logf("reproduce: QGAFUZZ_KEPT_SEED=%d go test -run TestKeptValuesSurviveCollection ./qjson/", seed)
		}
	}()
	defer debug.SetGCPercent(debug.SetGCPercent(5))
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
				runtime.GC()
			}
		}
	})
	defer func() { close(stop); wg.Wait() }()

	for _, fast := range []bool{true, false} {
		was := qjson.SetFastPath(fast)
		stream := uint64(1) // a PCG stream per path, so the two runs differ
		if fast {
			stream = 2
		}
		r := rand.New(rand.NewPCG(seed, stream))
		var want []string // each message's value, parsed alone
		var in []byte
		for len(in) < 2<<20 {
			size := 1 << r.IntN(18) // 1 B .. 128 KiB, across 16 KiB blocks
			v := arenaValue(r, size, 1+r.IntN(8))
			if r.IntN(8) == 0 {
				// Deeper than the levels the parser keeps between
				// messages (16).
				for range 10 + r.IntN(40) {
					if r.IntN(2) == 0 {
						v = qjson.ObjectValue(qjson.Member{Key: "d", Value: v}, qjson.Member{Key: "e", Value: qjson.IntValue(1)})
					} else {
						v = qjson.ArrayValue(qjson.NullValue(), v)
					}
				}
			}
			if k := v.Kind(); k != qjson.Array && k != qjson.Object {
				v = qjson.ArrayValue(v)
			}
			enc := qjson.AppendValue(nil, v)
			evs := feedAll(t, qjson.NewDecoder(), enc)
			if len(evs) != 1 || evs[0].Err != nil {
				t.Fatalf("%.200q: events %v", enc, evs)
			}
			want = append(want, dump(evs[0].Value))
			in = append(in, enc...)
		}
		// With ReuseValues, each value is checked before the next Feed.
		reuse := qjson.NewDecoder(qjson.ReuseValues())
		d := qjson.NewDecoder()
		var kept []qjson.Value
		reused := 0
		for off := 0; off < len(in); {
			n := 1 + r.IntN(8192)
			if r.IntN(4) == 0 {
				n = 1 + r.IntN(4)
			}
			p := in[off:min(off+n, len(in))]
			off += len(p)
			for q := p; len(q) > 0; {
				k, ok := reuse.Feed(q)
				q = q[k:]
				if !ok {
					continue
				}
				if ev := reuse.Event(); ev.Err != nil || dump(ev.Value) != want[reused] {
					t.Fatalf("fast path %v: ReuseValues message %d: %v\n got %.200q\nwant %.200q", fast, reused, ev.Err, dump(ev.Value), want[reused])
				}
				reused++
			}
			for len(p) > 0 {
				k, ok := d.Feed(p)
				p = p[k:]
				if ok {
					ev := d.Event()
					if ev.Err != nil {
						t.Fatalf("message %d: %v", len(kept), ev.Err)
					}
					kept = append(kept, ev.Value)
				}
			}
		}
		if len(kept) != len(want) {
			t.Fatalf("fast path %v: %d values, want %d", fast, len(kept), len(want))
		}
		// Reuse what the collector freed, with bytes that look like
		// neither values nor pointers.
		runtime.GC()
		junk := make([][]byte, 0, 4096)
		for range 4096 {
			junk = append(junk, bytes.Repeat([]byte{0xAA}, 1<<(6+r.IntN(12))))
		}
		runtime.KeepAlive(junk)
		for i, v := range kept {
			if got := dump(v); got != want[i] {
				at := 0
				for at < min(len(got), len(want[i])) && got[at] == want[i][at] {
					at++
				}
				t.Fatalf("fast path %v: kept value %d of %d changed at byte %d of %d:\n got %.200q\nwant %.200q", fast, i, len(kept), at, len(want[i]), got[max(0, at-40):], want[i][max(0, at-40):])
			}
		}
		qjson.SetFastPath(was)
	}
}

func liveHeap() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// feedReads feeds in to d in 4096-byte reads, as qemu-ga reads, checking
// that every event is a value.
func feedReads(t *testing.T, d *qjson.Decoder, in string) {
	t.Helper()
	for len(in) > 0 {
		c := []byte(in[:min(4096, len(in))])
		in = in[len(c):]
		for len(c) > 0 {
			n, ok := d.Feed(c)
			c = c[n:]
			if ok && d.Event().Err != nil {
				t.Fatal(d.Event().Err)
			}
		}
	}
}

// TestDecoderDoesNotPinDroppedValues: once the caller has dropped the
// values of large messages, the Decoder must not keep them alive through
// the member blocks it keeps between messages, neither with ReuseValues
// (stale members past the part in use) nor without (members of earlier
// messages below it).
func TestDecoderDoesNotPinDroppedValues(t *testing.T) {
	if testing.Short() {
		t.Skip("parses about 200 MiB")
	}
	const limit = 12 << 20 // retained bytes allowed; the bug kept 32-250 MiB
	big := strings.Repeat("s", 32<<20)
	small := strings.Repeat(`{"execute":"guest-ping"} `, 1000)
	for _, tc := range []struct {
		name  string
		opts  []qjson.Option
		input func(feed func(string))
	}{
		{"reuse/long-key", []qjson.Option{qjson.ReuseValues()}, func(feed func(string)) {
			feed(`{"a":1,"` + big + `":1}`)
		}},
		{"reuse/big-array", []qjson.Option{qjson.ReuseValues()}, func(feed func(string)) {
			feed(`{"a":1,"x":[` + strings.Repeat("1,", 1<<19) + `1]}`)
		}},
		{"default/nested-long-string", nil, func(feed func(string)) {
			feed(`{"a":[1,["` + big + `"]]}`)
		}},
		{"default/nested-big-array", nil, func(feed func(string)) {
			feed(`{"a":[1,[` + strings.Repeat("1,", 1<<19) + `1]]}`)
		}},
		{"default/many-1MiB-strings", nil, func(feed func(string)) {
			msg := `[["` + big[:1<<20] + `"]]`
			for range 250 {
				feed(msg)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := qjson.NewDecoder(tc.opts...)
			before := liveHeap()
			tc.input(func(s string) { feedReads(t, d, s) })
			feedReads(t, d, small) // the values of the input are dropped
			if kept := liveHeap() - before; kept > limit {
				t.Errorf("the decoder keeps %d MiB alive after the values were dropped (limit %d MiB)", kept>>20, limit>>20)
			}
			runtime.KeepAlive(d)
		})
	}
}

// BenchmarkReuseDeepAfterWide: with ReuseValues, a small message that
// allocates (nested deeper than the levels the parser keeps) clears only
// the members written since the last clear, not every kept block: after
// one wide message, clearing whole blocks made each of these 7-15x slower.
func BenchmarkReuseDeepAfterWide(b *testing.B) {
	var wide strings.Builder
	for range 16 {
		wide.WriteString("[" + strings.Repeat("1,", 511))
	}
	wide.WriteString("1" + strings.Repeat("]", 16) + " ")
	deep := []byte(strings.Repeat("[", 17) + "1" + strings.Repeat("]", 17) + " ")
	d := qjson.NewDecoder(qjson.ReuseValues())
	feed := func(p []byte) {
		for len(p) > 0 {
			n, _ := d.Feed(p)
			p = p[n:]
		}
	}
	feed([]byte(wide.String()))
	b.SetBytes(int64(len(deep)))
	b.ReportAllocs()
	for b.Loop() {
		feed(deep)
	}
}

// BenchmarkReuseAfterTooDeep: with ReuseValues, the levels a message
// opened without placing a member in them (brackets past the nesting
// limit) are dropped with it, like those of any deep message: kept, they
// made every later message rewind them all, each small request after
// such an input about 13x slower (1.2us instead of 90ns).
func BenchmarkReuseAfterTooDeep(b *testing.B) {
	deep := []byte(strings.Repeat("[", qjson.DefaultLimits.MaxDepth+1))
	small := []byte(`{"execute": "guest-ping"} `)
	d := qjson.NewDecoder(qjson.ReuseValues())
	feed := func(p []byte) {
		for len(p) > 0 {
			n, _ := d.Feed(p)
			p = p[n:]
		}
	}
	feed(deep)
	b.SetBytes(int64(len(small)))
	b.ReportAllocs()
	for b.Loop() {
		feed(small)
	}
}
