// Package sim is a deterministic, seeded simulation of the host↔guest
// channel of the QEMU guest agent, with injectable faults. A fuzzer finds
// inputs; a simulator finds interleavings: a host that times out,
// reconnects and reads the previous session's reply, an agent that restarts
// in the middle of a value, a byte lost or flipped, a 0xFF arriving
// mid-token. sim finds them and replays any of them from one seed.
//
// # The model
//
// A run puts three actors in one process, in virtual time:
//
//   - the host: a workload of calls with deadlines (guest-sync with unique
//     ids, guest-ping, guest-info, guest-sync-delimited, malformed requests
//     with unique names) made through the real qga.Client, with one of four
//     strategies (Delimited, FlushPlain, Plain, Naive); a reconnect fault
//     kills the host process, in the middle of a call (half a request
//     written, or a request written and its reply not read) or between
//     calls, and a new one, with a new Client, takes over;
//   - the channel: two FIFO byte streams that behave like virtio-serial,
//     where the agent's parser state and the replies the host never read
//     survive a host reconnect (spec §1.4);
//   - the agent: the reference qga.Agent, reading up to 4096 bytes at a
//     time like qemu-ga, restarted or rebooted by faults.
//
// The Client's only blocking points are the calls of its Transport, so the
// simulator implements Transport and runs its event loop inside Read: the
// whole run is one goroutine, virtual time jumps from event to event, and
// the client gets the virtual clock (ClientOptions.Now) and a seeded id
// stream (ClientOptions.Rand). Call deadlines are contexts whose deadline
// lies in virtual time after Epoch (the year 2100), so they never fire in
// real time. Nothing reads the wall clock, so the same seed and options
// give the same trace, byte for byte, on every machine (a seed from a
// nightly job on amd64 replays on an arm64 or 32-bit one: the only float
// arithmetic, the swarm's log-uniform rates, goes through detmath, which
// no architecture computes differently); every run hashes its trace
// (SHA-256 over JSON Lines), Batch.CheckDeterminism runs each seed twice,
// and TestGoldenTraces pins a few hashes on every GOARCH.
// Randomness comes from independent PCG streams per purpose (workload,
// swarm mix, each fault's decisions, each client session), so removing a
// fault or a step while shrinking does not shift the other choices.
//
// # Memory
//
// A run keeps what its schedule needs (Result.Ops, 40 bytes a step, and
// Result.Events, about 130 bytes a fault event) and 4 bytes a call, and
// nothing else that grows with its length: the checker forgets the lines
// the client can no longer return, and the trace is only hashed unless
// Options.Trace keeps it (about 2.5 KB a step) or Options.TraceTo takes
// it in blocks as the run goes, which is how "qgafuzz sim --trace"
// writes a long run's trace. Schedule.Save, WriteTrace and
// WriteTraceFrom write the ops and events one at a time, and LoadSchedule
// reads only a trace file's header line. A run with a typical swarm mix holds
// about 95 bytes a step (a million steps: some 95 MB live, 220 MB at the
// collector's peak); one with every fault, about 300.
//
// # Faults
//
// Every fault is a small type behind the Fault interface, offered
// opportunities (Site): a chunk in flight host→agent or agent→host, the
// agent reading or replying, the host between calls, and, in the proxy,
// a connection between chunks. There are 14 kinds (see Kinds and
// FaultHelp): foreign, fragment, delay, stall, loss, bitflip, dup, ff,
// truncate, utf8split, late, restart, reboot and reconnect, each with a
// rate and parameters written "name:rate=R,key=value". By default each
// seed enables a random subset of kinds with random rates (swarm
// testing); Options.Faults pins a list.
//
// # Invariants
//
// Every byte in flight carries the number of the host write it came from,
// and every reply the number of the write that completed its request.
// Checked on every run:
//
//   - safety: a call's return value (or agent error) is the content of a
//     line the client read that is the reply to that call's own request —
//     not to an earlier call, not to a resynchronisation, not to another
//     writer;
//   - liveness: once the faults stop and their effects have passed, a call
//     succeeds within 5 calls of 2 virtual seconds each;
//   - the agent never panics, holds no more input than its limits allow,
//     and sends only well-formed qemu-ga replies.
//
// # Failures
//
// A failing run's Schedule (seed, client, fault mix, workload, and the
// fault events that fired) replays exactly (Replay); ParseSchedule,
// LoadSchedule and Replay refuse a schedule no run could have recorded.
// Shrink cuts the steps after the failing one, then removes fault events
// and workload steps while the same invariant still fails, within a budget
// of replays (ShrinkStats.BudgetUsedUp says when it ran out);
// ShrinkContext stops at a deadline too, with the smallest failing
// schedule found by then (ShrinkStats.Stopped). The Proxy
// applies the same byte faults to real connections, so a real host
// and a real qemu-ga can be put under them too.
//
// A run of one seed:
//
//	r, err := sim.Run(sim.Options{Seed: 7, Client: sim.Plain})
//	if err != nil {
//		log.Fatal(err)
//	}
//	if r.Failed() {
//		min, _, stats, _ := sim.Shrink(r, 0)
//		fmt.Println(r.First(), stats)
//		fmt.Println(min) // the fault events the failure needs
//	}
package sim
