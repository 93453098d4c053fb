package qjson_test

import (
	"bytes"
	"fmt"
	"math"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/qgafuzz/qgafuzz/qjson"
	"pgregory.net/rapid"
)

// Property tests: the events do not depend on how the input is split into
// Feed calls (spec 1.1), and values survive serialization (spec 6) and
// parsing unchanged.

// dump describes v exactly: kinds, float bits, raw string bytes and
// members in input order.
func dump(v qjson.Value) string {
	var b strings.Builder
	dumpTo(&b, v)
	return b.String()
}

func dumpTo(b *strings.Builder, v qjson.Value) {
	switch v.Kind() {
	case qjson.Null:
		b.WriteString("null")
	case qjson.Bool:
		fmt.Fprintf(b, "%v", v.Bool())
	case qjson.Int:
		i, _ := v.Int()
		fmt.Fprintf(b, "i%d", i)
	case qjson.Uint:
		u, _ := v.Uint()
		fmt.Fprintf(b, "u%d", u)
	case qjson.Float:
		f, _ := v.Float()
		fmt.Fprintf(b, "f%#x", math.Float64bits(f))
	case qjson.String:
		s, _ := v.Str()
		b.WriteString(strconv.Quote(s))
	case qjson.Array:
		b.WriteByte('[')
		for i := range v.Len() {
			if i > 0 {
				b.WriteByte(',')
			}
			dumpTo(b, v.Index(i))
		}
		b.WriteByte(']')
	case qjson.Object:
		b.WriteByte('{')
		for i, m := range v.Members() {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.Quote(m.Key))
			b.WriteByte(':')
			dumpTo(b, m.Value)
		}
		b.WriteByte('}')
	default:
		fmt.Fprintf(b, "?%v", v.Kind())
	}
}

// exactDesc describes an event exactly, offset included.
func exactDesc(ev qjson.Event) string {
	if ev.Err != nil {
		return fmt.Sprintf("%d %v %q", ev.Offset, ev.Err.Kind, ev.Err.Desc)
	}
	return fmt.Sprintf("%d %s", ev.Offset, dump(ev.Value))
}

// boundaryDesc is what BoundaryOnly mode must report for a full-mode event.
func boundaryDesc(ev qjson.Event) string {
	if ev.Err != nil && ev.Err.Kind != qjson.ParseError {
		return exactDesc(ev)
	}
	return fmt.Sprintf("%d message", ev.Offset)
}

func boundaryDescOf(t tb, ev qjson.Event) string {
	if ev.Err == nil && (ev.Value.Kind() != qjson.Null || ev.Value.Len() != 0) {
		t.Fatalf("boundary-mode event carries a value: %s", dump(ev.Value))
	}
	if ev.Err != nil && ev.Err.Kind == qjson.ParseError {
		t.Fatalf("boundary-mode event is a parse error: %v", ev.Err)
	}
	return boundaryDesc(ev)
}

// Stream generators.

var (
	specialBytes = []byte{0xff, 0xfe, 0x00, 0x01, 0x08, 0x0b, 0x0c, 0x1f, 0x7f, 0x80, 0xc3, '\t', '\n', '\r', ' ', '"', '\'', '\\', '-', '.', 'e', 'E', '+', '%', ':', ','}
	numberTexts  = []string{
		"0", "-0", "1", "-1", "42", "0.5", "-0.0", "1.0", "1e3", "1E+2", "2e-3", "1e400", "-1e400", "1e-400",
		"9223372036854775807", "9223372036854775808", "-9223372036854775808", "-9223372036854775809",
		"18446744073709551615", "18446744073709551616", "123456789012345678901234567890", "0.1", "4.9e-324",
		"01", "00", "-", "1.", "1.e5", "1e", "1e+", "0e5", "0x1F", "--1", ".5", "+1",
	}
	keywordTexts = []string{"true", "false", "null", "nul", "nan", "truefalse", "e", "x", "True", "Infinity"}
	escapeTexts  = []string{
		`\n`, `\"`, `\'`, `\\`, `\/`, `\b`, `\f`, `\r`, `\t`, `\u00e9`, `\u00C9`, `\ud83d\ude00`, `\u0000`, `\u001f`,
		`\ufffd`, `\uffff`, `\ufdd0`, `\ud800`, `\udc00`, `\ud800\u0041`, `\a`, `\x`, `\u12`, `\u12G4`, `\U0041`,
	}
	rawTexts = []string{
		"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xc0\x80", "\x7f", "\xf4\x8f\xbf\xbd",
		"\x80", "\xc3", "\xc0\xaf", "\xed\xa0\x80", "\xef\xbf\xbe", "\xf4\x90\x80\x80", "\xf8\x88\x80\x80\x80",
		"%", "%d", "{", "}", "[", "]", ":", ",", " ", "\x01", "\t", "\n", "\xff", "\xfe",
	}
	spaceTexts = []string{"", "", "", " ", "  ", "\n", "\r\n", "\t"}
)

// genOptions returns no options (qemu-ga's limits) or small limits that
// trip often.
func genOptions(t *rapid.T) []qjson.Option {
	if rapid.IntRange(0, 2).Draw(t, "small limits") > 0 {
		return nil
	}
	return []qjson.Option{qjson.WithLimits(qjson.Limits{
		MaxTokenSize:  rapid.OneOf(rapid.IntRange(1, 40), rapid.Just(1<<20)).Draw(t, "MaxTokenSize"),
		MaxTokenCount: rapid.OneOf(rapid.IntRange(1, 24), rapid.Just(1<<20)).Draw(t, "MaxTokenCount"),
		MaxDepth:      rapid.OneOf(rapid.IntRange(0, 6), rapid.Just(1024)).Draw(t, "MaxDepth"),
	})}
}

func appendSpace(t *rapid.T, b []byte) []byte {
	return append(b, rapid.SampledFrom(spaceTexts).Draw(t, "space")...)
}

// appendRequest appends a well-formed qemu-ga request.
func appendRequest(t *rapid.T, b []byte) []byte {
	q := rapid.SampledFrom([]string{`"`, `'`}).Draw(t, "quote")
	cmd := rapid.SampledFrom([]string{"guest-sync", "guest-sync-delimited", "guest-ping", "guest-info", "nope"}).Draw(t, "command")
	b = append(b, '{')
	b = appendSpace(t, b)
	b = append(b, q+"execute"+q+":"+q+cmd+q...)
	if rapid.Bool().Draw(t, "has arguments") {
		b = append(b, ","+q+"arguments"+q+":{"+q+"id"+q+":"...)
		b = strconv.AppendInt(b, rapid.Int64().Draw(t, "id"), 10)
		b = append(b, '}')
	}
	if rapid.Bool().Draw(t, "has id") {
		b = append(b, ","+q+"id"+q+":"...)
		b = appendJSON(t, b, 2, false)
	}
	b = appendSpace(t, b)
	return append(b, '}')
}

// appendJSON appends one JSON-ish value: valid when noisy is false, with
// occasional lexical, syntax and encoding errors otherwise.
func appendJSON(t *rapid.T, b []byte, depth int, noisy bool) []byte {
	kinds := 5
	if depth <= 0 {
		kinds = 3
	}
	switch rapid.IntRange(0, kinds-1).Draw(t, "value kind") {
	case 0: // number
		if noisy && rapid.IntRange(0, 3).Draw(t, "number text") == 0 {
			return append(b, rapid.SampledFrom(numberTexts).Draw(t, "number")...)
		}
		if rapid.Bool().Draw(t, "int") {
			return strconv.AppendInt(b, rapid.Int64().Draw(t, "int64"), 10)
		}
		f := rapid.Float64().Draw(t, "float64")
		s := strconv.FormatFloat(f, 'g', -1, 64)
		if math.IsInf(f, 0) || math.IsNaN(f) {
			s = "1e999"
		} else if !strings.ContainsAny(s, ".e") {
			s += ".0"
		}
		return append(b, s...)
	case 1: // keyword
		if noisy {
			return append(b, rapid.SampledFrom(keywordTexts).Draw(t, "keyword")...)
		}
		return append(b, rapid.SampledFrom(keywordTexts[:3]).Draw(t, "keyword")...)
	case 2: // string
		return appendStringToken(t, b, noisy)
	case 3: // array
		b = append(b, '[')
		n := rapid.IntRange(0, 4).Draw(t, "elems")
		for i := range n {
			if i > 0 {
				b = appendSep(t, b, ',', noisy)
			}
			b = appendSpace(t, b)
			b = appendJSON(t, b, depth-1, noisy)
			b = appendSpace(t, b)
		}
		if noisy && rapid.IntRange(0, 9).Draw(t, "unclosed") == 0 {
			return b
		}
		return append(b, ']')
	default: // object
		b = append(b, '{')
		n := rapid.IntRange(0, 4).Draw(t, "members")
		if rapid.IntRange(0, 15).Draw(t, "large object") == 0 {
			// Past 32 members the parser keeps the keys in a set.
			n = rapid.IntRange(30, 40).Draw(t, "many members")
		}
		keys := map[string]bool{}
		first := true
		for range n {
			nonString := noisy && rapid.IntRange(0, 9).Draw(t, "non-string key") == 0
			k := rapid.StringMatching(`[a-z]{0,3}`).Draw(t, "key")
			if !nonString && keys[k] && !noisy {
				continue // a duplicate would be a parse error
			}
			keys[k] = true
			if !first {
				b = appendSep(t, b, ',', noisy)
			}
			first = false
			b = appendSpace(t, b)
			if nonString {
				b = appendJSON(t, b, 0, noisy)
			} else {
				b = strconv.AppendQuote(b, k)
			}
			b = appendSpace(t, b)
			b = appendSep(t, b, ':', noisy)
			b = appendSpace(t, b)
			b = appendJSON(t, b, depth-1, noisy)
		}
		if noisy && rapid.IntRange(0, 9).Draw(t, "unclosed") == 0 {
			return b
		}
		return append(b, '}')
	}
}

func appendSep(t *rapid.T, b []byte, sep byte, noisy bool) []byte {
	if noisy && rapid.IntRange(0, 9).Draw(t, "bad separator") == 0 {
		return append(b, rapid.SampledFrom([]string{"", ",", ":", ",,", "]", "}"}).Draw(t, "separator")...)
	}
	return append(b, sep)
}

// validRune draws a code point qemu-ga can hold in a string.
func validRune(t *rapid.T) rune {
	r := rapid.OneOf(rapid.Rune(), rapid.RuneFrom([]rune{0, 1, '\b', '\t', '\n', 0x1f, '"', '\'', '\\', '/', 0x7f, 0x80, 0x7ff, 0x800, 0xfffd, 0xfdcf, 0xfdf0, 0xd7ff, 0xe000, 0x10000, 0x10fffd})).Draw(t, "rune")
	if !utf8.ValidRune(r) || (r >= 0xfdd0 && r <= 0xfdef) || r&0xfffe == 0xfffe {
		return 'x'
	}
	return r
}

func appendStringToken(t *rapid.T, b []byte, noisy bool) []byte {
	q := rapid.SampledFrom([]byte{'"', '\''}).Draw(t, "quote")
	b = append(b, q)
	n := rapid.IntRange(0, 6).Draw(t, "string parts")
	for range n {
		switch rapid.IntRange(0, 4).Draw(t, "string part") {
		case 0:
			b = append(b, rapid.StringMatching(`[ !#-&(-\[\]-~]{1,5}`).Draw(t, "ascii")...)
		case 1:
			if noisy {
				b = append(b, rapid.SampledFrom(escapeTexts).Draw(t, "escape")...)
			} else {
				b = append(b, rapid.SampledFrom(escapeTexts[:13]).Draw(t, "escape")...)
			}
		case 2:
			if noisy {
				b = append(b, rapid.SampledFrom(rawTexts).Draw(t, "raw")...)
			} else {
				b = append(b, rapid.SampledFrom(rawTexts[:6]).Draw(t, "raw")...)
			}
		case 3:
			r := validRune(t)
			switch {
			case r < 0x20 && !noisy:
				b = fmt.Appendf(b, `\u%04x`, r)
			case r == 0:
				b = append(b, 0xc0, 0x80)
			case r == rune(q) || r == '\\':
				b = append(b, '\\', byte(r))
			default:
				b = utf8.AppendRune(b, r)
			}
		case 4:
			if q == '"' {
				b = append(b, '\'')
			} else {
				b = append(b, '"')
			}
		}
	}
	if noisy && rapid.IntRange(0, 9).Draw(t, "unterminated") == 0 {
		return b
	}
	return append(b, q)
}

// genStream draws a byte stream of requests, values, garbage, special
// bytes, UTF-8 and runs of brackets.
func genStream(t *rapid.T) []byte {
	var b []byte
	n := rapid.IntRange(0, 10).Draw(t, "pieces")
	for range n {
		switch rapid.IntRange(0, 9).Draw(t, "piece") {
		case 0, 1:
			b = appendRequest(t, b)
		case 2, 3, 4:
			b = appendJSON(t, b, rapid.IntRange(0, 4).Draw(t, "depth"), rapid.Bool().Draw(t, "noisy"))
		case 5:
			b = append(b, rapid.SliceOfN(rapid.Byte(), 1, 8).Draw(t, "garbage")...)
		case 6:
			b = append(b, rapid.SampledFrom(specialBytes).Draw(t, "special"))
		case 7:
			b = utf8.AppendRune(b, rapid.Rune().Draw(t, "utf8"))
		case 8:
			c := rapid.SampledFrom([]byte("[{]}")).Draw(t, "bracket")
			b = append(b, bytes.Repeat([]byte{c}, rapid.IntRange(1, 40).Draw(t, "brackets"))...)
		case 9:
			b = append(b, rapid.SampledFrom([]string{"\xff", "\xff\n", "\n", " ", "\xff{"}).Draw(t, "resync")...)
		}
		b = appendSpace(t, b)
	}
	return b
}

// genChunks splits p into chunks: single bytes, small random sizes, or
// random cut points.
func genChunks(t *rapid.T, p []byte) [][]byte {
	var chunks [][]byte
	switch rapid.IntRange(0, 2).Draw(t, "split") {
	case 0:
		for i := range p {
			chunks = append(chunks, p[i:i+1])
		}
	case 1:
		for len(p) > 0 {
			n := min(len(p), rapid.IntRange(1, 8).Draw(t, "chunk"))
			chunks = append(chunks, p[:n])
			p = p[n:]
		}
	default:
		cuts := rapid.SliceOfN(rapid.IntRange(0, len(p)), 0, 12).Draw(t, "cuts")
		mark := make([]bool, len(p)+1)
		for _, c := range cuts {
			mark[c] = true
		}
		last := 0
		for i := 1; i <= len(p); i++ {
			if mark[i] || i == len(p) {
				chunks = append(chunks, p[last:i])
				last = i
			}
		}
	}
	return chunks
}

// feedChunks feeds the chunks in order to one decoder and returns the
// exact descriptions of the events, made before the next Feed call.
func feedChunks(t tb, d *qjson.Decoder, chunks [][]byte, desc func(tb, qjson.Event) string) []string {
	var out []string
	for _, c := range chunks {
		for _, ev := range feedAll(t, d, c) {
			out = append(out, desc(t, ev))
		}
	}
	return out
}

func fullDesc(_ tb, ev qjson.Event) string { return exactDesc(ev) }

// checkRounds runs rapid.Check rounds times (once with -short), each round
// with its own seed: the properties are cheap, and the rewritten lexer's
// chunk-boundary paths deserve more than rapid's default 100 cases.
func checkRounds(t *testing.T, rounds int, prop func(*rapid.T)) {
	if testing.Short() {
		rounds = 1
	}
	for r := range rounds {
		t.Run(fmt.Sprint("round", r), func(t *testing.T) { rapid.Check(t, prop) })
	}
}

// (a) chunking invariance, in full and in boundary mode.
func TestChunkingInvariance(t *testing.T) {
	checkRounds(t, 20, func(t *rapid.T) {
		stream := genStream(t)
		opts := genOptions(t)
		chunks := genChunks(t, stream)

		whole := qjson.NewDecoder(opts...)
		want := feedChunks(t, whole, [][]byte{stream}, fullDesc)
		split := qjson.NewDecoder(opts...)
		got := feedChunks(t, split, chunks, fullDesc)
		if !equalStrings(got, want) {
			t.Fatalf("stream %q in %d chunks:\nsplit:%s\nwhole:%s", stream, len(chunks), fmtList(got), fmtList(want))
		}
		if split.Pending() != whole.Pending() || split.Offset() != whole.Offset() || whole.Offset() != int64(len(stream)) {
			t.Fatalf("end state: split pending %v offset %d, whole pending %v offset %d, len %d",
				split.Pending(), split.Offset(), whole.Pending(), whole.Offset(), len(stream))
		}

		// boundary mode: the same events, minus values and parse errors
		wantB := make([]string, 0, len(want))
		full := qjson.NewDecoder(opts...)
		for _, ev := range feedAll(t, full, stream) {
			wantB = append(wantB, boundaryDesc(ev))
		}
		bopts := append(opts[:len(opts):len(opts)], qjson.BoundaryOnly())
		for _, cs := range [][][]byte{{stream}, chunks} {
			bd := qjson.NewDecoder(bopts...)
			gotB := feedChunks(t, bd, cs, boundaryDescOf)
			if !equalStrings(gotB, wantB) {
				t.Fatalf("boundary mode, stream %q in %d chunks:\ngot:%s\nwant:%s", stream, len(cs), fmtList(gotB), fmtList(wantB))
			}
			if bd.Pending() != whole.Pending() || bd.Offset() != whole.Offset() {
				t.Fatalf("boundary mode end state: pending %v offset %d, want %v %d", bd.Pending(), bd.Offset(), whole.Pending(), whole.Offset())
			}
		}
	})
}

// roundTrip serializes v, parses it back (with a trailing space so that a
// number completes) and checks that exactly one equal value comes out.
func roundTrip(t tb, v qjson.Value) qjson.Value {
	t.Helper()
	text := qjson.AppendValue(nil, v)
	evs := feedAll(t, qjson.NewDecoder(), append(text, ' '))
	if len(evs) != 1 || evs[0].Err != nil {
		t.Fatalf("%s (%s) parsed back as%s", text, dump(v), fmtList(descs(evs)))
	}
	back := evs[0].Value
	if !qjson.Equal(v, back) || !qjson.Equal(back, v) {
		t.Fatalf("%s: parsed back %s, want %s", text, dump(back), dump(v))
	}
	return back
}

// (b) every parsed value without infinities survives serialization.
func TestRoundTripParsed(t *testing.T) {
	streams, values, containers := 0, 0, 0
	checkRounds(t, 10, func(t *rapid.T) {
		var stream []byte
		for range rapid.IntRange(1, 6).Draw(t, "values") {
			if rapid.IntRange(0, 3).Draw(t, "request") == 0 {
				stream = appendRequest(t, stream)
			} else {
				stream = appendJSON(t, stream, rapid.IntRange(0, 4).Draw(t, "depth"), rapid.IntRange(0, 3).Draw(t, "noisy") == 0)
			}
			stream = append(stream, rapid.SampledFrom([]string{" ", "\n", "\xff\n"}).Draw(t, "separator")...)
		}
		streams++
		for _, ev := range feedAll(t, qjson.NewDecoder(), stream) {
			if ev.Err != nil || !ev.Value.Finite() {
				continue
			}
			values++
			if ev.Value.Kind() == qjson.Array || ev.Value.Kind() == qjson.Object {
				containers++
			}
			roundTrip(t, ev.Value)
		}
	})
	// the property must not hold vacuously
	if values < streams || containers < streams/4 {
		t.Errorf("only %d values (%d containers) in %d streams", values, containers, streams)
	}
}

// genValue draws a Value tree that qemu-ga can hold: finite doubles, valid
// code points, distinct keys.
func genValue(t *rapid.T, depth int) qjson.Value {
	kinds := 8
	if depth <= 0 {
		kinds = 6
	}
	switch rapid.IntRange(0, kinds-1).Draw(t, "kind") {
	case 0:
		return qjson.NullValue()
	case 1:
		return qjson.BoolValue(rapid.Bool().Draw(t, "bool"))
	case 2:
		return qjson.IntValue(rapid.OneOf(rapid.Int64(), rapid.SampledFrom([]int64{0, -1, math.MaxInt64, math.MinInt64})).Draw(t, "int"))
	case 3:
		return qjson.UintValue(rapid.Uint64Min(1<<63).Draw(t, "uint"))
	case 4:
		f := rapid.OneOf(rapid.Float64(), rapid.SampledFrom([]float64{
			0, math.Copysign(0, -1), 0.1, 1e16, 1e17, -1e-7, 5e-324, math.MaxFloat64, -math.MaxFloat64,
			1 << 63, 1 << 64, -(1 << 63), 2.5, 1e21, 1e-5,
		})).Draw(t, "float")
		if math.IsInf(f, 0) || math.IsNaN(f) {
			f = 1.5
		}
		return qjson.FloatValue(f)
	case 5:
		var s []rune
		for range rapid.IntRange(0, 8).Draw(t, "runes") {
			s = append(s, validRune(t))
		}
		return qjson.StringValue(string(s))
	case 6:
		elems := make([]qjson.Value, rapid.IntRange(0, 4).Draw(t, "elems"))
		for i := range elems {
			elems[i] = genValue(t, depth-1)
		}
		return qjson.ArrayValue(elems...)
	default:
		keys := rapid.SliceOfNDistinct(rapid.StringOfN(rapid.Custom(validRune), 0, 4, -1), 0, 5, rapid.ID[string]).Draw(t, "keys")
		ms := make([]qjson.Member, len(keys))
		for i, k := range keys {
			ms[i] = qjson.Member{Key: k, Value: genValue(t, depth-1)}
		}
		return qjson.ObjectValue(ms...)
	}
}

// canonical reports whether serializing v twice through a parse must give
// the same text: no -0 (which reads back as the integer 0) and no two keys
// of one object in the same bucket (whose order a parse reverses).
func canonical(v qjson.Value) bool {
	switch v.Kind() {
	case qjson.Float:
		f, _ := v.Float()
		return !(f == 0 && math.Signbit(f))
	case qjson.Array:
		for i := range v.Len() {
			if !canonical(v.Index(i)) {
				return false
			}
		}
	case qjson.Object:
		seen := map[int]bool{}
		for _, m := range v.Members() {
			if seen[refBucket(m.Key)] || !canonical(m.Value) {
				return false
			}
			seen[refBucket(m.Key)] = true
		}
	}
	return true
}

// (c) generated values survive serialization and parsing.
func TestRoundTripGenerated(t *testing.T) {
	checkRounds(t, 10, func(t *rapid.T) {
		v := genValue(t, 4)
		back := roundTrip(t, v)
		if canonical(v) {
			if a, b := qjson.AppendValue(nil, v), qjson.AppendValue(nil, back); !bytes.Equal(a, b) {
				t.Fatalf("serialized %s, after a round trip %s", a, b)
			}
		}
		// kinds other than Float are preserved exactly
		if v.Kind() != qjson.Float && v.Kind() != back.Kind() {
			t.Fatalf("kind %v came back as %v", v.Kind(), back.Kind())
		}
	})
}

// Equal must tell values apart, or the round-trip properties are vacuous.
func TestEqual(t *testing.T) {
	i, f, s := qjson.IntValue, qjson.FloatValue, qjson.StringValue
	same := [][2]qjson.Value{
		{qjson.NullValue(), qjson.Value{}},
		{i(1), f(1)},
		{i(0), f(math.Copysign(0, -1))},
		{qjson.UintValue(1 << 63), f(1 << 63)},
		{s("a\x00"), s("a\x00")},
		{obj("a", i(1), "b", i(2)), obj("b", i(2), "a", f(1))},
		{qjson.ArrayValue(i(1), s("x")), qjson.ArrayValue(f(1), s("x"))},
	}
	for _, c := range same {
		if !qjson.Equal(c[0], c[1]) || !qjson.Equal(c[1], c[0]) {
			t.Errorf("Equal(%s, %s) = false", dump(c[0]), dump(c[1]))
		}
	}
	differ := [][2]qjson.Value{
		{qjson.NullValue(), qjson.BoolValue(false)},
		{qjson.BoolValue(true), qjson.BoolValue(false)},
		{i(1), i(2)},
		{i(1), f(1.5)},
		{i(-1), qjson.UintValue(math.MaxUint64)},
		{qjson.UintValue(1 << 63), qjson.UintValue(1<<63 + 1)},
		{i(math.MaxInt64), f(1 << 63)},
		{f(0.1), f(0.2)},
		{f(math.Inf(1)), f(math.Inf(-1))},
		{s("a"), s("b")},
		{s("1"), i(1)},
		{qjson.ArrayValue(), qjson.ObjectValue()},
		{qjson.ArrayValue(i(1)), qjson.ArrayValue(i(1), i(1))},
		{qjson.ArrayValue(i(1), i(2)), qjson.ArrayValue(i(2), i(1))},
		{obj("a", i(1)), obj("a", i(2))},
		{obj("a", i(1)), obj("b", i(1))},
		{obj("a", i(1)), obj("a", i(1), "b", i(1))},
		{obj("a", qjson.ArrayValue(s("x"))), obj("a", qjson.ArrayValue(s("y")))},
	}
	for _, c := range differ {
		if qjson.Equal(c[0], c[1]) || qjson.Equal(c[1], c[0]) {
			t.Errorf("Equal(%s, %s) = true", dump(c[0]), dump(c[1]))
		}
	}
}

// (c) the hot path and the general code give the same events: each stream
// is fed whole (where the hot path takes most tokens) with the hot path on
// and off.
func TestFastPathMatchesGeneralPath(t *testing.T) {
	checkRounds(t, 20, func(t *rapid.T) {
		stream := genStream(t)
		opts := genOptions(t)
		fast := feedChunks(t, qjson.NewDecoder(opts...), [][]byte{stream}, fullDesc)
		defer qjson.SetFastPath(qjson.SetFastPath(false))
		general := feedChunks(t, qjson.NewDecoder(opts...), [][]byte{stream}, fullDesc)
		if !equalStrings(fast, general) {
			t.Fatalf("stream %q:\nhot path:%s\ngeneral:%s", stream, fmtList(fast), fmtList(general))
		}
	})
}

// TestFastPathEdges compares the hot path with the general code on the
// scalars where the hot path's shortcuts end (integers around 18 digits and
// the int64 range, keywords read a word at a time, strings around the
// inline 32-byte copy, escapes and bad UTF-8), in both kinds of container,
// with the message cut into two chunks at every byte.
func TestFastPathEdges(t *testing.T) {
	long := func(n int) string { return `"` + strings.Repeat("x", n) + `"` }
	scalars := []string{
		"0", "7", "-1", "-0", "01", "-", "12.5", "1e5", "1E5", "12e", "12.", "1.5e-3",
		"123456789012345678", "1234567890123456789", "9223372036854775807",
		"9223372036854775808", "18446744073709551615", "18446744073709551616",
		"true", "false", "null", "tru", "truex", "fals", "falsey", "nul", "nullx", "t", "TRUE",
		`""`, `"a"`, `'s'`, `"a\"b"`, `"\u00e9"`, `"é"`, `"\ud800"`, `"\x"`, `"\u0000"`,
		"\"a\x01b\"", "\"\xc3\"", "\"\xff\"", long(30), long(31), long(32), long(33), long(64),
		`{}`, `[]`, `{"a":1}`, `[1]`,
	}
	for _, x := range scalars {
		for _, msg := range []string{`{"k":` + x + `}`, `[` + x + `]`, `[` + x + `, ` + x + `]`,
			`{"k": ` + x + ` , "k2":` + x + `}`, `{"k":` + x + `,"k":1}`} {
			in := []byte(msg + "\n")
			for cut := 0; cut <= len(in); cut++ {
				chunks := [][]byte{in[:cut], in[cut:]}
				fast := feedChunks(t, qjson.NewDecoder(), chunks, fullDesc)
				was := qjson.SetFastPath(false)
				general := feedChunks(t, qjson.NewDecoder(), chunks, fullDesc)
				qjson.SetFastPath(was)
				if !equalStrings(fast, general) {
					t.Fatalf("%q cut at %d:\nhot path:%s\ngeneral:%s", in, cut, fmtList(fast), fmtList(general))
				}
			}
		}
	}
}

// (d) ReuseValues changes only how long values live: fed the same chunks,
// a reusing Decoder gives the same events (each read before the next Feed),
// Clone keeps a value intact through later messages, and the values of a
// Decoder without the option stay intact too.
func TestReuseValues(t *testing.T) {
	checkRounds(t, 10, func(t *rapid.T) {
		stream := genStream(t)
		opts := genOptions(t)
		chunks := genChunks(t, stream)
		want := feedChunks(t, qjson.NewDecoder(opts...), chunks, fullDesc)
		reuse := qjson.NewDecoder(append(opts[:len(opts):len(opts)], qjson.ReuseValues())...)
		got := feedChunks(t, reuse, chunks, fullDesc)
		if !equalStrings(got, want) {
			t.Fatalf("stream %q in %d chunks:\nreusing:%s\nkeeping:%s", stream, len(chunks), fmtList(got), fmtList(want))
		}

		var clones, plain []qjson.Value
		var descs []string
		reuse, keep := qjson.NewDecoder(qjson.ReuseValues()), qjson.NewDecoder()
		for _, c := range chunks {
			for p := c; len(p) > 0; {
				n, ok := reuse.Feed(p)
				p = p[n:]
				if ok && reuse.Event().Err == nil {
					clones = append(clones, reuse.Event().Value.Clone())
					descs = append(descs, dump(reuse.Event().Value))
				}
			}
			for p := c; len(p) > 0; {
				n, ok := keep.Feed(p)
				p = p[n:]
				if ok && keep.Event().Err == nil {
					plain = append(plain, keep.Event().Value)
				}
			}
		}
		if len(clones) != len(plain) {
			t.Fatalf("%d values reusing, %d keeping", len(clones), len(plain))
		}
		for i := range clones {
			if dump(clones[i]) != descs[i] || dump(plain[i]) != descs[i] {
				t.Fatalf("value %d changed after later messages:\nat its event: %s\nclone now:    %s\nkept now:     %s",
					i, descs[i], dump(clones[i]), dump(plain[i]))
			}
		}
	})
}

// TestReuseValuesAllocs checks that a warmed-up Decoder with ReuseValues
// allocates nothing for a thousand messages, each with a string too long
// for a string block, and that one without it does (so that the check can
// fail).
func TestReuseValuesAllocs(t *testing.T) {
	long := strings.Repeat("QUJD", 5000) // longer than a string block
	msg := []byte(`{"execute":"guest-sync","arguments":{"id":123456789},"id":"req-1","list":["a",'b',1.5,true,null,{},"` + long + `"]}` + "\n")
	mallocs := func(d *qjson.Decoder) uint64 {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range 1000 {
			for p := msg; len(p) > 0; {
				n, ok := d.Feed(p)
				p = p[n:]
				if ok && (d.Event().Err != nil || d.Event().Value.Len() != 4) {
					t.Fatalf("unexpected event %+v", d.Event())
				}
			}
		}
		runtime.ReadMemStats(&after)
		return after.Mallocs - before.Mallocs
	}
	reuse, keep := qjson.NewDecoder(qjson.ReuseValues()), qjson.NewDecoder()
	mallocs(reuse) // warm up
	mallocs(keep)
	// The count is process-wide, so the runtime's own goroutines can add a
	// few; a real allocation per message adds 1000 every time.
	n := mallocs(reuse)
	for try := 0; try < 2 && n != 0; try++ {
		n = min(n, mallocs(reuse))
	}
	if n != 0 {
		t.Errorf("ReuseValues: %d allocations for 1000 messages (least of 3 counts), want 0", n)
	}
	if n := mallocs(keep); n == 0 {
		t.Errorf("without ReuseValues: no allocations for 1000 messages; are values kept?")
	}
}
