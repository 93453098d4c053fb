package qjson_test

import (
	"bytes"
	"encoding/json"
	"testing"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/qgafuzz/qgafuzz/qjson"
)

// BenchmarkEncode compares writing replies: qjson's serializer (qemu-ga's
// format, each value followed by a newline, into a reused buffer) with
// encoding/json and go-json-experiment/json marshalling the same values as
// a user of those libraries would hold them (decoded into any). The values
// are the messages of the first 4 MiB of the control stream; MB/s counts
// those 4 MiB, so the three rates compare the same work:
//
//	go test -run '^$' -bench Encode ./qjson/
func BenchmarkEncode(b *testing.B) {
	s := benchBuild(benchControlMsg, 4<<20, 1)
	var vals []qjson.Value
	d := qjson.NewDecoder()
	for p := s.data; len(p) > 0; {
		n, ok := d.Feed(p)
		p = p[n:]
		if ok {
			vals = append(vals, d.Event().Value)
		}
	}
	var anys []any
	for _, line := range bytes.Split(s.data, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var a any
		if err := json.Unmarshal(line, &a); err != nil {
			b.Fatal(err)
		}
		anys = append(anys, a)
	}
	if len(vals) != s.msgs || len(anys) != s.msgs {
		b.Fatalf("%d qjson values, %d decoded by encoding/json, want %d", len(vals), len(anys), s.msgs)
	}
	run := func(b *testing.B, pass func() int) {
		b.SetBytes(int64(len(s.data)))
		b.ReportAllocs()
		pass() // warm up: buffers reach their steady size
		for b.Loop() {
			benchSink += pass()
		}
		b.ReportMetric(float64(testing.AllocsPerRun(1, func() { pass() }))/float64(s.msgs), "allocs/msg")
	}
	b.Run("qjson", func(b *testing.B) {
		var dst []byte
		run(b, func() int {
			dst = dst[:0]
			for _, v := range vals {
				dst = append(qjson.AppendValue(dst, v), '\n')
			}
			return len(dst)
		})
	})
	b.Run("encodingjson", func(b *testing.B) {
		run(b, func() int {
			n := 0
			for _, a := range anys {
				out, err := json.Marshal(a)
				if err != nil {
					b.Fatal(err)
				}
				n += len(out) + 1
			}
			return n
		})
	})
	b.Run("jsonv2", func(b *testing.B) {
		run(b, func() int {
			n := 0
			for _, a := range anys {
				out, err := jsonv2.Marshal(a)
				if err != nil {
					b.Fatal(err)
				}
				n += len(out) + 1
			}
			return n
		})
	})
}
