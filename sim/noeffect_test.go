package sim

import (
	"bytes"
	"strings"
	"testing"
)

// TestActorFaultCountsAreTruthful: a reboot or reconnect that comes to
// nothing (the quiet phase cancels it, the session it was to end has
// already ended, the agent is already down for longer) is marked and not
// counted, so that the events counted as applied match what the trace
// shows happened: one host crash per reconnect, one reboot per reboot.
// Every such event used to be counted.
func TestActorFaultCountsAreTruthful(t *testing.T) {
	noEffect := 0
	for seed := uint64(1); seed <= 20; seed++ {
		o := Options{Seed: seed, Faults: "reboot:rate=0.3,within=3s,min=1s,max=2s reconnect:rate=0.4,within=2s", Steps: 30, Trace: true}
		r := mustRun(t, o)
		applied := map[string]int{}
		for _, e := range r.Events {
			if e.NoEffect == "" {
				applied[e.Kind]++
			} else {
				noEffect++
			}
		}
		crashes := bytes.Count(r.Trace, []byte(`"actor":"host","event":"crash"`))
		reboots := bytes.Count(r.Trace, []byte(`"actor":"agent","event":"down","info":"reboot;`))
		if applied["reconnect"] != crashes || applied["reboot"] != reboots {
			t.Errorf("seed %d: %d reconnects and %d reboots counted as applied, but the host crashed %d times and the agent rebooted %d times",
				seed, applied["reconnect"], applied["reboot"], crashes, reboots)
		}
		s, err := (&Batch{Options: o, From: seed, To: seed, Workers: 1}).Run()
		if err != nil {
			t.Fatal(err)
		}
		if s.FaultEvents["reconnect"] != crashes || s.FaultEvents["reboot"] != reboots {
			t.Errorf("seed %d: the batch summary counts %v", seed, s.FaultEvents)
		}
		// A replay gives the same trace, no-effect lines included.
		if again, err := Replay(r.Schedule(), false); err != nil || again.TraceHash != r.TraceHash {
			t.Errorf("seed %d: the replay's trace differs (%v)", seed, err)
		}
	}
	if noEffect == 0 {
		t.Fatal("no event came to nothing: the test tests nothing")
	}
	var text strings.Builder
	mustRun(t, Options{Seed: 1, Faults: "reconnect:rate=1,within=2s", Steps: 10}).WriteText(&text)
	if !strings.Contains(text.String(), "that came to nothing)") {
		t.Errorf("the report does not say how many events came to nothing:\n%s", text.String())
	}
}
