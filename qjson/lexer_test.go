package qjson_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/qgafuzz/qgafuzz/qjson"
)

// This file tests the lexer and the streamer (spec sections 2 and 3) through
// the Decoder's events. Helpers shared by all test files of the package live
// here too.

// tb is what the helpers need from *testing.T and *rapid.T.
type tb interface {
	Helper()
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
}

// wire renders s the way qemu-ga's serializer puts it inside a JSON string
// on the wire (no quotes), which is how error descriptions are compared.
func wire(s string) string {
	b := qjson.AppendString(nil, s)
	return string(b[1 : len(b)-1])
}

// evDesc is the compact description of an event used by the tables:
// "value:<serialization>" or "<kind>:<desc as on the wire>".
func evDesc(ev qjson.Event) string {
	if ev.Err != nil {
		return ev.Err.Kind.String() + ":" + wire(ev.Err.Desc)
	}
	return "value:" + string(qjson.AppendValue(nil, ev.Value))
}

// Expected event descriptions.
func val(s string) string    { return "value:" + s }
func stray(s string) string  { return "lexical:JSON parse error, stray '" + s + "'" }
func perr(msg string) string { return "parse:JSON parse error, " + msg }

const (
	expVal   = "parse:JSON parse error, expecting value"
	limSize  = "limit:JSON token size limit exceeded"
	limCount = "limit:JSON token count limit exceeded"
	limDepth = "limit:JSON nesting depth limit exceeded"
)

// feedAll feeds p to d the way the package documentation says (re-feeding
// the rest after every event) and returns the events. It checks the Feed
// contract on every call: the offset advances by n, a call without an event
// consumes everything, and an event is completed by the last consumed byte
// or by the first unconsumed one (look-ahead).
func feedAll(t tb, d *qjson.Decoder, p []byte) []qjson.Event {
	t.Helper()
	var evs []qjson.Event
	calls, limit := 0, 2*len(p)+1000 // an event per byte, and one look-ahead each
	for len(p) > 0 {
		if calls++; calls > limit {
			t.Fatalf("Feed makes no progress")
		}
		before := d.Offset()
		n, ok := d.Feed(p)
		if n < 0 || n > len(p) {
			t.Fatalf("Feed(%d bytes) returned n=%d", len(p), n)
		}
		if got := d.Offset(); got != before+int64(n) {
			t.Fatalf("Offset after Feed = %d, want %d+%d", got, before, n)
		}
		if !ok {
			if n != len(p) {
				t.Fatalf("Feed returned n=%d of %d without an event", n, len(p))
			}
			break
		}
		ev := snapshot(d.Event())
		end := before + int64(n)
		if ev.Offset != end-1 && ev.Offset != end {
			t.Fatalf("event %s at offset %d, but Feed consumed [%d,%d)", evDesc(ev), ev.Offset, before, end)
		}
		if ev.Offset >= before+int64(len(p)) {
			t.Fatalf("event %s at offset %d beyond the fed bytes", evDesc(ev), ev.Offset)
		}
		if ev.Err != nil {
			if ev.Err.Offset != ev.Offset {
				t.Fatalf("Err.Offset %d != Event.Offset %d", ev.Err.Offset, ev.Offset)
			}
			if ev.Err.Class != "GenericError" {
				t.Fatalf("Err.Class = %q", ev.Err.Class)
			}
		}
		evs = append(evs, ev)
		p = p[n:]
	}
	return evs
}

// snapshot copies an event so that it stays valid after the next Feed call
// (the Decoder only promises that much for the Value).
func snapshot(ev qjson.Event) qjson.Event {
	if ev.Err != nil {
		e := *ev.Err
		ev.Err = &e
	}
	ev.Value = cloneValue(ev.Value)
	return ev
}

// cloneValue rebuilds v from the public constructors, copying its strings
// (which a Decoder with ReuseValues rewrites). Value.Clone is checked
// against it.
func cloneValue(v qjson.Value) qjson.Value {
	switch v.Kind() {
	case qjson.Bool:
		return qjson.BoolValue(v.Bool())
	case qjson.Int:
		i, _ := v.Int()
		return qjson.IntValue(i)
	case qjson.Uint:
		u, _ := v.Uint()
		return qjson.UintValue(u)
	case qjson.Float:
		f, _ := v.Float()
		return qjson.FloatValue(f)
	case qjson.String:
		s, _ := v.Str()
		return qjson.StringValue(strings.Clone(s))
	case qjson.Array:
		elems := make([]qjson.Value, v.Len())
		for i := range elems {
			elems[i] = cloneValue(v.Index(i))
		}
		return qjson.ArrayValue(elems...)
	case qjson.Object:
		ms := make([]qjson.Member, 0, v.Len())
		for _, m := range v.Members() {
			ms = append(ms, qjson.Member{Key: strings.Clone(m.Key), Value: cloneValue(m.Value)})
		}
		return qjson.ObjectValue(ms...)
	}
	return v
}

func descs(evs []qjson.Event) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = evDesc(ev)
	}
	return out
}

func offsets(evs []qjson.Event) []int64 {
	out := make([]int64, len(evs))
	for i, ev := range evs {
		out[i] = ev.Offset
	}
	return out
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func fmtList(l []string) string {
	if len(l) == 0 {
		return "(no events)"
	}
	return "\n\t" + strings.Join(l, "\n\t")
}

// checkBoundary feeds in to a BoundaryOnly decoder with the same options and
// compares with the events of full mode: same count and offsets, identical
// lexical and limit errors, and a bare message event (no value, no error)
// wherever full mode produced a value or a parse error.
func checkBoundary(t tb, in []byte, full []qjson.Event, fullPending bool, opts ...qjson.Option) {
	t.Helper()
	d := qjson.NewDecoder(append(opts[:len(opts):len(opts)], qjson.BoundaryOnly())...)
	got := feedAll(t, d, in)
	if len(got) != len(full) {
		t.Fatalf("boundary mode: %d events, full mode %d\nboundary:%s\nfull:%s", len(got), len(full), fmtList(descs(got)), fmtList(descs(full)))
	}
	for i := range got {
		b, f := got[i], full[i]
		if b.Offset != f.Offset {
			t.Errorf("boundary event %d at offset %d, full mode at %d", i, b.Offset, f.Offset)
		}
		if f.Err != nil && f.Err.Kind != qjson.ParseError {
			if b.Err == nil || *b.Err != *f.Err {
				t.Errorf("boundary event %d = %s, full mode %s", i, evDesc(b), evDesc(f))
			}
			continue
		}
		if b.Err != nil || b.Value.Kind() != qjson.Null || b.Value.Len() != 0 {
			t.Errorf("boundary event %d = %s, want a bare message event (full mode: %s)", i, evDesc(b), evDesc(f))
		}
	}
	if d.Pending() != fullPending {
		t.Errorf("boundary mode Pending() = %v, full mode %v", d.Pending(), fullPending)
	}
}

// eventCase is one row of an event table.
type eventCase struct {
	in      string
	want    []string
	pending bool    // Pending() after all of in
	offs    []int64 // event offsets, when not nil
}

func runEventTable(t *testing.T, cases []eventCase, opts ...qjson.Option) {
	t.Helper()
	for _, c := range cases {
		t.Run(fmt.Sprintf("%q", c.in), func(t *testing.T) {
			d := qjson.NewDecoder(opts...)
			evs := feedAll(t, d, []byte(c.in))
			if got := descs(evs); !equalStrings(got, c.want) {
				t.Fatalf("events:%s\nwant:%s", fmtList(got), fmtList(c.want))
			}
			if c.offs != nil {
				if got := offsets(evs); fmt.Sprint(got) != fmt.Sprint(c.offs) {
					t.Errorf("offsets %v, want %v", got, c.offs)
				}
			}
			if d.Pending() != c.pending {
				t.Errorf("Pending() = %v, want %v", d.Pending(), c.pending)
			}
			checkBoundary(t, []byte(c.in), evs, d.Pending(), opts...)
		})
	}
}

// Spec 2.1, 2.2: tokens, whitespace and the start-state byte table.
func TestLexerStartState(t *testing.T) {
	runEventTable(t, []eventCase{
		{in: "", want: nil},
		{in: " \t\r\n", want: nil},
		{in: "{}", want: []string{val("{}")}},
		{in: "[]", want: []string{val("[]")}},
		{in: ":", want: []string{expVal}},
		{in: ",", want: []string{expVal}},
		{in: `"abc"`, want: []string{val(`"abc"`)}},
		{in: `'abc'`, want: []string{val(`"abc"`)}},
		// interpolation is disabled: % is a lexical error outside strings
		{in: "%d ", want: []string{stray("%")}, pending: true},
		{in: `"%d"`, want: []string{val(`"%d"`)}},
		{in: "/* c */", want: []string{stray("/")}, pending: true},
		{in: "# c\n", want: []string{stray("#")}},
		{in: "\x0c", want: []string{stray(`\f`)}, pending: true},
		{in: "\x0b", want: []string{stray(`\u000B`)}, pending: true},
		{in: "\x00", want: []string{stray("")}, pending: true},
		{in: "\x7f", want: []string{stray(`\u007F`)}, pending: true},
		{in: "A", want: []string{stray("A")}, pending: true},
		{in: "!", want: []string{stray("!")}, pending: true},
		{in: "\\", want: []string{stray(`\\`)}, pending: true},
		{in: "_", want: []string{stray("_")}, pending: true},
		{in: "`", want: []string{stray("`")}, pending: true},
		{in: "|", want: []string{stray("|")}, pending: true},
		{in: "~", want: []string{stray("~")}, pending: true},
		{in: "@", want: []string{stray("@")}, pending: true},
		{in: "\x80", want: []string{stray(`\uFFFD`)}, pending: true},
		{in: "\xfe", want: []string{stray(`\uFFFD`)}, pending: true},
		// every structural byte is its own token
		{in: "]]]}}}", want: []string{expVal, expVal, expVal, expVal, expVal, expVal},
			offs: []int64{0, 1, 2, 3, 4, 5}},
	})
}

// Spec 1.3 and 2.6: lexical errors and recovery mode.
func TestLexerRecovery(t *testing.T) {
	ff := stray(`\uFFFD`)
	ping := val(`{"execute": "guest-ping"}`)
	runEventTable(t, []eventCase{
		{in: "\xff", want: []string{ff}, pending: true, offs: []int64{0}},
		{in: "\xff\xff\xff", want: []string{ff, ff, ff}, pending: true, offs: []int64{0, 1, 2}},
		{in: "\xff1 ", want: []string{ff}, pending: true},
		{in: "\xfftrue ", want: []string{ff}, pending: true},
		{in: "\xff\"\n", want: []string{ff}},
		{in: "\xff\"x\"{\"execute\":\"guest-ping\"}", want: []string{ff, ping}},
		{in: "\xff,1 ", want: []string{ff, expVal, val("1")}, offs: []int64{0, 1, 3}},
		{in: "\xff\t\x01", want: []string{ff, stray(`\u0001`)}, pending: true, offs: []int64{0, 2}},
		{in: "\xff\x00", want: []string{ff, stray("")}, pending: true},
		{in: "\xef\xbb\xbf{\"execute\":\"guest-ping\"}", want: []string{ff, ping}, offs: []int64{0, 26}},
		{in: "\xff{\"execute\":\"guest-ping\"}", want: []string{ff, ping}},
		{in: "\xff {\"execute\":\"guest-ping\"}", want: []string{ff, ping}},
		// what ends recovery: structural bytes, CR, LF, controls, FE, FF
		{in: "\xff]", want: []string{ff, expVal}},
		{in: "\xff}", want: []string{ff, expVal}},
		{in: "\xff:", want: []string{ff, expVal}},
		{in: "\xff[1]", want: []string{ff, val("[1]")}},
		{in: "\xff\r1 ", want: []string{ff, val("1")}},
		{in: "\xff\n1 ", want: []string{ff, val("1")}},
		{in: "\xff\x0c", want: []string{ff, stray(`\f`)}, pending: true},
		{in: "\xff\x1f", want: []string{ff, stray(`\u001F`)}, pending: true},
		{in: "\xff\xfe", want: []string{ff, ff}, pending: true},
		// what recovery discards: everything else, including TAB
		{in: "\xff \t\"'0aZ\x7f\x80\xc3\xa9\xfd-.%\\ 1 ", want: []string{ff}, pending: true},
		// a partial message before the error never gets its own event
		{in: "{\"execute\":\"guest-ping\",\xff{\"execute\":\"guest-ping\"}", want: []string{ff, ping}},
		{in: "[1,2,\x01]", want: []string{stray(`\u0001`), expVal}},
		// §9.23: non-ASCII outside strings is one error, the rest is skipped
		{in: "\xc3\xa9 ", want: []string{ff}, pending: true},
		// §9.3: state persists across Feed calls (see also TestFeedSplit)
		{in: "{\"execute\":\"guest-", want: nil, pending: true},
	})
}

// Spec 2.3 and 3.3: strings in the lexer and the text of lexical errors.
func TestLexerStrings(t *testing.T) {
	runEventTable(t, []eventCase{
		{in: `'a"b'`, want: []string{val(`"a\"b"`)}},
		{in: `"a'b"`, want: []string{val(`"a'b"`)}},
		{in: `"it\'s"`, want: []string{val(`"it's"`)}},
		{in: `'it\'s'`, want: []string{val(`"it's"`)}},
		// escapes of any byte pass the lexer and fail in the parser
		{in: `"\x"`, want: []string{perr("invalid escape sequence in string")}},
		{in: "\"\\\x80\"", want: []string{perr("invalid escape sequence in string")}},
		// control bytes, FE and FF are lexical errors inside strings, also after '\'
		{in: "\"a\tb\"", want: []string{stray(`\"a\t`)}, pending: true, offs: []int64{2}},
		{in: "\"a\nb\"", want: []string{stray(`\"a\n`)}, pending: true, offs: []int64{2}},
		{in: "\"a\rb\"", want: []string{stray(`\"a\r`)}, pending: true},
		{in: "\"gue\xff", want: []string{stray(`\"gue\uFFFD`)}, pending: true},
		{in: "\"\xfe\"", want: []string{stray(`\"\uFFFD`)}, pending: true},
		{in: "'\xff'", want: []string{stray(`'\uFFFD`)}, pending: true},
		{in: "\"a\\\x01\"", want: []string{stray(`\"a\\\u0001`)}, pending: true},
		{in: "\"a\\\xff\"", want: []string{stray(`\"a\\\uFFFD`)}, pending: true},
		{in: "\"a\\\xfe\"", want: []string{stray(`\"a\\\uFFFD`)}, pending: true},
		{in: "'a\\\xfe'", want: []string{stray(`'a\\\uFFFD`)}, pending: true},
		// raw 0x7F..0xFD pass the lexer
		{in: "\"\x7f\"", want: []string{val(`"\u007F"`)}},
		{in: "\"\xfd\"", want: []string{perr("invalid UTF-8 sequence in string")}},
		// §3.3 / §9.10: a NUL byte cuts the error text
		{in: "\"x\x00y\"", want: []string{stray(`\"x`)}, pending: true, offs: []int64{2}},
		{in: "\"a\xc0\x80\x01", want: []string{stray(`\"a\u0000\u0001`)}, pending: true},
		{in: "\"\xc3\xa9\x01", want: []string{stray(`\"\u00E9\u0001`)}, pending: true},
		{in: "\"\xf0\x9f\x98\x80\x02", want: []string{stray(`\"\uD83D\uDE00\u0002`)}, pending: true},
		{in: "\"\xe2\x82\x01", want: []string{stray(`\"\uFFFD\u0001`)}, pending: true},
		// §9.5: an unmatched quote inverts the input
		{in: `"abc{"execute":"guest-ping"}`, want: []string{
			val(`"abc{"`), perr("invalid keyword 'execute'"), val(`":"`),
			perr("invalid keyword 'guest'"), stray("-p"), expVal,
		}, offs: []int64{5, 13, 15, 21, 22, 27}},
	})
}

// Spec 2.4: number states and their consequences.
func TestLexerNumbers(t *testing.T) {
	runEventTable(t, []eventCase{
		{in: "0e5 ", want: []string{val("0"), perr("invalid keyword 'e'"), val("5")}, offs: []int64{1, 2, 3}},
		{in: "0E5 ", want: []string{val("0"), stray("E")}, pending: true, offs: []int64{1, 1}},
		{in: "01 ", want: []string{stray("01")}, pending: true, offs: []int64{1}},
		{in: "-00", want: []string{stray("-00")}, pending: true},
		{in: "00", want: []string{stray("00")}, pending: true},
		{in: "1.x", want: []string{stray("1.x")}, pending: true},
		{in: "1.e5", want: []string{stray("1.e")}, pending: true, offs: []int64{2}},
		{in: "1e ", want: []string{stray("1e ")}, pending: true},
		{in: "1e+x", want: []string{stray("1e+x")}, pending: true},
		{in: "1E-}", want: []string{stray("1E-}")}, pending: true},
		{in: "- ", want: []string{stray("- ")}, pending: true, offs: []int64{1}},
		{in: "--1", want: []string{stray("--")}, pending: true},
		{in: "-a", want: []string{stray("-a")}, pending: true},
		{in: "+1", want: []string{stray("+")}, pending: true},
		{in: ".7 ", want: []string{stray(".")}, pending: true},
		{in: "-0.x", want: []string{stray("-0.x")}, pending: true},
		{in: "-0 ", want: []string{val("0")}},
		{in: "2E3 ", want: []string{val("2000")}},
		{in: "-0.5e+1 ", want: []string{val("-5")}},
		{in: "1e400 ", want: []string{val("inf")}},
		{in: "0.5e-1 ", want: []string{val("0.050000000000000003")}},
		// any non-continuation byte ends a number and is processed afresh
		{in: "1}", want: []string{val("1"), expVal}, offs: []int64{1, 1}},
		{in: "1,", want: []string{val("1"), expVal}, offs: []int64{1, 1}},
		{in: "1[", want: []string{val("1")}, pending: true},
		{in: "12a ", want: []string{val("12"), perr("invalid keyword 'a'")}},
		{in: "1.5x ", want: []string{val("1.5"), perr("invalid keyword 'x'")}},
		{in: "1.5X", want: []string{val("1.5"), stray("X")}, pending: true},
		{in: "1\x00", want: []string{val("1"), stray("")}, pending: true, offs: []int64{1, 1}},
		{in: "1\xc3\xa9 ", want: []string{val("1"), stray(`\uFFFD`)}, pending: true},
		{in: "1\xff", want: []string{val("1"), stray(`\uFFFD`)}, pending: true},
		{in: "1e5\xff", want: []string{val("100000"), stray(`\uFFFD`)}, pending: true},
		{in: "-0\"a\"", want: []string{val("0"), val(`"a"`)}},
		{in: "0x1F ", want: []string{val("0"), perr("invalid keyword 'x'"), val("1"), stray("F")}, pending: true},
		// §2.7 / §9.7: numbers wait for the next byte
		{in: "1", want: nil, pending: true},
		{in: "-", want: nil, pending: true},
		{in: "1.5e", want: nil, pending: true},
	})
}

// Spec 2.5: keywords.
func TestLexerKeywords(t *testing.T) {
	runEventTable(t, []eventCase{
		{in: "true ", want: []string{val("true")}},
		{in: "false ", want: []string{val("false")}},
		{in: "null ", want: []string{val("null")}},
		{in: "true1 ", want: []string{val("true"), val("1")}, offs: []int64{4, 5}},
		{in: "nullnull ", want: []string{perr("invalid keyword 'nullnull'")}},
		{in: "True ", want: []string{stray("T")}, pending: true},
		{in: "Infinity ", want: []string{stray("I")}, pending: true},
		{in: "nan ", want: []string{perr("invalid keyword 'nan'")}},
		{in: "tru\n", want: []string{perr("invalid keyword 'tru'")}},
		{in: "trUe ", want: []string{perr("invalid keyword 'tr'"), stray("U")}, pending: true},
		{in: "null", want: nil, pending: true},
		{in: "true\x00", want: []string{val("true"), stray("")}, pending: true},
	})
}

// Spec 3.2: how tokens are grouped into messages.
func TestStreamerMessages(t *testing.T) {
	runEventTable(t, []eventCase{
		{in: "1 2 ", want: []string{val("1"), val("2")}, offs: []int64{1, 3}},
		{in: `"a""b"`, want: []string{val(`"a"`), val(`"b"`)}, offs: []int64{2, 5}},
		{in: `{"a":]`, want: []string{expVal}, offs: []int64{5}},
		{in: "[}", want: []string{expVal}, offs: []int64{1}},
		{in: "{[}]", want: []string{expVal}, offs: []int64{3}},
		{in: "{[}", want: nil, pending: true},
		{in: "[{]}", want: []string{expVal}, offs: []int64{3}},
		{in: `{"execute":"guest-ping"}}`, want: []string{val(`{"execute": "guest-ping"}`), expVal}, offs: []int64{23, 24}},
		{in: `{{"execute":"guest-sync","arguments":{"id":44}}`, want: nil, pending: true},
		{in: `{"a":1}{"b":2}`, want: []string{val(`{"a": 1}`), val(`{"b": 2}`)}, offs: []int64{6, 13}},
		{in: "[1,\n 2]\n", want: []string{val("[1, 2]")}, offs: []int64{6}},
		{in: `[{"a":[]},{}]`, want: []string{val(`[{"a": []}, {}]`)}},
	})
}

// Spec 2.8 and 3.4 with small limits: exact thresholds, the state after a
// limit error (start state, no recovery) and the token cut. Each limit is
// tested alone (the others set high) and then all together.
func TestStreamerLimits(t *testing.T) {
	limits := func(size, count, depth int) qjson.Option {
		return qjson.WithLimits(qjson.Limits{MaxTokenSize: size, MaxTokenCount: count, MaxDepth: depth})
	}
	t.Run("depth", func(t *testing.T) {
		runEventTable(t, []eventCase{
			// braces and brackets count together; the 4th opener trips
			{in: "[[[]]]", want: []string{val("[[[]]]")}},
			{in: `{"a":[{}]}`, want: []string{val(`{"a": [{}]}`)}},
			{in: "[[[[", want: []string{limDepth}, offs: []int64{3}},
			{in: "[{[{", want: []string{limDepth}, offs: []int64{3}},
			{in: `{"a":[{"b":[`, want: []string{limDepth}, offs: []int64{11}},
			{in: "{{{{}", want: []string{limDepth, expVal}, offs: []int64{3, 4}},
			{in: "[[[[]]]]", want: []string{limDepth, expVal, expVal, expVal, expVal}, offs: []int64{3, 4, 5, 6, 7}},
			{in: "[[[[[[", want: []string{limDepth}, pending: true, offs: []int64{3}},
			{in: "[[[[[[[[", want: []string{limDepth, limDepth}, offs: []int64{3, 7}},
			// closers lower the depth again
			{in: "[[[]],[[]]]", want: []string{val("[[[]], [[]]]")}},
			// no recovery after a limit error: "1 " is a new message...
			{in: "[[[[1 ", want: []string{limDepth, val("1")}, offs: []int64{3, 5}},
			{in: "[[[[\xff1 ", want: []string{limDepth, stray(`\uFFFD`)}, pending: true},
			// ...unlike after a lexical error
			{in: "[[[\x011 ", want: []string{stray(`\u0001`)}, pending: true},
		}, limits(1000, 1000, 3))
	})
	t.Run("count", func(t *testing.T) {
		runEventTable(t, []eventCase{
			// 5 tokens are fine, the 6th trips
			{in: "[1,2]", want: []string{val("[1, 2]")}},
			{in: "[[[],", want: nil, pending: true},
			{in: "[[[],[", want: []string{limCount}, offs: []int64{5}},
			{in: "[1,2,3]", want: []string{limCount, expVal}, offs: []int64{6, 6}},
			{in: `{"a":1,"b":2}`, want: []string{limCount, expVal, val("2"), expVal}, offs: []int64{9, 10, 12, 12}},
			{in: "[1,2,3,4,5,6,7,8]", want: []string{limCount, expVal, val("4"), expVal, val("5"), expVal, val("6"), expVal, val("7"), expVal, val("8"), expVal}},
			// whitespace is not a token
			{in: "[ 1 , 2 ]", want: []string{val("[1, 2]")}},
		}, limits(1000, 5, 1000))
	})
	t.Run("size", func(t *testing.T) {
		runEventTable(t, []eventCase{
			// size + len(T) + 1 > 16 trips, so 15 bytes of tokens are fine
			{in: `"abcdefghijklm"`, want: []string{val(`"abcdefghijklm"`)}},
			{in: `"abcdefghijklmn"`, want: []string{limSize}, offs: []int64{15}},
			{in: `["abcdef","gh"]`, want: []string{val(`["abcdef", "gh"]`)}},
			{in: `["abcdef","ghi"]`, want: []string{limSize}, offs: []int64{15}},
			{in: `["abcdef","ghij"]`, want: []string{limSize, expVal}, offs: []int64{15, 16}},
			{in: "[" + strings.Repeat(" ", 100) + "]", want: []string{val("[]")}},
			{in: "123456789012345 ", want: []string{val("123456789012345")}},
			{in: "1234567890123456 ", want: []string{limSize}, offs: []int64{16}},
			{in: "1234567890123456", want: nil, pending: true},
			// the cut: a token longer than 16 bytes is cut after its 17th byte
			// and the tail is lexed afresh; a closing quote opens a string
			{in: `"` + strings.Repeat("a", 20) + `" x"`, want: []string{limSize, perr("invalid keyword 'aaaa'"), val(`" x"`)}, offs: []int64{16, 21, 24}},
			{in: `"` + strings.Repeat("a", 15) + `b"`, want: []string{limSize}, pending: true, offs: []int64{16}},
			{in: `"` + strings.Repeat("a", 15) + `bc"`, want: []string{limSize, perr("invalid keyword 'c'")}, pending: true, offs: []int64{16, 18}},
			{in: strings.Repeat("a", 20) + " ", want: []string{limSize, perr("invalid keyword 'aaa'")}, offs: []int64{16, 20}},
			{in: strings.Repeat("a", 17), want: []string{limSize}, offs: []int64{16}},
			{in: "123456789012345678901 ", want: []string{limSize, val("8901")}, offs: []int64{16, 21}},
			{in: "-12345678901234.51 ", want: []string{limSize, val("1")}, offs: []int64{16, 18}},
			// a cut inside an escape abandons the escape
			{in: `"a` + strings.Repeat(`\n`, 7) + `\" x"`, want: []string{limSize, val(`" x"`)}, offs: []int64{16, 20}},
			{in: `"` + strings.Repeat(`\n`, 8) + `x"`, want: []string{limSize, perr("invalid keyword 'x'")}, pending: true, offs: []int64{16, 18}},
			// the cut counts the token alone; the size check adds the queue
			{in: `{"k":"` + strings.Repeat("v", 20) + `"}`, want: []string{limSize, perr("invalid keyword 'vvvv'")}, pending: true, offs: []int64{21, 26}},
			{in: `{"k":"vvvvvvvvvv"}`, want: []string{limSize, expVal}, offs: []int64{16, 17}},
		}, limits(16, 1000, 1000))
	})
	t.Run("all", func(t *testing.T) {
		runEventTable(t, []eventCase{
			{in: "[[1]]", want: []string{val("[[1]]")}},
			{in: "[[[[", want: []string{limDepth}, offs: []int64{3}},
			{in: "[[[]]]", want: []string{limCount}, offs: []int64{5}},
			{in: `["abcdef","ghi"]`, want: []string{limSize}, offs: []int64{15}},
			{in: `"` + strings.Repeat("a", 20) + `" x"`, want: []string{limSize, perr("invalid keyword 'aaaa'"), val(`" x"`)}},
			// one token tripping several limits: size is checked first,
			// then count, then depth (spec 3.4)
			{in: `[1,2,"abcdefghij"]`, want: []string{limSize, expVal}, offs: []int64{16, 17}},
			{in: `[[["abcdefghi",[`, want: []string{limSize}, offs: []int64{15}},
			{in: "[1,[[[", want: []string{limCount}, offs: []int64{5}},
		}, limits(16, 5, 3))
	})
}

// Spec 3.4 with qemu-ga's own limits.
func TestStreamerDefaultLimits(t *testing.T) {
	if got := qjson.NewDecoder().Limits(); got != (qjson.Limits{MaxTokenSize: 67108864, MaxTokenCount: 2097152, MaxDepth: 1024}) {
		t.Fatalf("default limits %+v", got)
	}
	open1024 := strings.Repeat("[", 1024)
	runEventTable(t, []eventCase{
		{in: open1024 + strings.Repeat("]", 1024), want: []string{val(open1024 + strings.Repeat("]", 1024))}, offs: []int64{2047}},
		{in: strings.Repeat(`[{"a":`, 512) + "1" + strings.Repeat("}]", 512), want: []string{val(strings.Repeat(`[{"a": `, 512) + "1" + strings.Repeat("}]", 512))}},
		{in: strings.Repeat("[{", 512) + strings.Repeat("}]", 512), want: []string{perr("key is not a string in object")}},
		{in: open1024 + "[", want: []string{limDepth}, offs: []int64{1024}},
		{in: strings.Repeat("{", 1025) + "}", want: []string{limDepth, expVal}, offs: []int64{1024, 1025}},
		{in: strings.Repeat("[", 1030), want: []string{limDepth}, pending: true, offs: []int64{1024}},
		{in: `{"execute":"guest-sync","arguments":` + strings.Repeat("[", 1023) + "1", want: nil, pending: true},
		{in: `{"execute":"guest-sync","arguments":` + strings.Repeat("[", 1024) + "1", want: []string{limDepth}, pending: true, offs: []int64{36 + 1023}},
	})

	// count: the 2097153rd token of a message trips
	{
		in := "[" + strings.Repeat("1,", 1048575) + "1]"
		d := qjson.NewDecoder()
		evs := feedAll(t, d, []byte(in))
		if got := descs(evs); !equalStrings(got, []string{limCount}) || evs[0].Offset != int64(len(in)-1) {
			t.Errorf("2097153 tokens: %v at %v", got, offsets(evs))
		}
		checkBoundary(t, []byte(in), evs, d.Pending())
		in = "[" + strings.Repeat("1,", 1048574) + "[]]"
		evs = feedAll(t, d, []byte(in))
		if len(evs) != 1 || evs[0].Err != nil || evs[0].Value.Len() != 1048575 {
			t.Errorf("2097152 tokens: %d events, first %.60s", len(evs), evDesc(evs[0]))
		}
	}

	if testing.Short() {
		t.Skip("64 MiB token tests skipped in -short mode")
	}
	const max = 67108864
	str := func(n int) []byte { // a string token of n bytes
		b := bytes.Repeat([]byte{'a'}, n)
		b[0], b[n-1] = '"', '"'
		return b
	}
	d := qjson.NewDecoder()
	evs := feedAll(t, d, str(max-1))
	if len(evs) != 1 || evs[0].Err != nil || evs[0].Offset != max-2 {
		t.Fatalf("string of %d bytes: %d events", max-1, len(evs))
	}
	if s, _ := evs[0].Value.Str(); len(s) != max-3 {
		t.Fatalf("string of %d bytes: value of %d bytes", max-1, len(s))
	}
	d = qjson.NewDecoder()
	evs = feedAll(t, d, str(max))
	if got := descs(evs); !equalStrings(got, []string{limSize}) || evs[0].Offset != max-1 {
		t.Fatalf("string of %d bytes: %v at %v", max, got, offsets(evs))
	}
	// §2.8: cut after the 67108865th byte; the tail is re-lexed
	in := append(str(max+7), ` x"`...)
	d = qjson.NewDecoder()
	evs = feedAll(t, d, in)
	want := []string{limSize, perr("invalid keyword 'aaaaa'"), val(`" x"`)}
	if got := descs(evs); !equalStrings(got, want) || fmt.Sprint(offsets(evs)) != fmt.Sprint([]int64{max, max + 6, max + 9}) {
		t.Fatalf("cut: %v at %v, want %v", got, offsets(evs), want)
	}
}

// Spec 2.7: look-ahead, and the Feed contract: one event per call, the
// look-ahead byte left unconsumed.
func TestFeedLookahead(t *testing.T) {
	d := qjson.NewDecoder()
	n, ok := d.Feed([]byte("1"))
	if n != 1 || ok || !d.Pending() || d.Offset() != 1 {
		t.Fatalf(`Feed("1") = %d, %v; Pending %v Offset %d`, n, ok, d.Pending(), d.Offset())
	}
	n, ok = d.Feed([]byte(" "))
	if n != 0 || !ok {
		t.Fatalf(`Feed(" ") after "1" = %d, %v; want 0, true`, n, ok)
	}
	if ev := d.Event(); evDesc(ev) != val("1") || ev.Offset != 1 {
		t.Fatalf("event %s at %d", evDesc(ev), ev.Offset)
	}
	if d.Pending() || d.Offset() != 1 {
		t.Fatalf("after the event: Pending %v Offset %d", d.Pending(), d.Offset())
	}
	n, ok = d.Feed([]byte(" "))
	if n != 1 || ok || d.Pending() || d.Offset() != 2 {
		t.Fatalf(`Feed(" ") again = %d, %v; Pending %v Offset %d`, n, ok, d.Pending(), d.Offset())
	}
	if n, ok = d.Feed(nil); n != 0 || ok {
		t.Fatalf("Feed(nil) = %d, %v", n, ok)
	}

	// one event per call; n stops before the look-ahead byte
	type step struct {
		n    int
		ok   bool
		desc string
		off  int64
	}
	for _, c := range []struct {
		in    string
		steps []step
	}{
		{"1 2 ", []step{{1, true, val("1"), 1}, {2, true, val("2"), 3}, {1, false, "", 0}}},
		{"]]]", []step{{1, true, expVal, 0}, {1, true, expVal, 1}, {1, true, expVal, 2}}},
		{"null]", []step{{4, true, val("null"), 4}, {1, true, expVal, 4}}},
		{"12}", []step{{2, true, val("12"), 2}, {1, true, expVal, 2}}},
		{`{"a":1}{"b":2}`, []step{{7, true, val(`{"a": 1}`), 6}, {7, true, val(`{"b": 2}`), 13}}},
		{"0e5 ", []step{{1, true, val("0"), 1}, {1, true, perr("invalid keyword 'e'"), 2}, {1, true, val("5"), 3}, {1, false, "", 0}}},
		{"\xff\xff", []step{{1, true, stray(`\uFFFD`), 0}, {1, true, stray(`\uFFFD`), 1}}},
		{"- x", []step{{2, true, stray("- "), 1}, {1, false, "", 0}}},
		{"1\x00", []step{{1, true, val("1"), 1}, {1, true, stray(""), 1}}},
	} {
		d := qjson.NewDecoder()
		p := []byte(c.in)
		for i, s := range c.steps {
			n, ok := d.Feed(p)
			got := step{n: n, ok: ok}
			if ok {
				got.desc, got.off = evDesc(d.Event()), d.Event().Offset
			}
			if got != s {
				t.Errorf("%q step %d: Feed = %+v, want %+v", c.in, i, got, s)
				break
			}
			p = p[n:]
		}
		if len(p) != 0 {
			t.Errorf("%q: %d bytes left after the steps", c.in, len(p))
		}
	}
}

// Spec 1.1 and §9.3: splitting the input never changes the events.
func TestFeedSplit(t *testing.T) {
	for _, c := range []struct {
		parts []string
		want  []string
	}{
		{[]string{`{"execute":"guest-`, `ping"}`}, []string{val(`{"execute": "guest-ping"}`)}},
		{[]string{`{"execute":"guest-sync","arguments":{"id":12`, `34}}`}, []string{val(`{"execute": "guest-sync", "arguments": {"id": 1234}}`)}},
		{[]string{"1", " "}, []string{val("1")}},
		{[]string{"tr", "ue", "}"}, []string{val("true"), expVal}},
		{[]string{"\xff", "1 ", "\n2 "}, []string{stray(`\uFFFD`), val("2")}},
		{[]string{`"a\`, `"b"`}, []string{val(`"a\"b"`)}},
		{[]string{`"\u00`, `e9"`}, []string{val(`"\u00E9"`)}},
		{[]string{"\"\xc3", "\xa9\""}, []string{val(`"\u00E9"`)}},
	} {
		d := qjson.NewDecoder()
		var evs []qjson.Event
		for _, p := range c.parts {
			evs = append(evs, feedAll(t, d, []byte(p))...)
		}
		if got := descs(evs); !equalStrings(got, c.want) {
			t.Errorf("%q: events%s\nwant%s", c.parts, fmtList(got), fmtList(c.want))
		}
	}
}

func TestDecoderReset(t *testing.T) {
	d := qjson.NewDecoder()
	feedAll(t, d, []byte(`{"execute":"guest-ping",`))
	if !d.Pending() {
		t.Fatal("partial message: Pending() = false")
	}
	d.Reset()
	if d.Pending() || d.Offset() != 0 {
		t.Fatalf("after Reset: Pending %v Offset %d", d.Pending(), d.Offset())
	}
	if got := descs(feedAll(t, d, []byte("1 "))); !equalStrings(got, []string{val("1")}) {
		t.Fatalf("after Reset: %v", got)
	}
	feedAll(t, d, []byte("\xff"))
	d.Reset()
	if got := descs(feedAll(t, d, []byte("1 "))); !equalStrings(got, []string{val("1")}) {
		t.Fatalf("Reset must leave recovery mode: %v", got)
	}
	if ev := d.Event(); ev.Offset != 1 {
		t.Fatalf("offsets restart at 0 after Reset: event at %d", ev.Offset)
	}
}

// An event's strings are copies: they survive changes to the input and
// later Feed calls.
func TestEventStringsAreCopies(t *testing.T) {
	d := qjson.NewDecoder()
	in := []byte(`{"execute":"guest-ping","k":["abc",'d\u00e9f']}`)
	evs := feedAll(t, d, in)
	if len(evs) != 1 {
		t.Fatalf("%d events", len(evs))
	}
	v := evs[0].Value
	s0, _ := v.Members()[0].Value.Str()
	k := v.Members()[1].Key
	s1, _ := v.Members()[1].Value.Index(0).Str()
	s2, _ := v.Members()[1].Value.Index(1).Str()
	for i := range in {
		in[i] = 'Z'
	}
	feedAll(t, d, []byte(`{"zzzzzzz":"zzzzzzzzzz","z":["zzz",'zzzz']}`))
	if s0 != "guest-ping" || k != "k" || s1 != "abc" || s2 != "d\u00e9f" {
		t.Fatalf("strings changed: %q %q %q %q", s0, k, s1, s2)
	}
}

// The description helpers must tell different events apart, or the tables
// above could pass vacuously.
func TestEventDescriptions(t *testing.T) {
	e := func(k qjson.ErrorKind, desc string) qjson.Event {
		return qjson.Event{Err: &qjson.Error{Kind: k, Class: "GenericError", Desc: desc}}
	}
	all := []string{
		evDesc(qjson.Event{Value: qjson.IntValue(1)}),
		evDesc(qjson.Event{Value: qjson.FloatValue(1.5)}),
		evDesc(qjson.Event{Value: qjson.StringValue("1")}),
		evDesc(qjson.Event{}),
		evDesc(e(qjson.LexicalError, "JSON parse error, stray '\xff'")),
		evDesc(e(qjson.LexicalError, "JSON parse error, stray 'x'")),
		evDesc(e(qjson.ParseError, "JSON parse error, stray '\xff'")),
		evDesc(e(qjson.LimitError, "JSON token size limit exceeded")),
	}
	seen := map[string]bool{}
	for _, s := range all {
		if seen[s] {
			t.Errorf("two events described as %q", s)
		}
		seen[s] = true
	}
	if got := evDesc(e(qjson.LexicalError, "JSON parse error, stray '\xff'")); got != stray(`\uFFFD`) {
		t.Errorf("rendered 0xFF stray error as %q", got)
	}
	if qjson.LexicalError.String() != "lexical" || qjson.LimitError.String() != "limit" || qjson.ParseError.String() != "parse" {
		t.Error("ErrorKind names changed")
	}
	err := &qjson.Error{Offset: 7, Kind: qjson.LexicalError, Class: "GenericError", Desc: "JSON parse error, stray '\xff'"}
	if got, want := err.Error(), `qjson: lexical error at offset 7: JSON parse error, stray '\uFFFD'`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}
