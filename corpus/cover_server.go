package corpus

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"
	"unsafe"

	"github.com/qgafuzz/qgafuzz/fuzz"
)

// This file is the inside of the coverage server: a test binary of this
// package built with Go's fuzzing instrumentation (go test -c -fuzz=.,
// which gives every edge of the instrumented code an 8-bit counter, as
// libFuzzer's inline-8bit-counters do) runs inputs on request and reports
// which counters each input touched. The counters live in the linker's
// .go.fuzzcntrs section, bounded by runtime.__start___sancov_cntrs and
// runtime.__stop___sancov_cntrs (the symbols the runtime hands to
// libFuzzer); those bounds are not a public API, and TestCountersPresent
// fails loudly if a Go release moves them.

//go:linkname sancovStart runtime.__start___sancov_cntrs
var sancovStart [0]byte

//go:linkname sancovStop runtime.__stop___sancov_cntrs
var sancovStop [0]byte

// Counters returns the fuzzing instrumentation's 8-bit counters of this
// process: empty unless the binary was built with -d=libfuzzer (go test
// -fuzz, or -c -fuzz=.).
func Counters() []byte {
	start := unsafe.Pointer(&sancovStart)
	n := uintptr(unsafe.Pointer(&sancovStop)) - uintptr(start)
	if n == 0 || n > 1<<30 {
		return nil
	}
	return unsafe.Slice((*byte)(start), int(n))
}

// noCounters is what a coverage server without instrumentation says.
const noCounters = "corpus: coverage server built without fuzzing instrumentation (no 8-bit counters)"

// ServerEnv is the environment variable that turns the package's test
// binary (see Build) into a coverage server: set to "1", the binary runs
// Serve on its standard input and output instead of the tests.
const ServerEnv = "QGAFUZZ_COVERAGE_SERVER"

// request is one line the client sends: a target and an input, by path
// (decoded as ReadInput does) or inline.
type request struct {
	Target string `json:"t"`
	Path   string `json:"p,omitempty"`
	Data   []byte `json:"d,omitempty"`
}

// response is the server's line for one request.
type response struct {
	Features []byte `json:"f,omitempty"` // EncodeFeatures (base64 in JSON)
	Size     int    `json:"s"`
	Fail     string `json:"fail,omitempty"`   // the failure's signature
	Report   string `json:"report,omitempty"` // the failure's report
	Err      string `json:"err,omitempty"`
	Nanos    int64  `json:"ns"`
}

// Serve answers requests (JSON lines on r) with responses (JSON lines on
// w) until r ends. It returns the process exit code.
func Serve(r io.Reader, w io.Writer) int {
	ctrs := Counters()
	if len(ctrs) == 0 {
		fmt.Fprintln(os.Stderr, noCounters)
		return 2
	}
	warm := map[string]bool{}
	in := bufio.NewScanner(r)
	in.Buffer(nil, 1<<30)
	out := bufio.NewWriter(w)
	enc := json.NewEncoder(out)
	var feats, again []uint32
	for in.Scan() {
		var req request
		var resp response
		if err := json.Unmarshal(in.Bytes(), &req); err != nil {
			resp.Err = "bad request: " + err.Error()
		} else if t, ok := fuzz.Lookup(req.Target); !ok {
			resp.Err = fmt.Sprintf("no target %q", req.Target)
		} else {
			data := req.Data
			var err error
			if req.Path != "" {
				data, _, err = ReadInput(req.Path)
			}
			if err != nil {
				resp.Err = err.Error()
			} else {
				if !warm[t.Name] {
					// Lazy initialisation (sync.Once, first-use caches)
					// runs on the first input only; keep it out of every
					// input's coverage.
					fuzz.Run(t, nil)
					fuzz.Run(t, []byte("{}"))
					warm[t.Name] = true
				}
				clear(ctrs)
				start := time.Now()
				f := fuzz.Run(t, data)
				resp.Nanos = int64(time.Since(start))
				feats = AppendFeatures(feats[:0], ctrs)
				if f == nil {
					// A second run keeps only the features both runs
					// saw: timers, the scheduler and the garbage
					// collector make a few edges vary between runs.
					clear(ctrs)
					fuzz.Run(t, data)
					again = AppendFeatures(again[:0], ctrs)
					feats = intersect(feats, again)
				}
				resp.Features = EncodeFeatures(feats)
				resp.Size = len(data)
				if f != nil {
					resp.Fail, resp.Report = fuzz.TriageSignature(f), f.Report()
				}
			}
		}
		if err := enc.Encode(&resp); err != nil {
			return 1
		}
		if err := out.Flush(); err != nil {
			return 1
		}
	}
	return 0
}

// AppendFeatures appends the features of a counter snapshot: for each
// non-zero counter, its index times 8 plus the bucket of its value (1, 2,
// 3, 4-7, 8-15, 16-31, 32-127, 128-255), as libFuzzer counts features, in
// ascending order.
func AppendFeatures(dst []uint32, ctrs []byte) []uint32 {
	for i, c := range ctrs {
		if c != 0 {
			dst = append(dst, uint32(i)<<3|uint32(bucket(c)))
		}
	}
	return dst
}

func bucket(c byte) int {
	switch {
	case c <= 3:
		return int(c) - 1
	case c < 8:
		return 3
	case c < 16:
		return 4
	case c < 32:
		return 5
	case c < 128:
		return 6
	}
	return 7
}

// intersect returns the features of a that are in b (both ascending),
// reusing a.
func intersect(a, b []uint32) []uint32 {
	out := a[:0]
	for i, j := 0, 0; i < len(a) && j < len(b); {
		switch {
		case a[i] == b[j]:
			out = append(out, a[i])
			i++
			j++
		case a[i] < b[j]:
			i++
		default:
			j++
		}
	}
	return out
}

// EncodeFeatures packs ascending features as varint deltas.
func EncodeFeatures(fs []uint32) []byte {
	out := make([]byte, 0, 2*len(fs))
	prev := uint32(0)
	for _, f := range fs {
		out = binary.AppendUvarint(out, uint64(f-prev))
		prev = f
	}
	return out
}

// DecodeFeatures unpacks EncodeFeatures.
func DecodeFeatures(b []byte) ([]uint32, error) {
	if err := checkFeatures(b); err != nil {
		return nil, err
	}
	// Sized exactly (one feature per varint, each ending in a byte below
	// 0x80): a caller may hold the features of many inputs at once, and
	// append's spare capacity was a good part of them.
	n := 0
	for _, c := range b {
		if c < 0x80 {
			n++
		}
	}
	return appendDecodedFeatures(make([]uint32, 0, n), b), nil
}

// checkFeatures returns an error if b is not what EncodeFeatures packs.
func checkFeatures(b []byte) error {
	for len(b) > 0 {
		_, n := binary.Uvarint(b)
		if n <= 0 {
			return fmt.Errorf("corpus: bad feature encoding")
		}
		b = b[n:]
	}
	return nil
}

// appendDecodedFeatures appends to dst the features packed in b, which
// checkFeatures accepts.
func appendDecodedFeatures(dst []uint32, b []byte) []uint32 {
	prev := uint32(0)
	for len(b) > 0 {
		d, n := binary.Uvarint(b)
		prev += uint32(d)
		dst = append(dst, prev)
		b = b[n:]
	}
	return dst
}
