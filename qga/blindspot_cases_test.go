package qga_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"unicode/utf16"
)

// errorTextCases: long texts in error replies (parse error messages are cut
// at 1023 bytes, others are not).
func errorTextCases() []bsCase {
	var cs []bsCase
	add := func(c ...bsCase) { cs = append(cs, c...) }
	for _, n := range []int{1000, 1004, 1005, 1006, 1007, 3000} {
		add(one("stray-long-string-"+strconv.Itoa(n), `"`+rep("a", n)+"\x01"))
		add(one("invalid-keyword-"+strconv.Itoa(n), rep("a", n)+" "))
	}
	add(one("stray-long-utf8", `"`+rep("\xc3\xa9", 600)+"\x01"))
	add(one("stray-long-utf8-odd", `"a`+rep("\xc3\xa9", 600)+"\x01"))
	add(one("stray-long-3byte", `"`+rep("\xe2\x82\xac", 400)+"\x01"))
	add(one("stray-long-3byte-1", `"a`+rep("\xe2\x82\xac", 400)+"\x01"))
	add(one("stray-long-3byte-2", `"ab`+rep("\xe2\x82\xac", 400)+"\x01"))
	add(one("stray-long-num", "-"+rep("1", 2000)+".x"))
	add(one("cmd-long-name", `{"execute":"`+rep("x", 5000)+`"}`))
	add(one("member-long-name", `{"execute":"guest-ping","`+rep("y", 5000)+`":1}`))
	add(one("arg-long-name", `{"execute":"guest-ping","arguments":{"`+rep("z", 5000)+`":1}}`))
	add(one("long-bad-unicode", `{"execute":"`+rep("a", 3000)+`\ud800"}`))
	return cs
}

func syncReq(id string) string {
	return `{"execute":"guest-sync","arguments":{"id":` + id + `}}`
}

func delim(id string) string {
	return `{"execute":"guest-sync-delimited","arguments":{"id":` + id + `}}`
}

func pingID(id string) string {
	return `{"execute":"guest-ping","id":` + id + `}`
}

// edgeNumbers are number tokens at the edges of int64, uint64 and double,
// long ones (strtod reads every digit), and malformed ones.
var edgeNumbers = []string{
	"0", "-0", "1", "-1", "0.0", "-0.0", "-0.0e0", "0e0", "0.0e-0", "1e0", "1E0", "1e+0", "1e-0",
	"9223372036854775807", "9223372036854775806", "9223372036854775808",
	"-9223372036854775808", "-9223372036854775807", "-9223372036854775809",
	"18446744073709551615", "18446744073709551614", "18446744073709551616", "-18446744073709551615",
	"-18446744073709551616", "99999999999999999999", "100000000000000000000",
	"123456789012345678", "1234567890123456789", "12345678901234567890", "123456789012345678901",
	"999999999999999999", "-999999999999999999", "1000000000000000000", "-1000000000000000000",
	"1e400", "-1e400", "1e-400", "-1e-400", "1e308", "1.7976931348623157e308", "1.7976931348623158e308",
	"1.7976931348623159e308", "-1.7976931348623159e308", "4.9e-324", "5e-324", "2.4703282292062327e-324",
	"2.4703282292062328e-324", "2.2250738585072011e-308", "2.2250738585072014e-308",
	"1e99999999999999999999", "1e-99999999999999999999", "1e0000000000000000000000001",
	"0.1", "0.2", "0.3", "1e23", "8.98846567431158e307", "9007199254740993", "9007199254740992",
	"9007199254740993.0", "9007199254740995", "1.00000000000000011102230246251565404236316680908203125",
	"1.00000000000000011102230246251565404236316680908203124", "1.00000000000000011102230246251565404236316680908203126",
	"1e16", "1e17", "1e-4", "1e-5", "0.0001", "0.00001", "123456789e-13", "1.5E-3", "2E3", "-2.5e+10",
	"1" + rep("0", 308), "1" + rep("0", 309), "-1" + rep("0", 309), "17976931348623158" + rep("0", 292),
	"17976931348623157" + rep("0", 292), "179769313486231580793728971405303415079934132710037826936173778980444968292764750946649017977587207096330286416692887910946555547851940402630657488671505820681908902000708383676273854845817711531764475730270069855571366959622842914819860834936475292719074168444365510704342711559699508093042880177904174497791",
	"179769313486231580793728971405303415079934132710037826936173778980444968292764750946649017977587207096330286416692887910946555547851940402630657488671505820681908902000708383676273854845817711531764475730270069855571366959622842914819860834936475292719074168444365510704342711559699508093042880177904174497792",
	"1.00000000000000011102230246251565404236316680908203125" + rep("0", 900) + "1",
	"1.00000000000000011102230246251565404236316680908203125" + rep("0", 900),
	"0." + rep("0", 400) + "1e400", rep("9", 400) + "e-400", "1" + rep("0", 1000) + "e-1000",
	"0." + rep("0", 20000) + "1e20001", "1" + rep("0", 20000) + "e-20000", "1" + rep("0", 20000) + "e-20001",
	"-1" + rep("0", 20000) + "e-20000", "1e" + rep("0", 20000) + "5", "1e-" + rep("0", 20000) + "5",
	"1" + rep("0", 900) + "5e-900", rep("9", 1000) + "e-1000", rep("9", 1000) + ".5e-1000", rep("1234567890", 100) + "e-990",
	"1." + rep("0", 1000), "0." + rep("0", 1000) + "1", "1" + rep("0", 801) + ".5e-801", "1" + rep("0", 799) + ".5e-799",
	"1" + rep("0", 800) + "e-800", "1" + rep("0", 801) + "e-801", "1e-" + rep("9", 30), "1e" + rep("9", 30),
	"0." + rep("0", 330) + "1e331", "0." + rep("0", 10010) + "1e10000", "1" + rep("0", 20000),
	"0.000001", "1234567.0", "-0.5e+1", "1.e5", "1.", ".5", "-", "--1", "-a", "+1", "01", "-01", "00", "0x10", "1e", "1e+", "1e-", "1ee1", "1.5.5", "1e5.5",
}

// numberCases puts edgeNumbers where qemu-ga reads numbers: as guest-sync
// and guest-sync-delimited ids (int64 only), as an echoed id (re-serialized
// with "%.17g"), at the top level with each kind of look-ahead byte.
func numberCases() []bsCase {
	var cs []bsCase
	add := func(c ...bsCase) { cs = append(cs, c...) }
	for i, n := range edgeNumbers {
		add(one("num-sync-"+strconv.Itoa(i), syncReq(n)))
		add(one("num-delim-"+strconv.Itoa(i), delim(n)))
		add(one("num-echo-"+strconv.Itoa(i), pingID(n)))
		add(one("num-echo-arr-"+strconv.Itoa(i), pingID("["+n+","+n+"]")))
		add(one("num-top-"+strconv.Itoa(i), n+" "))
		add(one("num-top-nul-"+strconv.Itoa(i), n+"\x00"))
		add(one("num-top-brace-"+strconv.Itoa(i), n+"}"))
	}
	// Random doubles of every magnitude (subnormals too), echoed: the
	// reply prints them like C's "%.17g".
	r := rand.New(rand.NewPCG(5, 6))
	for i := range 20 {
		var parts []string
		for range 100 {
			f := math.Float64frombits(r.Uint64())
			if math.IsNaN(f) || math.IsInf(f, 0) {
				continue
			}
			parts = append(parts, strconv.FormatFloat(f, "eg"[r.IntN(2)], -1, 64), strconv.FormatFloat(f, 'e', 16, 64))
		}
		add(one("num-random-doubles-"+strconv.Itoa(i), pingID("["+strings.Join(parts, ",")+"]")))
	}
	return cs
}

// stringBodies are string bodies (between the quotes) with unusual bytes
// and escapes.
var stringBodies = []string{
	`\u0000`, "\xc0\x80", `a\u0000b`, `\ud800`, `\udbff`, `\udc00`, `\udfff`, `\ud800\udc00`, `\udbff\udfff`,
	`\udbff\udffd`, `\ud83d\ude00`, `\ud83f\udffe`, `\ud83f\udfff`, `\ud87f\udffe`, `\udbbf\udfff`, `\udbff\udffe`,
	`\uDBFF\uDFFF`, `\udbff\udfffabc`, `\udbff\udfff\u0041`, `\udbff\udfff\ud800`, `a\udbff\udfff`, `\ud800\udfff`,
	`\ud800\u0000`, `\ud800\uffff`, `\ud800\uDC0`, `\uD83D\uDE00`, `\ud800\ud800`, `\udc00\ud800`, `\ud800\u0041`, `\ud800x`,
	`\ud800\n`, `\ud800\\`, `\ud800\u`, `\ud800\ud`, `\ud800\udc0`, `\ud800\udcxx`, `\ud800\u12G4`, `\u`, `\u1`,
	`\u12`, `\u123`, `\u123G`, `\uGGGG`, `\U0041`, `\x41`, `\a`, `\0`, `\ `, `\'`, `\"`, `\/`, `\\`, `\b\f\n\r\t`,
	`\ufffe`, `\uffff`, `\ufdd0`, `\ufdef`, `\ufdcf`, `\ufdf0`, `\ufffd`, `\u007f`, `\u0080`, `\u00ff`, `\u0100`,
	`\u07ff`, `\u0800`, `\uabcd`, `\uABCD`, `\uAbCd`, `\u001f`, `\u0020`, `\u0022`, `\u005c`, `\u0027`,
	"\x7f", "\xc2\x80", "\xc2\x7f", "\xc1\xbf", "\xc0\xaf", "\xc0\x81", "\xe0\x80\x80", "\xe0\x9f\xbf", "\xe0\xa0\x80",
	"\xed\x9f\xbf", "\xed\xa0\x80", "\xed\xbf\xbf", "\xee\x80\x80", "\xef\xbf\xbd", "\xef\xbf\xbe", "\xef\xbf\xbf",
	"\xef\xb7\x90", "\xef\xb7\xaf", "\xef\xb7\x8f", "\xef\xb7\xb0", "\xf0\x80\x80\x80", "\xf0\x8f\xbf\xbf",
	"\xf0\x90\x80\x80", "\xf0\x9f\xbf\xbe", "\xf0\x9f\xbf\xbf", "\xf4\x8f\xbf\xbd", "\xf4\x8f\xbf\xbe", "\xf4\x90\x80\x80",
	"\xf5\x80\x80\x80", "\xf7\xbf\xbf\xbf", "\xf8\x88\x80\x80\x80", "\xfb\xbf\xbf\xbf\xbf", "\xfc\x84\x80\x80\x80\x80",
	"\xfd\xbf\xbf\xbf\xbf\xbf", "\xfc\x80\x80\x80\x80\x80", "\xf8\x80\x80\x80\x80", "\x80", "\xbf", "\xc3", "\xe2\x82",
	"\xf0\x9f\x98", "\xc3a", "\xe2\x82a", "\xc3\xc3\xa9", "a\xfdb", "\xfd", "\xfc", "\xf8", "\xc0", "\xc1", "%s", "%d",
	"\\\xc3\xa9", "\\\x7f", "\\\x80", "\\\xfd", `'`, `"`,
}

// stringCases puts stringBodies in every place a string goes, and each
// byte value after every lexer state.
func stringCases() []bsCase {
	ping := `{"execute":"guest-ping"}`
	var cs []bsCase
	add := func(c ...bsCase) { cs = append(cs, c...) }
	for i, b := range stringBodies {
		n := strconv.Itoa(i)
		dq := `"` + b + `"`
		sq := `'` + b + `'`
		if b == `"` {
			dq = `"\""`
		}
		if b == `'` {
			sq = `'\''`
		}
		add(one("str-echo-dq-"+n, pingID(dq)))
		add(one("str-echo-sq-"+n, pingID(sq)))
		add(one("str-cmd-"+n, `{"execute":`+dq+`}`))
		add(one("str-member-"+n, `{"execute":"guest-ping",`+dq+`:1}`))
		add(one("str-arg-"+n, `{"execute":"guest-ping","arguments":{`+dq+`:1}}`))
		add(one("str-top-"+n, dq))
		// The error token of an unterminated string renders its bytes.
		add(one("str-stray-"+n, `"`+b+"\x01"))
		add(one("str-stray-sq-"+n, `'`+b+"\x01"))
		add(one("str-ff-"+n, `"`+b+"\xff"))
		add(one("str-nul-"+n, `"`+b+"\x00"))
	}
	// Random code points, escaped and raw, echoed: the reply escapes all
	// but printable ASCII.
	r := rand.New(rand.NewPCG(7, 8))
	for i := range 20 {
		var esc, raw strings.Builder
		for range 200 {
			c := rune(r.IntN(0x110000))
			if i < 10 {
				c = rune(r.IntN(0x10000))
			}
			if c >= 0xD800 && c <= 0xDFFF || c >= 0xFDD0 && c <= 0xFDEF || c&0xFFFE == 0xFFFE {
				continue
			}
			if c > 0xFFFF {
				c1, c2 := utf16.EncodeRune(c)
				fmt.Fprintf(&esc, `\u%04x\u%04X`, c1, c2)
			} else {
				fmt.Fprintf(&esc, `\u%04x`, c)
			}
			if c == '"' || c == '\\' || c < 0x20 {
				c = 'q'
			}
			raw.WriteRune(c)
		}
		add(one("str-random-esc-"+strconv.Itoa(i), pingID(`"`+esc.String()+`"`)))
		add(one("str-random-raw-"+strconv.Itoa(i), pingID(`"`+raw.String()+`"`)))
	}
	// Raw bytes outside strings and in recovery.
	for c := 0; c < 256; c++ {
		b := string([]byte{byte(c)})
		add(one("byte-top-"+strconv.Itoa(c), b+ping))
		add(one("byte-recover-"+strconv.Itoa(c), "\xff"+b+ping))
		add(one("byte-after-num-"+strconv.Itoa(c), "12"+b+" "))
		add(one("byte-after-kw-"+strconv.Itoa(c), "true"+b+" "))
		add(one("byte-in-obj-"+strconv.Itoa(c), `{"execute":`+b+`"guest-ping"}`))
		add(one("byte-after-minus-"+strconv.Itoa(c), "-"+b+" "))
		add(one("byte-after-e-"+strconv.Itoa(c), "1e"+b+" "))
		add(one("byte-after-dot-"+strconv.Itoa(c), "1."+b+" "))
		add(one("byte-after-zero-"+strconv.Itoa(c), "0"+b+" "))
		add(one("byte-after-esc-"+strconv.Itoa(c), `"\`+b+`"`))
		add(one("byte-in-str-"+strconv.Itoa(c), `"`+b+`"`))
	}
	return cs
}

// idValues are JSON values of every type, for ids and arguments.
var idValues = []string{
	"null", "true", "false", "0", "-0", "1", "-1", "0.5", "1e3", `""`, `"7"`, `''`, `'x"y'`, `"\u0000"`, "[]", "{}",
	"[1]", `{"id":1}`, `{"b":1,"a":2}`, `[[[]]]`, `[{},[],null]`, `{"":{"":[]}}`, `"\ud83d\ude00"`, "\"\xf4\x8f\xbf\xbd\"",
	"9223372036854775807", "-9223372036854775808", "9223372036854775808", "18446744073709551616", "1e400", "-1e400",
}

// dispatchCases sends values of every type where the dispatcher looks:
// ids, arguments, execute, exec-oob and other members; several bad
// members at once; duplicate keys spelt differently.
func dispatchCases() []bsCase {
	var cs []bsCase
	add := func(c ...bsCase) { cs = append(cs, c...) }
	for i, v := range idValues {
		n := strconv.Itoa(i)
		add(one("id-sync-arg-"+n, syncReq(v)))
		add(one("id-delim-arg-"+n, delim(v)))
		add(one("id-sync-top-"+n, `{"execute":"guest-sync","arguments":{"id":1},"id":`+v+`}`))
		add(one("id-delim-top-"+n, `{"execute":"guest-sync-delimited","arguments":{"id":1},"id":`+v+`}`))
		add(one("id-delim-err-"+n, `{"execute":"guest-sync-delimited","id":`+v+`}`))
		add(one("id-info-"+n, `{"execute":"guest-info","id":`+v+`}`))
		add(one("id-nocmd-"+n, `{"id":`+v+`}`))
		add(one("id-badcmd-"+n, `{"execute":"nope","id":`+v+`}`))
		add(one("args-ping-"+n, `{"execute":"guest-ping","arguments":`+v+`}`))
		add(one("args-sync-"+n, `{"execute":"guest-sync","arguments":`+v+`}`))
		add(one("exec-"+n, `{"execute":`+v+`}`))
		add(one("exec-id-"+n, `{"execute":`+v+`,"id":5}`))
		add(one("oob-"+n, `{"exec-oob":`+v+`}`))
		add(one("oob-exec-"+n, `{"execute":"guest-ping","exec-oob":`+v+`}`))
		add(one("control-"+n, `{"execute":"guest-ping","control":`+v+`}`))
		add(one("info-arg-"+n, `{"execute":"guest-info","arguments":{"x":`+v+`}}`))
		add(one("top-"+n, v+" "))
		add(one("top-ws-"+n, v+"\n"))
	}
	// Members beyond execute, arguments and id, several at once.
	names := []string{"exec-oob", "control", "foo", "bogus", "x", "a", "", "Execute", "ID", "arguments ", "execute\u0000",
		"\u00fc", "return", "error", "class", "desc", "id2", "qwertyuiop", "\x7f"}
	for i, a := range names {
		for j, b := range names {
			if i >= j {
				continue
			}
			add(one("bad-members-"+strconv.Itoa(i)+"-"+strconv.Itoa(j),
				`{"`+a+`":1,"execute":"guest-ping","`+b+`":2}`))
		}
		add(one("bad-member-exec1-"+strconv.Itoa(i), `{"`+a+`":1,"execute":1}`))
		add(one("bad-member-args-"+strconv.Itoa(i), `{"`+a+`":1,"execute":"guest-ping","arguments":1}`))
		add(one("bad-member-noexec-"+strconv.Itoa(i), `{"`+a+`":1,"id":1}`))
	}
	// Duplicate keys, also through escapes and quote styles.
	for i, d := range []string{
		`{"execute":"guest-ping","execute":"guest-ping"}`,
		`{"execute":"guest-ping",'execute':"guest-ping"}`,
		`{"execute":"guest-ping","\u0065xecute":"guest-ping"}`,
		`{"execute":"guest-ping","id":{"a":1,"a":1}}`,
		`{"execute":"guest-ping","id":[{"a":1,"b":2,"a":3}]}`,
		`{"execute":"guest-ping","id":{"\u0000":1,"` + "\xc0\x80" + `":2}}`,
		`{"execute":"guest-ping","id":{"\u0000":1,"\u0000\u0000":2}}`,
		`{"execute":"guest-sync","arguments":{"id":1,"id":1}}`,
		`{"execute":"guest-sync","arguments":{"id":1,"\u0069d":1}}`,
		`{"execute":"guest-ping","id":{"a":1,"a":[1 2]}}`,
		`{"execute":"guest-ping","id":{"a":1,"a":}}`,
		`{"execute":"guest-ping","id":{"a":1,"a":"\ud800"}}`,
		`{"execute":"guest-ping","id":{"a":"\ud800","a":1}}`,
		`{"execute":"guest-ping","id":{"a":1,"a":1},"execute":1}`,
		`{"a":{"b":1,"b":2},"a":3}`,
		`{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":10,"k":11,"l":12,"m":13,"n":14,"o":15,"p":16,"q":17,"r":18,"s":19,"t":20,"u":21,"v":22,"w":23,"x":24,"y":25,"z":26,"aa":27,"bb":28,"cc":29,"dd":30,"ee":31,"ff":32,"gg":33,"\u0061":34}`,
		`{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":10,"k":11,"l":12,"m":13,"n":14,"o":15,"p":16,"q":17,"r":18,"s":19,"t":20,"u":21,"v":22,"w":23,"x":24,"y":25,"z":26,"aa":27,"bb":28,"cc":29,"dd":30,"ee":31,"ff":32,"gg":33,"\u0000":34,"` + "\xc0\x80" + `":35}`,
	} {
		add(one("dup-"+strconv.Itoa(i), d))
	}
	return cs
}

// keyFamilies name the members of generated objects.
var keyFamilies = []func(r *rand.Rand, i int) string{
	func(r *rand.Rand, i int) string { return "k" + strconv.Itoa(i) },
	func(r *rand.Rand, i int) string {
		b := make([]byte, 1+r.IntN(12))
		for j := range b {
			b[j] = "abcdefghijklmnopqrstuvwxyz-_0123456789"[r.IntN(38)]
		}
		return string(b) + strconv.Itoa(i)
	},
	func(r *rand.Rand, i int) string {
		parts := []string{"a", "Z", "\xc3\xa9", `\u0000`, "\xc0\x80", `\n`, "\xf0\x9f\x98\x80", "\x7f", `\\`, "~", " "}
		s := ""
		for n := r.IntN(5); n >= 0; n-- {
			s += parts[r.IntN(len(parts))]
		}
		return s + strconv.Itoa(i)
	},
}

func objectOf(r *rand.Rand, n int, family func(*rand.Rand, int) string, extra ...string) string {
	parts := append([]string(nil), extra...)
	for i := range n {
		parts = append(parts, `"`+family(r, i)+`":`+strconv.Itoa(i))
	}
	r.Shuffle(len(parts), func(i, j int) { parts[i], parts[j] = parts[j], parts[i] })
	return "{" + strings.Join(parts, ",") + "}"
}

// objectCases sends objects of many sizes, up to past several resizes of
// the GLib table that orders unexpected arguments and past the 512 buckets
// of the dictionary that orders members.
func objectCases() []bsCase {
	var cs []bsCase
	add := func(c ...bsCase) { cs = append(cs, c...) }
	r := rand.New(rand.NewPCG(1, 2))
	sizes := []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 23, 24, 25, 29, 30, 31, 32, 33, 47, 48, 49,
		59, 60, 61, 62, 63, 64, 95, 96, 119, 120, 121, 122, 191, 192, 239, 240, 241, 242, 479, 480, 481, 482,
		959, 960, 961, 962, 1919, 1920, 1921, 3840, 3841, 5000}
	for f, fam := range keyFamilies {
		for _, n := range sizes {
			name := strconv.Itoa(f) + "-" + strconv.Itoa(n)
			add(one("args-sync-"+name, `{"execute":"guest-sync","arguments":`+objectOf(r, n, fam, `"id":1`)+`}`))
			add(one("args-sync-noid-"+name, `{"execute":"guest-sync","arguments":`+objectOf(r, n, fam)+`}`))
			add(one("args-ping-"+name, `{"execute":"guest-ping","arguments":`+objectOf(r, n, fam)+`}`))
			add(one("echo-obj-"+name, pingID(objectOf(r, n, fam))))
			add(one("members-"+name, objectOf(r, n, fam, `"execute":"guest-ping"`)))
		}
	}
	return cs
}

// streamCases: whitespace and control bytes everywhere, many values in one
// write, reconnects inside tokens.
func streamCases() []bsCase {
	var cs []bsCase
	add := func(c ...bsCase) { cs = append(cs, c...) }
	ping := `{"execute":"guest-ping"}`
	// Whitespace and control bytes between and inside values.
	for c := 0; c < 0x21; c++ {
		b := string([]byte{byte(c)})
		n := strconv.Itoa(c)
		add(one("ws-between-"+n, ping+b+ping))
		add(one("ws-inside-"+n, `{`+b+`"execute"`+b+`:`+b+`"guest-ping"`+b+`}`))
		add(one("ws-after-colon-"+n, `{"execute":`+b+`"guest-ping"}`))
		add(one("ws-number-"+n, `1`+b+`2`+b))
		add(one("ws-kw-"+n, `null`+b+`true`+b))
		add(one("ws-sync-"+n, `{"execute":"guest-sync","arguments":{"id":12`+b+`}}`))
		add(one("ws-repeat-"+n, rep(b, 100)+ping+rep(b, 100)))
	}
	add(one("ws-mix", " \t\r\n"+ping+"\r\n\t "+ping+"\n\n\r\r\t\t  "))
	add(one("ws-crcrlf", "\r\r\n"+ping+"\r"))
	add(one("nul-in-request", "{\"execute\"\x00:\"guest-ping\"}"+ping))
	add(one("nul-many", rep("\x00", 50)+ping))
	add(one("ff-many", rep("\xff", 50)+ping))
	add(one("ff-fe-mix", "\xfe\xff\xfe"+ping+"\xfe"))
	add(one("ctrl-many", "\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c\x0e\x0f\x10\x1f\x7f"+ping))
	// Many values in one write.
	add(one("many-pings", rep(ping, 500)))
	add(one("many-syncs", func() string {
		var b strings.Builder
		for i := range 300 {
			b.WriteString(syncReq(strconv.Itoa(i)) + delim(strconv.Itoa(-i)))
		}
		return b.String()
	}()))
	add(one("many-scalars", rep("1 ", 300)+rep("null\n", 300)+rep(`"s"`, 300)+rep("[]", 300)+rep("{}", 300)))
	add(one("many-errors", rep("]", 300)+rep(":", 300)+rep(",", 300)+rep("}", 300)))
	add(one("many-stray", rep("\x01", 300)+rep("x1 ", 300)))
	add(one("many-mixed", rep(ping+"\xff"+`{"execute":"nope"}`+"1 \x00"+`[1 2]`, 200)))
	add(one("info-many", rep(`{"execute":"guest-info"}`, 50)))
	// Reconnects in the middle of tokens.
	for i, parts := range [][]string{
		{`{"execute":"guest-`, "", `ping"}`},
		{`{"execute":"guest-ping"}1`, "", ` `},
		{`tru`, "", "e "},
		{"\xff", "", "1 " + ping},
		{`{"execute":"guest-sync","arguments":{"id":12`, "", `34}}`},
		{`"\u00`, "", `41"`},
		{"\"\xc3", "", "\xa9\""},
		{`-`, "", `1 `},
		{`1e`, "", `5 `},
		{rep("[", 1000), "", rep("[", 30)},
	} {
		c := bsCase{name: "reconnect-" + strconv.Itoa(i)}
		for _, p := range parts {
			if p == "" {
				c.ops = append(c.ops, bsOp{Reconnect: true})
			} else {
				c.ops = append(c.ops, bsOp{Data: []byte(p)})
			}
		}
		add(c)
	}
	return cs
}

// limitCases: nesting depth and token count at, below and above their
// limits.
func limitCases() []bsCase {
	var cs []bsCase
	add := func(c ...bsCase) { cs = append(cs, c...) }
	ping := `{"execute":"guest-ping"}`
	// Depth: exactly at, one below and one above, as arrays, objects and
	// both, in a request, split across writes and across a flush.
	for _, d := range []int{1023, 1024, 1025, 1026, 1030} {
		n := strconv.Itoa(d)
		add(one("depth-arr-"+n, rep("[", d)+rep("]", d)))
		add(one("depth-obj-"+n, rep(`{"a":`, d-1)+"{}"+rep("}", d-1)))
		add(one("depth-mixed-"+n, rep(`[{"a":`, d/2)+rep("[", d%2)+rep("]", d%2)+rep("}]", d/2)))
		add(one("depth-open-"+n, rep("[", d)))
		add(one("depth-open-obj-"+n, rep("{", d)+"}"))
		add(one("depth-req-"+n, `{"execute":"guest-ping","id":`+rep("[", d-1)+rep("]", d-1)+`}`))
		add(one("depth-req-obj-"+n, `{"execute":"guest-ping","id":`+rep(`{"a":`, d-2)+"{}"+rep("}", d-2)+`}`))
		add(one("depth-args-"+n, `{"execute":"guest-ping","arguments":`+rep(`{"a":`, d-1)+"1"+rep("}", d-1)+`}`))
		add(writes("depth-split-"+n, rep("[", d/2), rep("[", d-d/2)+rep("]", d)))
		add(one("depth-flush-"+n, rep("[", 1000)+"\xff"+rep("[", d)+rep("]", d)))
		add(one("depth-flush-nl-"+n, rep("[", 1000)+"\xff\n"+rep("[", d)+rep("]", d)))
		add(one("depth-then-"+n, rep("[", d)+"]]]"+ping+"]"+ping))
		add(one("depth-after-err-"+n, "[1 2"+rep("[", d)+rep("]", d+1)))
		add(one("depth-neg-"+n, rep("[", d-1)+"}"+ping))
		add(one("depth-tail-"+n, rep("[", d)+"1,2]"+ping))
		add(one("depth-tail-str-"+n, rep("[", d)+`"abc"`+ping))
	}
	// Token count: 2097152 tokens pass, the 2097153rd trips; the check is
	// per message and a flush resets it.
	count := func(n int) string { // a message of exactly n tokens, n odd >= 3
		return "[" + rep("1,", (n-3)/2) + "1]"
	}
	big := func(name string, parts func() []string) {
		cs = append(cs, bsCase{name: name, big: true, lazy: func() []bsOp { return writes(name, parts()...).ops }})
	}
	big("count-at", func() []string { return []string{"[" + rep("1,", 1048574) + "[]]" + ping} })
	big("count-over", func() []string { return []string{count(2097153) + ping} })
	big("count-trip-on-number", func() []string { return []string{"[" + rep("1,", 1048575) + "12345", ",6]" + ping} })
	big("count-flush", func() []string {
		return []string{"[" + rep("1,", 1048000) + "\xff" + "[" + rep("1,", 1000) + "1]" + ping}
	})
	// One token that trips two limits: the first check in qemu-ga's order
	// (size, count, depth) names the error. Here the ',' is the 2097153rd
	// token and brings the size to 64 MiB + 1 (2097151 one-byte tokens and
	// a string of 64 MiB - 2097152 bytes before it)...
	big("size-and-count-same-token", func() []string {
		return []string{"[" + rep("1,", 1048575) + `"` + rep("a", maxToken-2097152-2) + `",1]` + ping}
	})
	// ...and here the 2097153rd token is the 1025th opener.
	big("count-and-depth-same-token", func() []string {
		return []string{rep("[", 1023) + rep("1,", 1048064) + "[[]]" + ping}
	})
	return cs
}

const maxToken = 64 << 20

// sizeCases: the 64 MiB token size limit, in the streamer and the lexer.
func sizeCases() []bsCase {
	var cs []bsCase
	add := func(name string, parts func() []string) {
		cs = append(cs, bsCase{name: name, big: true, lazy: func() []bsOp { return writes(name, parts()...).ops }})
	}
	ping := `{"execute":"guest-ping"}`
	// A string token of 64 MiB - 1 bytes passes; one more trips the
	// streamer's size check; one more again is cut by the lexer, whose
	// closing quote then opens a string.
	add("size-str-at", func() []string { return []string{`"` + rep("a", maxToken-3) + `"` + ping} })
	add("size-str-over", func() []string { return []string{`"` + rep("a", maxToken-2) + `"` + ping} })
	add("size-str-cut", func() []string { return []string{`"` + rep("a", maxToken), `"` + ping} })
	// Cut inside an escape and inside a UTF-8 sequence.
	add("size-esc-cut", func() []string { return []string{`"` + rep("a", maxToken-2) + `\n"` + ping} })
	add("size-utf8-cut", func() []string { return []string{`"` + rep("a", maxToken-2) + "\xc3\xa9\"" + ping} })
	// Keywords and numbers are cut after 64 MiB + 1 bytes.
	add("size-kw-cut", func() []string { return []string{rep("a", maxToken+1) + "b " + ping} })
	add("size-num-cut", func() []string { return []string{"-" + rep("1", maxToken) + "23 " + ping} })
	// A flush resets the size; recovery mode collects nothing.
	add("size-flush", func() []string {
		return []string{`["` + rep("a", 40<<20) + `",` + "\xff" + `"` + rep("b", 40<<20) + `"` + ping}
	})
	add("size-recovery", func() []string { return []string{"\xff" + rep("a", maxToken+100) + "\n" + ping} })
	return cs
}
