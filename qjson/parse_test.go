package qjson_test

import (
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/qgafuzz/qgafuzz/qjson"
)

// This file tests the parser (spec section 4), the error strings table
// (section 8) and the edge cases of section 9 through the Decoder's events.

// Spec 8: every error string, with the table's example input. Dispatcher
// errors are not the Decoder's business: for them the Decoder must deliver
// the parsed value (rows marked "dispatch").
func TestErrorStringsTable(t *testing.T) {
	big := `"` + strings.Repeat("a", 14) + `"` // a 16-byte token, the size limit below
	runEventTable(t, []eventCase{
		{in: "\xff", want: []string{stray(`\uFFFD`)}, pending: true},
		{in: "%d ", want: []string{stray("%")}, pending: true},
		{in: "- ", want: []string{stray("- ")}, pending: true},
		{in: "}", want: []string{expVal}, offs: []int64{0}},
		{in: "[1 2]", want: []string{perr("expected separator in list")}, offs: []int64{4}},
		{in: `{"a":1 "b":2}`, want: []string{perr("expected separator in dict")}},
		{in: "{1:2}", want: []string{perr("key is not a string in object")}},
		{in: `{"a" 1}`, want: []string{perr("missing : in object pair")}},
		{in: `{"a":1,"a":1}`, want: []string{perr("duplicate key")}},
		{in: "nan ", want: []string{perr("invalid keyword 'nan'")}, offs: []int64{3}},
		{in: `{"execute":"\a"}`, want: []string{perr("invalid escape sequence in string")}},
		{in: `{"execute":"\ud800"}`, want: []string{perr(`\\ud800 is not a valid Unicode character`)}},
		{in: "{\"execute\":\"\x80\"}", want: []string{perr("invalid UTF-8 sequence in string")}},
		{in: "[1]", want: []string{val("[1]")}},
		{in: "1 2 ", want: []string{val("1"), val("2")}},
		{in: `"abc"`, want: []string{val(`"abc"`)}},
		// dispatch: the Decoder delivers these values
		{in: "{}", want: []string{val("{}")}},
		{in: `{"execute":1}`, want: []string{val(`{"execute": 1}`)}},
		{in: `{"execute":"guest-ping","arguments":[]}`, want: []string{val(`{"execute": "guest-ping", "arguments": []}`)}},
		{in: `{"execute":"guest-ping","foo":1}`, want: []string{val(`{"execute": "guest-ping", "foo": 1}`)}},
		{in: `{"execute":"nope"}`, want: []string{val(`{"execute": "nope"}`)}},
		{in: `{"execute":"guest-get-devices"}`, want: []string{val(`{"execute": "guest-get-devices"}`)}},
		{in: `{"execute":"guest-sync"}`, want: []string{val(`{"execute": "guest-sync"}`)}},
		{in: `{"execute":"guest-sync","arguments":{"id":1.0}}`, want: []string{val(`{"execute": "guest-sync", "arguments": {"id": 1}}`)}},
		{in: `{"execute":"guest-sync","arguments":{"id":1,"x":2}}`, want: []string{val(`{"execute": "guest-sync", "arguments": {"x": 2, "id": 1}}`)}},
	})
	// the three limit rows, at qemu-ga's thresholds scaled down
	runEventTable(t, []eventCase{
		{in: big, want: []string{limSize}, offs: []int64{15}},
		{in: "[1,1,1,1]", want: []string{limCount}, offs: []int64{8}},
		{in: "[[[[[", want: []string{limDepth}, offs: []int64{4}},
	}, qjson.WithLimits(qjson.Limits{MaxTokenSize: 16, MaxTokenCount: 8, MaxDepth: 4}))
}

// Spec 4.1, 4.2: grammar and parse errors; the first error wins.
func TestParseErrors(t *testing.T) {
	runEventTable(t, []eventCase{
		{in: `{"execute":}`, want: []string{expVal}, offs: []int64{11}},
		{in: "[1,]", want: []string{expVal}},
		{in: "[,1]", want: []string{expVal}},
		{in: "[1}", want: []string{perr("expected separator in list")}},
		{in: "[1:2]", want: []string{perr("expected separator in list")}},
		{in: `{"a":1]`, want: []string{perr("expected separator in dict")}},
		{in: `{"a":1:2}`, want: []string{perr("expected separator in dict")}},
		{in: "{true:2}", want: []string{perr("key is not a string in object")}},
		{in: "{null:2}", want: []string{perr("key is not a string in object")}},
		{in: "{[1]:2}", want: []string{perr("key is not a string in object")}},
		{in: "{{}:2}", want: []string{perr("key is not a string in object")}},
		{in: "{:2}", want: []string{expVal}},
		{in: "{,}", want: []string{expVal}},
		{in: `{"execute" "guest-ping"}`, want: []string{perr("missing : in object pair")}},
		{in: `{"a"}`, want: []string{perr("missing : in object pair")}},
		{in: `{"a",1}`, want: []string{perr("missing : in object pair")}},
		{in: `{"a":1,}`, want: []string{expVal}},
		{in: `{"a":1,"b"}`, want: []string{perr("missing : in object pair")}},
		{in: `{"a":{"b":1,"b":2}}`, want: []string{perr("duplicate key")}},
		{in: `[{"a":1,"a":2}]`, want: []string{perr("duplicate key")}},
		{in: `{'a':1,"a":2}`, want: []string{perr("duplicate key")}},
		{in: `{"a":1,"\u0061":2}`, want: []string{perr("duplicate key")}},
		{in: "{\"\\u0000\":1,\"\xc0\x80\":2}", want: []string{perr("duplicate key")}},
		{in: `{"execute":"guest-ping","id":1,"id":2}`, want: []string{perr("duplicate key")}},
		// a container's key is checked once the container is complete
		{in: `{"a":1,"a":[]}`, want: []string{perr("duplicate key")}},
		{in: `{"a":1,"a":{}}`, want: []string{perr("duplicate key")}},
		{in: `{"x":{"a":[1],"a":[2]}}`, want: []string{perr("duplicate key")}},
		{in: "nul ", want: []string{perr("invalid keyword 'nul'")}},
		{in: "[nul]", want: []string{perr("invalid keyword 'nul'")}},
		{in: `{"a":truefalse}`, want: []string{perr("invalid keyword 'truefalse'")}},
		// first error in left-to-right order
		{in: `{"a":1,"a":[1 2]}`, want: []string{perr("expected separator in list")}},
		{in: `{"a":1,"a":}`, want: []string{expVal}},
		{in: `{[1 2]:2}`, want: []string{perr("expected separator in list")}},
		{in: `{"a":"\x","b":"\ud800"}`, want: []string{perr("invalid escape sequence in string")}},
		{in: `{"a":"\ud800","b":"\x"}`, want: []string{perr(`\\ud800 is not a valid Unicode character`)}},
		{in: "[\"\x80\",\"\\x\"]", want: []string{perr("invalid UTF-8 sequence in string")}},
		{in: `[xyz,"\x"]`, want: []string{perr("invalid keyword 'xyz'")}},
		{in: `[1 2,"\x"]`, want: []string{perr("expected separator in list")}},
		// a bad string anywhere rejects the whole message
		{in: "{\"execute\":\"guest-ping\",\"id\":\"\xc3\"}", want: []string{perr("invalid UTF-8 sequence in string")}},
		// nesting
		{in: `[[],[[]],{"a":{"b":[null,true,false]}}]`, want: []string{val(`[[], [[]], {"a": {"b": [null, true, false]}}]`)}},
	})
}

// The message after "JSON parse error, " is cut at 1023 bytes; only an
// invalid keyword can be that long. Not in the spec; observed on qemu-ga 7.2.22:
// 1005 letters keep the closing quote, 1006 and more are cut to
// "invalid keyword '" + 1006 letters.
func TestParseLongKeyword(t *testing.T) {
	kw := func(n int) string { return strings.Repeat("k", n) }
	runEventTable(t, []eventCase{
		{in: kw(1005) + " ", want: []string{perr("invalid keyword '" + kw(1005) + "'")}},
		{in: kw(1006) + " ", want: []string{perr("invalid keyword '" + kw(1006))}},
		{in: kw(1007) + " ", want: []string{perr("invalid keyword '" + kw(1006))}},
		{in: "[" + kw(5000) + "]", want: []string{perr("invalid keyword '" + kw(1006))}},
		// other messages are short; a stray token is never cut
		{in: `"` + kw(3000) + "\x01", want: []string{stray(`\"` + kw(3000) + `\u0001`)}, pending: true},
	})
}

// Spec 4.3: string escapes and the text of \u errors.
func TestParseEscapes(t *testing.T) {
	unicodeErr := func(text string) string { return perr(wire(text) + " is not a valid Unicode character") }
	runEventTable(t, []eventCase{
		{in: `"\"\'\\\/\b\f\n\r\t"`, want: []string{val(`"\"'\\/\b\f\n\r\t"`)}},
		{in: `'\"\'\\\/'`, want: []string{val(`"\"'\\/"`)}},
		{in: `{'execute':'it\'s'}`, want: []string{val(`{"execute": "it's"}`)}},
		{in: `"\u0041\u00e9\u00E9\u20ac"`, want: []string{val(`"A\u00E9\u00E9\u20AC"`)}},
		{in: `"\uD83D\uDE00"`, want: []string{val(`"\uD83D\uDE00"`)}},
		{in: `"\ud83d\ude00x"`, want: []string{val(`"\uD83D\uDE00x"`)}},
		{in: `"\uD800\uDC00"`, want: []string{val(`"\uD800\uDC00"`)}},
		{in: `"\uDBFF\uDFFD"`, want: []string{val(`"\uDBFF\uDFFD"`)}},
		{in: `"\u0000"`, want: []string{val(`"\u0000"`)}},
		{in: `"\u001f"`, want: []string{val(`"\u001F"`)}},
		{in: `"\ufffd"`, want: []string{val(`"\uFFFD"`)}},
		{in: `"\u007f"`, want: []string{val(`"\u007F"`)}},
		{in: `"\u002F\u0022\u005c"`, want: []string{val(`"/\"\\"`)}},
		// invalid escapes
		{in: `"\a"`, want: []string{perr("invalid escape sequence in string")}},
		{in: `"\x41"`, want: []string{perr("invalid escape sequence in string")}},
		{in: `"\U0041"`, want: []string{perr("invalid escape sequence in string")}},
		{in: `"\ "`, want: []string{perr("invalid escape sequence in string")}},
		{in: `"\0"`, want: []string{perr("invalid escape sequence in string")}},
		{in: `"%\%"`, want: []string{perr("invalid escape sequence in string")}},
		// invalid \u escapes: 6 raw bytes from the backslash, cut at the end
		// of the token
		{in: `"\ud800"`, want: []string{unicodeErr(`\ud800`)}},
		{in: `"\ud800x"`, want: []string{unicodeErr(`\ud800`)}},
		{in: `"\uD83DA"`, want: []string{unicodeErr(`\uD83D`)}},
		{in: `"\ud83d\u0041"`, want: []string{unicodeErr(`\ud83d`)}},
		{in: `"\uD800\uD800"`, want: []string{unicodeErr(`\uD800`)}},
		{in: `"\uD800\uZZZZ"`, want: []string{unicodeErr(`\uD800`)}},
		{in: `"\uD800\u"`, want: []string{unicodeErr(`\uD800`)}},
		{in: `"\uDE00\uD83D"`, want: []string{unicodeErr(`\uDE00`)}},
		{in: `"\udc00"`, want: []string{unicodeErr(`\udc00`)}},
		{in: `"\u12G4"`, want: []string{unicodeErr(`\u12G4`)}},
		{in: `"a\u12"`, want: []string{unicodeErr(`\u12"`)}},
		{in: `'a\u12'`, want: []string{unicodeErr(`\u12'`)}},
		{in: `"\u"`, want: []string{unicodeErr(`\u"`)}},
		{in: `"\u-123"`, want: []string{unicodeErr(`\u-123`)}},
		{in: `"\uffff"`, want: []string{unicodeErr(`\uffff`)}},
		{in: `"\uFFFE"`, want: []string{unicodeErr(`\uFFFE`)}},
		{in: `"\ufdd0"`, want: []string{unicodeErr(`\ufdd0`)}},
		{in: `"\uFDEF"`, want: []string{unicodeErr(`\uFDEF`)}},
		{in: `"\ufdcf\ufdf0"`, want: []string{val(`"\uFDCF\uFDF0"`)}},
		// a surrogate pair that makes a noncharacter is quoted whole (as a
		// live 7.2 agent does; the spec says 6 bytes)
		{in: `"\uDBFF\uDFFF"`, want: []string{unicodeErr(`\uDBFF\uDFFF`)}},
		{in: `"\uD83F\uDFFE"`, want: []string{unicodeErr(`\uD83F\uDFFE`)}},
		{in: `"\ud87f\udfffabc"`, want: []string{unicodeErr(`\ud87f\udfff`)}},
		{in: `"a\udbff\udffe\ud800"`, want: []string{unicodeErr(`\udbff\udffe`)}},
		{in: `"ok\u0041\uffffz"`, want: []string{unicodeErr(`\uffff`)}},
		// §9.24, exactly as on the wire
		{in: `{"execute":"a\u12"}`, want: []string{`parse:JSON parse error, \\u12\" is not a valid Unicode character`}},
	})

	// the raw Desc holds the raw bytes; only the wire form doubles '\'
	d := qjson.NewDecoder()
	evs := feedAll(t, d, []byte(`"\ud800"`))
	if len(evs) != 1 || evs[0].Err == nil || evs[0].Err.Desc != `JSON parse error, \ud800 is not a valid Unicode character` || evs[0].Err.Kind != qjson.ParseError {
		t.Errorf("raw desc: %+v", evs[0].Err)
	}
	// decoded strings hold U+0000 as a NUL byte
	evs = feedAll(t, d, []byte(`"a\u0000b\ud83d\ude00"`))
	if s, ok := evs[0].Value.Str(); !ok || s != "a\x00b\U0001F600" {
		t.Errorf("decoded %q", s)
	}
}

// Spec 4.4: raw bytes in strings are modified UTF-8.
func TestParseRawUTF8(t *testing.T) {
	bad := perr("invalid UTF-8 sequence in string")
	runEventTable(t, []eventCase{
		{in: "\"\xc3\xa9\"", want: []string{val(`"\u00E9"`)}},
		{in: "'\xe2\x82\xac'", want: []string{val(`"\u20AC"`)}},
		{in: "\"\xf0\x9f\x98\x80\"", want: []string{val(`"\uD83D\uDE00"`)}},
		{in: "\"\xc0\x80\"", want: []string{val(`"\u0000"`)}},
		{in: "\"\x7f\"", want: []string{val(`"\u007F"`)}},
		{in: "\"\xf4\x8f\xbf\xbd\"", want: []string{val(`"\uDBFF\uDFFD"`)}},
		{in: "\"\xef\xbf\xbd\"", want: []string{val(`"\uFFFD"`)}},
		{in: "\"\xed\x9f\xbf\"", want: []string{val(`"\uD7FF"`)}},
		{in: "\"\xee\x80\x80\"", want: []string{val(`"\uE000"`)}},
		{in: `"%"`, want: []string{val(`"%"`)}},
		{in: "\"\x80\"", want: []string{bad}},
		{in: "\"\xbf\"", want: []string{bad}},
		{in: "\"\xc3\"", want: []string{bad}},
		{in: "\"\xc3x\"", want: []string{bad}},
		{in: "\"\xe2\x82\"", want: []string{bad}},
		{in: "\"\xf0\x9f\x98\"", want: []string{bad}},
		{in: "\"\xc0\xaf\"", want: []string{bad}},
		{in: "\"\xc1\xbf\"", want: []string{bad}},
		{in: "\"\xe0\x80\x80\"", want: []string{bad}},
		{in: "\"\xe0\x9f\xbf\"", want: []string{bad}},
		{in: "\"\xf0\x8f\xbf\xbf\"", want: []string{bad}},
		{in: "\"\xed\xa0\x80\"", want: []string{bad}},
		{in: "\"\xed\xbf\xbf\"", want: []string{bad}},
		{in: "\"\xf4\x90\x80\x80\"", want: []string{bad}},
		{in: "\"\xf5\x80\x80\x80\"", want: []string{bad}},
		{in: "\"\xf8\x88\x80\x80\x80\"", want: []string{bad}},
		{in: "\"\xfc\x84\x80\x80\x80\x80\"", want: []string{bad}},
		{in: "\"\xfd\xbf\xbf\xbf\xbf\xbf\"", want: []string{bad}},
		{in: "\"\xef\xb7\x90\"", want: []string{bad}},
		{in: "\"\xef\xbf\xbe\"", want: []string{bad}},
		{in: "\"\xef\xbf\xbf\"", want: []string{bad}},
		{in: "\"\xf4\x8f\xbf\xbf\"", want: []string{bad}},
		{in: "\"\xf0\x9f\xbf\xbe\"", want: []string{bad}},
		// 0xFE and 0xFF never reach the parser
		{in: "\"\xfe\"", want: []string{stray(`\"\uFFFD`)}, pending: true},
		{in: "'\xff'", want: []string{stray(`'\uFFFD`)}, pending: true},
		// §5 note: member names are re-escaped
		{in: "{\"execute\":\"guest-ping\",\"\xc3\xbc\":1}", want: []string{val(`{"\u00FC": 1, "execute": "guest-ping"}`)}}, // buckets 132, 299
	})
}

// Spec 4.5: numbers become Int, Uint or Float values.
func TestParseNumbers(t *testing.T) {
	for _, c := range []struct {
		in   string
		kind qjson.Kind
		out  string  // serialization
		f    float64 // the value, for Float (compared bit for bit)
	}{
		{"0 ", qjson.Int, "0", 0},
		{"-0 ", qjson.Int, "0", 0},
		{"42 ", qjson.Int, "42", 0},
		{"-42 ", qjson.Int, "-42", 0},
		{"9223372036854775807 ", qjson.Int, "9223372036854775807", 0},
		{"-9223372036854775808 ", qjson.Int, "-9223372036854775808", 0},
		{"9223372036854775808 ", qjson.Uint, "9223372036854775808", 0},
		{"18446744073709551615 ", qjson.Uint, "18446744073709551615", 0},
		{"18446744073709551616 ", qjson.Float, "1.8446744073709552e+19", 18446744073709551616},
		{"-9223372036854775809 ", qjson.Float, "-9.2233720368547758e+18", -9223372036854775808},
		{"-18446744073709551615 ", qjson.Float, "-1.8446744073709552e+19", -18446744073709551615},
		{"123456789012345678901234567890 ", qjson.Float, "1.2345678901234568e+29", 1.2345678901234568e+29},
		{"1" + strings.Repeat("0", 400) + " ", qjson.Float, "inf", math.Inf(1)},
		{"-1" + strings.Repeat("0", 400) + " ", qjson.Float, "-inf", math.Inf(-1)},
		{"1.0 ", qjson.Float, "1", 1},
		{"1e3 ", qjson.Float, "1000", 1000},
		{"1E2 ", qjson.Float, "100", 100},
		{"2E3 ", qjson.Float, "2000", 2000},
		{"-0.5e+1 ", qjson.Float, "-5", -5},
		{"-0.0 ", qjson.Float, "-0", math.Copysign(0, -1)},
		{"-0.0e0 ", qjson.Float, "-0", math.Copysign(0, -1)},
		{"0.0 ", qjson.Float, "0", 0},
		{"0.1 ", qjson.Float, "0.10000000000000001", 0.1},
		{"2.50 ", qjson.Float, "2.5", 2.5},
		{"1e400 ", qjson.Float, "inf", math.Inf(1)},
		{"1e999 ", qjson.Float, "inf", math.Inf(1)},
		{"-1e999 ", qjson.Float, "-inf", math.Inf(-1)},
		{"1e-400 ", qjson.Float, "0", 0},
		{"-1e-400 ", qjson.Float, "-0", math.Copysign(0, -1)},
		{"4.9e-324 ", qjson.Float, "4.9406564584124654e-324", 5e-324},
		{"2.2250738585072011e-308 ", qjson.Float, "2.2250738585072009e-308", 2.2250738585072009e-308},
		{"1.7976931348623157e308 ", qjson.Float, "1.7976931348623157e+308", math.MaxFloat64},
		{"1.7976931348623159e308 ", qjson.Float, "inf", math.Inf(1)},
		{"9007199254740993.0 ", qjson.Float, "9007199254740992", 9007199254740992},
		{"0.30000000000000004 ", qjson.Float, "0.30000000000000004", 0.30000000000000004},
		{"1e16 ", qjson.Float, "10000000000000000", 1e16},
		{"1e17 ", qjson.Float, "1e+17", 1e17},
	} {
		d := qjson.NewDecoder()
		evs := feedAll(t, d, []byte(c.in))
		if len(evs) != 1 || evs[0].Err != nil {
			t.Errorf("%q: events %v", c.in, descs(evs))
			continue
		}
		v := evs[0].Value
		if v.Kind() != c.kind {
			t.Errorf("%q: kind %v, want %v", c.in, v.Kind(), c.kind)
		}
		if got := string(qjson.AppendValue(nil, v)); got != c.out {
			t.Errorf("%q: serialized %s, want %s", c.in, got, c.out)
		}
		if c.kind == qjson.Float {
			if f, _ := v.Float(); math.Float64bits(f) != math.Float64bits(c.f) {
				t.Errorf("%q: float %v (%#x), want %v (%#x)", c.in, f, math.Float64bits(f), c.f, math.Float64bits(c.f))
			}
		}
	}

	// the accessors agree with the kinds
	d := qjson.NewDecoder()
	evs := feedAll(t, d, []byte("[9223372036854775808, -7, 7, 1.5]"))
	v := evs[0].Value
	if u, ok := v.Index(0).Uint(); !ok || u != 1<<63 {
		t.Errorf("Uint() of 2^63 = %d, %v", u, ok)
	}
	if _, ok := v.Index(0).Int(); ok {
		t.Error("Int() of 2^63 reports ok")
	}
	if i, ok := v.Index(1).Int(); !ok || i != -7 {
		t.Errorf("Int() of -7 = %d, %v", i, ok)
	}
	if _, ok := v.Index(1).Uint(); ok {
		t.Error("Uint() of -7 reports ok")
	}
	if u, ok := v.Index(2).Uint(); !ok || u != 7 {
		t.Errorf("Uint() of 7 = %d, %v", u, ok)
	}
	if _, ok := v.Index(3).Int(); ok {
		t.Error("Int() of 1.5 reports ok")
	}
	if f, ok := v.Index(3).Float(); !ok || f != 1.5 {
		t.Errorf("Float() of 1.5 = %v, %v", f, ok)
	}
}

// Spec 4.6 and the Value accessors for the other kinds.
func TestParseValues(t *testing.T) {
	d := qjson.NewDecoder()
	evs := feedAll(t, d, []byte(`{"s":'x"y',"t":true,"f":false,"n":null,"a":[1,"2"],"o":{}}`))
	if len(evs) != 1 || evs[0].Err != nil {
		t.Fatalf("events %v", descs(evs))
	}
	v := evs[0].Value
	if v.Kind() != qjson.Object || v.Len() != 6 {
		t.Fatalf("kind %v len %d", v.Kind(), v.Len())
	}
	keys := ""
	for _, m := range v.Members() {
		keys += m.Key
	}
	if keys != "stfnao" {
		t.Errorf("members not in input order: %q", keys)
	}
	get := func(k string) qjson.Value {
		m, ok := v.Get(k)
		if !ok {
			t.Fatalf("no member %q", k)
		}
		return m
	}
	if s, ok := get("s").Str(); !ok || s != `x"y` {
		t.Errorf("s = %q", s)
	}
	if b := get("t"); b.Kind() != qjson.Bool || !b.Bool() {
		t.Errorf("t = %v", b)
	}
	if b := get("f"); b.Kind() != qjson.Bool || b.Bool() {
		t.Errorf("f = %v", b)
	}
	if n := get("n"); n.Kind() != qjson.Null {
		t.Errorf("n = %v", n)
	}
	if a := get("a"); a.Kind() != qjson.Array || a.Len() != 2 || a.Index(1).Kind() != qjson.String {
		t.Errorf("a = %v", a)
	}
	if o := get("o"); o.Kind() != qjson.Object || o.Len() != 0 || len(o.Members()) != 0 {
		t.Errorf("o = %v", o)
	}
	if _, ok := v.Get("x"); ok {
		t.Error(`Get("x") found a member`)
	}
	// String is the serialization (whose member order encode_test.go checks)
	got := v.String()
	if got != string(qjson.AppendValue(nil, v)) || len(got) != len(`{"s": "x\"y", "t": true, "f": false, "n": null, "a": [1, "2"], "o": {}}`) {
		t.Errorf("String() = %s", got)
	}
	for _, part := range []string{`"s": "x\"y"`, `"t": true`, `"f": false`, `"n": null`, `"a": [1, "2"]`, `"o": {}`} {
		if !strings.Contains(got, part) {
			t.Errorf("String() = %s lacks %s", got, part)
		}
	}
}

// Spec 9: the edge cases not covered above.
func TestEdgeCases(t *testing.T) {
	ff := stray(`\uFFFD`)
	runEventTable(t, []eventCase{
		// 1, 6
		{in: "\xff", want: []string{ff}, pending: true},
		{in: "\xff1 ", want: []string{ff}, pending: true},
		{in: "\xff\t1\n", want: []string{ff}},
		{in: "\xff\r", want: []string{ff}},
		// 4
		{in: `{{"execute":"guest-sync","arguments":{"id":44}}`, want: nil, pending: true},
		{in: "{{\"execute\":\"guest-sync\",\"arguments\":{\"id\":44}}\xff{\"execute\":\"guest-ping\"}",
			want: []string{ff, val(`{"execute": "guest-ping"}`)}},
		// 5
		{in: `"abc{"execute":"guest-ping"}`, want: []string{
			val(`"abc{"`), perr("invalid keyword 'execute'"), val(`":"`),
			perr("invalid keyword 'guest'"), stray("-p"), expVal,
		}},
		// 7, 8, 9
		{in: "1", want: nil, pending: true},
		{in: "0e5 ", want: []string{val("0"), perr("invalid keyword 'e'"), val("5")}},
		{in: "- ", want: []string{stray("- ")}, pending: true},
		{in: "1.e5", want: []string{stray("1.e")}, pending: true},
		// 10, 11
		{in: "\"x\x00y\"", want: []string{`lexical:JSON parse error, stray '\"x'`}, pending: true},
		{in: "1\x00", want: []string{val("1"), stray("")}, pending: true},
		{in: "\x0c", want: []string{`lexical:JSON parse error, stray '\f'`}, pending: true},
		// 12
		{in: `{'execute':'guest-sync-delimited','arguments':{'id':23}}`, want: []string{val(`{"execute": "guest-sync-delimited", "arguments": {"id": 23}}`)}},
		{in: `{'execute':'it\'s'}`, want: []string{val(`{"execute": "it's"}`)}},
		// 13
		{in: `{"execute":"guest-ping","id":1,"id":2}`, want: []string{perr("duplicate key")}},
		{in: `{"execute":"guest-ping","execute":"guest-ping"}`, want: []string{perr("duplicate key")}},
		// 14
		{in: `{"id":0.1}`, want: []string{val(`{"id": 0.10000000000000001}`)}},
		{in: `{"id":1e999}`, want: []string{val(`{"id": inf}`)}},
		{in: `{"id":-1e999}`, want: []string{val(`{"id": -inf}`)}},
		// 15
		{in: `{"b":1,"a":2}`, want: []string{val(`{"a": 2, "b": 1}`)}},
		{in: `{"id":2,"return":1}`, want: []string{val(`{"return": 1, "id": 2}`)}},
		{in: `{"error":{"desc":"d","class":"c"},"id":"e1"}`, want: []string{val(`{"id": "e1", "error": {"class": "c", "desc": "d"}}`)}},
		{in: `{"id":{"b":1,"a":2,"id":3,"execute":4,"return":5}}`, want: []string{val(`{"id": {"a": 2, "execute": 4, "b": 1, "return": 5, "id": 3}}`)}},
		// 17
		{in: `{"id":9223372036854775807}`, want: []string{val(`{"id": 9223372036854775807}`)}},
		{in: `{"id":9223372036854775808}`, want: []string{val(`{"id": 9223372036854775808}`)}},
		{in: `{"id":-0}`, want: []string{val(`{"id": 0}`)}},
		// 18
		{in: `"\u0000"`, want: []string{val(`"\u0000"`)}},
		{in: "\"\xc0\x80\"", want: []string{val(`"\u0000"`)}},
		{in: `"\uffff"`, want: []string{perr(`\\uffff is not a valid Unicode character`)}},
		{in: `"\ufdd0"`, want: []string{perr(`\\ufdd0 is not a valid Unicode character`)}},
		{in: "\"\xef\xbf\xbe\"", want: []string{perr("invalid UTF-8 sequence in string")}},
		// 19
		{in: "{[}]", want: []string{expVal}},
		// 20 (scaled down in TestStreamerLimits; here at 1024)
		{in: strings.Repeat("{", 1025) + "}", want: []string{limDepth, expVal}},
		// 22
		{in: `{"execute":""}`, want: []string{val(`{"execute": ""}`)}},
		// 23
		{in: "\xc3\xa9 ", want: []string{ff}, pending: true},
		// 24
		{in: `{"execute":"a\u12"}`, want: []string{`parse:JSON parse error, \\u12\" is not a valid Unicode character`}},
	})
}

// TestLongIntegersParseInPlace: an integer token of any length becomes the
// double strtod gives, without copies of the token (a 64 MiB one cost
// 759 MiB: each strconv call got a copy, and its error another).
func TestLongIntegersParseInPlace(t *testing.T) {
	for _, n := range []int{19, 20, 21, 40, 308, 309, 310, 400} {
		for _, lead := range []string{"1", "9", "-9"} {
			text := lead + strings.Repeat("7", n-1)
			want, _ := strconv.ParseFloat(text, 64)
			v := parseOne(t, []byte(text+" "))
			got, _ := v.Float()
			if got != want {
				t.Errorf("%d digits %.12s...: got %v, want %v", n, text, got, want)
			}
		}
	}
	checkHugeNumberNoCopy(t, strings.Repeat("1", 1<<20), math.Inf(1))
}
