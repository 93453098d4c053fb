package sim

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoadScheduleErrors: a schedule or trace file that is empty, cut
// short, of a later version, or edited into something no run records is
// an error naming the file (and, where the JSON breaks, the line); never
// a replay in which an event silently does not fire, a pass taken for a
// fix.
func TestLoadScheduleErrors(t *testing.T) {
	r := firstFailing(t, Plain, "dup:rate=0.2,dir=a2h")
	dir := t.TempDir()
	good := filepath.Join(dir, "trace.jsonl")
	if err := WriteTrace(good, r); err != nil {
		t.Fatal(err)
	}
	trace, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	sched, err := json.MarshalIndent(r.Schedule(), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	edit := func(f func(s *Schedule)) []byte {
		s := r.Schedule()
		s.Ops, s.Events = append([]Op(nil), s.Ops...), append([]Event(nil), s.Events...)
		f(s)
		b, _ := json.MarshalIndent(s, "", "  ")
		return b
	}
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "empty"},
		{"truncated schedule", sched[:len(sched)/2], "line " + itoa(int64(strings.Count(string(sched[:len(sched)/2]), "\n")+1)) + ": the JSON ends early"},
		{"truncated trace header", trace[:100], "line 1: the JSON ends early"},
		{"syntax error", []byte(strings.Replace(string(sched), `"seed": `, `"seed" `, 1)), "line 3, column"},
		{"data after the schedule", append(sched, "\n}\n"...), "line "},
		// The decoder finds an unknown field once it has read the whole
		// schedule: no line rather than the last one.
		{"unknown field", []byte(strings.Replace(string(sched), `"seed": `, `"sed": 1, "seed": `, 1)), `not a schedule or a trace file: json: unknown field "sed"`},
		{"later version", edit(func(s *Schedule) { s.Version = ScheduleVersion + 1 }), "a newer one wrote it"},
		{"no version", []byte("{}"), "no schedule version"},
		{"event after the workload", edit(func(s *Schedule) { s.Events[0].Step = len(s.Ops) + 1 }), "could never fire"},
		{"event before the workload", edit(func(s *Schedule) { s.Events[0].Step = 0 }), "could never fire"},
		{"event of another kind", edit(func(s *Schedule) { s.Events[0].Kind = "loss" }), `kind "loss", but fault 0 is dup`},
		{"opportunity 0", edit(func(s *Schedule) { s.Events[0].N = 0 }), "count from 1"},
		{"event twice", edit(func(s *Schedule) { s.Events = append(s.Events, s.Events[0]) }), "the same opportunity"},
		{"unknown call", edit(func(s *Schedule) { s.Ops[0].Kind = "sink" }), `unknown kind "sink"`},
		{"negative deadline", edit(func(s *Schedule) { s.Ops[0].Deadline = -1 }), "positive deadline"},
		{"bad fault", edit(func(s *Schedule) { s.Faults = []string{"dup:rate=2"} }), "faults[0]"},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "-")+".json")
			if err := os.WriteFile(path, c.data, 0o644); err != nil {
				t.Fatal(err)
			}
			s, err := LoadSchedule(path)
			if err == nil || !strings.Contains(err.Error(), path+": ") || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("LoadSchedule: %v, want an error naming %s and saying %q", err, path, c.want)
			}
			if s != nil {
				t.Fatalf("LoadSchedule returned a schedule with its error")
			}
		})
	}
	// The untouched files load and replay.
	if s, err := LoadSchedule(good); err != nil || s.TraceHash != r.TraceHash {
		t.Fatalf("%s: %v", good, err)
	}
	if s, err := ParseSchedule(sched); err != nil || s.TraceHash != r.TraceHash {
		t.Fatalf("the schedule: %v", err)
	}
}

// TestReplayRejectsImpossibleEvents: Replay refuses a schedule whose event
// could never fire, rather than running without it.
func TestReplayRejectsImpossibleEvents(t *testing.T) {
	r := firstFailing(t, Plain, "dup:rate=0.2,dir=a2h")
	s := r.Schedule()
	s.Events = append([]Event(nil), s.Events...)
	s.Events[0].Step = len(s.Ops) + 5
	if res, err := Replay(s, false); err == nil || !strings.Contains(err.Error(), "could never fire") {
		t.Fatalf("Replay: %v (failed %v)", err, res != nil && res.Failed())
	}
}

// A JSON error is placed at the byte at fault: it was one column to the
// right, and an error at a line's end was put on the next line.
func TestJSONErrorPlace(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"{\n  \"a\" 1}", "line 2, column 7:"},
		{"{\"a\": 1,\n}", "line 2, column 1:"},
		{"{\"a\": 1\n\"b\": 2}", "line 2, column 1:"},
		{"{\"a\": [1 2]}", "line 1, column 10:"},
	} {
		var v map[string]any
		err := json.Unmarshal([]byte(tc.in), &v)
		if err == nil {
			t.Fatalf("%q decoded", tc.in)
		}
		if got := jsonErrorAt([]byte(tc.in), 0, err).Error(); !strings.HasPrefix(got, tc.want) {
			t.Errorf("%q: %s, want %s", tc.in, got, tc.want)
		}
	}
}

// TestScheduleV1ReconnectReplaysAsRecorded: a version 1 schedule, written
// before reconnect had at (so its spec names none), replays the run it
// recorded, in which reconnect struck only on its timer, although today's
// default (at=any) would strike in calls too.
func TestScheduleV1ReconnectReplaysAsRecorded(t *testing.T) {
	var r *Result
	for seed := uint64(1); seed <= 50 && r == nil; seed++ {
		res, err := Run(Options{Seed: seed, Client: Delimited, Faults: "reconnect:rate=0.3,at=idle"})
		if err != nil {
			t.Fatal(err)
		}
		if Applied(res.Events) > 0 {
			r = res
		}
	}
	if r == nil {
		t.Fatal("no seed in 1..50 with a reconnect event")
	}
	v1 := r.Schedule()
	v1.Version = 1
	v1.Faults = []string{strings.Replace(v1.Faults[0], ",at=idle", "", 1)}
	if strings.Contains(v1.Faults[0], "at=") {
		t.Fatalf("spec %q: want one without at", v1.Faults[0])
	}
	replay := func(s *Schedule) *Result {
		t.Helper()
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		parsed, err := ParseSchedule(b)
		if err != nil {
			t.Fatal(err)
		}
		res, err := Replay(parsed, false)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	if got := replay(v1); got.TraceHash != r.TraceHash {
		t.Errorf("version 1 schedule (%s) replays with trace %s, want the recorded %s", v1.Faults[0], got.TraceHash, r.TraceHash)
	}
	// The same spec in a version 2 schedule means at=any: another run.
	v2 := *v1
	v2.Version = ScheduleVersion
	v2.Faults = append([]string(nil), v1.Faults...)
	if got := replay(&v2); got.TraceHash == r.TraceHash {
		t.Errorf("version 2 schedule (%s) replays as at=idle: the test cannot tell the versions apart", v2.Faults[0])
	}
}
