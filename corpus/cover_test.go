package corpus_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/qgafuzz/qgafuzz/corpus"
)

var (
	buildOnce sync.Once
	serverBin string
	buildErr  error
	buildDir  string
)

// tool returns a Tool on a coverage server built once for the package's
// tests.
func tool(t *testing.T) *corpus.Tool {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the coverage server")
	}
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "corpus-test-")
		if buildErr == nil {
			serverBin, buildErr = corpus.Build(context.Background(), "..", buildDir)
		}
	})
	if buildErr != nil {
		if errors.Is(buildErr, corpus.ErrNoInstrumentation) && !fuzzInstrumented() {
			t.Skipf("GOARCH %s: %v", runtime.GOARCH, buildErr)
		}
		t.Fatal(buildErr)
	}
	srv := &corpus.Server{Bin: serverBin}
	t.Cleanup(srv.Close)
	return &corpus.Tool{Server: srv}
}

// fuzzInstrumented reports whether Go builds fuzzing instrumentation for
// this GOARCH (internal/platform.FuzzInstrumented); elsewhere Build must
// say it cannot measure coverage.
func fuzzInstrumented() bool {
	switch runtime.GOARCH {
	case "amd64", "arm64", "loong64":
		return true
	}
	return false
}

// TestCountersPresent fails loudly when the fuzzing instrumentation's
// counters cannot be found: the section bounds used by Counters
// (runtime.__start___sancov_cntrs, runtime.__stop___sancov_cntrs) are not
// a public API, and a Go release may move them.
func TestCountersPresent(t *testing.T) {
	if n := len(corpus.Counters()); n != 0 {
		t.Fatalf("plain test binary has %d counters; expected none without -fuzz", n)
	}
	tl := tool(t)
	_, inputs, _ := readAll(t, "parser")
	r, err := tl.Server.Run("parser", inputs[0])
	if err != nil {
		t.Fatalf("the coverage server does not run (Go %s): %v\nIf the server says it has no 8-bit counters, this Go release moved the "+
			"fuzzing counters' section bounds: update corpus/cover_server.go", runtime.Version(), err)
	}
	if len(r.Features) < 50 {
		t.Fatalf("Go %s: an input of the parser target touched %d features; the fuzzing counters are not where corpus.Counters looks "+
			"(runtime.__start___sancov_cntrs): update corpus/cover_server.go", runtime.Version(), len(r.Features))
	}
	if r.Fail != "" || r.Err != "" {
		t.Fatalf("seed failed: %+v", r)
	}
	again, _ := tl.Server.Run("parser", inputs[0])
	if len(again.Features) != len(r.Features) {
		t.Fatalf("the same input gave %d then %d features", len(r.Features), len(again.Features))
	}
	bad, err := tl.Server.Run("no-such-target", nil)
	if err != nil || !strings.Contains(bad.Err, "no target") {
		t.Fatalf("unknown target: %+v, %v", bad, err)
	}
}

func readAll(t *testing.T, target string) ([]string, [][]byte, error) {
	es, _, err := corpus.ReadDirs(target)
	if err != nil || len(es) == 0 {
		t.Fatalf("corpus/%s: %v", target, err)
	}
	var names []string
	var data [][]byte
	for _, e := range es {
		names, data = append(names, e.Name), append(data, e.Data)
	}
	return names, data, nil
}

// TestMinimizeKeepsCoverage minimizes the parser's seeds together with the
// agent's (a corpus with much overlap) and checks the written corpus has
// exactly the coverage of the whole set, with fewer files.
func TestMinimizeKeepsCoverage(t *testing.T) {
	tl := tool(t)
	out := filepath.Join(t.TempDir(), "min")
	r, err := tl.Minimize(context.Background(), "parser", []string{"parser", "agent"}, out)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", r)
	if r.FeaturesAfter != r.FeaturesBefore || r.FeaturesBefore < 500 {
		t.Fatalf("coverage %d -> %d", r.FeaturesBefore, r.FeaturesAfter)
	}
	if r.FilesAfter == 0 || r.FilesAfter*2 > r.FilesBefore || r.BytesAfter >= r.BytesBefore {
		t.Fatalf("files %d -> %d, bytes %d -> %d", r.FilesBefore, r.FilesAfter, r.BytesBefore, r.BytesAfter)
	}
	if r.Duplicates == 0 {
		t.Fatal("the parser and agent seeds are the same files; duplicates not counted")
	}
	// The output must not be reused, nor an input directory.
	if _, err := tl.Minimize(context.Background(), "parser", []string{"parser"}, out); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("non-empty --out: %v", err)
	}
	if _, err := tl.Minimize(context.Background(), "parser", []string{"parser"}, "parser"); err == nil {
		t.Fatal("--out equal to an input was accepted")
	}
}

// TestMergeAddsOnlyNewCoverage merges a corpus into a part of itself.
func TestMergeAddsOnlyNewCoverage(t *testing.T) {
	tl := tool(t)
	into := filepath.Join(t.TempDir(), "into")
	names, data, _ := readAll(t, "parser")
	var part []corpus.Entry
	for i := 0; i < len(names); i += 10 {
		part = append(part, corpus.Entry{Name: names[i], Data: data[i]})
	}
	if _, err := corpus.Write(into, corpus.Raw, part); err != nil {
		t.Fatal(err)
	}
	r, err := tl.Merge(context.Background(), "parser", into, []string{"parser"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Added == 0 || r.Added >= r.Candidates || r.FeaturesAfter <= r.FeaturesBefore {
		t.Fatalf("first merge: %+v", r)
	}
	r2, err := tl.Merge(context.Background(), "parser", into, []string{"parser"})
	if err != nil {
		t.Fatal(err)
	}
	if r2.Added != 0 || r2.FeaturesBefore != r.FeaturesAfter {
		t.Fatalf("second merge added %d (features %d, after the first %d)", r2.Added, r2.FeaturesBefore, r.FeaturesAfter)
	}
}

// TestMergeKeepsLayout merges into a go-fuzz workdir and into a native
// corpus: the inputs must go where each engine reads them, in its format,
// and the inputs already there must stay in view.
func TestMergeKeepsLayout(t *testing.T) {
	tl := tool(t)
	names, data, _ := readAll(t, "parser")
	root := t.TempDir()
	work := filepath.Join(root, "work")
	native := filepath.Join(root, "testdata", "fuzz", "FuzzParser")
	if _, err := corpus.Write(filepath.Join(work, "corpus"), corpus.GoFuzz, []corpus.Entry{{Name: names[0], Data: data[0]}}); err != nil {
		t.Fatal(err)
	}
	if _, err := corpus.Write(native, corpus.Native, []corpus.Entry{{Name: names[0], Data: data[0]}}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		into, dir string
		format    corpus.Format
	}{{work, filepath.Join(work, "corpus"), corpus.GoFuzz}, {native, native, corpus.Native}} {
		r, err := tl.Merge(context.Background(), "parser", c.into, []string{"parser"})
		if err != nil {
			t.Fatal(err)
		}
		if r.Added == 0 || r.Dir != c.dir || r.Format != c.format {
			t.Fatalf("merge into %s: %+v", c.into, r)
		}
		es, probs, err := corpus.ReadDirs(c.into)
		if err != nil || len(probs) != 0 || len(es) != 1+r.Added {
			t.Fatalf("%s after the merge: %d inputs, problems %v, %v; want %d", c.into, len(es), probs, err, 1+r.Added)
		}
		for _, e := range es {
			if e.Format != c.format && !(c.format == corpus.GoFuzz && e.Format == corpus.Raw) {
				t.Errorf("%s: format %s, want %s", e.Path, e.Format, c.format)
			}
			if c.format == corpus.GoFuzz && e.Name != corpus.SHA1Name(e.Data) {
				t.Errorf("%s: not named by its SHA-1", e.Path)
			}
		}
	}
	if ents, _ := os.ReadDir(work); len(ents) != 1 {
		t.Fatalf("the workdir holds %d entries besides corpus/", len(ents)-1)
	}
	fresh := filepath.Join(root, "fresh")
	if _, err := tl.Merge(context.Background(), "parser", fresh, []string{filepath.Join(root, "missing")}); err == nil {
		t.Fatal("merging a missing directory succeeded")
	}
	if _, err := os.Stat(fresh); !os.IsNotExist(err) {
		t.Fatalf("a failed merge left --into behind: %v", err)
	}
}

// TestMinimizeFullDisk minimizes into a directory on a tiny file system:
// the command fails, and neither the output directory nor a temporary
// directory is left behind.
func TestMinimizeFullDisk(t *testing.T) {
	tl := tool(t)
	mnt := t.TempDir()
	if err := exec.Command("mount", "-t", "tmpfs", "-o", "size=8k", "tmpfs", mnt).Run(); err != nil {
		t.Skipf("cannot mount a small tmpfs (needs root): %v", err)
	}
	defer exec.Command("umount", mnt).Run()
	out := filepath.Join(mnt, "min")
	_, err := tl.Minimize(context.Background(), "parser", []string{"parser"}, out)
	if err == nil || !strings.Contains(err.Error(), "no space") {
		t.Fatalf("want a no-space error, got %v", err)
	}
	ents, _ := os.ReadDir(mnt)
	if len(ents) != 0 {
		t.Fatalf("left behind: %v", ents)
	}
}

// TestReadStatsLogsSkippedOnce: a file ReadStats skips is in its
// Problems, for the caller to report, and not in the tool's Log as well
// (qgafuzz corpus stats --target printed each twice).
func TestReadStatsLogsSkippedOnce(t *testing.T) {
	tl := tool(t)
	var log strings.Builder
	tl.Log = &log
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a"), []byte(`{"execute":"guest-ping"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "gone"), filepath.Join(dir, "broken")); err != nil {
		t.Fatal(err)
	}
	st, err := corpus.ReadStats(context.Background(), tl, "parser", dir)
	if err != nil {
		t.Fatal(err)
	}
	if st.Files != 1 || corpus.Skipped(st.Problems) != 1 || !strings.Contains(st.Problems[0].String(), "broken") {
		t.Errorf("stats %+v: want 1 file and the broken link skipped", st)
	}
	if strings.Contains(log.String(), "broken") {
		t.Errorf("the tool's log reports the broken link as well:\n%s", log.String())
	}
}

// TestStatsCoverageInChunks: a corpus larger than the server is given at
// once is measured in chunks; stats (which keeps only the union of the
// features) and Measure (which keeps every input's) agree, and progress
// counts the whole set.
func TestStatsCoverageInChunks(t *testing.T) {
	tl := tool(t)
	_, inputs, _ := readAll(t, "parser")
	dir := t.TempDir()
	n := 0
	for i := 0; n < 1100; i++ {
		in := append(append([]byte(nil), inputs[i%len(inputs)]...), byte(i), byte(i>>8))
		if len(in) > 2048 {
			continue // a quick test
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprint(i)), in, 0o644); err != nil {
			t.Fatal(err)
		}
		n++
	}
	last := 0
	tl.Progress = func(_ string, done, total int) {
		if done != last+1 || total != n {
			t.Errorf("progress %d of %d after %d", done, total, last)
		}
		last = done
	}
	m, err := tl.Measure(context.Background(), "parser", dir)
	if err != nil || len(m.Entries)+len(m.Failing) != n || len(m.Items) != len(m.Entries) || last != n {
		t.Fatalf("Measure: %d entries, %d failing, %d items, progress at %d; %v", len(m.Entries), len(m.Failing), len(m.Items), last, err)
	}
	last = 0
	st, err := corpus.ReadStats(context.Background(), tl, "parser", dir)
	if err != nil || st.Files != n || st.Failing != len(m.Failing) || last != n {
		t.Fatalf("ReadStats: %+v, progress at %d; %v", st, last, err)
	}
	// Runs of the same input may differ by a feature or two (timers, the
	// scheduler): the union of over a thousand inputs, by no more.
	if d := st.Features - m.Features(); d < -10 || d > 10 {
		t.Errorf("stats counts %d features, Measure %d", st.Features, m.Features())
	}
}

// TestMinimizeCountsDuplicateBytes: minimize's files before count the
// duplicates, and so do its bytes before: the corpus stats describes.
func TestMinimizeCountsDuplicateBytes(t *testing.T) {
	tl := tool(t)
	_, inputs, _ := readAll(t, "parser")
	dir := t.TempDir()
	for i, in := range inputs[:min(20, len(inputs))] {
		for c := range 1 + i%3 {
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%d-%d", i, c)), in, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	st, err := corpus.ReadStats(context.Background(), nil, "", dir)
	if err != nil || st.Duplicates == 0 {
		t.Fatalf("stats: %+v, %v", st, err)
	}
	r, err := tl.Minimize(context.Background(), "parser", []string{dir}, filepath.Join(t.TempDir(), "min"))
	if err != nil {
		t.Fatal(err)
	}
	if r.FilesBefore != st.Files || r.BytesBefore != st.Bytes || r.Duplicates != st.Duplicates {
		t.Errorf("minimize: %d files, %d bytes, %d duplicates before; stats: %d files, %d bytes, %d duplicates",
			r.FilesBefore, r.BytesBefore, r.Duplicates, st.Files, st.Bytes, st.Duplicates)
	}
}
