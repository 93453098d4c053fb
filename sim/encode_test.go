package sim

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/qgafuzz/qgafuzz/qga"
)

// TestScheduleJSONIsEncodingJSON: a schedule file and a trace header,
// written an op and an event at a time, are the bytes json.MarshalIndent
// and json.Marshal make of the whole schedule, whatever its slices hold
// (nil, empty) and whatever its strings need escaped.
func TestScheduleJSONIsEncodingJSON(t *testing.T) {
	fail := firstFailing(t, Plain, "")
	var bug *Result
	for _, b := range qga.Bugs() {
		if CheckAgentBug(b) == nil {
			bug = mustRun(t, Options{Seed: 3, AgentBug: b, Steps: 5})
			break
		}
	}
	odd := fail.Schedule()
	odd.Events = append([]Event{{Fault: 0, Kind: "x", Step: 1, N: 1, Info: "<&> \"\u2028\xff", NoEffect: "é"}}, odd.Events...)
	cases := map[string]*Schedule{
		"failing": fail.Schedule(), "agent bug": bug.Schedule(), "escapes": odd,
		"nil ops":   {Version: ScheduleVersion, Seed: 1, Client: Plain, Faults: []string{"dup"}},
		"empty":     {Version: ScheduleVersion, Seed: 1, Ops: []Op{}, Events: []Event{}, Faults: []string{}},
		"one each":  {Ops: fail.Ops[:1], Events: fail.Events[:1]},
		"nil sched": nil,
	}
	dir := t.TempDir()
	for name, s := range cases {
		want, err := json.MarshalIndent(s, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, "s.json")
		if err := s.Save(path); err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(path); !bytes.Equal(got, append(want, '\n')) {
			t.Fatalf("%s: Save wrote\n%s\nwant\n%s", name, got, want)
		}
		if s == nil {
			continue
		}
		wrap := func(s *Schedule) any { return traceHeader{Actor: "sim", Event: "schedule", Schedule: s} }
		want, err = json.Marshal(wrap(s))
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		w := bufio.NewWriter(&buf)
		if err := writeScheduleJSON(w, s, wrap, 1, ""); err != nil {
			t.Fatal(err)
		}
		w.Flush()
		if !bytes.Equal(buf.Bytes(), want) {
			t.Fatalf("%s: the trace header is\n%s\nwant\n%s", name, buf.Bytes(), want)
		}
	}
}
