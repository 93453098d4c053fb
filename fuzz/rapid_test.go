package fuzz_test

import (
	"strconv"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/qgafuzz/qgafuzz/fuzz"
	"github.com/qgafuzz/qgafuzz/qga/qgatest"
)

// Property tests of the same properties as the fuzz targets, with
// structured inputs from rapid generators: JSON values and requests in
// qemu-ga's input language, cut at generated split points, agent streams
// for the client, and scenarios. Each property runs the target's body
// (fuzz.Run), so a failure is the same Failure as under any engine.
// rapid shrinks failures and saves them under testdata/rapid/; replay one
// with -rapid.failfile=PATH. The FuzzRapid* functions bridge the same
// generators into native fuzzing (rapid.MakeFuzz):
//
//	go test -run '^$' -fuzz '^FuzzRapidParser$' -fuzztime 30s ./fuzz/

// genJSON generates JSON text in qemu-ga's input language, sometimes
// slightly wrong (which is what the parser must handle).
func genJSON(depth int) *rapid.Generator[string] {
	scalar := rapid.OneOf(
		rapid.SampledFrom([]string{"null", "true", "false", "0", "-0", "1.5e3", "1e400", "-1e999", "0.1",
			"9223372036854775807", "9223372036854775808", "-9223372036854775809", "18446744073709551616",
			"2147483648", "4294967296", "-2147483649"}),
		rapid.Custom(func(t *rapid.T) string { return strconv.FormatInt(rapid.Int64().Draw(t, "int"), 10) }),
		rapid.Custom(func(t *rapid.T) string { return genString(t) }),
	)
	if depth <= 0 {
		return scalar
	}
	return rapid.OneOf(scalar,
		rapid.Custom(func(t *rapid.T) string {
			elems := rapid.SliceOfN(genJSON(depth-1), 0, 4).Draw(t, "elems")
			return "[" + strings.Join(elems, rapid.SampledFrom([]string{",", ", ", " ,\n"}).Draw(t, "sep")) + "]"
		}),
		rapid.Custom(func(t *rapid.T) string {
			keys := rapid.SliceOfNDistinct(rapid.SampledFrom([]string{"a", "b", "id", "execute", "arguments", "", "x\\u0000"}), 0, 4, func(s string) string { return s }).Draw(t, "keys")
			var ms []string
			for _, k := range keys {
				ms = append(ms, `"`+k+`":`+genJSON(depth-1).Draw(t, "v"))
			}
			return "{" + strings.Join(ms, ",") + "}"
		}),
	)
}

func genString(t *rapid.T) string {
	parts := rapid.SliceOfN(rapid.SampledFrom([]string{"a", " ", "\\n", "\\\"", "\\\\", "\\/", "\\u00e9", "\\uD83D\\uDE00",
		"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xc0\x80", "'", "%d", "\\ud800", "\x80", "\\x"}), 0, 6).Draw(t, "parts")
	if rapid.IntRange(0, 4).Draw(t, "quote") == 0 {
		return "'" + strings.ReplaceAll(strings.Join(parts, ""), "'", "\\'") + "'"
	}
	return `"` + strings.Join(parts, "") + `"`
}

// genRequestStream generates a request stream: requests, values, junk and
// flushes, cut into writes at generated points, with reconnects.
func genRequestStream(t *rapid.T) qgatest.Stream {
	pieces := rapid.SliceOfN(rapid.OneOf(
		rapid.Custom(func(t *rapid.T) string {
			cmd := rapid.SampledFrom([]string{"guest-sync", "guest-sync-delimited", "guest-ping", "guest-info", "guest-nope", "guest-shutdown"}).Draw(t, "cmd")
			s := `{"execute":"` + cmd + `"`
			if rapid.Bool().Draw(t, "args") {
				s += `,"arguments":{"id":` + genJSON(0).Draw(t, "argid") + `}`
			}
			if rapid.Bool().Draw(t, "hasid") {
				s += `,"id":` + genJSON(2).Draw(t, "id")
			}
			return s + "}"
		}),
		genJSON(3),
		rapid.SampledFrom([]string{"\xff", "\xff\n", " ", "\n", "}", "]", "{", "[", "\x01", "\x00", "-", "1 ", "tru", "nan "}),
	), 1, 8).Draw(t, "pieces")
	all := []byte(strings.Join(pieces, ""))
	cuts := rapid.SliceOfN(rapid.IntRange(0, len(all)), 0, 6).Draw(t, "cuts")
	var st qgatest.Stream
	prev := 0
	for _, c := range sortedUnique(cuts) {
		if c > prev {
			st.Ops = append(st.Ops, qgatest.Op{Data: all[prev:c]})
			prev = c
		}
		if rapid.IntRange(0, 5).Draw(t, "reconnect") == 0 {
			st.Ops = append(st.Ops, qgatest.Op{Reconnect: true})
		}
	}
	if prev < len(all) {
		st.Ops = append(st.Ops, qgatest.Op{Data: all[prev:]})
	}
	return st
}

func sortedUnique(a []int) []int {
	out := append([]int(nil), a...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	k := 0
	for i, v := range out {
		if i == 0 || v != out[k-1] {
			out[k] = v
			k++
		}
	}
	return out[:k]
}

// genAgentStream generates an agent→host stream for the delimiter target:
// stale lines, sync replies, replies to the request, junk, floods, waits.
func genAgentStream(t *rapid.T) []byte {
	b := []byte{}
	if rapid.IntRange(0, 3).Draw(t, "plain") == 0 {
		b = append(b, "\x00P"...)
	}
	n := rapid.IntRange(1, 10).Draw(t, "lines")
	for i := 0; i < n; i++ {
		b = append(b, rapid.SampledFrom([]string{
			"\x00W", "\x00W", "\xff{\"return\": \x00S}\n", "{\"return\": \x00S}\n", "{\"return\": {}, \"id\": \x00I}\n",
			"{\"id\": \x00I, \"error\": {\"class\": \"GenericError\", \"desc\": \"x\"}}\n", "{\"return\": 7, \"id\": 1}\n",
			"{\"return\": {}}\n", "\xff", "\n", "garbage", "{\"return\": ", "\x00T", "\x00|", "\x00R", "\x00L\x02x",
			"\x00L\x01\n", "{\"return\": \x00S, \"id\": \x00I}\n", "\xff{\"return\": 1}\n",
		}).Draw(t, "line")...)
	}
	return b
}

func check(t *rapid.T, target string, data []byte) {
	tg, ok := fuzz.Lookup(target)
	if !ok {
		t.Fatalf("no target %s", target)
	}
	if f := fuzz.Run(tg, data); f != nil {
		t.Fatal(f.Report())
	}
}

func propParser(t *rapid.T) { check(t, "parser", fuzz.Encode(genRequestStream(t))) }
func propAgent(t *rapid.T)  { check(t, "agent", fuzz.Encode(genRequestStream(t))) }
func propDiff(t *rapid.T)   { check(t, "differential", fuzz.Encode(genRequestStream(t))) }
func propDelim(t *rapid.T)  { check(t, "delimiter", genAgentStream(t)) }

// propScenario draws a Scenario directly (no byte decoding) and replays it
// in the simulator.
func propScenario(t *rapid.T) {
	sc := fuzz.Scenario{
		Seed:   rapid.Uint64().Draw(t, "seed"),
		Client: rapid.Uint8Range(0, 1).Draw(t, "client"),
		Faults: rapid.SliceOfN(rapid.Uint8(), 0, 4).Draw(t, "faults"),
	}
	for i, n := 0, rapid.IntRange(1, 12).Draw(t, "ops"); i < n; i++ {
		sc.Ops = append(sc.Ops, fuzz.ScenarioOp{Kind: rapid.Uint8().Draw(t, "kind"),
			Deadline: rapid.Uint8().Draw(t, "deadline"), Think: rapid.Uint8().Draw(t, "think")})
	}
	for i, n := 0, rapid.IntRange(0, 10).Draw(t, "events"); i < n; i++ {
		sc.Events = append(sc.Events, fuzz.ScenarioEvent{Fault: rapid.Uint8().Draw(t, "fault"),
			Step: rapid.Uint8().Draw(t, "step"), N: rapid.Uint8Range(0, 3).Draw(t, "n"), Seed: rapid.Uint64().Draw(t, "eseed")})
	}
	r, err := fuzz.RunScenario(sc)
	if err != nil {
		t.Fatal(err)
	}
	if v := r.First(); v != nil {
		t.Fatalf("%v\nschedule %+v", v, sc.Schedule())
	}
}

func TestRapidParser(t *testing.T)       { rapid.Check(t, propParser) }
func TestRapidAgent(t *testing.T)        { rapid.Check(t, propAgent) }
func TestRapidDifferential(t *testing.T) { rapid.Check(t, propDiff) }
func TestRapidDelimiter(t *testing.T)    { rapid.Check(t, propDelim) }
func TestRapidScenario(t *testing.T)     { rapid.Check(t, propScenario) }

func FuzzRapidParser(f *testing.F)       { f.Fuzz(rapid.MakeFuzz(propParser)) }
func FuzzRapidAgent(f *testing.F)        { f.Fuzz(rapid.MakeFuzz(propAgent)) }
func FuzzRapidDifferential(f *testing.F) { f.Fuzz(rapid.MakeFuzz(propDiff)) }
func FuzzRapidDelimiter(f *testing.F)    { f.Fuzz(rapid.MakeFuzz(propDelim)) }
func FuzzRapidScenario(f *testing.F)     { f.Fuzz(rapid.MakeFuzz(propScenario)) }
