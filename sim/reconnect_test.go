package sim

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// crashPlaces counts a run's host crashes by where the host was: "idle"
// (between calls), or in a call, by the point the crash line names
// ("mid-write", "sent", "mid-read", "deadline") or, for a crash on a
// timer that happened to land in a call, "timer". It reads the trace
// only: a call is in progress from its "call" line to its "result" line.
func crashPlaces(t testing.TB, r *Result) map[string]int {
	t.Helper()
	lines, err := ReadTrace(bytes.NewReader(r.Trace))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	inCall := false
	for _, l := range lines {
		if l.Actor != "host" {
			continue
		}
		switch l.Event {
		case "call":
			inCall = true
		case "result":
			inCall = false
		case "crash":
			place := "idle"
			if inCall {
				place = "timer"
				for _, p := range []string{"mid-write", "sent", "mid-read", "deadline"} {
					if strings.Contains(l.Info, ", "+p) || strings.Contains(l.Info, "at its "+p) {
						place = p
						break
					}
				}
			}
			out[place]++
		}
	}
	return out
}

// reconnectPlaces sums crashPlaces over seeds 1..n of client under faults.
func reconnectPlaces(t *testing.T, client Strategy, faults string, n uint64) (places map[string]int, total, inCall int) {
	places = map[string]int{}
	for seed := uint64(1); seed <= n; seed++ {
		for k, v := range crashPlaces(t, mustRun(t, Options{Seed: seed, Client: client, Faults: faults, Trace: true})) {
			places[k] += v
		}
	}
	for k, v := range places {
		total += v
		if k != "idle" {
			inCall += v
		}
	}
	return places, total, inCall
}

// TestReconnectStrikesMidCall: a reconnect kills the host in the middle
// of a call, with its request written and its reply not consumed, in a
// good share of the crashes it causes by default, at each of the points
// its help names. It used to roll a death "within 1s" of a step only,
// which nearly always fell between calls (1 crash of 263 in a call, over
// 500 seeds), so the client's hardest path was seldom taken.
func TestReconnectStrikesMidCall(t *testing.T) {
	places, total, inCall := reconnectPlaces(t, Delimited, "reconnect", 200)
	t.Logf("default: %d crashes, %d in a call: %v", total, inCall, places)
	if total < 50 || 10*inCall < 4*total {
		t.Errorf("default: %d of %d host crashes in a call, want at least 40%%", inCall, total)
	}
	for _, p := range []string{"mid-write", "sent", "mid-read"} {
		if 10*places[p] < inCall {
			t.Errorf("default: %d of the %d crashes in a call at %s, want at least 10%%", places[p], inCall, p)
		}
	}
	// at=call strikes in a call, and at=idle is the timer of old, which
	// nearly never does.
	places, total, inCall = reconnectPlaces(t, Delimited, "reconnect:at=call", 100)
	if total < 50 || 10*inCall < 9*total {
		t.Errorf("at=call: %d of %d host crashes in a call (%v), want at least 90%%", inCall, total, places)
	}
	places, total, inCall = reconnectPlaces(t, Delimited, "reconnect:at=idle", 100)
	if total < 20 || 10*inCall > total {
		t.Errorf("at=idle: %d of %d host crashes in a call (%v), want at most 10%%", inCall, total, places)
	}
}

// TestReconnectMidWriteLeavesHalfARequest: a reconnect that strikes
// mid-write leaves only the first bytes of the write in the channel: the
// write traced after the crash is a strict prefix of the one the client
// was making.
func TestReconnectMidWriteLeavesHalfARequest(t *testing.T) {
	checked := 0
	for seed := uint64(1); seed <= 30; seed++ {
		r := mustRun(t, Options{Seed: seed, Faults: "reconnect:rate=0.5,at=call", Trace: true})
		lines, err := ReadTrace(bytes.NewReader(r.Trace))
		if err != nil {
			t.Fatal(err)
		}
		for i, l := range lines {
			if l.Actor != "host" || l.Event != "crash" || !strings.Contains(l.Info, "mid-write: ") {
				continue
			}
			var k, n int
			if _, err := fmt.Sscanf(l.Info[strings.Index(l.Info, "mid-write: "):], "mid-write: %d of %d bytes written", &k, &n); err != nil || k >= n {
				t.Fatalf("seed %d: %q (%v)", seed, l.Info, err)
			}
			if k == 0 {
				continue
			}
			w := lines[i+1]
			if w.Actor != "host" || w.Event != "write" || len(w.Hex) != 2*k {
				t.Fatalf("seed %d: after %q, %+v, want a write of %d bytes", seed, l.Info, w, k)
			}
			checked++
		}
	}
	if checked < 20 {
		t.Fatalf("only %d mid-write reconnects checked", checked)
	}
}

// TestReconnectHeavySparesCarefulClients: the real qga.Client, with
// either careful strategy, passes every invariant when reconnects strike
// often, in calls and between them, alone and with the timing faults, and
// every seed runs twice to the same trace.
func TestReconnectHeavySparesCarefulClients(t *testing.T) {
	n := uint64(150)
	if testing.Short() {
		n = 50
	}
	for _, c := range []Strategy{Delimited, FlushPlain} {
		for _, f := range []string{"reconnect:rate=0.3", "reconnect:rate=0.5,at=call,delay=20ms",
			"fragment;delay;stall;late;restart;reconnect:rate=0.3"} {
			b := Batch{Options: Options{Client: c, Faults: f}, From: 1, To: n, CheckDeterminism: true, Workers: 2}
			s, err := b.Run()
			if err != nil {
				t.Fatal(err)
			}
			if s.Failures != 0 || len(s.Nondeterministic) != 0 {
				r := s.FirstFailure()
				t.Fatalf("%s, %s: %d failures (first %v), nondeterministic %v", c, f, s.Failures, r.First(), s.Nondeterministic)
			}
			if s.FaultEvents["reconnect"] < int(n) {
				t.Fatalf("%s, %s: only %d reconnects in %d seeds", c, f, s.FaultEvents["reconnect"], n)
			}
		}
	}
}

// TestReconnectCatchesStaleReplies: a client that takes the next line as
// its reply (naive) returns the previous host's reply as its own once a
// reconnect strikes between its request and its reply. The reconnect
// fault alone must now show it on many seeds; with at=idle (the fault as
// it was) it showed on none of 300 seeds, and on 3 of 300 at rate 0.3.
func TestReconnectCatchesStaleReplies(t *testing.T) {
	run := func(faults string) *Summary {
		s, err := (&Batch{Options: Options{Client: Naive, Faults: faults}, From: 1, To: 100, Workers: 2}).Run()
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	now, old := run("reconnect"), run("reconnect:at=idle")
	t.Logf("naive under reconnect: %d of 100 seeds fail (%v); at=idle: %d", now.Failures, now.ByInvariant, old.Failures)
	first := uint64(0) // none
	if r := now.FirstFailure(); r != nil {
		first = r.Seed
	}
	if now.ByInvariant[InvSafety] < 20 || first == 0 || first > 10 {
		t.Errorf("naive under reconnect: %d of 100 seeds break safety, the first failing seed is %d (0: none); want at least 20, within the first 10",
			now.ByInvariant[InvSafety], first)
	}
	if old.Failures >= now.Failures {
		t.Errorf("at=idle catches the naive client on %d seeds, the default on %d", old.Failures, now.Failures)
	}
}
