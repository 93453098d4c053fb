package qgatest

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/qgafuzz/qgafuzz/internal/detmath"
)

// This file generates request streams for differential testing: valid and
// broken requests, garbage, flushes, deep nesting and long strings, split
// at random points (inside tokens and inside UTF-8 sequences) and with
// reconnects in between. Every stream ends with a fence that puts any agent
// back in its start state, so streams can follow each other on one agent.

// Op is one step of a stream.
type Op struct {
	// Data is written in one write.
	Data []byte
	// Reconnect closes the connection, after its replies have been read,
	// and opens a new one. The agent's parser state carries over.
	Reconnect bool
}

// Stream is a sequence of writes and reconnects.
type Stream struct {
	Ops []Op
}

// FenceID is the guest-sync id of the fence that ends every stream.
const FenceID = 4242424242

// Fence is the last write of every generated stream: 0xFF aborts whatever
// is partial (and ends recovery at the LF), then a guest-sync whose reply is
// the last line the agent sends for the stream.
var Fence = []byte("\xff\n{\"execute\":\"guest-sync\",\"arguments\":{\"id\":" + strconv.FormatInt(FenceID, 10) + "}}")

// FenceReply is the reply that ends every stream's output.
var FenceReply = []byte("{\"return\": " + strconv.FormatInt(FenceID, 10) + "}\n")

// ProbeID is the guest-sync id of Probe, distinct from FenceID so that the
// probe's reply is never taken for the fence's.
const ProbeID = FenceID + 1

// Probe is what the differential driver writes to an agent under test
// once a stream's fence has been answered, as a barrier: an agent that
// answers in order sends whatever the stream still owes (a reply sent
// twice, or late) before the probe's reply. It has no 0xFF, which would
// add an error reply: the fence has left the parser in its start state,
// and a plain guest-sync is answered by ProbeReply alone, by qemu-ga 7.2
// as by the reference agent. It changes no state an agent keeps.
var Probe = []byte("{\"execute\":\"guest-sync\",\"arguments\":{\"id\":" + strconv.FormatInt(ProbeID, 10) + "}}")

// ProbeReply is the reply to Probe.
var ProbeReply = []byte("{\"return\": " + strconv.FormatInt(ProbeID, 10) + "}\n")

// Bytes returns all bytes the stream writes.
func (s Stream) Bytes() []byte {
	var b []byte
	for _, op := range s.Ops {
		b = append(b, op.Data...)
	}
	return b
}

// String renders the stream for a failure report: each write in hex, and
// reconnects, in order.
func (s Stream) String() string {
	var b strings.Builder
	for i, op := range s.Ops {
		if i > 0 {
			b.WriteString(" | ")
		}
		if op.Reconnect {
			b.WriteString("RECONNECT")
			continue
		}
		if len(op.Data) > 512 {
			fmt.Fprintf(&b, "%s...(%d bytes)", hex.EncodeToString(op.Data[:512]), len(op.Data))
			continue
		}
		b.WriteString(hex.EncodeToString(op.Data))
	}
	return b.String()
}

// StreamOptions bound generated streams.
type StreamOptions struct {
	// Pieces is the most requests/garbage pieces per stream (default 12).
	Pieces int
	// LongString is the longest generated string, in bytes (default 64 KiB).
	LongString int
	// NoReconnect disables reconnect ops.
	NoReconnect bool
}

// GenStream generates one stream from r. The same r state gives the same
// stream, on every GOARCH (TestGenStreamGolden).
func GenStream(r *rand.Rand, o StreamOptions) Stream {
	if o.Pieces <= 0 {
		o.Pieces = 12
	}
	if o.LongString <= 0 {
		o.LongString = 64 << 10
	}
	g := &gen{r: r, o: o}
	var body []byte
	for n := 1 + r.IntN(o.Pieces); n > 0; n-- {
		body = g.piece(body)
	}
	var s Stream
	for len(body) > 0 {
		// Mostly small pieces, sometimes everything at once.
		k := len(body)
		switch r.IntN(4) {
		case 0:
			k = 1 + r.IntN(min(len(body), 8))
		case 1, 2:
			k = 1 + r.IntN(len(body))
		}
		s.Ops = append(s.Ops, Op{Data: body[:k:k]})
		body = body[k:]
		if !o.NoReconnect && r.IntN(10) == 0 {
			s.Ops = append(s.Ops, Op{Reconnect: true})
		}
	}
	s.Ops = append(s.Ops, Op{Data: bytes.Clone(Fence)})
	return s
}

type gen struct {
	r *rand.Rand
	o StreamOptions
}

func (g *gen) pick(options ...string) string { return options[g.r.IntN(len(options))] }

func (g *gen) piece(b []byte) []byte {
	switch g.r.IntN(16) {
	case 0, 1, 2, 3, 4:
		return append(b, g.request()...)
	case 5, 6, 7:
		return append(b, g.broken()...)
	case 8, 9:
		return append(b, g.garbage()...)
	case 10:
		req := g.request()
		return append(b, req[:g.r.IntN(len(req))]...) // truncated
	case 11:
		return append(b, g.nesting()...)
	case 12:
		return append(b, g.value(3)...)
	case 13:
		return append(b, g.pick(trickyTokens...)...)
	case 14:
		return append(b, g.longStringRequest()...)
	case 15:
		if g.r.IntN(2) == 0 {
			return append(b, g.manyArguments()...)
		}
	}
	return append(b, g.ws()...)
}

func (g *gen) ws() string {
	return g.pick("", "", "", " ", "\n", "\r\n", "\t", "  \n ")
}

func (g *gen) quote(s string) string {
	if g.r.IntN(4) == 0 {
		return "'" + strings.ReplaceAll(s, "'", `\'`) + "'"
	}
	return `"` + s + `"`
}

// id returns an integer that is interesting to qemu-ga's int64 visitor.
func (g *gen) id() string {
	return g.pick(strconv.FormatInt(g.r.Int64N(1<<40)-1<<39, 10),
		strconv.Itoa(g.r.IntN(100000)), "0", "-0", "-1",
		"9223372036854775807", "-9223372036854775808", "9223372036854775808",
		"18446744073709551615", "18446744073709551616", "1.0", "1e3", "1e400",
		`"7"`, "null", "true", "[1]", "{}", "-0.0e0", "0.1")
}

func (g *gen) request() string {
	ws := g.ws
	cmd := g.pick("guest-sync", "guest-sync-delimited", "guest-ping", "guest-info",
		"guest-sync-delimited", "guest-sync")
	var args string
	switch cmd {
	case "guest-sync", "guest-sync-delimited":
		args = ws() + "," + ws() + g.quote("arguments") + ws() + ":" + ws() + "{" + g.quote("id") + ":" + ws() + g.id() + ws() + "}"
		if g.r.IntN(8) == 0 {
			args = ""
		}
	default:
		if g.r.IntN(6) == 0 {
			args = "," + g.quote("arguments") + ":{}"
		}
	}
	idMember := ""
	if g.r.IntN(4) == 0 {
		idMember = "," + ws() + g.quote("id") + ":" + ws() + g.value(2)
	}
	members := []string{g.quote("execute") + ws() + ":" + ws() + g.quote(cmd)}
	if args != "" {
		members = append(members, args[1:])
	}
	if idMember != "" {
		members = append(members, idMember[1:])
	}
	g.r.Shuffle(len(members), func(i, j int) { members[i], members[j] = members[j], members[i] })
	return "{" + ws() + strings.Join(members, ",") + ws() + "}" + ws()
}

func (g *gen) broken() string {
	return g.pick(
		`{"execute":"guest-nope"}`, `{"execute":"guest-exec"}`, `{"execute":"guest-get-devices"}`,
		`{"execute":"guest-shutdown"}`, `{"execute":"guest-file-open","arguments":{"path":"/x"}}`,
		`{"execute":"guest-sync"}`, `{"execute":"guest-sync-delimited","arguments":{"id":"7"}}`,
		`{"execute":"guest-sync","arguments":{"id":1,"x":2}}`, `{"execute":"guest-ping","arguments":{"id":1}}`,
		`{"execute":"guest-ping","foo":1}`, `{"bogus":1,"execute":1}`, `{"execute":1,"foo":1}`,
		`{"execute":"guest-ping","arguments":[]}`, `{}`, `[1]`, `"abc"`, `{"a":1,"a":2}`,
		`{"execute":"guest-ping","id":1,"id":2}`, `{"execute" "guest-ping"}`, `{"a":1,}`, `[1,]`,
		`[1 2]`, `{1:2}`, `{"execute":"\a"}`, `{"execute":"\ud800"}`, `{"execute":"a\u12"}`,
		`{"execute":"guest-\u0070ing"}`, "{\"execute\":\"\x80\"}", "{\"execute\":\"\xc3\xa9\"}",
		"{\"execute\":\"\xc0\x80\"}", "{\"execute\":\"\xf0\x9f\x98\x80\"}", `{"execute":"\uD83D\uDE00"}`,
		`{"execute":"guest-ping","exec-oob":"guest-ping"}`, `{"execute":"guest-ping","control":{}}`,
		`{"execute":"GUEST-PING"}`, `{"execute":" guest-ping"}`, `{"execute":""}`, `{[}]`, `[{]}`,
		`{"execute":"guest-sync","arguments":{"id":{"b":1,"a":2,"id":3}},"id":{"b":1,"a":2}}`,
		`{'execute':'it\'s'}`, `{"execute":"%d"}`, `{"execute":"guest-info","arguments":{"a":4,"id":1}}`,
	)
}

// garbage is a few bytes from an alphabet of lexer-relevant bytes.
func (g *gen) garbage() string {
	const alphabet = "\xff\xfe\x00\x01\x0b\x0c\x1b\x7f\x80\xc3\xa9\xef\xbb\xbf{}[]:,\"'\\ \n\r\t-+.eE019aTx%/#"
	n := 1 + g.r.IntN(8)
	b := make([]byte, n)
	for i := range b {
		if g.r.IntN(6) == 0 {
			b[i] = byte(g.r.IntN(256))
		} else {
			b[i] = alphabet[g.r.IntN(len(alphabet))]
		}
	}
	return string(b)
}

var trickyTokens = []string{
	"0e5 ", "0E5 ", "01 ", "-00", "1.x", "1.e5", "1e ", "1e+x", "- ", "--1", "+1", ".7 ",
	"-0 ", "2E3 ", "-0.5e+1 ", "1e400 ", "0x1F ", "true1 ", "True ", "nan ", "tru\n", "null ",
	"Infinity ", "inf ", "1\x00", "\"x\x00y\"", "]]]}}}", "{\"a\":]", "[}", "\xef\xbb\xbf",
	"\xff1 ", "\xfftrue ", "\xff\"\n", "\xff,1 ", "\xff\t\x01", "\xff\x00", "\xff ",
}

func (g *gen) nesting() string {
	n := 1020 + g.r.IntN(10)
	var b strings.Builder
	for i := 0; i < n; i++ {
		b.WriteByte(g.pick("[", "[", "{\"a\":")[0])
		if b.String()[b.Len()-1] == '{' {
			b.WriteString(`"a":`)
		}
	}
	return b.String()
}

// value returns a random JSON value in qemu-ga's input language.
func (g *gen) value(depth int) string {
	k := g.r.IntN(8)
	if depth <= 0 {
		k %= 5
	}
	switch k {
	case 0:
		return g.id()
	case 1:
		if g.r.IntN(4) == 0 {
			return g.longNumber()
		}
		return g.pick("null", "true", "false", "0.10000000000000001", "2.50", "1E2", "-1e999")
	case 2:
		return g.quote(g.text(8))
	case 3:
		// detmath.NormFloat64 draws what g.r.NormFloat64 draws on amd64,
		// on every architecture: the standard library's differs in the
		// last bits on arm64 and s390x (for about one value in 30,000),
		// which would change the stream of a seed.
		return strconv.FormatFloat(detmath.NormFloat64(g.r)*1e6, 'g', -1, 64)
	case 4:
		return g.quote(g.pick("", "x", `x\"y`, `\u0000`, `\ufffd`, `\u001f`, "\xc3\xbc", "\xf4\x8f\xbf\xbd", `\/\b\f\n\r\t`,
			// surrogate pairs, valid and making a noncharacter (whose
			// error quotes the whole pair)
			`\ud83d\ude00`, `\udbff\udffd`, `\udbff\udfff`, `\ud83f\udffe`, `\ud800\u0041`))
	case 5, 6:
		var parts []string
		for n := g.r.IntN(4); n > 0; n-- {
			parts = append(parts, g.quote(g.pick("a", "b", "id", "execute", "return", "x", "", "arguments"))+":"+g.value(depth-1))
		}
		return "{" + strings.Join(dedupKeys(parts), ",") + "}"
	}
	var parts []string
	for n := g.r.IntN(4); n > 0; n-- {
		parts = append(parts, g.value(depth-1))
	}
	return "[" + strings.Join(parts, ","+g.ws()) + "]"
}

// longNumber returns a number token of hundreds to thousands of digits
// (or a long exponent) whose value is small: strtod reads such tokens
// exactly, while strconv.ParseFloat alone misreads those with more than 800
// digits before the point or an exponent of 5 digits offset by the digits.
func (g *gen) longNumber() string {
	n := 700 + g.r.IntN(1500)
	sign := g.pick("", "", "-")
	zeros := strings.Repeat("0", n)
	switch g.r.IntN(5) {
	case 0: // 1 followed by n zeros, scaled back by about as much
		return sign + "1" + zeros + "e-" + strconv.Itoa(n+g.r.IntN(5)-2)
	case 1: // a fraction with n leading zeros, scaled up
		return sign + "0." + zeros + "1e" + strconv.Itoa(n+g.r.IntN(5)-1)
	case 2: // n random digits around the point, scaled back
		b := make([]byte, n)
		for i := range b {
			b[i] = byte('0' + g.r.IntN(10))
		}
		b[0] = byte('1' + g.r.IntN(9))
		k := 1 + g.r.IntN(n-1)
		return sign + string(b[:k]) + "." + string(b[k:]) + "e-" + strconv.Itoa(k-g.r.IntN(20))
	case 3: // a halfway point between two doubles, and just above it
		return sign + "1.00000000000000011102230246251565404236316680908203125" + zeros + g.pick("", "1")
	}
	// a 5-digit exponent offset by the digits
	return sign + "0." + strings.Repeat("0", 10000+g.r.IntN(100)) + "1e10" + strconv.Itoa(100+g.r.IntN(10))
}

// dedupKeys drops members whose key repeats, so that generated objects
// mostly parse (duplicate keys are tested separately).
func dedupKeys(parts []string) []string {
	seen := map[string]bool{}
	out := parts[:0]
	for _, p := range parts {
		k := p[:strings.IndexByte(p[1:], p[0])+2]
		if !seen[k[1:len(k)-1]] {
			seen[k[1:len(k)-1]] = true
			out = append(out, p)
		}
	}
	return out
}

// text returns up to n characters of string body: ASCII, escapes, UTF-8.
func (g *gen) text(n int) string {
	var b strings.Builder
	for i := g.r.IntN(n + 1); i > 0; i-- {
		b.WriteString(g.pick("a", "Z", " ", "-", `\n`, `\\`, `\"`, `\u00e9`, "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "%", "/"))
	}
	return b.String()
}

// manyArguments sends a safe command with a random set of argument names,
// which exercises the order in which qemu-ga reports unexpected ones, and
// sometimes a large set, which exercises the parser's duplicate-key check.
func (g *gen) manyArguments() string {
	names := []string{"id", "a", "b", "x", "foo", "id2", "bogus", "arguments", "execute",
		"handle", "path", "count", "mode", "", "\u00fc", "z9", "buf-b64", "whence", "offset", "qwertyuiop"}
	g.r.Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })
	var parts []string
	for _, n := range names[:g.r.IntN(14)] {
		parts = append(parts, `"`+n+`":`+g.pick("1", `"s"`, "null", "[]"))
	}
	if g.r.IntN(4) == 0 {
		// A large object: past the size from which the parser keeps its
		// keys in a set, sometimes with a key twice.
		for i := range 20 + g.r.IntN(50) {
			parts = append(parts, `"k`+strconv.Itoa(i)+`":`+g.pick("1", `"s"`, "true", "[1,2]", `{"a":1}`))
		}
		if g.r.IntN(3) == 0 {
			parts = append(parts, parts[g.r.IntN(len(parts))])
		}
		g.r.Shuffle(len(parts), func(i, j int) { parts[i], parts[j] = parts[j], parts[i] })
	}
	cmd := g.pick("guest-sync", "guest-sync-delimited", "guest-ping", "guest-info")
	return `{"execute":"` + cmd + `","arguments":{` + strings.Join(parts, ",") + `}}`
}

func (g *gen) longStringRequest() string {
	n := 1 + g.r.IntN(g.o.LongString)
	body := strings.Repeat(g.pick("A", "ab", "\xc3\xa9", `\u0041`, "xyz "), n)[:n]
	// Cutting may split an escape or a UTF-8 sequence: that is wanted.
	return `{"execute":"guest-ping","id":"` + body + `"}`
}
