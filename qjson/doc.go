// Package qjson is a streaming JSON lexer, streamer and parser faithful to
// the QEMU guest agent (qemu-ga 7.2): it accepts exactly the language the
// agent accepts (single-quoted strings, modified UTF-8, the agent's number
// classes), reports exactly the errors the agent reports, at the byte where
// the agent reports them, and serializes values the way the agent writes its
// replies.
//
// The byte 0xFF is never valid input; like every lexical error it drops the
// partial message and puts the lexer in recovery mode, which is what makes it
// the protocol's flush byte. Numbers and keywords are complete only when the
// byte after them arrives. The sequence of events never depends on how the
// input is split into Feed calls.
//
// A Decoder is fed chunks and yields one Event per reply qemu-ga would send:
//
//	d := qjson.NewDecoder()
//	for len(p) > 0 {
//		n, ok := d.Feed(p)
//		p = p[n:]
//		if ok {
//			ev := d.Event()
//			if ev.Err != nil {
//				fmt.Println("error at", ev.Err.Offset, ev.Err.Desc)
//				continue
//			}
//			fmt.Printf("%s\n", qjson.AppendValue(nil, ev.Value))
//		}
//	}
//
// With the BoundaryOnly option the Decoder only finds where messages end,
// without allocating, for proxies and simulators on the hot path. With
// ReuseValues it builds each message's Value in the memory of the last one,
// valid until the next Feed, for callers that handle one message at a time
// (the reference agent does).
package qjson
