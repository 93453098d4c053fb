package qjson_test

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/qgafuzz/qgafuzz/qjson"
	"pgregory.net/rapid"
)

// This file tests the serializer (spec section 6).

func obj(kv ...any) qjson.Value {
	var ms []qjson.Member
	for i := 0; i < len(kv); i += 2 {
		ms = append(ms, qjson.Member{Key: kv[i].(string), Value: kv[i+1].(qjson.Value)})
	}
	return qjson.ObjectValue(ms...)
}

// Spec 6.1, 6.2: layout and scalars.
func TestAppendValueLayout(t *testing.T) {
	i := qjson.IntValue
	for _, c := range []struct {
		v    qjson.Value
		want string
	}{
		{qjson.Value{}, "null"},
		{qjson.NullValue(), "null"},
		{qjson.BoolValue(true), "true"},
		{qjson.BoolValue(false), "false"},
		{i(0), "0"},
		{i(-1), "-1"},
		{i(math.MaxInt64), "9223372036854775807"},
		{i(math.MinInt64), "-9223372036854775808"},
		{qjson.UintValue(1 << 63), "9223372036854775808"},
		{qjson.UintValue(math.MaxUint64), "18446744073709551615"},
		{qjson.StringValue(""), `""`},
		{qjson.ArrayValue(), "[]"},
		{qjson.ObjectValue(), "{}"},
		{qjson.ArrayValue(i(1)), "[1]"},
		{qjson.ArrayValue(i(1), i(2), i(3)), "[1, 2, 3]"},
		{qjson.ArrayValue(qjson.ArrayValue(), qjson.ObjectValue(), qjson.NullValue()), "[[], {}, null]"},
		{obj("a", i(1)), `{"a": 1}`},
		{obj("a", qjson.ArrayValue(i(1), obj("b", qjson.ArrayValue()))), `{"a": [1, {"b": []}]}`},
		{obj("return", obj()), `{"return": {}}`},
	} {
		if got := string(qjson.AppendValue(nil, c.v)); got != c.want {
			t.Errorf("AppendValue = %s, want %s", got, c.want)
		}
		if got := c.v.String(); got != c.want {
			t.Errorf("String() = %s, want %s", got, c.want)
		}
	}
	// AppendValue appends
	if got := string(qjson.AppendValue([]byte("x="), qjson.ArrayValue(qjson.IntValue(1)))); got != "x=[1]" {
		t.Errorf("AppendValue to a prefix: %s", got)
	}
	// UintValue of a value that fits int64 is an Int, as the parser makes it
	if v := qjson.UintValue(5); v.Kind() != qjson.Int {
		t.Errorf("UintValue(5).Kind() = %v", v.Kind())
	}
}

// Spec 6.2: doubles are printed as C's %.17g.
func TestAppendValueFloat(t *testing.T) {
	for _, c := range []struct {
		f    float64
		want string
	}{
		{0.1, "0.10000000000000001"},
		{1, "1"},
		{2.5, "2.5"},
		{100, "100"},
		{1e16, "10000000000000000"},
		{1e17, "1e+17"},
		{1.2345678901234568e+29, "1.2345678901234568e+29"},
		{-1e-7, "-9.9999999999999995e-08"},
		{0.0001, "0.0001"},
		{0.00001, "1.0000000000000001e-05"},
		{math.Copysign(0, -1), "-0"},
		{0, "0"},
		{math.Inf(1), "inf"},
		{math.Inf(-1), "-inf"},
		{0.3, "0.29999999999999999"},
		{1.5, "1.5"},
		{-2.25, "-2.25"},
		{123456789, "123456789"},
		{99999999999999999, "1e+17"}, // the double nearest is 1e17
		{12345678901234567, "12345678901234568"},
		{1e100, "1e+100"},
		{1e-100, "1e-100"},
		{5e-324, "4.9406564584124654e-324"},
		{math.MaxFloat64, "1.7976931348623157e+308"},
		{1 << 63, "9.2233720368547758e+18"},
		{1e21, "1e+21"},
		{123.456, "123.456"},
		{1.0 / 3, "0.33333333333333331"},
		{2.0 / 3, "0.66666666666666663"},
		{-1e-5, "-1.0000000000000001e-05"},
	} {
		if got := string(qjson.AppendValue(nil, qjson.FloatValue(c.f))); got != c.want {
			t.Errorf("%%.17g of %v: %s, want %s", c.f, got, c.want)
		}
	}
}

// Any finite double prints as Go's %.17g, which follows C's rules.
func TestAppendValueFloatProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		f := math.Float64frombits(rapid.Uint64().Draw(t, "bits"))
		if math.IsNaN(f) || math.IsInf(f, 0) {
			f = rapid.Float64().Draw(t, "f")
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			t.Skip("not finite")
		}
		if got, want := string(qjson.AppendValue(nil, qjson.FloatValue(f))), fmt.Sprintf("%.17g", f); got != want {
			t.Fatalf("%%.17g of %v (%#x): %s, want %s", f, math.Float64bits(f), got, want)
		}
	})
}

// Spec 6.3: strings.
func TestAppendString(t *testing.T) {
	for _, c := range []struct {
		in, want string // want without the quotes
	}{
		{"", ""},
		{"abc xyz ~!@#$%^&*()_+{}[]:;'<>,.?|`", "abc xyz ~!@#$%^&*()_+{}[]:;'<>,.?|`"},
		{`"`, `\"`},
		{`\`, `\\`},
		{"/", "/"},
		{"\b\f\n\r\t", `\b\f\n\r\t`},
		{"\x00", `\u0000`},
		{"\x01\x07\x0b\x0e\x1b\x1f", `\u0001\u0007\u000B\u000E\u001B\u001F`},
		{"\x7f", `\u007F`},
		{"\u0080", `\u0080`},
		{"é", `\u00E9`},
		{"\u00ff", `\u00FF`},
		{"\u07ff\u0800", `\u07FF\u0800`},
		{"€", `\u20AC`},
		{"\uabcd", `\uABCD`},
		{"\ufffd", `\uFFFD`},
		{"😀", `\uD83D\uDE00`},
		{"\U00010000", `\uD800\uDC00`},
		{"\U0010fffd", `\uDBFF\uDFFD`},
		{"a\"b\\c/d\ne", `a\"b\\c/d\ne`},
		// U+0000 in modified UTF-8
		{"\xc0\x80", `\u0000`},
		{"a\xc0\x80b", `a\u0000b`},
		// bad lead bytes count alone
		{"\x80", `\uFFFD`},
		{"\xbf", `\uFFFD`},
		{"\x80\x80", `\uFFFD\uFFFD`},
		{"\xfe", `\uFFFD`},
		{"\xff", `\uFFFD`},
		{"\xff\xfe\xff", `\uFFFD\uFFFD\uFFFD`},
		// truncated sequences consume the lead and the continuations present
		{"\xc3", `\uFFFD`},
		{"\xc3a", `\uFFFDa`},
		{"\xe2\x82", `\uFFFD`},
		{"\xe2\x82a", `\uFFFDa`},
		{"\xe2a\x82", `\uFFFDa\uFFFD`},
		{"\xe2\x82\xff", `\uFFFD\uFFFD`},
		{"\xf0\x9f\x98", `\uFFFD`},
		{"\xf0\x9f\x98!", `\uFFFD!`},
		{"\xf0\x9f\x98\xc3\xa9", `\uFFFD\u00E9`},
		{"\xc3\xc3\xa9", `\uFFFD\u00E9`},
		{"\xf8\x88\x80\x80", `\uFFFD`},
		{"\xfc\x84\x80\x80\x80", `\uFFFD`},
		{"\xfc\x84\x80\x80\x80a", `\uFFFDa`},
		// complete but invalid sequences are consumed whole
		{"\xc0\xaf", `\uFFFD`},
		{"\xc1\xbf", `\uFFFD`},
		{"\xe0\x80\x80", `\uFFFD`},
		{"\xe0\x80\xaf", `\uFFFD`},
		{"\xf0\x80\x80\x80", `\uFFFD`},
		{"\xed\xa0\x80", `\uFFFD`},
		{"\xed\xbf\xbf", `\uFFFD`},
		{"\xef\xb7\x90", `\uFFFD`},
		{"\xef\xbf\xbe", `\uFFFD`},
		{"\xef\xbf\xbf", `\uFFFD`},
		{"\xf4\x8f\xbf\xbf", `\uFFFD`},
		{"\xf4\x90\x80\x80", `\uFFFD`},
		{"\xf7\xbf\xbf\xbf", `\uFFFD`},
		{"\xf8\x88\x80\x80\x80", `\uFFFD`},
		{"\xfc\x84\x80\x80\x80\x80", `\uFFFD`},
		{"\xfd\xbf\xbf\xbf\xbf\xbf", `\uFFFD`},
		{"\xfc\x84\x80\x80\x80\x80\x80", `\uFFFD\uFFFD`},
		{"x\xed\xa0\x80y", `x\uFFFDy`},
		// the stray text of §3.3
		{"JSON parse error, stray '\"a\xc0\x80\x01'", `JSON parse error, stray '\"a\u0000\u0001'`},
	} {
		want := `"` + c.want + `"`
		if got := string(qjson.AppendString(nil, c.in)); got != want {
			t.Errorf("AppendString(%q) = %s, want %s", c.in, got, want)
		}
		if got := string(qjson.AppendValue(nil, qjson.StringValue(c.in))); got != want {
			t.Errorf("AppendValue(StringValue(%q)) = %s, want %s", c.in, got, want)
		}
	}
	if got := string(qjson.AppendString([]byte("k="), "v")); got != `k="v"` {
		t.Errorf("AppendString to a prefix: %s", got)
	}
}

// Replies are pure printable ASCII (spec 1.1), whatever the string holds.
func TestAppendStringPrintableASCII(t *testing.T) {
	anyBytes := rapid.Map(rapid.SliceOfN(rapid.Byte(), 0, 40), func(b []byte) string { return string(b) })
	rapid.Check(t, func(t *rapid.T) {
		s := rapid.OneOf(rapid.String(), anyBytes).Draw(t, "s")
		out := qjson.AppendString(nil, s)
		if len(out) < 2 || out[0] != '"' || out[len(out)-1] != '"' {
			t.Fatalf("AppendString(%q) = %s", s, out)
		}
		for _, c := range out {
			if c < 0x20 || c > 0x7e {
				t.Fatalf("AppendString(%q) = %q holds byte %#x", s, out, c)
			}
		}
	})
}

// refBucket is spec 6.4's hash, written out independently of the package.
func refBucket(key string) int {
	b := []byte(strings.ReplaceAll(key, "\x00", "\xc0\x80"))
	h := 0x238F13AF * uint32(len(b))
	for i, c := range b {
		h += uint32(c) << ((i * 5) % 24)
	}
	return int((1103515243*h + 12345) % 512)
}

// Spec 6.4 and 5: hash buckets.
func TestHashBucket(t *testing.T) {
	for key, want := range map[string]int{
		"enabled": 33, "name": 39, "version": 184, "class": 211, "a": 233,
		"execute": 299, "b": 340, "desc": 377, "return": 401, "arguments": 447,
		"success-response": 472, "supported_commands": 484, "id": 486,
		"error": 489, "foo": 490, "bogus": 136, "control": 263,
		"exec-oob": 162, "x": 134, "": 57,
	} {
		if got := qjson.HashBucket(key); got != want {
			t.Errorf("HashBucket(%q) = %d, want %d", key, got, want)
		}
		if got := refBucket(key); got != want {
			t.Errorf("refBucket(%q) = %d, want %d (the test's reference is wrong)", key, got, want)
		}
	}
	if qjson.HashBuckets != 512 {
		t.Errorf("HashBuckets = %d", qjson.HashBuckets)
	}
	// U+0000 hashes as its modified UTF-8 form C0 80
	if got, want := qjson.HashBucket("a\x00b"), refBucket("a\x00b"); got != want {
		t.Errorf(`HashBucket("a\x00b") = %d, want %d`, got, want)
	}
	if qjson.HashBucket("\x00") != qjson.HashBucket("\xc0\x80") {
		t.Error("U+0000 and C0 80 hash differently")
	}
	rapid.Check(t, func(t *rapid.T) {
		key := string(rapid.SliceOfN(rapid.Byte(), 0, 64).Draw(t, "key"))
		if got, want := qjson.HashBucket(key), refBucket(key); got != want {
			t.Fatalf("HashBucket(%q) = %d, want %d", key, got, want)
		}
	})
}

// Spec 6.4: members are written in bucket order, and within one bucket the
// most recently inserted first.
func TestMemberOrder(t *testing.T) {
	one := qjson.IntValue(1)
	v := obj("b", qjson.IntValue(1), "a", qjson.IntValue(2), "id", qjson.IntValue(3), "execute", qjson.IntValue(4), "return", qjson.IntValue(5))
	want := `{"a": 2, "execute": 4, "b": 1, "return": 5, "id": 3}`
	if got := string(qjson.AppendValue(nil, v)); got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	evs := feedAll(t, qjson.NewDecoder(), []byte(`{"b":1,"a":2,"id":3,"execute":4,"return":5}`))
	if len(evs) != 1 || evDesc(evs[0]) != val(want) {
		t.Errorf("parsed and serialized: %v", descs(evs))
	}
	for _, c := range []struct {
		v    qjson.Value
		want string
	}{
		{obj("id", one, "return", one), `{"return": 1, "id": 1}`},
		{obj("error", obj("desc", one, "class", one), "id", one), `{"id": 1, "error": {"class": 1, "desc": 1}}`},
		{obj("supported_commands", one, "version", one), `{"version": 1, "supported_commands": 1}`},
		{obj("success-response", one, "name", one, "enabled", one), `{"enabled": 1, "name": 1, "success-response": 1}`},
		{obj("foo", one, "execute", one), `{"execute": 1, "foo": 1}`},
		{obj("execute", one, "bogus", one), `{"bogus": 1, "execute": 1}`},
		{obj("arguments", one, "exec-oob", one, "control", one, "x", one, "", one),
			`{"": 1, "x": 1, "exec-oob": 1, "control": 1, "arguments": 1}`},
	} {
		if got := string(qjson.AppendValue(nil, c.v)); got != c.want {
			t.Errorf("got %s, want %s", got, c.want)
		}
	}

	// two keys in one bucket: the later one comes first
	var k1, k2 string
	seen := map[int]string{}
	for i := 0; k2 == ""; i++ {
		k := string(rune('a'+i%26)) + string(rune('a'+i/26%26)) + string(rune('a'+i/676%26))
		if prev, ok := seen[refBucket(k)]; ok {
			k1, k2 = prev, k
		}
		seen[refBucket(k)] = k
	}
	for _, c := range []struct {
		v    qjson.Value
		want string
	}{
		{obj(k1, qjson.IntValue(1), k2, qjson.IntValue(2)), `{"` + k2 + `": 2, "` + k1 + `": 1}`},
		{obj(k2, qjson.IntValue(2), k1, qjson.IntValue(1)), `{"` + k1 + `": 1, "` + k2 + `": 2}`},
	} {
		if got := string(qjson.AppendValue(nil, c.v)); got != c.want {
			t.Errorf("same bucket %d: got %s, want %s", refBucket(k1), got, c.want)
		}
	}

	// AppendHashOrder against the reference, for many members
	rapid.Check(t, func(t *rapid.T) {
		keys := rapid.SliceOfNDistinct(rapid.StringN(0, 4, -1), 0, 40, rapid.ID[string]).Draw(t, "keys")
		ms := make([]qjson.Member, len(keys))
		for i, k := range keys {
			ms[i] = qjson.Member{Key: k, Value: qjson.IntValue(int64(i))}
		}
		order := qjson.AppendHashOrder([]int{-1}, ms)
		if len(order) != len(ms)+1 || order[0] != -1 {
			t.Fatalf("AppendHashOrder returned %v", order)
		}
		order = order[1:]
		used := make([]bool, len(ms))
		for j, i := range order {
			if i < 0 || i >= len(ms) || used[i] {
				t.Fatalf("order %v is not a permutation", order)
			}
			used[i] = true
			if j == 0 {
				continue
			}
			p := order[j-1]
			bp, bi := refBucket(keys[p]), refBucket(keys[i])
			if bp > bi || (bp == bi && p < i) {
				t.Fatalf("%q (bucket %d, #%d) before %q (bucket %d, #%d)", keys[p], bp, p, keys[i], bi, i)
			}
		}
		// and the serializer follows it
		var want strings.Builder
		want.WriteByte('{')
		for j, i := range order {
			if j > 0 {
				want.WriteString(", ")
			}
			want.Write(qjson.AppendString(nil, keys[i]))
			want.WriteString(": ")
			want.Write(qjson.AppendValue(nil, qjson.IntValue(int64(i))))
		}
		want.WriteByte('}')
		if got := string(qjson.AppendValue(nil, qjson.ObjectValue(ms...))); got != want.String() {
			t.Fatalf("serialized %s, want %s", got, want.String())
		}
	})
}

func TestFinite(t *testing.T) {
	for in, want := range map[string]bool{
		`[1, 2.5, "x", {"a": null}]`: true,
		`1e999 `:                     false,
		`[1, {"a": [-1e999]}]`:       false,
		`{"a": 1.5e308}`:             true,
	} {
		v := parseOne(t, []byte(in))
		if got := v.Finite(); got != want {
			t.Errorf("%s: Finite() = %v, want %v", in, got, want)
		}
		if want {
			if back := parseOne(t, append(qjson.AppendValue(nil, v), ' ')); !qjson.Equal(back, v) {
				t.Errorf("%s: a finite value does not parse back", in)
			}
		}
	}
}

// parseOne parses in, which must hold exactly one value.
func parseOne(t *testing.T, in []byte) qjson.Value {
	t.Helper()
	evs := feedAll(t, qjson.NewDecoder(), in)
	if len(evs) != 1 || evs[0].Err != nil {
		t.Fatalf("%q: events %v, want one value", in, evs)
	}
	return evs[0].Value
}
