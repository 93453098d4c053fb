package qjson_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/qgafuzz/qgafuzz/qjson"
)

// The stream benchmarks compare qjson with encoding/json and jsontext on the
// same 64 MiB streams of standard JSON (so that every parser accepts the same
// bytes; qjson's 0xFF flush byte and single-quoted strings are left out):
//
//	go test -run '^$' -bench Stream -ldflags=-funcalign=64 ./qjson/
//
// (-funcalign=64 keeps each parser's speed from depending on where its
// functions land relative to 64-byte boundaries, which otherwise moves with
// the size of unrelated code: see README.)
//
// Mixes:
//   - control: small qemu-ga requests and replies (guest-sync,
//     guest-sync-delimited, guest-ping, ~3 KB guest-info replies, error
//     replies, requests with "id" members, escaped and non-ASCII strings);
//   - bulk: guest-file-write requests carrying 48 KiB..1 MiB base64 strings.
//
// Parsers:
//   - qjson: full parse, fed in 4096-byte chunks as qemu-ga reads;
//   - reuse: qjson with ReuseValues, each value valid until the next Feed
//     (the lifetime jsontext gives the bytes ReadValue returns);
//   - boundary: qjson with BoundaryOnly, message ends only;
//   - encodingjson: json.Decoder decoding into a json.RawMessage;
//   - jsontext: jsontext.Decoder.ReadValue.

const (
	benchStreamSize = 64 << 20
	benchChunk      = 4096 // qemu-ga's read size
)

// benchStream is a generated stream and the number of top-level values in it.
type benchStream struct {
	data []byte
	msgs int
}

var benchMixes = []struct {
	name string
	gen  func(r *rand.Rand, dst []byte, room int) []byte
	once sync.Once
	s    benchStream
}{
	{name: "control", gen: benchControlMsg},
	{name: "bulk", gen: benchBulkMsg},
}

// benchStreamFor returns the 64 MiB stream of mix i, built once per process.
func benchStreamFor(i int) benchStream {
	m := &benchMixes[i]
	m.once.Do(func() { m.s = benchBuild(m.gen, benchStreamSize, uint64(i)+1) })
	return m.s
}

// benchBuild generates exactly size bytes: messages separated by newlines,
// then whitespace padding. gen appends one message of at most room bytes, or
// nothing when no message fits.
func benchBuild(gen func(*rand.Rand, []byte, int) []byte, size int, seed uint64) benchStream {
	r := rand.New(rand.NewPCG(seed, 0x71676166757a7a))
	buf := make([]byte, 0, size)
	msgs := 0
	for {
		n := len(buf)
		buf = gen(r, buf, size-n-1)
		if len(buf) == n || len(buf) > size-1 {
			buf = buf[:n]
			break
		}
		buf = append(buf, '\n')
		msgs++
	}
	for len(buf) < size-1 {
		buf = append(buf, ' ')
	}
	if len(buf) < size {
		buf = append(buf, '\n')
	}
	return benchStream{buf, msgs}
}

var benchCommands = []string{
	"guest-sync-delimited", "guest-sync", "guest-ping", "guest-get-time",
	"guest-set-time", "guest-info", "guest-shutdown", "guest-file-open",
	"guest-file-close", "guest-file-read", "guest-file-write", "guest-file-seek",
	"guest-file-flush", "guest-fsfreeze-status", "guest-fsfreeze-freeze",
	"guest-fsfreeze-freeze-list", "guest-fsfreeze-thaw", "guest-fstrim",
	"guest-suspend-disk", "guest-suspend-ram", "guest-suspend-hybrid",
	"guest-network-get-interfaces", "guest-get-vcpus", "guest-set-vcpus",
	"guest-get-disks", "guest-get-fsinfo", "guest-set-user-password",
	"guest-get-memory-blocks", "guest-set-memory-blocks",
	"guest-get-memory-block-info", "guest-exec-status", "guest-exec",
	"guest-get-host-name", "guest-get-users", "guest-get-timezone",
	"guest-get-osinfo", "guest-get-devices", "guest-ssh-get-authorized-keys",
	"guest-ssh-add-authorized-keys", "guest-ssh-remove-authorized-keys",
	"guest-get-diskstats", "guest-get-cpustats",
}

// benchControlMsg appends one small qemu-ga request or reply.
func benchControlMsg(r *rand.Rand, dst []byte, room int) []byte {
	if room < 4096 {
		return dst
	}
	id := strconv.AppendInt(nil, r.Int64N(1<<53), 10)
	switch k := r.IntN(100); {
	case k < 14:
		dst = append(dst, `{"execute":"guest-sync","arguments":{"id":`...)
		dst = append(append(dst, id...), "}}"...)
	case k < 28:
		dst = append(dst, `{"execute":"guest-sync-delimited","arguments":{"id":`...)
		dst = append(append(dst, id...), "}}"...)
	case k < 40:
		dst = append(dst, `{"execute":"guest-ping"}`...)
	case k < 48:
		dst = append(dst, `{"execute":"guest-ping","id":"req-`...)
		dst = append(append(dst, id...), `"}`...)
	case k < 54:
		dst = append(dst, `{ "execute": "guest-info", "id": `...)
		dst = append(append(dst, id...), " }"...)
	case k < 68:
		dst = append(dst, `{"return": `...)
		dst = append(append(dst, id...), '}')
	case k < 78:
		dst = append(dst, `{"return": {}}`...)
	case k < 80:
		dst = append(dst, `{"return": {}, "id": "req-`...)
		dst = append(append(dst, id...), `"}`...)
	case k < 83:
		dst = benchInfoReply(r, dst)
	case k < 87:
		dst = append(dst, `{"error": {"class": "GenericError", "desc": "JSON parse error, stray '\u00FF'"}}`...)
	case k < 89:
		dst = append(dst, `{"error": {"class": "CommandNotFound", "desc": "The command guest-foo has not been found"}}`...)
	case k < 91:
		dst = append(dst, `{"error": {"class": "GenericError", "desc": "Invalid parameter type for 'id', expected: integer"}, "id": `...)
		dst = append(append(dst, id...), '}')
	case k < 94:
		dst = append(dst, `{"execute":"guest-exec","arguments":{"path":"/bin/sh","arg":["-c","printf \"%s\\n\" 'h\u00e9llo' \t| tr a-z A-Z"],"env":["LANG=C","HOME=\/root"],"capture-output":true},"id":"x-`...)
		dst = append(append(dst, id...), `"}`...)
	case k < 96:
		dst = append(dst, `{"return": {"pid": `...)
		dst = append(append(dst, id[:min(len(id), 5)]...), `, "exited": true, "exitcode": 0, "out-data": "aMOpbGxvCg==", "note": "caf\u00e9 \u2615 日本"}}`...)
	case k < 98:
		dst = append(dst, `{"return": [{"name": "sda1", "mountpoint": "/", "type": "ext4", "total-bytes": 1.0479128576e10, "used-bytes": 5.2e9, "ro": false, "serial": null, "load": -0.25}]}`...)
	default:
		dst = append(dst, `{"execute":"guest-set-time","arguments":{"time":1700000000123456789}}`...)
	}
	return dst
}

// benchInfoReply appends a guest-info reply of about 3 KB.
func benchInfoReply(r *rand.Rand, dst []byte) []byte {
	dst = append(dst, `{"return": {"version": "7.2.22", "supported_commands": [`...)
	for i, c := range benchCommands {
		if i > 0 {
			dst = append(dst, ", "...)
		}
		dst = append(dst, `{"enabled": `...)
		dst = strconv.AppendBool(dst, r.IntN(8) != 0)
		dst = append(dst, `, "name": "`...)
		dst = append(dst, c...)
		dst = append(dst, `", "success-response": `...)
		dst = strconv.AppendBool(dst, c != "guest-shutdown" && c[6:min(len(c), 13)] != "suspend")
		dst = append(dst, '}')
	}
	return append(dst, "]}}"...)
}

// benchBulkMsg appends one guest-file-write request with a 48 KiB..1 MiB
// base64 payload, shortened to fit room when possible.
func benchBulkMsg(r *rand.Rand, dst []byte, room int) []byte {
	const minB64, maxB64, overhead = 48 << 10, 1 << 20, 128
	n := minB64 + r.IntN(maxB64-minB64+1)
	n = min(n, room-overhead) &^ 3
	if n < minB64 {
		return dst
	}
	raw := make([]byte, n/4*3)
	for i := 0; i < len(raw); i += 8 {
		v := r.Uint64()
		for j := i; j < min(i+8, len(raw)); j++ {
			raw[j] = byte(v)
			v >>= 8
		}
	}
	dst = append(dst, `{"execute":"guest-file-write","arguments":{"handle":`...)
	dst = strconv.AppendInt(dst, 1000+r.Int64N(1<<20), 10)
	dst = append(dst, `,"buf-b64":"`...)
	dst = base64.StdEncoding.AppendEncode(dst, raw)
	return append(dst, `"}}`...)
}

var benchSink int

// benchQJSON feeds data to d in qemu-ga's 4096-byte reads and counts the
// messages, failing on any error event. It touches each message's Value.
func benchQJSON(d *qjson.Decoder, data []byte) (int, error) {
	msgs := 0
	for off := 0; off < len(data); off += benchChunk {
		p := data[off:min(off+benchChunk, len(data))]
		for len(p) > 0 {
			n, ok := d.Feed(p)
			p = p[n:]
			if !ok {
				continue
			}
			ev := d.Event()
			if ev.Err != nil {
				return msgs, ev.Err
			}
			benchSink += int(ev.Value.Kind()) + ev.Value.Len()
			msgs++
		}
	}
	if d.Pending() {
		return msgs, errors.New("qjson: input ends inside a message")
	}
	return msgs, nil
}

func benchEncodingJSON(data []byte) (int, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	var raw json.RawMessage
	msgs := 0
	for {
		err := dec.Decode(&raw)
		if err == io.EOF {
			return msgs, nil
		}
		if err != nil {
			return msgs, err
		}
		benchSink += len(raw)
		msgs++
	}
}

func benchJSONText(data []byte) (int, error) {
	dec := jsontext.NewDecoder(bytes.NewReader(data))
	msgs := 0
	for {
		v, err := dec.ReadValue()
		if err == io.EOF {
			return msgs, nil
		}
		if err != nil {
			return msgs, err
		}
		benchSink += len(v)
		msgs++
	}
}

// benchParsers make a function that parses a whole stream and counts its
// top-level values. The qjson ones keep their Decoder from one pass to the
// next, Reset in between, as qemu-ga keeps its parser for its lifetime.
var benchParsers = []struct {
	name   string
	setup  func() func([]byte) (int, error)
	perMsg bool // report allocs/msg
}{
	{"qjson", func() func([]byte) (int, error) {
		d := qjson.NewDecoder()
		return func(b []byte) (int, error) { d.Reset(); return benchQJSON(d, b) }
	}, true},
	{"reuse", func() func([]byte) (int, error) {
		d := qjson.NewDecoder(qjson.ReuseValues())
		return func(b []byte) (int, error) { d.Reset(); return benchQJSON(d, b) }
	}, true},
	{"boundary", func() func([]byte) (int, error) {
		d := qjson.NewDecoder(qjson.BoundaryOnly())
		return func(b []byte) (int, error) { d.Reset(); return benchQJSON(d, b) }
	}, true},
	{"encodingjson", func() func([]byte) (int, error) { return benchEncodingJSON }, false},
	{"jsontext", func() func([]byte) (int, error) { return benchJSONText }, false},
}

func BenchmarkStream(b *testing.B) {
	for i := range benchMixes {
		for _, p := range benchParsers {
			b.Run(benchMixes[i].name+"/"+p.name, func(b *testing.B) {
				s := benchStreamFor(i)
				run := p.setup()
				check := func() {
					n, err := run(s.data)
					if err != nil {
						b.Fatalf("after %d messages: %v", n, err)
					}
					if n != s.msgs {
						b.Fatalf("got %d messages, want %d", n, s.msgs)
					}
				}
				check() // warm up: buffers reach their steady size
				b.SetBytes(int64(len(s.data)))
				b.ReportAllocs()
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				passes := 0
				for b.Loop() {
					check()
					passes++
				}
				runtime.ReadMemStats(&after)
				if p.perMsg {
					allocs := float64(after.Mallocs - before.Mallocs)
					b.ReportMetric(allocs/float64(passes*s.msgs), "allocs/msg")
				}
			})
		}
	}
}

// BenchmarkStreamInterleaved runs the full parsers and jsontext over the
// same 64 MiB stream in turn, one pass each per round, so that the
// machine's drift (often 30% between runs of BenchmarkStream here) falls on
// all of them alike. Per parser it reports the best pass (MB/s) and the
// median over the rounds of its speed divided by jsontext's in the same
// round (x-jsontext):
//
//	go test -run '^$' -bench StreamInterleaved -benchtime 20x -ldflags=-funcalign=64 ./qjson/
func BenchmarkStreamInterleaved(b *testing.B) {
	for i := range benchMixes {
		b.Run(benchMixes[i].name, func(b *testing.B) {
			s := benchStreamFor(i)
			names := []string{"qjson", "reuse", "jsontext"}
			runs := map[string]func([]byte) (int, error){}
			for _, p := range benchParsers {
				runs[p.name] = p.setup()
			}
			pass := func(name string) float64 {
				start := time.Now()
				if n, err := runs[name](s.data); err != nil || n != s.msgs {
					b.Fatalf("%s: %d messages (err %v), want %d", name, n, err, s.msgs)
				}
				return time.Since(start).Seconds()
			}
			for _, n := range names {
				pass(n) // warm up
			}
			b.SetBytes(int64(len(s.data) * len(names)))
			secs := map[string][]float64{}
			for b.Loop() {
				for _, n := range names {
					secs[n] = append(secs[n], pass(n))
				}
			}
			for _, n := range names {
				ratios := make([]float64, len(secs[n]))
				for k, t := range secs[n] {
					ratios[k] = secs["jsontext"][k] / t
				}
				b.ReportMetric(float64(len(s.data))/slices.Min(secs[n])/1e6, n+"-MB/s")
				if n != "jsontext" {
					slices.Sort(ratios)
					b.ReportMetric(ratios[len(ratios)/2], n+"-x-jsontext")
				}
			}
		})
	}
}

// TestStreamParsersAgree checks on 1 MiB versions of both streams that the
// four parsers see the same number of top-level values, and that the
// streams have the exact size.
func TestStreamParsersAgree(t *testing.T) {
	const size = 1 << 20
	for i := range benchMixes {
		s := benchBuild(benchMixes[i].gen, size, uint64(i)+1)
		if len(s.data) != size {
			t.Fatalf("%s: stream is %d bytes, want %d", benchMixes[i].name, len(s.data), size)
		}
		if s.msgs == 0 {
			t.Fatalf("%s: no messages", benchMixes[i].name)
		}
		for _, p := range benchParsers {
			n, err := p.setup()(s.data)
			if err != nil || n != s.msgs {
				t.Errorf("%s/%s: %d messages (err %v), want %d", benchMixes[i].name, p.name, n, err, s.msgs)
			}
		}
	}
	if testing.Short() {
		return
	}
	// The control stream round-trips through qjson: every value it parses
	// is the one encoding/json parses.
	s := benchBuild(benchControlMsg, size, 1)
	d := qjson.NewDecoder()
	dec := json.NewDecoder(bytes.NewReader(s.data))
	for p := s.data; len(p) > 0; {
		n, ok := d.Feed(p)
		p = p[n:]
		if !ok {
			continue
		}
		var want any
		if err := dec.Decode(&want); err != nil {
			t.Fatal(err)
		}
		var got any
		if err := json.Unmarshal(qjson.AppendValue(nil, d.Event().Value), &got); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("qjson parsed %v, encoding/json %v", got, want)
		}
	}
}
