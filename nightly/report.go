package nightly

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/qgafuzz/qgafuzz/fuzz"
)

// This file writes the three reports of a night: report.json (for
// machines; its schema is documented in README "Nightly job"),
// junit.xml (for CI dashboards: one test case per target and per
// simulation, plus one failing test case per new unique crash) and
// summary.md (for the person reading it in the morning).

// SchemaVersion names the schema of report.json.
const SchemaVersion = "qgafuzz-nightly/1"

// Report is report.json.
type Report struct {
	Schema      string    `json:"schema"`
	Start       time.Time `json:"start"`
	End         time.Time `json:"end"`
	Budget      Duration  `json:"budget"`
	Agent       string    `json:"agent"`
	GoVersion   string    `json:"go_version"`
	Interrupted bool      `json:"interrupted"`
	// Written says the reports are in Out. They are not when another
	// night holds Out, or when Out cannot be written.
	Written bool `json:"-"`
	// ExitCode is 0 (nothing new), 1 (new crash) or 2 (internal error).
	ExitCode   int      `json:"exit_code"`
	NewCrashes int      `json:"new_crashes"`
	Targets    []Target `json:"targets"`
	Crashes    []Crash  `json:"crashes"`
	// Notes are things a person should know (recovered directories,
	// skipped files); Errors made the run incomplete.
	Notes  []string `json:"notes,omitempty"`
	Errors []string `json:"errors,omitempty"`
}

// Target is one fuzz target's or the simulation's part of the night.
type Target struct {
	Name string `json:"name"`
	// Kind is "fuzz" (native engine), "sim" (swarm simulation) or
	// "qemu-ga" (the differential corpus replayed against a live qemu-ga).
	Kind         string   `json:"kind"`
	Budget       Duration `json:"budget"`
	Elapsed      Duration `json:"elapsed"`
	Execs        int64    `json:"execs"`
	ExecsPerSec  float64  `json:"execs_per_sec"`
	Coverage     int      `json:"coverage_bits"`
	CorpusBefore int      `json:"corpus_before"`
	CorpusAfter  int      `json:"corpus_after"`
	Restarts     int      `json:"engine_restarts"`
	// For the simulation only (absent for the others): the seeds run, and
	// how many of them failed. Pointers, so that seed 0 and no failure
	// are still written.
	SeedFrom *uint64 `json:"seed_from,omitempty"`
	SeedTo   *uint64 `json:"seed_to,omitempty"`
	Failing  *int    `json:"failing_runs,omitempty"`
	// Crashes lists the signatures of the unique crashes found.
	Crashes []string `json:"crashes"`
	Error   string   `json:"error,omitempty"`
	// Skipped is why the part did not run tonight (the budget was used
	// up before it, or it cannot run with the agent under test); its
	// numbers are then zero. A CI system must see such a part, not miss
	// it.
	Skipped string `json:"skipped,omitempty"`
}

// Crash is one unique crash (one signature).
type Crash struct {
	Target    string `json:"target"`
	Signature string `json:"signature"`
	Summary   string `json:"summary"`
	// Dir is the crash directory; Repro the command that reproduces it.
	Dir   string `json:"dir"`
	Repro string `json:"repro"`
	// Hits is the number of inputs (or seeds) that failed this way.
	Hits          int  `json:"hits"`
	OriginalSize  int  `json:"original_size"`
	MinimizedSize int  `json:"minimized_size"`
	Suppressed    bool `json:"suppressed"`
	// New is true unless suppressed: it fails the run.
	New bool `json:"new"`
	// KnownBefore is true when an earlier run stored this crash in Dir.
	KnownBefore bool `json:"known_before"`
}

// firstSeen reports whether a crash that fails the run was found tonight
// for the first time; stillFailing, whether an earlier night stored it.
func (c Crash) firstSeen() bool    { return c.New && !c.KnownBefore }
func (c Crash) stillFailing() bool { return c.New && c.KnownBefore }

// Duration marshals as seconds (a float).
type Duration time.Duration

// MarshalJSON writes seconds.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).Seconds())
}

// UnmarshalJSON reads seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s float64
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	*d = Duration(s * float64(time.Second))
	return nil
}

func (d Duration) String() string { return time.Duration(d).Round(time.Second).String() }

// addError adds lines to t's error: a target can fail in several ways in
// one night, and each must show.
func (t *Target) addError(lines ...string) {
	t.Error = strings.TrimSpace(t.Error + "\n" + strings.Join(lines, "\n"))
}

func reportJSON(r *Report) ([]byte, error) {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// JUnit XML.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Time     junitTime    `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name      string      `xml:"name,attr"`
	Tests     int         `xml:"tests,attr"`
	Failures  int         `xml:"failures,attr"`
	Errors    int         `xml:"errors,attr"`
	Skipped   int         `xml:"skipped,attr"`
	Time      junitTime   `xml:"time,attr"`
	Timestamp string      `xml:"timestamp,attr"`
	Cases     []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      junitTime     `xml:"time,attr"`
	Failure   *junitMessage `xml:"failure,omitempty"`
	Error     *junitMessage `xml:"error,omitempty"`
	Skipped   *junitMessage `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

// junitTime is a time attribute: seconds in decimal notation with
// milliseconds, as JUnit's schema (xs:decimal) and Surefire's write it;
// encoding/xml would write a float64 as 4.2e-05.
type junitTime float64

func (t junitTime) MarshalXMLAttr(name xml.Name) (xml.Attr, error) {
	return xml.Attr{Name: name, Value: strconv.FormatFloat(float64(t), 'f', 3, 64)}, nil
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr,omitempty"`
	Body    string `xml:",chardata"`
}

func buildJUnit(r *Report) *junitSuites {
	s := junitSuite{Name: "qgafuzz.nightly", Timestamp: r.Start.UTC().Format("2006-01-02T15:04:05"),
		Time: junitTime(r.End.Sub(r.Start).Seconds())}
	for _, t := range r.Targets {
		c := junitCase{Name: t.Kind + "/" + t.Name, Classname: "qgafuzz." + t.Kind, Time: junitTime(time.Duration(t.Elapsed).Seconds()),
			SystemOut: fmt.Sprintf("execs %d (%.0f/s), coverage %d bits, corpus %d -> %d, unique crashes %d",
				t.Execs, t.ExecsPerSec, t.Coverage, t.CorpusBefore, t.CorpusAfter, len(t.Crashes))}
		switch t.Kind { // as summary.md counts them: seeds, streams (no coverage)
		case "sim":
			c.SystemOut = fmt.Sprintf("seeds %d (%.0f/s), unique crashes %d", t.Execs, t.ExecsPerSec, len(t.Crashes))
		case "qemu-ga":
			c.SystemOut = fmt.Sprintf("streams %d (%.0f/s), unique crashes %d", t.Execs, t.ExecsPerSec, len(t.Crashes))
		}
		switch {
		case t.Error != "":
			c.Error = &junitMessage{Message: firstLine(t.Error), Type: "internal", Body: t.Error}
			s.Errors++
		case t.Skipped != "":
			// A part that did not run: its numbers say nothing.
			c.SystemOut = ""
			c.Skipped = &junitMessage{Message: t.Skipped}
			s.Skipped++
		case t.Execs == 0 && !r.Interrupted:
			// A share spent loading the corpus tested nothing: not a pass.
			c.Skipped = &junitMessage{Message: noInputReason(t)}
			s.Skipped++
		}
		s.Cases = append(s.Cases, c)
	}
	for _, cr := range r.Crashes {
		c := junitCase{Name: cr.Target + " crash " + filepath.Base(cr.Dir), Classname: "qgafuzz.crash." + cr.Target}
		body := fmt.Sprintf("signature: %s\n%s\nhits: %d, minimized %d -> %d bytes\nstored in: %s\nreproduce: %s\n",
			cr.Signature, cr.Summary, cr.Hits, cr.OriginalSize, cr.MinimizedSize, cr.Dir, cr.Repro)
		if cr.Suppressed {
			c.Skipped = &junitMessage{Message: "suppressed: " + cr.Signature, Body: body}
			s.Skipped++
		} else {
			c.Failure = &junitMessage{Message: cr.Signature, Type: "crash", Body: body}
			s.Failures++
		}
		s.Cases = append(s.Cases, c)
	}
	// Errors of the run itself (setup, storing, reports) are a test case
	// too, so that a CI system never reads a night that could not run as
	// a pass; an interrupted night is marked as such.
	if len(r.Errors) > 0 {
		body := strings.Join(r.Errors, "\n")
		s.Cases = append(s.Cases, junitCase{Name: "nightly/run", Classname: "qgafuzz.nightly",
			Error: &junitMessage{Message: firstLine(body), Type: "internal", Body: body}})
		s.Errors++
	}
	if r.Interrupted {
		s.Cases = append(s.Cases, junitCase{Name: "nightly/budget", Classname: "qgafuzz.nightly",
			Skipped: &junitMessage{Message: fmt.Sprintf("interrupted after %s of the %s budget", Duration(r.End.Sub(r.Start)), r.Budget)}})
		s.Skipped++
	}
	s.Tests = len(s.Cases)
	return &junitSuites{Name: "qgafuzz nightly", Tests: s.Tests, Failures: s.Failures, Errors: s.Errors,
		Time: s.Time, Suites: []junitSuite{s}}
}

func reportJUnit(r *Report) ([]byte, error) {
	b, err := xml.MarshalIndent(buildJUnit(r), "", "  ")
	if err != nil {
		return nil, err
	}
	return append([]byte(xml.Header), append(b, '\n')...), nil
}

// noInputReason says why a fuzz target's share ran no input (counted by
// the engine's status lines). A target that stopped early with crashes
// had its engine stop at a crash, each time before its first status line
// (a failing seed or corpus input stops Go's engine before it fuzzes):
// a larger budget would not help there, so the message must not ask for
// one.
func noInputReason(t Target) string {
	if len(t.Crashes) > 0 && t.Elapsed < t.Budget {
		return fmt.Sprintf("ran no input past its crashes: the engine stopped at a crash before its first status line, %s into its %s share (fix or suppress the crash; a larger budget does not help)", t.Elapsed, t.Budget)
	}
	return "ran no input in its " + t.Budget.String() + " share (starting the engine and loading the corpus took it all); raise --budget"
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// Problems returns what made the run incomplete: the run's errors and
// each target's, prefixed with its name.
func (r *Report) Problems() []string {
	errs := append([]string(nil), r.Errors...)
	for _, t := range r.Targets {
		if t.Error != "" {
			errs = append(errs, t.Name+": "+t.Error)
		}
	}
	return errs
}

// summary renders summary.md.
func summary(r *Report) string {
	var b strings.Builder
	verdict := "all fine"
	switch {
	case r.ExitCode == 2:
		verdict = "**run incomplete (internal error)**"
	case r.NewCrashes > 0:
		known := 0
		for _, c := range r.Crashes {
			if c.stillFailing() {
				known++
			}
		}
		var parts []string
		if fresh := r.NewCrashes - known; fresh > 0 {
			parts = append(parts, plural(fresh, "new crash", "new crashes"))
		}
		if known > 0 {
			parts = append(parts, plural(known, "known crash still failing", "known crashes still failing"))
		}
		verdict = "**" + strings.Join(parts, ", ") + "**"
	}
	fmt.Fprintf(&b, "# qgafuzz nightly, %s\n\n", r.Start.UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(&b, "Result: %s (exit %d). Budget %s, ran %s, agent %s, %s.", verdict, r.ExitCode,
		r.Budget, Duration(r.End.Sub(r.Start)), r.Agent, r.GoVersion)
	if r.Interrupted {
		b.WriteString(" **Interrupted** before the budget was used up.")
	}
	b.WriteString("\n\n| target | time | execs | execs/s | coverage (bits) | corpus before → after | new crashes |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|\n")
	for _, t := range r.Targets {
		newc := 0
		for _, cr := range r.Crashes {
			if cr.firstSeen() && cr.Target == t.Name {
				newc++
			}
		}
		execs, cov, corp := fmt.Sprint(t.Execs), fmt.Sprint(t.Coverage), fmt.Sprintf("%d → %d", t.CorpusBefore, t.CorpusAfter)
		// The simulation runs seeds, the qemu-ga share streams (the
		// differential seeds, mutated): neither measures coverage nor
		// grows a corpus.
		switch t.Kind {
		case "sim":
			execs = fmt.Sprintf("%d seeds", t.Execs)
			cov, corp = "–", "–"
		case "qemu-ga":
			execs = fmt.Sprintf("%d streams", t.Execs)
			cov, corp = "–", "–"
		}
		name := t.Name
		if t.Error != "" {
			name += " ⚠"
		}
		if t.Skipped != "" {
			name += " (not run)"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %.0f | %s | %s | %d |\n", name, t.Elapsed, execs, t.ExecsPerSec, cov, corp, newc)
	}
	section := func(title string, want func(Crash) bool) {
		first := true
		for _, cr := range r.Crashes {
			if !want(cr) {
				continue
			}
			if first {
				fmt.Fprintf(&b, "\n## %s\n", title)
				first = false
			}
			fmt.Fprintf(&b, "\n### %s: `%s`\n\n%s\n\n- hits: %d; minimized %d → %d bytes\n- stored in `%s`\n- reproduce:\n\n  ```sh\n  %s\n  ```\n",
				cr.Target, cr.Signature, cr.Summary, cr.Hits, cr.OriginalSize, cr.MinimizedSize, cr.Dir, cr.Repro)
		}
	}
	section("New crashes", Crash.firstSeen)
	section("Known crashes, still failing (stored by an earlier night)", Crash.stillFailing)
	section("Suppressed crashes", func(c Crash) bool { return c.Suppressed })
	errs := r.Problems()
	for _, l := range []struct {
		title string
		lines []string
	}{{"Errors", errs}, {"Notes", r.Notes}} {
		if len(l.lines) > 0 {
			fmt.Fprintf(&b, "\n## %s\n\n", l.title)
			for _, s := range l.lines {
				fmt.Fprintf(&b, "- %s\n", strings.ReplaceAll(s, "\n", "\n  "))
			}
		}
	}
	return b.String()
}

// reportNames are the reports of a night, in the order they are written.
var reportNames = []string{"report.json", "junit.xml", "summary.md"}

// removeReports removes the reports in dir (a previous night's).
// DropReports removes the last night's reports from out for a night that
// will not run (a usage error of qgafuzz nightly): a CI job that
// publishes them must not show that night's results as tonight's. A
// night running in out (holding its lock) keeps its predecessor's
// reports until it writes its own; an out without reports is left as
// it is (no lock file made).
func DropReports(out string) {
	found := false
	for _, n := range reportNames {
		if _, err := os.Lstat(filepath.Join(out, n)); err == nil {
			found = true
		}
	}
	if !found {
		return
	}
	release, err := lockOut(out)
	if err != nil {
		return
	}
	defer release()
	removeReports(out)
}

func removeReports(dir string) {
	for _, n := range reportNames {
		os.Remove(filepath.Join(dir, n))
	}
}

// WriteReports writes report.json, junit.xml and summary.md into dir, all
// three or none: each is written in full to a temporary file first, and
// only then are they renamed into place. When that fails (a full disk),
// the reports of an earlier night are removed too, since next to this
// night's report.json, or in its place, a CI job would read the last
// night's "all fine" junit.xml as tonight's.
func WriteReports(dir string, r *Report) error {
	js, err := reportJSON(r)
	if err != nil {
		return err
	}
	ju, err := reportJUnit(r)
	if err != nil {
		return err
	}
	data := [][]byte{js, ju, []byte(summary(r))}
	var tmps []string
	defer func() {
		for _, t := range tmps {
			os.Remove(t)
		}
	}()
	fail := func(err error) error {
		removeReports(dir)
		return err
	}
	for i, n := range reportNames {
		t, err := fuzz.WriteTemp(dir, n, data[i])
		if err != nil {
			return fail(fmt.Errorf("writing %s: %w", filepath.Join(dir, n), err))
		}
		tmps = append(tmps, t)
	}
	for i, n := range reportNames {
		if err := os.Rename(tmps[i], filepath.Join(dir, n)); err != nil {
			return fail(fmt.Errorf("writing %s: %w", filepath.Join(dir, n), err))
		}
	}
	tmps = nil
	// The reports are in place: an error now could be in none of them.
	_ = fuzz.SyncDir(dir)
	return nil
}
