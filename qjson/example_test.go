package qjson_test

import (
	"fmt"

	"github.com/qgafuzz/qgafuzz/qjson"
)

// Feed a Decoder chunk by chunk and handle one event per call. Each event
// is one reply qemu-ga would send; its offset is that of the byte that
// completed it. The 0xFF byte is answered with an error and flushes the
// partial message; "- " is another lexical error, after which recovery mode
// skips bytes until the newline. The final "7" gets no event yet: a number
// is complete only when the byte after it arrives.
func ExampleDecoder_Feed() {
	d := qjson.NewDecoder()
	chunks := []string{
		`{"execute":"guest-ping"}`,
		"\xff{'execute':'guest-sync',",
		`"arguments":{"id":1.50}}`,
		"]- \n7",
	}
	for _, chunk := range chunks {
		p := []byte(chunk)
		for len(p) > 0 {
			n, ok := d.Feed(p)
			p = p[n:]
			if !ok {
				continue
			}
			ev := d.Event()
			if ev.Err != nil {
				fmt.Printf("@%d %s error: %s\n", ev.Offset, ev.Err.Kind, qjson.AppendString(nil, ev.Err.Desc))
				continue
			}
			fmt.Printf("@%d %s\n", ev.Offset, qjson.AppendValue(nil, ev.Value))
		}
	}
	fmt.Println("pending:", d.Pending())
	// Output:
	// @23 {"execute": "guest-ping"}
	// @24 lexical error: "JSON parse error, stray '\uFFFD'"
	// @72 {"execute": "guest-sync", "arguments": {"id": 1.5}}
	// @73 parse error: "JSON parse error, expecting value"
	// @75 lexical error: "JSON parse error, stray '- '"
	// pending: true
}

// Serialize a reply the way qemu-ga writes it: ", " and ": " separators,
// members in hash-table order, doubles as %.17g, and every non-ASCII
// character escaped.
func ExampleAppendValue() {
	reply := qjson.ObjectValue(
		qjson.Member{Key: "id", Value: qjson.FloatValue(0.1)},
		qjson.Member{Key: "return", Value: qjson.ArrayValue(
			qjson.StringValue("caf\u00e9 \U0001F600"),
			qjson.IntValue(-3),
			qjson.UintValue(1<<63),
			qjson.BoolValue(true),
			qjson.NullValue(),
		)},
	)
	fmt.Printf("%s\n", qjson.AppendValue(nil, reply))
	// Output:
	// {"return": ["caf\u00E9 \uD83D\uDE00", -3, 9223372036854775808, true, null], "id": 0.10000000000000001}
}

// HashBucket decides the order of object members in replies: buckets
// ascending (and, within one bucket, the most recently inserted key first).
func ExampleHashBucket() {
	for _, key := range []string{"return", "id", "error", "class", "desc"} {
		fmt.Println(key, qjson.HashBucket(key))
	}
	// Output:
	// return 401
	// id 486
	// error 489
	// class 211
	// desc 377
}

// With ReuseValues each message's value lives in the memory of the one
// before it, so a caller that handles messages one at a time allocates
// nothing per message. A value to keep past the next Feed is cloned.
func ExampleReuseValues() {
	d := qjson.NewDecoder(qjson.ReuseValues())
	var first qjson.Value
	p := []byte(`{"execute":"guest-sync","arguments":{"id":1}}{"execute":"guest-ping"}`)
	for len(p) > 0 {
		n, ok := d.Feed(p)
		p = p[n:]
		if !ok {
			continue
		}
		v := d.Event().Value
		cmd, _ := v.Get("execute")
		s, _ := cmd.Str()
		fmt.Println(s) // valid until the next Feed
		if first.Kind() == qjson.Null {
			first = v.Clone()
		}
	}
	fmt.Println(first)
	// Output:
	// guest-sync
	// guest-ping
	// {"execute": "guest-sync", "arguments": {"id": 1}}
}
