package fuzz

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/qgafuzz/qgafuzz/qga/qgatest"
)

// This file builds the checked-in seed corpora (corpus/<target>/): the
// recorded qemu-ga 7.2 vectors turned into inputs of each target, plus
// hand-picked cases that reach the interesting states quickly. Each seed is
// one raw file, which every engine reads as it is: native Go fuzzing (the
// Fuzz functions add them with f.Add), go-fuzz (copied into its corpus
// directory) and libFuzzer (given the directory).

// VectorStream turns a recorded vector into the stream it sends: its setup,
// then its input or its steps (sends and reconnects; sleeps are dropped).
// Vectors with generated input (tens of MiB) give ok false.
func VectorStream(v *qgatest.Vector) (qgatest.Stream, bool) {
	if v.Big() {
		return qgatest.Stream{}, false
	}
	var st qgatest.Stream
	if len(v.Setup) > 0 {
		st.Ops = append(st.Ops, qgatest.Op{Data: v.Setup})
	}
	if len(v.Steps) == 0 {
		st.Ops = append(st.Ops, qgatest.Op{Data: v.InputBytes()})
		return st, true
	}
	for i := range v.Steps {
		s := &v.Steps[i]
		switch {
		case s.Reconnect:
			st.Ops = append(st.Ops, qgatest.Op{Reconnect: true})
		case s.IsSleep():
		default:
			if b := s.SendBytes(v); len(b) > 0 {
				st.Ops = append(st.Ops, qgatest.Op{Data: b})
			}
		}
	}
	return st, true
}

// extraStreams are request streams that the vectors do not cover: splits
// inside UTF-8 sequences and escapes, the limits of the parser target's
// small decoder, and a generated stream or two.
func extraStreams() map[string]qgatest.Stream {
	one := func(parts ...string) qgatest.Stream {
		var st qgatest.Stream
		for _, p := range parts {
			if p == "RECONNECT" {
				st.Ops = append(st.Ops, qgatest.Op{Reconnect: true})
				continue
			}
			st.Ops = append(st.Ops, qgatest.Op{Data: []byte(p)})
		}
		return st
	}
	largeCut := largeObject(40, -1)
	largeAt := strings.Index(largeCut, `"k36": `) + len(`"k36": `) + 2 // inside 12345
	m := map[string]qgatest.Stream{
		"split-utf8-2":       one("{\"execute\":\"guest-ping\",\"id\":\"\xc3", "\xa9\"}"),
		"split-utf8-4":       one("{\"execute\":\"\xf0\x9f", "\x98\x80\"}"),
		"split-escape":       one(`{"execute":"guest-\u00`, `70ing"}`),
		"split-surrogates":   one(`["\uD83D`, `\uDE00"]`),
		"split-number":       one(`{"execute":"guest-sync","arguments":{"id":-92233720368547`, "75808}}"),
		"split-keyword":      one("[tr", "ue, nu", "ll]"),
		"delimited-split":    one("\xff", `{"execute":"guest-sync-delimited","arguments":{"id":4294967296}}`),
		"delimited-bigid":    one(`{"execute":"guest-sync-delimited","arguments":{"id":9007199254740993},"id":"x"}`),
		"ping-with-id":       one(`{"execute":"guest-ping","id":{"b":1,"a":[2.5,-0,1e400]}}`),
		"unknown-command":    one(`{"execute":"guest-frobnicate","id":7}`),
		"reconnect-mid":      one(`{"execute":"guest-`, "RECONNECT", `info"}`),
		"small-depth-9":      one(`[[[[[[[[[1]]]]]]]]]`),
		"small-tokens-41":    one(`[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20]`),
		"small-size-200":     one(`"` + strings.Repeat("x", 197) + `"`),
		"flush-in-string":    one("{\"execute\":\"gue\xff", "{\"execute\":\"guest-ping\"}"),
		"many-small-writes":  one("{", "\"", "e", "x", "ecute\":", "\"guest-sync\",", "\"arguments\":{\"id\":", "1", "}", "}"),
		"nul-and-controls":   one("1\x00\"x\x00y\"\x0c\x01 "),
		"depth-1024-in-cmd":  one(`{"execute":"guest-ping","id":` + strings.Repeat("[", 1022) + strings.Repeat("]", 1022) + "}"),
		"depth-1025-in-cmd":  one(`{"execute":"guest-ping","id":` + strings.Repeat("[", 1024) + strings.Repeat("]", 1024) + "}"),
		"info-and-delimited": one(`{"execute":"guest-info"}`, "\xff"+`{"execute":"guest-sync-delimited","arguments":{"id":3}}`),
		// Past 32 members the parser keeps an object's keys in a set; a
		// read that cuts a value there once made a false duplicate key.
		"large-object-split": one(largeCut[:largeAt], largeCut[largeAt:]),
		"large-object-dup":   one(largeObject(40, 36)),
	}
	for i := uint64(0); i < 4; i++ {
		st := qgatest.GenStream(rand.New(rand.NewPCG(7, i)), qgatest.StreamOptions{Pieces: 6, LongString: 256})
		m[fmt.Sprintf("generated-%d", i)] = st
	}
	return m
}

// largeObject returns a guest-ping request whose id is an object of n
// members, member dup repeating the first member's key (none if -1).
func largeObject(n, dup int) string {
	var b strings.Builder
	b.WriteString(`{"execute":"guest-ping","id":{`)
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		k := i
		if i == dup {
			k = 0
		}
		fmt.Fprintf(&b, `"k%d": %s`, k, []string{"true", "12345", `"str"`, "[1, 2]", `{"a": null}`}[i%5])
	}
	b.WriteString("}}")
	return b.String()
}

// delimiterSeeds are agent→host streams for the delimiter target (see
// delimiter_transport.go for the control operations).
func delimiterSeeds() map[string][]byte {
	sync := func(ff bool) string {
		s := `{"return": ` + "\x00S}\n"
		if ff {
			return "\xff" + s
		}
		return s
	}
	reply := func(ret string) string { return `{"return": ` + ret + `, "id": ` + "\x00I}\n" }
	ping, info := reply("{}"), reply(`{"version": "7.2.22", "supported_commands": []}`)
	stale := `{"return": {}, "id": 12}` + "\n" + `{"error": {"class": "GenericError", "desc": "JSON parse error, stray '\uFFFD'"}}` + "\n"
	good := "\x00W" + stale + sync(true) + "\x00W" + ping + "\x00W" + info + "\x00W" + ping + "\x00W" + sync(true) + "\x00W" + ping
	return map[string][]byte{
		"good-agent":      []byte(good),
		"stale-first":     []byte(stale + stale + good),
		"flush-plain":     []byte("\x00P\x00W" + stale + sync(false) + "\x00W" + ping + "\x00W" + info + "\x00W" + ping + "\x00W" + sync(false) + "\x00W" + ping),
		"byte-per-read":   []byte("\x00W\xff\x00|{\x00|\"return\": \x00S\x00|}\x00|\n\x00W{\"return\": {}, \x00|\"id\": \x00I}\n"),
		"wrong-id":        []byte("\x00W" + sync(true) + "\x00W" + `{"return": 5, "id": 1}` + "\n"),
		"no-id":           []byte("\x00W" + sync(true) + "\x00W" + `{"return": {}}` + "\n"),
		"agent-error":     []byte("\x00W" + sync(true) + "\x00W" + `{"id": ` + "\x00I" + `, "error": {"class": "CommandNotFound", "desc": "no"}}` + "\n"),
		"slow-drip":       []byte("\x00W\xff\x00T{\"return\": \x00T\x00S}\n\x00W\x00T\x00T\x00T" + ping),
		"silent":          []byte("\x00W\x00T\x00T\x00T\x00T\x00T\x00T"),
		"flood-no-ff":     []byte("\x00W\x00L\xffx" + sync(true)),
		"flood-long-line": []byte("\x00W" + sync(true) + "\x00W{\"return\": \"\x00L\x10a\", \"id\": \x00I}\n"),
		"hangup-resync":   []byte("\x00W" + sync(true) + "\x00W{\"ret\x00R\x00W" + sync(true) + ping),
		"delimited-twice": []byte("\x00W\xff{\"return\": 1}\n" + sync(true) + sync(true) + "\x00W" + ping),
		// Found by the native engine: a reply whose first half arrives
		// with the previous call's reply (the oracle must see whole lines).
		"reply-spans-calls": []byte("\xff{\"return\":\x00S\x00|}\x00|\n{\"return\":{},\x00|\"id\":\x00I}\n"),
		// Found by the native engine: a flush-plain client drops a partial
		// line when a call times out and reads its sync reply after it.
		"partial-line-dropped": []byte("\x00P\x00W{\"\":{}, \"d\": 2}\x0a{\"\": {\"\": \"\", \"c\": \"\"}}\x0a{\"return\": \x00S}\x0a\x00W{\"return\": {}, \"id\": \x00I}\x0a\x00W{\"return\": {\"\": \"\", \"s\": []}, \"id\": \x00I}\x0a\x00W{\"\"{{}, \"\": \x00I}\x00W{\"return\":\x00S}\x0a\x0a"),
		"not-implemented":      []byte("\x00W" + `{"error": {"class": "CommandNotFound", "desc": "The command guest-sync-delimited has not been found"}}` + "\n"),
		// Found by the native engine: a flush-plain sync parsed each of
		// 49 KiB of empty lines, making an error of garbage per line.
		"blank-flood": []byte("\x00P\x00L0\n"),
	}
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// SeedInputs returns the seed inputs of a target by file name. Vectors are
// used by the byte-stream targets (parser, agent, differential).
func SeedInputs(target string, vectors []qgatest.Vector) map[string][]byte {
	out := map[string][]byte{}
	switch target {
	case "parser", "agent", "differential":
		for i := range vectors {
			if st, ok := VectorStream(&vectors[i]); ok {
				out["vec-"+unsafeName.ReplaceAllString(vectors[i].Name, "_")] = Encode(st)
			}
		}
		for name, st := range extraStreams() {
			out["x-"+name] = Encode(st)
		}
	case "delimiter":
		for name, b := range delimiterSeeds() {
			out["x-"+name] = b
		}
	case "scenario":
		for name, b := range scenarioSeeds() {
			out["x-"+name] = b
		}
	}
	return out
}

// IsSeedName reports whether name is one SeedInputs generates ("vec-" for
// a recorded vector, "x-" for a hand-picked case). Other files of a seed
// corpus were added by hand or by qgafuzz corpus merge, and are kept.
func IsSeedName(name string) bool {
	return strings.HasPrefix(name, "vec-") || strings.HasPrefix(name, "x-")
}

// WriteCorpus writes inputs into dir as files (atomically each), removing
// the generated files of the directory (IsSeedName) that are not in
// inputs; inputs merged into the corpus are left alone.
func WriteCorpus(dir string, inputs map[string][]byte) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	old, _ := os.ReadDir(dir)
	for _, e := range old {
		if _, keep := inputs[e.Name()]; !keep && !e.IsDir() && IsSeedName(e.Name()) {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	names := make([]string, 0, len(inputs))
	for n := range inputs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := WriteFileAtomic(filepath.Join(dir, n), inputs[n]); err != nil {
			return err
		}
	}
	return nil
}

// Dictionary returns the protocol's tokens as a libFuzzer/AFL dictionary
// (corpus/qga.dict): one quoted token per line, bytes outside printable
// ASCII, quotes and backslashes written as \xNN. go-fuzz has no dictionary
// option; it takes its tokens from the string literals of the instrumented
// code, which include the same token list.
func Dictionary() []byte {
	var b []byte
	b = append(b, "# Tokens of the qemu-ga wire protocol, for libFuzzer -dict= and AFL -x.\n"...)
	b = append(b, "# Generated by fuzz.Dictionary (go test -run TestSeedCorpus ./fuzz/ checks it).\n"...)
	// The control operations of the input format come first (split,
	// reconnect, and the delimiter target's own).
	format := []string{"\x00|", "\x00R", "\x00W", "\x00S", "\x00I", "\x00T", "\x00L", "\x00P"}
	for i, t := range append(format, dictTokens...) {
		b = fmt.Appendf(b, "t%d=\"", i)
		for _, c := range []byte(t) {
			if c < 0x20 || c > 0x7E || c == '"' || c == '\\' {
				b = fmt.Appendf(b, "\\x%02X", c)
			} else {
				b = append(b, c)
			}
		}
		b = append(b, "\"\n"...)
	}
	return b
}

// InputName is the content-addressed file name of an input (as libFuzzer
// and go-fuzz name theirs): the hex SHA-256 prefix.
func InputName(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:10])
}
