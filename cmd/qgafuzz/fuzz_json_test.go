package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// fuzzJSONSchema is the documented --json object of qgafuzz fuzz, written
// out apart from fuzzJSON so that a field added, renamed or dropped there
// fails decodeFuzzJSON until the tests and docs follow.
type fuzzJSONSchema struct {
	Mode                   string                 `json:"mode"`
	Target                 string                 `json:"target"`
	Engine                 string                 `json:"engine"`
	Seconds                *float64               `json:"seconds"`
	ExitCode               *int                   `json:"exit_code"`
	Error                  string                 `json:"error"`
	Interrupted            bool                   `json:"interrupted"`
	EngineSeconds          *float64               `json:"engine_seconds"`
	Execs                  *int64                 `json:"execs"`
	ExecsPerSec            *float64               `json:"execs_per_second"`
	EngineCorpus           *int                   `json:"engine_corpus"`
	NewCoverage            *int                   `json:"new_coverage"`
	Crashes                *int                   `json:"crashes"`
	DistinctSignatures     *int                   `json:"distinct_signatures"`
	CrashGroups            []fuzzCrashGroupSchema `json:"crash_groups"`
	HardStopped            bool                   `json:"hard_stopped"`
	Corpus                 string                 `json:"corpus"`
	CorpusBefore           *int                   `json:"corpus_before"`
	CorpusAfter            *int                   `json:"corpus_after"`
	Agent                  string                 `json:"agent"`
	Reference              string                 `json:"reference"`
	Seed                   *uint64                `json:"seed"`
	Streams                *int64                 `json:"streams"`
	StreamsPerSec          *float64               `json:"streams_per_second"`
	Bytes                  *int64                 `json:"bytes"`
	Divergences            *int                   `json:"divergences"`
	AgentDeaths            *int                   `json:"agent_deaths"`
	AgentHangs             *int                   `json:"agent_hangs"`
	AgentRestarts          *int                   `json:"agent_restarts"`
	StoppedEarly           bool                   `json:"stopped_early"`
	FirstDivergenceSeconds *float64               `json:"first_divergence_seconds"`
	Replay                 string                 `json:"replay"`
	Writes                 *int                   `json:"writes"`
	Findings               []fuzzFindingSchema    `json:"findings"`
}

// fuzzFindingSchema is one of findings[].
type fuzzFindingSchema struct {
	File      string `json:"file"`
	Report    string `json:"report"`
	Repro     string `json:"repro"`
	Signature string `json:"signature"`
}

// fuzzCrashGroupSchema is one of crash_groups[].
type fuzzCrashGroupSchema struct {
	Signature        string   `json:"signature"`
	SignatureUnknown string   `json:"signature_unknown"`
	Inputs           int      `json:"inputs"`
	New              int      `json:"new"`
	Smallest         string   `json:"smallest"`
	Repro            string   `json:"repro"`
	Files            []string `json:"files"`
}

// decodeFuzzJSON checks that stdout holds one JSON object of the schema
// and nothing else, with the exit code the command returned.
func decodeFuzzJSON(t *testing.T, code int, stdout, stderr string) fuzzJSONSchema {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(stdout))
	dec.DisallowUnknownFields()
	var j fuzzJSONSchema
	if err := dec.Decode(&j); err != nil {
		t.Fatalf("stdout is not the --json object: %v\nstdout:\n%s\nstderr:\n%s", err, stdout, stderr)
	}
	var extra json.RawMessage
	if err := dec.Decode(&extra); err != io.EOF {
		t.Fatalf("stdout holds more than one JSON object (%v):\n%s", err, stdout)
	}
	if j.ExitCode == nil || *j.ExitCode != code {
		t.Errorf("exit_code wrong or missing, but the command exited %d:\n%s", code, stdout)
	}
	if j.Seconds == nil || *j.Seconds <= 0 {
		t.Errorf("seconds missing or 0, want the run's time:\n%s", stdout)
	}
	return j
}

// printedRepros returns the "reproduce with:" lines of a run's text.
func printedRepros(text string) []string {
	var lines []string
	for _, l := range strings.Split(text, "\n") {
		if _, r, ok := strings.Cut(l, "reproduce with: "); ok {
			lines = append(lines, r)
		}
	}
	return lines
}

// checkFindings checks that each finding's files exist, that its repro
// names its file, and that the run printed (on standard error, with
// --json) the repro of every finding of a differential run and, of an
// engine run, that of each crash group's smallest input, a finding too.
func checkFindings(t *testing.T, j fuzzJSONSchema, stderr string) {
	t.Helper()
	printed := strings.Join(printedRepros(stderr), "\n") + "\n"
	for _, f := range j.Findings {
		for _, p := range []string{f.File, f.Report} {
			if _, err := os.Stat(p); err != nil {
				t.Errorf("finding %+v: %v", f, err)
			}
		}
		if f.Repro == "" || !strings.Contains(f.Repro, f.File) {
			t.Errorf("finding's repro %q does not name its file %s", f.Repro, f.File)
		}
		if j.Mode != "engine" && !strings.Contains(printed, f.Repro+"\n") {
			t.Errorf("finding's repro %q is not a printed reproduce line: %q", f.Repro, printed)
		}
	}
	grouped := 0
	for _, g := range j.CrashGroups {
		grouped += len(g.Files)
		if g.Repro == "" || !strings.Contains(printed, g.Repro+"\n") {
			t.Errorf("crash group's repro %q is not a printed reproduce line: %q", g.Repro, printed)
		}
		if !slices.ContainsFunc(j.Findings, func(f fuzzFindingSchema) bool { return f.File == g.Smallest && f.Repro == g.Repro }) {
			t.Errorf("crash group's smallest %s (repro %q) is not a finding", g.Smallest, g.Repro)
		}
	}
	if j.Mode == "engine" && grouped != len(j.Findings) {
		t.Errorf("crash groups hold %d files, for %d findings", grouped, len(j.Findings))
	}
}

// TestFuzzJSONEngineCrash: an engine run that finds a crasher (a planted
// bug) prints the JSON object alone on stdout, exit_code 1, with the
// stored crasher and the reproduce line printed for it.
func TestFuzzJSONEngineCrash(t *testing.T) {
	out := t.TempDir()
	code, stdout, stderr := runCmdline("fuzz", "--target", "differential", "--plant-bug", "split-utf8",
		"--time", "5s", "--corpus", t.TempDir(), "--out", out, "--json")
	if code != exitFinding {
		t.Fatalf("exit %d, want %d\n%s\n%s", code, exitFinding, stdout, stderr)
	}
	j := decodeFuzzJSON(t, code, stdout, stderr)
	if j.Mode != "engine" || j.Target != "differential" || j.Engine != "native" || j.Crashes == nil || *j.Crashes < 1 {
		t.Errorf("mode %q, target %q, engine %q, crashes %v; want engine, differential, native, 1 or more", j.Mode, j.Target, j.Engine, j.Crashes)
	}
	if len(j.Findings) != 1 || len(printedRepros(stderr)) != 1 {
		t.Fatalf("%d findings, %d printed reproduce lines; want 1 each:\n%s\n%s", len(j.Findings), len(printedRepros(stderr)), stdout, stderr)
	}
	checkFindings(t, j, stderr)
	if filepath.Dir(j.Findings[0].File) != out {
		t.Errorf("finding %s not under --out %s", j.Findings[0].File, out)
	}
	if !strings.Contains(stderr, "qgafuzz fuzz: done: differential/native") {
		t.Errorf("the summary is not on stderr:\n%s", stderr)
	}
}

// TestFuzzJSONEngineClean: a short engine run that finds nothing gives
// exit_code 0, no findings, and the engine's counts; its progress lines
// and the corpus line go to stderr.
func TestFuzzJSONEngineClean(t *testing.T) {
	corpusDir := t.TempDir()
	code, stdout, stderr := runCmdline("fuzz", "--target", "parser", "--time", "4s", "--jobs", "1",
		"--corpus", corpusDir, "--out", t.TempDir(), "--json")
	if code != exitOK {
		t.Fatalf("exit %d, want %d\n%s\n%s", code, exitOK, stdout, stderr)
	}
	j := decodeFuzzJSON(t, code, stdout, stderr)
	if j.Mode != "engine" || j.Target != "parser" || len(j.Findings) != 0 || j.Error != "" || j.Interrupted {
		t.Errorf("want a clean engine run of parser:\n%s", stdout)
	}
	if j.Execs == nil || *j.Execs < 1 || j.ExecsPerSec == nil || j.NewCoverage == nil || j.Crashes == nil || *j.Crashes != 0 {
		t.Errorf("want the engine's counts:\n%s\n%s", stdout, stderr)
	}
	if j.Corpus != corpusDir || j.CorpusAfter == nil || j.CorpusBefore == nil || *j.CorpusAfter < *j.CorpusBefore {
		t.Errorf("corpus %q, before %v, after %v; want %s and its counts", j.Corpus, j.CorpusBefore, j.CorpusAfter, corpusDir)
	}
	for _, want := range []string{"qgafuzz fuzz: native on parser", "qgafuzz fuzz: corpus ", "qgafuzz fuzz: done: parser/native"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}

// TestFuzzJSONDifferential: differential fuzzing of a planted-bug
// --agent-cmd agent reports its divergences and findings in the JSON
// object; a correct agent and a --replay to it report none, exit_code 0;
// an unreachable agent gives exit_code 3 and the error.
func TestFuzzJSONDifferential(t *testing.T) {
	bin := buildQgafuzz(t)
	t.Run("planted", func(t *testing.T) {
		agentCmd := bin + " agent --plant-bug split-utf8 --listen unix:{sock}"
		code, stdout, stderr := runCmdline("fuzz", "--target", "differential", "--time", "60s", "--max-findings", "1",
			"--seed", "7", "--agent-cmd", agentCmd, "--out", t.TempDir(), "--json")
		if code != exitFinding {
			t.Fatalf("exit %d, want %d\n%s\n%s", code, exitFinding, stdout, stderr)
		}
		j := decodeFuzzJSON(t, code, stdout, stderr)
		if j.Mode != "differential" || j.Divergences == nil || *j.Divergences < 1 || j.Seed == nil || *j.Seed != 7 ||
			j.Streams == nil || *j.Streams < 1 || j.FirstDivergenceSeconds == nil || !strings.Contains(j.Agent, agentCmd) {
			t.Errorf("mode %q, divergences %v, seed %v, streams %v, first divergence %v, agent %q", j.Mode, j.Divergences, j.Seed, j.Streams, j.FirstDivergenceSeconds, j.Agent)
		}
		if len(j.Findings) != *j.Divergences {
			t.Errorf("%d findings for %d divergences", len(j.Findings), *j.Divergences)
		}
		checkFindings(t, j, stderr)
		if !strings.Contains(stderr, "qgafuzz fuzz: done: differential:") {
			t.Errorf("the summary is not on stderr:\n%s", stderr)
		}
		// --max-findings 1 stopped it, and the agent was restarted after
		// its divergence, as the summary says too.
		if !j.StoppedEarly {
			t.Errorf("stopped_early false; --max-findings 1 stopped the run:\n%s", stdout)
		}
		if j.AgentRestarts == nil || *j.AgentRestarts < *j.Divergences {
			t.Errorf("agent_restarts missing or fewer than one per divergence:\n%s", stdout)
		} else if !strings.Contains(stderr, fmt.Sprintf(", agent restarts %d\n", *j.AgentRestarts)) {
			t.Errorf("the summary does not give the %d restarts:\n%s", *j.AgentRestarts, stderr)
		}
		// Its --replay line, with --json, counts the agent's restart
		// after the divergence as differential fuzzing does; it used to
		// leave agent_restarts, agent_deaths and agent_hangs out.
		if len(j.Findings) == 0 {
			return
		}
		_, args := reproArgs(t, "reproduce with: "+j.Findings[0].Repro)
		args = append(args, "--json")
		code, stdout, stderr = runCmdline(args...)
		r := decodeFuzzJSON(t, code, stdout, stderr)
		if code != exitFinding || r.Mode != "replay" || !is(r.Divergences, 1) || r.AgentRestarts == nil || *r.AgentRestarts < 1 ||
			!is(r.AgentDeaths, 0) || !is(r.AgentHangs, 0) {
			t.Errorf("%s --json: exit %d; want %d, one divergence, agent_restarts >= 1, no death or hang:\n%s\n%s",
				j.Findings[0].Repro, code, exitFinding, stdout, stderr)
		}
	})
	t.Run("clean", func(t *testing.T) {
		code, stdout, stderr := runCmdline("fuzz", "--target", "differential", "--time", "2s", "--seed", "1",
			"--agent-cmd", bin+" agent --listen unix:{sock}", "--out", t.TempDir(), "--json")
		j := decodeFuzzJSON(t, code, stdout, stderr)
		if code != exitOK || j.Divergences == nil || *j.Divergences != 0 || len(j.Findings) != 0 || j.Error != "" ||
			j.Streams == nil || *j.Streams < 1 {
			t.Errorf("exit %d; want 0, streams and no divergences:\n%s\n%s", code, stdout, stderr)
		}
		if j.StoppedEarly || j.AgentRestarts == nil || *j.AgentRestarts != 0 {
			t.Errorf("want stopped_early false and agent_restarts 0 (no divergence to restart after):\n%s", stdout)
		}
	})
	t.Run("replay", func(t *testing.T) {
		seed := filepath.Join("..", "..", "corpus", "differential", firstSeed(t))
		code, stdout, stderr := runCmdline("fuzz", "--target", "differential",
			"--agent-cmd", bin+" agent --listen unix:{sock}", "--replay", seed, "--json")
		j := decodeFuzzJSON(t, code, stdout, stderr)
		if code != exitOK || j.Mode != "replay" || j.Divergences == nil || *j.Divergences != 0 || j.Replay != absPath(seed) ||
			j.Writes == nil || *j.Writes < 1 {
			t.Errorf("exit %d; want 0, mode replay, no divergence:\n%s\n%s", code, stdout, stderr)
		}
		if !is(j.AgentRestarts, 0) || !is(j.AgentDeaths, 0) || !is(j.AgentHangs, 0) {
			t.Errorf("want agent_restarts, agent_deaths and agent_hangs 0 for a replay with no divergence:\n%s", stdout)
		}
		if !strings.Contains(stderr, "PASS: identical replies") {
			t.Errorf("the verdict is not on stderr:\n%s", stderr)
		}
	})
	t.Run("unreachable", func(t *testing.T) {
		code, stdout, stderr := runCmdline("fuzz", "--target", "differential", "--agent", "unix:"+filepath.Join(t.TempDir(), "nope.sock"),
			"--time", "5s", "--out", t.TempDir(), "--json")
		j := decodeFuzzJSON(t, code, stdout, stderr)
		if code != exitTransport || !is(j.ExitCode, exitTransport) || !strings.Contains(j.Error, "cannot reach the agent") || !is(j.Streams, int64(0)) {
			t.Errorf("exit %d, error %q; want %d (exit_code too), the error and streams 0:\n%s", code, j.Error, exitTransport, stdout)
		}
		if strings.Contains(stderr, "done:") || !strings.Contains(stderr, "qgafuzz fuzz: cannot reach the agent") {
			t.Errorf("want the error and no done summary on stderr:\n%s", stderr)
		}
		if j.AgentRestarts != nil {
			t.Errorf("agent_restarts %d for an --agent agent, which qgafuzz does not restart", *j.AgentRestarts)
		}
	})
}

// TestFuzzJSONUsage: a usage error prints no JSON, only the message.
func TestFuzzJSONUsage(t *testing.T) {
	code, stdout, stderr := runCmdline("fuzz", "--target", "parser", "--seed", "3", "--json")
	if code != exitUsage || stdout != "" || !strings.Contains(stderr, "--seed") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

// TestFuzzJSONDocumented: every field of the --json object is named in
// fuzz --help and in README.md.
func TestFuzzJSONDocumented(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range []reflect.Type{reflect.TypeFor[fuzzJSON](), reflect.TypeFor[fuzzFindingJSON](), reflect.TypeFor[crashGroupJSON]()} {
		for f := range typ.Fields() {
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if !strings.Contains(fuzzHelp, name) {
				t.Errorf("fuzz --help does not name the --json field %s", name)
			}
			if !bytes.Contains(readme, []byte("`"+name+"`")) && !bytes.Contains(readme, []byte("`"+name+"[]`")) {
				t.Errorf("README.md does not name the --json field `%s`", name)
			}
		}
	}
}
