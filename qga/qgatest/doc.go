// Package qgatest provides the test harness for qemu-ga wire-protocol work:
// a loader for the recorded qemu-ga 7.2 vectors (shared/vectors/qga72.jsonl),
// a socket runner that replays a vector exactly like shared/vectors/probe.py
// against any agent listening on a unix socket, and a helper that runs a
// real qemu-ga as a child process for differential tests. It also has the
// hostile agent the host client is tested against (HostileAgent,
// ServeHostile), and seeded request streams (GenStream) with a Session that
// plays them to an agent behind a socket.
//
// The real agent is always started in unix-listen mode, in its own
// temporary directory, never daemonized, and with every RPC except
// guest-sync, guest-sync-delimited, guest-ping and guest-info blocked.
// StartQemuGAProcess, given no directory, makes one (qgafuzz-qemuga-*) with
// package tmpdir, so that one left by a killed process is removed by the
// next such start.
// Tests skip when qemu-ga is not installed, unless $CI is set.
//
// Parser state in qemu-ga lives for the whole process, not per connection,
// and qemu-ga 7.2 exits when a client closes a connection while replies sit
// unread in its receive buffer. The runner therefore drains before closing,
// and callers check QemuGA.Alive after an error and Restart if needed.
//
// Environment:
//
//	QGAFUZZ_QEMU_GA   path of the qemu-ga binary (default: PATH, /usr/sbin, ...)
//	QGAFUZZ_VECTORS   path of the vector file (default: <module>/../shared/vectors/qga72.jsonl)
//	CI                when non-empty, a missing qemu-ga fails tests instead of skipping them
//
// A differential test replays every vector against the oracle:
//
//	func TestOracle(t *testing.T) {
//		vs := qgatest.RealVectors(t)
//		ga := qgatest.StartQemuGA(t) // skips if qemu-ga is absent
//		var conn *qgatest.Conn
//		for i := range vs {
//			v := &vs[i]
//			if v.Big() {
//				continue
//			}
//			got, _, next, err := qgatest.RunVector(ga.Dial, conn, v, 0)
//			if err != nil {
//				t.Fatal(err)
//			}
//			conn = next
//			if !bytes.Equal(got, v.Output) {
//				t.Errorf("%s: got %q, want %q", v.Name, got, v.Output)
//			}
//		}
//		conn.Close()
//	}
//
// The same loop runs against an in-process agent by passing a dial
// function for its socket (see DialUnix).
package qgatest
