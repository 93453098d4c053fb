package qga_test

import (
	"bytes"
	"testing"

	"github.com/qgafuzz/qgafuzz/qga"
)

// BenchmarkAgentFeed measures the reference agent answering a stream of
// requests fed in qemu-ga's 4096-byte reads: syncs, pings, a guest-info,
// a blocked command, a wrong argument type and a flush. MB/s counts the
// requests; the replies go into a reused buffer.
func BenchmarkAgentFeed(b *testing.B) {
	var in bytes.Buffer
	for in.Len() < 1<<20 {
		in.WriteString(`{"execute":"guest-sync","arguments":{"id":1234567890123}}` + "\n")
		in.WriteString("\xff" + `{"execute":"guest-sync-delimited","arguments":{"id":42}}` + "\n")
		in.WriteString(`{"execute":"guest-ping","id":"req-17"}` + "\n")
		in.WriteString(`{"execute":"guest-info"}` + "\n")
		in.WriteString(`{"execute":"guest-exec","arguments":{"path":"/bin/true"}}` + "\n")
		in.WriteString(`{"execute":"guest-sync","arguments":{"id":"7"}}` + "\n")
	}
	stream := in.Bytes()
	a := qga.NewAgent(qga.AgentConfig{})
	var out []byte
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()
	for b.Loop() {
		for off := 0; off < len(stream); off += 4096 {
			out = a.Feed(out[:0], stream[off:min(off+4096, len(stream))])
			if len(out) == 0 {
				b.Fatal("no reply to a 4096-byte read")
			}
		}
	}
}
