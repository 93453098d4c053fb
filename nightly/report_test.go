package nightly

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func sampleReport() *Report {
	start := time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)
	return &Report{Schema: SchemaVersion, Start: start, End: start.Add(2 * time.Minute), Budget: Duration(2 * time.Minute),
		Agent: "builtin", GoVersion: "go1.26", ExitCode: 1, NewCrashes: 1,
		Targets: []Target{
			{Name: "parser", Kind: "fuzz", Execs: 1000, ExecsPerSec: 50, Coverage: 2000, CorpusBefore: 3, CorpusAfter: 9,
				Crashes: []string{"parser/panic x at <a> & \"b\""}},
			{Name: "sim", Kind: "sim", Execs: 500, Crashes: []string{}, Error: "boom\nsecond line"},
		},
		Crashes: []Crash{
			{Target: "parser", Signature: "parser/panic x at <a> & \"b\"", Summary: "panic: x\x01", Dir: "/out/crashers/parser/x-1",
				Repro: "qgafuzz repro --target parser '/out/crashers/parser/x-1/minimized'", Hits: 3, OriginalSize: 40, MinimizedSize: 2, New: true},
			{Target: "sim", Signature: "sim/liveness", Dir: "/out/crashers/sim/l-2", Suppressed: true},
		},
	}
}

// TestReportsValidate writes the reports and reads them back: report.json
// with encoding/json into the schema's types, junit.xml with
// encoding/xml, checking the counts CI dashboards use.
func TestReportsValidate(t *testing.T) {
	dir := t.TempDir()
	r := sampleReport()
	if err := WriteReports(dir, r); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&back); err != nil {
		t.Fatal(err)
	}
	if back.Schema != SchemaVersion || back.ExitCode != 1 || len(back.Crashes) != 2 || back.Budget != r.Budget ||
		back.Targets[0].Crashes[0] != r.Targets[0].Crashes[0] {
		t.Fatalf("report.json round trip: %+v", back)
	}
	x, err := os.ReadFile(filepath.Join(dir, "junit.xml"))
	if err != nil {
		t.Fatal(err)
	}
	ValidateJUnit(t, x, 4, 1, 1, 1)
	md, _ := os.ReadFile(filepath.Join(dir, "summary.md"))
	for _, want := range []string{"**1 new crash**", "| parser | ", "3 → 9", "## New crashes", "## Suppressed crashes", "qgafuzz repro --target parser", "## Errors"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("summary.md lacks %q:\n%s", want, md)
		}
	}
}

// ValidateJUnit parses a junit.xml and checks its structure and counts.
func ValidateJUnit(t *testing.T, b []byte, tests, failures, errors, skipped int) {
	t.Helper()
	var s junitSuites
	if err := xml.Unmarshal(b, &s); err != nil {
		t.Fatalf("junit.xml does not parse: %v\n%s", err, b)
	}
	if len(s.Suites) != 1 {
		t.Fatalf("want one test suite, got %d", len(s.Suites))
	}
	su := s.Suites[0]
	nf, ne, ns := 0, 0, 0
	for _, c := range su.Cases {
		if c.Name == "" || c.Classname == "" {
			t.Fatalf("test case without a name: %+v", c)
		}
		if c.Failure != nil {
			nf++
			if c.Failure.Message == "" || c.Failure.Body == "" {
				t.Fatalf("empty failure: %+v", c)
			}
		}
		if c.Error != nil {
			ne++
		}
		if c.Skipped != nil {
			ns++
		}
	}
	if len(su.Cases) != tests || su.Tests != tests || s.Tests != tests || nf != failures || su.Failures != failures ||
		s.Failures != failures || ne != errors || su.Errors != errors || ns != skipped || su.Skipped != skipped {
		t.Fatalf("junit counts: %d cases (attr %d/%d), %d failures (attr %d/%d), %d errors (attr %d), %d skipped (attr %d); want %d %d %d %d",
			len(su.Cases), su.Tests, s.Tests, nf, su.Failures, s.Failures, ne, su.Errors, ns, su.Skipped, tests, failures, errors, skipped)
	}
}

func TestCheckOptions(t *testing.T) {
	for _, c := range []struct {
		o    Options
		want string
	}{
		{Options{Out: "x"}, "--budget"},
		{Options{Budget: time.Second}, "--out"},
		{Options{Budget: time.Second, Out: "x", SimRuns: -5}, "--sim-runs -5"},
		{Options{Budget: time.Second, Out: "x", MinimizeBudget: -1}, "--minimize-budget -1"},
		{Options{Budget: time.Second, Out: "x", Targets: []string{"nope"}}, `no target "nope"`},
		{Options{Budget: time.Second, Out: "x", Targets: []string{"parser", "agent", "parser"}}, `"parser" is listed twice`},
		{Options{Budget: time.Second, Out: "x", Agent: "bug:nope"}, "no such planted bug"},
		{Options{Budget: time.Second, Out: "x", Agent: "vmware"}, "want builtin"},
		{Options{Budget: time.Second, Out: "x", Agent: "bug:silent-flush", Targets: []string{"differential"}}, ""},
		{Options{Budget: time.Second, Out: "x", Agent: "bug:silent-flush"}, ""},
		// Neither parser nor agent runs the agent under test, and the
		// simulation cannot show silent-flush: the night would report
		// "all fine" whatever the fuzzers do.
		{Options{Budget: time.Second, Out: "x", Agent: "bug:silent-flush", Targets: []string{"parser", "agent"}}, "no part of this run"},
		{Options{Budget: time.Second, Out: "x", Agent: "bug:duplicate-reply", Targets: []string{"parser"}}, ""},
		{Options{Budget: time.Second, Out: "x", Agent: "bug:duplicate-reply", Targets: []string{"parser"}, NoSim: true}, "no part of this run"},
	} {
		err := c.o.Check()
		if (err == nil) != (c.want == "") || (err != nil && !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%+v: %v, want %q", c.o, err, c.want)
		}
	}
}

// TestIncompleteRun: a target's error or an error of the run itself makes
// the night exit 2 (unless it found a new crash), and junit.xml shows the
// run's errors and an interruption, so that a CI system never reads a night
// that did not run fully as a clean pass.
func TestIncompleteRun(t *testing.T) {
	dir := t.TempDir()
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, c := range []struct {
		name    string
		rep     *Report
		ctx     context.Context
		exit    int
		cases   int
		errs    int
		skipped int
	}{
		{"target error", &Report{Targets: []Target{{Name: "agent", Kind: "qemu-ga", Error: "cannot start qemu-ga"}}}, context.Background(), 2, 1, 1, 0},
		{"run error", &Report{Errors: []string{"--suppressions: no such file"}}, context.Background(), 2, 1, 1, 0},
		{"interrupted", &Report{Targets: []Target{{Name: "parser", Kind: "fuzz"}}}, cancelled, 0, 2, 0, 1},
		{"clean", &Report{Targets: []Target{{Name: "parser", Kind: "fuzz", Execs: 100}}}, context.Background(), 0, 1, 0, 0},
		// A share that ran no input tested nothing: skipped, not a pass.
		{"no input run", &Report{Targets: []Target{{Name: "agent", Kind: "fuzz"}, {Name: "parser", Kind: "fuzz", Execs: 100}}}, context.Background(), 0, 2, 0, 1},
		// A part the budget left no time for is skipped too, as is one
		// that cannot run, interrupted or not; neither is an error.
		{"not run", &Report{Targets: []Target{{Name: "parser", Kind: "fuzz", Execs: 100}, skippedTarget("sim", "sim", "not run: the planted bug x cannot show in a simulation")}}, context.Background(), 0, 2, 0, 1},
		{"not run, interrupted", &Report{Targets: []Target{skippedTarget("agent", "fuzz", budgetUsedUp)}}, cancelled, 0, 2, 0, 2},
	} {
		out := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "-"))
		c.rep.Start, c.rep.Budget = time.Now(), Duration(time.Minute)
		n := &night{o: Options{Out: out}, rep: c.rep}
		rep := n.finish(c.ctx)
		if rep.ExitCode != c.exit {
			t.Errorf("%s: exit %d, want %d", c.name, rep.ExitCode, c.exit)
		}
		x, err := os.ReadFile(filepath.Join(out, "junit.xml"))
		if err != nil {
			t.Fatal(err)
		}
		ValidateJUnit(t, x, c.cases, 0, c.errs, c.skipped)
		md, _ := os.ReadFile(filepath.Join(out, "summary.md"))
		if incomplete := strings.Contains(string(md), "run incomplete"); incomplete != (c.exit == 2) {
			t.Errorf("%s: summary.md:\n%s", c.name, md)
		}
	}
}

// TestReportFieldsAlwaysPresent: the fields README lists are in report.json
// even at zero: engine_restarts for every target, and the simulation's
// seed range and failure count (seed 0 and no failure included), which the
// fuzz targets do not have.
func TestReportFieldsAlwaysPresent(t *testing.T) {
	dir := t.TempDir()
	var zero uint64
	var none int
	r := sampleReport()
	r.Targets[1].SeedFrom, r.Targets[1].SeedTo, r.Targets[1].Failing = &zero, &zero, &none
	if err := WriteReports(dir, r); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var raw struct {
		Targets []map[string]json.RawMessage `json:"targets"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	for i, want := range [][]string{{"engine_restarts"}, {"engine_restarts", "seed_from", "seed_to", "failing_runs"}} {
		for _, k := range want {
			if _, ok := raw.Targets[i][k]; !ok {
				t.Errorf("target %d: %s missing from report.json", i, k)
			}
		}
	}
	if _, ok := raw.Targets[0]["failing_runs"]; ok {
		t.Errorf("fuzz target has the simulation's failing_runs")
	}
}

// TestSummaryKnownBefore: a crash an earlier night stored, still failing,
// still fails the run but is not announced as new in summary.md.
func TestSummaryKnownBefore(t *testing.T) {
	r := sampleReport()
	r.Crashes[0].KnownBefore = true
	s := summary(r)
	if strings.Contains(s, "new crash**") || strings.Contains(s, "## New crashes") || !strings.Contains(s, "| 3 → 9 | 0 |") ||
		!strings.Contains(s, "**1 known crash still failing**") || !strings.Contains(s, "## Known crashes, still failing") {
		t.Fatalf("summary of a known crash:\n%s", s)
	}
	r.Crashes = append(r.Crashes, Crash{Target: "agent", Signature: "agent/x", New: true})
	r.NewCrashes = 2
	if s := summary(r); !strings.Contains(s, "**1 new crash, 1 known crash still failing**") {
		t.Fatalf("summary of a new and a known crash:\n%s", s)
	}
}

// Run checks its options itself: without a budget or an output directory
// it reports a usage problem and touches nothing, rather than building
// and fuzzing for the minimum share of every target, or writing into the
// working directory.
func TestRunChecksOptions(t *testing.T) {
	wd := t.TempDir()
	t.Chdir(wd)
	out := t.TempDir()
	for _, o := range []Options{
		{Out: out, Root: t.TempDir()},
		{Budget: time.Minute, Root: t.TempDir()},
	} {
		rep := Run(context.Background(), o)
		if rep.ExitCode != 2 || len(rep.Errors) != 1 || rep.Written {
			t.Errorf("%+v: exit %d, errors %q, written %v", o, rep.ExitCode, rep.Errors, rep.Written)
		}
	}
	for _, dir := range []string{wd, out} {
		if es, _ := os.ReadDir(dir); len(es) > 0 {
			t.Errorf("%s was touched: %v", dir, es)
		}
	}
}

// TestJUnitTimeDecimal: every time attribute of junit.xml is seconds in
// decimal notation (xs:decimal, as JUnit's schema and Surefire have it),
// also for a share that ended within microseconds (a target whose corpus
// cannot be read) and with at most milliseconds; encoding/xml wrote a
// float64 as 4.2e-05, which strict consumers reject.
func TestJUnitTimeDecimal(t *testing.T) {
	r := sampleReport()
	r.Targets[0].Elapsed = Duration(42 * time.Microsecond)
	r.Targets[1].Elapsed = Duration(2*time.Hour + 3*time.Millisecond)
	b, err := xml.Marshal(buildJUnit(r))
	if err != nil {
		t.Fatal(err)
	}
	decimal := regexp.MustCompile(`^[0-9]+(\.[0-9]{1,3})?$`)
	d := xml.NewDecoder(bytes.NewReader(b))
	n := 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			for _, a := range se.Attr {
				if a.Name.Local == "time" {
					n++
					if !decimal.MatchString(a.Value) {
						t.Errorf("<%s name=%q>: time=%q is not decimal seconds", se.Name.Local, attr(se, "name"), a.Value)
					}
				}
			}
		}
	}
	if n != 2+len(r.Targets)+len(r.Crashes) {
		t.Errorf("%d time attributes in\n%s", n, b)
	}
	ValidateJUnit(t, b, 4, 1, 1, 1)
}

func attr(se xml.StartElement, name string) string {
	for _, a := range se.Attr {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

// TestReportsAllOrNone makes the second report fail to be written (its
// name is taken by a directory, as a full disk would fail it): no report
// may be left, neither tonight's report.json alone nor the last night's
// summary.md, which a reader would take for tonight's.
func TestReportsAllOrNone(t *testing.T) {
	dir := t.TempDir()
	old := []byte("Result: all fine (exit 0).\n")
	if err := os.WriteFile(filepath.Join(dir, "summary.md"), old, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "report.json"), []byte(`{"exit_code": 0}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "junit.xml", "in-the-way"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := WriteReports(dir, sampleReport()); err == nil {
		t.Fatal("WriteReports succeeded with junit.xml a directory")
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.Name() != "junit.xml" {
			t.Errorf("after a failed WriteReports, %s is left in the output directory", e.Name())
		}
	}
}

// TestNoInputReason: a share whose engine stopped at a crash at once (a
// failing seed, as with --agent bug:NAME on the differential target) ran
// no input with most of its time left; junit.xml and the notes must not
// blame the budget for it, while a share that loading really used up
// still says to raise --budget.
func TestNoInputReason(t *testing.T) {
	stopped := Target{Name: "differential", Kind: "fuzz", Budget: Duration(15 * time.Second), Elapsed: Duration(300 * time.Millisecond),
		Crashes: []string{"differential/replies-match"}}
	slow := Target{Name: "parser", Kind: "fuzz", Budget: Duration(2 * time.Second), Elapsed: Duration(2500 * time.Millisecond)}
	r := &Report{Start: time.Now(), End: time.Now(), Targets: []Target{stopped, slow}}
	j := buildJUnit(r)
	if got := j.Suites[0].Cases[0].Skipped; got == nil ||
		strings.Contains(got.Message, "raise --budget") || !strings.Contains(got.Message, "crash") {
		t.Errorf("engine stopped at a crash: skipped %+v", got)
	}
	if got := j.Suites[0].Cases[1].Skipped; got == nil || !strings.Contains(got.Message, "raise --budget") {
		t.Errorf("share used up by loading: skipped %+v", got)
	}
}

// TestSkippedPartInReports: a part of the night that did not run is in
// report.json with the reason in skipped (absent for the parts that ran),
// in junit.xml as a skipped test case with that reason, and marked in
// summary.md's table, rather than missing from all three.
func TestSkippedPartInReports(t *testing.T) {
	dir := t.TempDir()
	r := sampleReport()
	why := budgetUsedUp + "; raise --budget"
	r.Targets = append(r.Targets, skippedTarget("delimiter", "fuzz", why))
	if err := WriteReports(dir, r); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var raw struct {
		Targets []map[string]json.RawMessage `json:"targets"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	if len(raw.Targets) != 3 {
		t.Fatalf("report.json has %d targets, want 3:\n%s", len(raw.Targets), b)
	}
	for i, tr := range raw.Targets[:2] {
		if _, ok := tr["skipped"]; ok {
			t.Errorf("target %d ran but has skipped: %s", i, tr["skipped"])
		}
	}
	var got string
	if err := json.Unmarshal(raw.Targets[2]["skipped"], &got); err != nil || got != why || string(raw.Targets[2]["crashes"]) != "[]" {
		t.Errorf("skipped target in report.json: %s", b)
	}
	x, err := os.ReadFile(filepath.Join(dir, "junit.xml"))
	if err != nil {
		t.Fatal(err)
	}
	ValidateJUnit(t, x, 5, 1, 1, 2)
	var s junitSuites
	if err := xml.Unmarshal(x, &s); err != nil {
		t.Fatal(err)
	}
	if c := s.Suites[0].Cases[2]; c.Name != "fuzz/delimiter" || c.Skipped == nil || c.Skipped.Message != why || c.SystemOut != "" {
		t.Errorf("skipped target in junit.xml: %+v", c)
	}
	md, _ := os.ReadFile(filepath.Join(dir, "summary.md"))
	if !strings.Contains(string(md), "| delimiter (not run) |") {
		t.Errorf("summary.md:\n%s", md)
	}
}

// TestSummaryRows: in summary.md's table, the simulation counts seeds and
// the qemu-ga share streams; neither has coverage or a corpus, so those
// columns say "–", not 0 or the seeds read.
func TestSummaryRows(t *testing.T) {
	r := &Report{Schema: SchemaVersion, Agent: "qemu-ga", Targets: []Target{
		{Name: "parser", Kind: "fuzz", Execs: 1000, ExecsPerSec: 50, Coverage: 2000, CorpusBefore: 3, CorpusAfter: 9, Crashes: []string{}},
		{Name: "qemu-ga", Kind: "qemu-ga", Execs: 120, ExecsPerSec: 12, CorpusBefore: 197, CorpusAfter: 197, Crashes: []string{}},
		{Name: "sim", Kind: "sim", Execs: 500, ExecsPerSec: 25, Crashes: []string{}},
	}}
	md := summary(r)
	for _, want := range []string{
		"| parser | 0s | 1000 | 50 | 2000 | 3 → 9 | 0 |\n",
		"| qemu-ga | 0s | 120 streams | 12 | – | – | 0 |\n",
		"| sim | 0s | 500 seeds | 25 | – | – | 0 |\n",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("summary.md lacks the row %q:\n%s", want, md)
		}
	}
	// junit.xml's output of each part counts as summary.md does.
	cases := buildJUnit(r).Suites[0].Cases
	for i, want := range []string{
		"execs 1000 (50/s), coverage 2000 bits, corpus 3 -> 9, unique crashes 0",
		"streams 120 (12/s), unique crashes 0",
		"seeds 500 (25/s), unique crashes 0",
	} {
		if got := cases[i].SystemOut; got != want {
			t.Errorf("junit case %s: system-out %q, want %q", cases[i].Name, got, want)
		}
	}
}
