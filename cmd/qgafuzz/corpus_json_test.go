package main

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/qgafuzz/qgafuzz/fuzz"
)

// corpusJSONSchema is the documented --json object of qgafuzz corpus,
// written out apart from corpusJSON so that a field added, renamed or
// dropped there fails decodeCorpusJSON until the tests and docs follow.
type corpusJSONSchema struct {
	Subcommand          string   `json:"subcommand"`
	Target              string   `json:"target"`
	Inputs              []string `json:"inputs"`
	Output              string   `json:"output"`
	Format              string   `json:"format"`
	Seconds             *float64 `json:"seconds"`
	ExitCode            *int     `json:"exit_code"`
	Error               string   `json:"error"`
	Interrupted         bool     `json:"interrupted"`
	FilesBefore         *int     `json:"files_before"`
	FilesAfter          *int     `json:"files_after"`
	BytesBefore         *int64   `json:"bytes_before"`
	BytesAfter          *int64   `json:"bytes_after"`
	CoverageBefore      *int     `json:"coverage_before"`
	CoverageAfter       *int     `json:"coverage_after"`
	Candidates          *int     `json:"candidates"`
	Added               *int     `json:"added"`
	BytesAdded          *int64   `json:"bytes_added"`
	Written             *int     `json:"written"`
	BytesWritten        *int64   `json:"bytes_written"`
	Existing            *int     `json:"existing"`
	Files               *int     `json:"files"`
	Bytes               *int64   `json:"bytes"`
	Largest             string   `json:"largest"`
	LargestBytes        *int64   `json:"largest_bytes"`
	Coverage            *int     `json:"coverage"`
	Duplicates          *int     `json:"duplicates"`
	Failing             *int     `json:"failing"`
	PerInputSeconds     *float64 `json:"per_input_seconds"`
	ExecPerInputSeconds *float64 `json:"exec_per_input_seconds"`
	Skipped             *int     `json:"skipped"`
	Problems            []struct {
		Path    string `json:"path"`
		Message string `json:"message"`
		Warning bool   `json:"warning"`
	} `json:"problems"`
}

// decodeOneJSON checks that stdout holds exactly one JSON object of type
// T, with no field T lacks, and nothing after it.
func decodeOneJSON[T any](t *testing.T, stdout, stderr string) T {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(stdout))
	dec.DisallowUnknownFields()
	var v T
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("stdout is not the --json object: %v\nstdout:\n%s\nstderr:\n%s", err, stdout, stderr)
	}
	var extra json.RawMessage
	if err := dec.Decode(&extra); err != io.EOF {
		t.Fatalf("stdout holds more than one JSON object (%v):\n%s", err, stdout)
	}
	return v
}

// decodeCorpusJSON checks that stdout holds one object of the schema and
// nothing else, with the exit code the command returned.
func decodeCorpusJSON(t *testing.T, code int, stdout, stderr string) corpusJSONSchema {
	t.Helper()
	j := decodeOneJSON[corpusJSONSchema](t, stdout, stderr)
	if j.ExitCode == nil || *j.ExitCode != code {
		t.Errorf("exit_code wrong or missing, but the command exited %d:\n%s", code, stdout)
	}
	if j.Seconds == nil || *j.Seconds <= 0 {
		t.Errorf("seconds missing or 0, want the run's time:\n%s", stdout)
	}
	return j
}

// is reports whether p is set and equal to want.
func is[T comparable](p *T, want T) bool { return p != nil && *p == want }

// TestCorpusJSONStats: stats --json of a directory of 3 files, one a
// duplicate, and a dangling link gives the counts, the link as a problem
// and exit_code 0, with the text on stderr; a missing directory gives
// exit_code 2 and the error; a usage error prints no JSON.
func TestCorpusJSONStats(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a"), []byte("xx"), 0o644)
	os.WriteFile(filepath.Join(dir, "b"), []byte("yyyy"), 0o644)
	os.WriteFile(filepath.Join(dir, "c"), []byte("xx"), 0o644)
	os.Symlink(filepath.Join(dir, "gone"), filepath.Join(dir, "broken"))
	code, stdout, stderr := runCapture("corpus", "stats", dir, "--json")
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	j := decodeCorpusJSON(t, code, stdout, stderr)
	if j.Subcommand != "stats" || !reflect.DeepEqual(j.Inputs, []string{dir}) || !is(j.Files, 3) || !is(j.Bytes, 8) ||
		!is(j.Duplicates, 1) || j.Largest != filepath.Join(dir, "b") || !is(j.LargestBytes, 4) || !is(j.Skipped, 1) {
		t.Errorf("want stats of 3 files, 8 bytes, 1 duplicate, largest b (4 bytes), 1 skipped:\n%s", stdout)
	}
	if j.Coverage != nil || j.Failing != nil || j.PerInputSeconds != nil || j.Target != "" {
		t.Errorf("coverage given without --target:\n%s", stdout)
	}
	if len(j.Problems) != 1 || j.Problems[0].Path != filepath.Join(dir, "broken") || j.Problems[0].Warning || j.Problems[0].Message == "" {
		t.Errorf("problems: want the dangling link, not a warning:\n%s", stdout)
	}
	if !strings.Contains(stderr, "files: 3\n") || !strings.Contains(stderr, "skipping "+filepath.Join(dir, "broken")) {
		t.Errorf("the text is not on stderr:\n%s", stderr)
	}

	// A directory that mixes native files with others: a warning, not a
	// skipped file.
	mixed := t.TempDir()
	os.WriteFile(filepath.Join(mixed, "native"), []byte("go test fuzz v1\n[]byte(\"x\")\n"), 0o644)
	os.WriteFile(filepath.Join(mixed, "raw"), []byte("y"), 0o644)
	code, stdout, stderr = runCapture("corpus", "stats", "--json", mixed)
	j = decodeCorpusJSON(t, code, stdout, stderr)
	if code != exitOK || !is(j.Files, 2) || !is(j.Skipped, 0) || len(j.Problems) != 1 || !j.Problems[0].Warning || j.Problems[0].Path != mixed {
		t.Errorf("mixed directory: exit %d, want 2 files, 0 skipped, 1 warning:\n%s", code, stdout)
	}

	missing := filepath.Join(t.TempDir(), "missing")
	code, stdout, stderr = runCapture("corpus", "stats", missing, "--json")
	j = decodeCorpusJSON(t, code, stdout, stderr)
	if code != exitUsage || !strings.Contains(j.Error, "no such file") || j.Files != nil {
		t.Errorf("missing directory: exit %d, want %d and the error, no counts:\n%s", code, exitUsage, stdout)
	}

	code, stdout, stderr = runCapture("corpus", "stats", "--json")
	if code != exitUsage || stdout != "" || !strings.Contains(stderr, "want DIR") {
		t.Errorf("usage error: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

// TestCorpusJSONImportExport: import --json counts the files written (a
// duplicate once), a second import into the same directory counts them as
// already there, and export reports its format and directory.
func TestCorpusJSONImportExport(t *testing.T) {
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "one"), []byte("first"), 0o644)
	os.WriteFile(filepath.Join(src, "two"), []byte("second"), 0o644)
	os.WriteFile(filepath.Join(src, "dup"), []byte("first"), 0o644)
	raw := filepath.Join(t.TempDir(), "raw")
	code, stdout, stderr := runCapture("corpus", "import", "--format", "libfuzzer", src, "--out", raw, "--json")
	j := decodeCorpusJSON(t, code, stdout, stderr)
	if code != exitOK || j.Subcommand != "import" || j.Output != raw || j.Format != "raw" || !is(j.Written, 2) ||
		!is(j.BytesWritten, 11) || !is(j.Existing, 0) || !is(j.Duplicates, 1) || !is(j.Skipped, 0) || len(j.Problems) != 0 {
		t.Errorf("import: exit %d, want 2 files (11 bytes) written as raw into %s:\n%s\n%s", code, raw, stdout, stderr)
	}
	if !strings.Contains(stderr, "corpus import: 2 files written") {
		t.Errorf("the summary is not on stderr:\n%s", stderr)
	}
	code, stdout, stderr = runCapture("corpus", "import", "--format", "libfuzzer", src, "--out", raw, "--json")
	j = decodeCorpusJSON(t, code, stdout, stderr)
	if code != exitOK || !is(j.Written, 0) || !is(j.Existing, 2) {
		t.Errorf("import again: exit %d, want 0 written, 2 already there:\n%s", code, stdout)
	}

	work := filepath.Join(t.TempDir(), "work")
	code, stdout, stderr = runCapture("corpus", "export", "--format", "gofuzz", raw, "--out", work, "--json")
	j = decodeCorpusJSON(t, code, stdout, stderr)
	if code != exitOK || j.Subcommand != "export" || j.Format != "gofuzz" || j.Output != filepath.Join(work, "corpus") || !is(j.Written, 2) {
		t.Errorf("export: exit %d, want 2 files as gofuzz in %s/corpus:\n%s\n%s", code, work, stdout, stderr)
	}

	// The output among the sources: exit 2 with the error.
	code, stdout, stderr = runCapture("corpus", "export", "--format", "libfuzzer", raw, "--out", raw, "--json")
	j = decodeCorpusJSON(t, code, stdout, stderr)
	if code != exitUsage || !strings.Contains(j.Error, "one of the sources") || j.Written != nil {
		t.Errorf("export into a source: exit %d, want %d and the error:\n%s", code, exitUsage, stdout)
	}
}

// TestCorpusJSONMinimizeMerge: minimize --json of the parser seeds with a
// planted duplicate gives fewer files after, the duplicate counted and the
// coverage kept; merging the seeds into the minimized corpus adds nothing;
// stats --target measures the coverage.
func TestCorpusJSONMinimizeMerge(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the coverage server")
	}
	if !fuzzInstrumented() {
		t.Skipf("GOARCH %s: no fuzzing instrumentation", runtime.GOARCH)
	}
	src := filepath.Join(t.TempDir(), "parser")
	if code, out, errOut := runCapture("corpus", "import", "--format", "libfuzzer", "../../corpus/parser", "--out", src); code != exitOK {
		t.Fatalf("import: %d\n%s%s", code, out, errOut)
	}
	b, _ := os.ReadFile(filepath.Join("../../corpus/parser", "vec-ff.alone"))
	os.WriteFile(filepath.Join(src, "planted-dup"), b, 0o644)
	os.Symlink(filepath.Join(src, "gone"), filepath.Join(src, "broken"))

	min := filepath.Join(t.TempDir(), "min")
	code, stdout, stderr := runCapture("corpus", "minimize", "--target", "parser", src, "--out", min, "--json")
	if code != exitOK {
		t.Fatalf("minimize: exit %d\n%s\n%s", code, stdout, stderr)
	}
	j := decodeCorpusJSON(t, code, stdout, stderr)
	if j.Subcommand != "minimize" || j.Target != "parser" || j.Output != min || j.Format != "raw" || j.FilesBefore == nil || j.FilesAfter == nil ||
		*j.FilesAfter == 0 || *j.FilesAfter >= *j.FilesBefore || j.BytesAfter == nil || j.BytesBefore == nil || *j.BytesAfter >= *j.BytesBefore {
		t.Errorf("minimize: want fewer files and bytes after:\n%s", stdout)
	}
	if j.Duplicates == nil || *j.Duplicates < 1 || !is(j.Failing, 0) || !is(j.Skipped, 1) || len(j.Problems) != 1 ||
		j.Problems[0].Path != filepath.Join(src, "broken") {
		t.Errorf("minimize: want the planted duplicate counted and the dangling link skipped:\n%s", stdout)
	}
	if j.CoverageBefore == nil || *j.CoverageBefore == 0 || j.CoverageAfter == nil || *j.CoverageAfter != *j.CoverageBefore ||
		j.PerInputSeconds == nil || j.ExecPerInputSeconds == nil {
		t.Errorf("minimize: want the coverage, unchanged, and the times:\n%s", stdout)
	}
	if ents, _ := os.ReadDir(min); j.FilesAfter != nil && len(ents) != *j.FilesAfter {
		t.Errorf("minimize: %d files in %s, files_after %d", len(ents), min, *j.FilesAfter)
	}
	if !strings.Contains(stderr, "corpus minimize: parser:") || !strings.Contains(stderr, "building the coverage server") {
		t.Errorf("the summary and progress are not on stderr:\n%s", stderr)
	}
	minFiles, cov := j.FilesAfter, j.CoverageAfter

	code, stdout, stderr = runCapture("corpus", "merge", "--target", "parser", "--into", min, src, "--json")
	j = decodeCorpusJSON(t, code, stdout, stderr)
	if code != exitOK || j.Subcommand != "merge" || j.Output != min || j.Format != "raw" || !is(j.Added, 0) || !is(j.BytesAdded, 0) ||
		minFiles == nil || !is(j.FilesBefore, *minFiles) || j.Candidates == nil || *j.Candidates <= *minFiles ||
		cov == nil || !is(j.CoverageBefore, *cov) || !is(j.CoverageAfter, *cov) {
		t.Errorf("merge into the minimized corpus: exit %d, want nothing added:\n%s\n%s", code, stdout, stderr)
	}
	if !is(j.Skipped, 1) || len(j.Problems) != 1 || j.Problems[0].Path != filepath.Join(src, "broken") {
		t.Errorf("merge: want the dangling link skipped:\n%s", stdout)
	}

	code, stdout, stderr = runCapture("corpus", "stats", "--target", "parser", min, "--json")
	j = decodeCorpusJSON(t, code, stdout, stderr)
	if code != exitOK || j.Target != "parser" || minFiles == nil || !is(j.Files, *minFiles) || !is(j.Duplicates, 0) ||
		cov == nil || !is(j.Coverage, *cov) || !is(j.Failing, 0) || j.PerInputSeconds == nil {
		t.Errorf("stats --target: exit %d, want the minimized corpus's counts and coverage:\n%s\n%s", code, stdout, stderr)
	}
}

// checkJSONDocumented checks that every field of the given types (their
// json names) is named in help and, in backticks, in README.md.
func checkJSONDocumented(t *testing.T, cmd, help string, types ...reflect.Type) {
	t.Helper()
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range types {
		for f := range typ.Fields() {
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if !regexp.MustCompile(`\b` + regexp.QuoteMeta(name) + `\b`).MatchString(help) {
				t.Errorf("%s --help does not name the --json field %s", cmd, name)
			}
			if !bytes.Contains(readme, []byte("`"+name+"`")) && !bytes.Contains(readme, []byte("`"+name+"[]`")) {
				t.Errorf("README.md does not name the %s --json field `%s`", cmd, name)
			}
		}
	}
}

// TestCorpusJSONDocumented: every field of corpus --json is named in
// corpus --help and in README.md, and the test schema has them all.
func TestCorpusJSONDocumented(t *testing.T) {
	checkJSONDocumented(t, "corpus", corpusHelp, reflect.TypeFor[corpusJSON](), reflect.TypeFor[corpusProblemJSON]())
	checkSchemaMatches(t, reflect.TypeFor[corpusJSON](), reflect.TypeFor[corpusJSONSchema]())
}

// checkSchemaMatches checks that the test's schema has the json names of
// the command's type, and no others, so that a field the tests do not know
// of fails here rather than only when a run happens to set it.
func checkSchemaMatches(t *testing.T, typ, schema reflect.Type) {
	t.Helper()
	names := func(typ reflect.Type) []string {
		var n []string
		for f := range typ.Fields() {
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			n = append(n, name)
		}
		return n
	}
	a, b := names(typ), names(schema)
	slices.Sort(a)
	slices.Sort(b)
	if !reflect.DeepEqual(a, b) {
		t.Errorf("%v has the fields %v, the test's schema %v", typ, a, b)
	}
}

// TestFuzzListJSON: fuzz --list --json prints one object with every
// target's name and doc, and nothing else.
func TestFuzzListJSON(t *testing.T) {
	code, stdout, stderr := runCapture("fuzz", "--list", "--json")
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	type target struct {
		Name string `json:"name"`
		Doc  string `json:"doc"`
	}
	l := decodeOneJSON[struct {
		Targets []target `json:"targets"`
	}](t, stdout, stderr)
	var want []target
	for _, tg := range fuzz.Targets() {
		want = append(want, target{tg.Name, tg.Doc})
	}
	if len(want) == 0 || !reflect.DeepEqual(l.Targets, want) {
		t.Errorf("targets %+v, want %+v", l.Targets, want)
	}
	checkJSONDocumented(t, "fuzz --list", fuzzHelp, reflect.TypeFor[targetListJSON](), reflect.TypeFor[targetJSON]())
}
