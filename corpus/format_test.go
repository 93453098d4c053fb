package corpus_test

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/qgafuzz/qgafuzz/corpus"
)

func TestNativeRoundTrip(t *testing.T) {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	for _, in := range [][]byte{nil, []byte("{\"execute\":\"guest-ping\"}"), all, []byte("é\xff\x00`\"\\")} {
		enc := corpus.EncodeNative(in)
		if !bytes.HasPrefix(enc, []byte("go test fuzz v1\n[]byte(")) {
			t.Fatalf("encoding %q: %q", in, enc)
		}
		got, err := corpus.DecodeNative(enc)
		if err != nil || !bytes.Equal(got, in) {
			t.Fatalf("round trip of %q: %q, %v", in, got, err)
		}
	}
	// What Go's engine writes for a string argument, and comments.
	got, err := corpus.DecodeNative([]byte("go test fuzz v1\n// a comment\nstring(\"a\\x00b\")\n"))
	if err != nil || string(got) != "a\x00b" {
		t.Fatalf("string value: %q, %v", got, err)
	}
	// Go's engine reads files with CRLF line ends, as a Windows checkout
	// leaves them.
	got, err = corpus.DecodeNative([]byte("go test fuzz v1\r\n[]byte(\"\\xff\\xff\")\r\n"))
	if err != nil || string(got) != "\xff\xff" {
		t.Fatalf("CRLF file: %q, %v", got, err)
	}
	for _, bad := range []string{"hello", "go test fuzz v1\n[]byte(\"a\")\nint(1)\n", "go test fuzz v1\n[]byte(\"unterminated)\n", "go test fuzz v1\n"} {
		if _, err := corpus.DecodeNative([]byte(bad)); err == nil {
			t.Errorf("DecodeNative(%q) accepted it", bad)
		}
	}
	// A file of a target with more arguments, as go test -fuzz writes it,
	// is told as such, whatever its values' types.
	multi := "go test fuzz v1\n[]byte(\"a\")\nint(1)\nmath.Float64frombits(0x7ff8000000000001)\n"
	if _, err := corpus.DecodeNative([]byte(multi)); err == nil || !strings.Contains(err.Error(), `holds 3 values ("[]byte", "int", "math.Float64frombits")`) {
		t.Errorf("DecodeNative(%q): %v", multi, err)
	}
}

func TestDetect(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	gf := write("0123abcd", "raw")
	write("0123abcd.quoted", `"raw"`)
	cases := map[string]corpus.Format{
		write("native", "go test fuzz v1\n[]byte(\"x\")\n"):                 corpus.Native,
		write("crash-da39a3ee5e6b4b0d3255bfef95601890afd80709", "\xff\xff"): corpus.LibFuzzer,
		gf: corpus.GoFuzz,
		write("schedule.json", `{"version": 1, "seed": 3, "ops": [], "events": []}`):        corpus.SimTrace,
		write("trace.jsonl", `{"t":0,"actor":"sim","event":"schedule","schedule":{}}`+"\n"): corpus.SimTrace,
		write("plain", `{"execute":"guest-ping"}`):                                          corpus.Raw,
		write("crlf", "go test fuzz v1\r\n[]byte(\"x\")\r\n"):                               corpus.Native,
		// Schedule-like names below the top level: a request, not a schedule.
		write("request", `{"execute":"guest-info","arguments":{"version":1,"seed":2,"ops":[]}}`): corpus.Raw,
		write("not-trace", `{"actor":"sim","schedule":"x"}`):                                     corpus.Raw,
	}
	for p, want := range cases {
		b, _ := os.ReadFile(p)
		if got := corpus.Detect(p, b); got != want {
			t.Errorf("Detect(%s) = %s, want %s", filepath.Base(p), got, want)
		}
	}
}

func TestTargetFromPath(t *testing.T) {
	for path, want := range map[string]string{
		"fuzz/testdata/fuzz/FuzzParser/582528ddfad69eb5": "parser",
		"/x/out/crashers/agent/panic-abc/minimized":      "agent",
		"corpus/delimiter/x-silent":                      "delimiter",
		"/tmp/differential/crash-1":                      "", // a directory named like a target proves nothing
		"/tmp/nothing/here":                              "",
	} {
		got, ok := corpus.TargetFromPath(path)
		if got != want || ok != (want != "") {
			t.Errorf("TargetFromPath(%s) = %q, %v; want %q", path, got, ok, want)
		}
	}
}

// TestReadDirsProblems checks that a bad file is reported and skipped, and
// that the rest of the directory is still read.
func TestReadDirsProblems(t *testing.T) {
	dir := t.TempDir() // a native corpus, where a file that is not a []byte value is a Problem
	os.WriteFile(filepath.Join(dir, "good"), corpus.EncodeNative([]byte("ok")), 0o644)
	os.WriteFile(filepath.Join(dir, "bad-native"), []byte("go test fuzz v1\nint(3)\n"), 0o644)
	os.WriteFile(filepath.Join(dir, ".hidden"), []byte("skip"), 0o644)
	os.WriteFile(filepath.Join(dir, "x.output"), []byte("go-fuzz output"), 0o644)
	// Unreadable even for root: reading /proc/self/mem at offset 0 fails.
	unreadable := false
	if _, err := os.ReadFile("/proc/self/mem"); err != nil {
		if os.Symlink("/proc/self/mem", filepath.Join(dir, "unreadable")) == nil {
			unreadable = true
		}
	}
	es, probs, err := corpus.ReadDirs(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 1 || es[0].Name != "good" || string(es[0].Data) != "ok" {
		t.Fatalf("entries %+v", es)
	}
	want := 1
	if unreadable {
		want = 2
	}
	if len(probs) != want {
		t.Fatalf("problems %v, want %d", probs, want)
	}
	if _, _, err := corpus.ReadDirs(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("a missing directory is not an error")
	}
}

// TestReadDirsReportsSkipped: what a corpus directory holds besides its
// inputs (a subdirectory, say a libFuzzer corpus's nested one, or a
// dangling link) is reported as a Problem, not passed over in silence.
func TestReadDirsReportsSkipped(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a"), []byte("a"), 0o644)
	os.Mkdir(filepath.Join(dir, "nested"), 0o755)
	os.WriteFile(filepath.Join(dir, "nested", "b"), []byte("b"), 0o644)
	if err := os.Symlink(filepath.Join(dir, "gone"), filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	es, probs, err := corpus.ReadDirs(dir)
	if err != nil || len(es) != 1 {
		t.Fatalf("%+v, %v", es, err)
	}
	var msgs []string
	for _, p := range probs {
		msgs = append(msgs, p.String())
	}
	if len(msgs) != 2 || !strings.Contains(msgs[0], "link: no such file") || !strings.Contains(msgs[1], "nested: not a regular file but a directory") {
		t.Fatalf("problems %q", msgs)
	}
}

// TestReadDirsWarnsOnMixed: a directory that mixes Go native fuzz files
// with other files is read as raw, headers included (a raw corpus may hold
// an input that merely starts like a native file), but not in silence:
// one warning names the directory, and it is not counted as a file
// skipped. Directories of one kind, and a format given, draw no warning.
func TestReadDirsWarnsOnMixed(t *testing.T) {
	mixed := t.TempDir()
	native := corpus.EncodeNative([]byte("x"))
	os.WriteFile(filepath.Join(mixed, "a"), native, 0o644)
	os.WriteFile(filepath.Join(mixed, "b"), corpus.EncodeNative([]byte("y")), 0o644)
	os.WriteFile(filepath.Join(mixed, "stray"), []byte("raw"), 0o644)
	es, probs, err := corpus.ReadDirs(mixed)
	if err != nil || len(es) != 3 {
		t.Fatalf("%+v, %v", es, err)
	}
	for _, e := range es {
		if e.Format != corpus.Raw {
			t.Errorf("%s read as %s, want raw", e.Name, e.Format)
		}
	}
	if len(probs) != 1 || !probs[0].Warning || probs[0].Path != mixed || corpus.Skipped(probs) != 0 {
		t.Fatalf("problems %+v: want one warning for %s", probs, mixed)
	}
	if msg := probs[0].String(); !strings.HasPrefix(msg, "warning: ") || !strings.Contains(msg, "2 of its 3 files are Go native fuzz files") {
		t.Errorf("warning %q", msg)
	}
	// The same through ReadStats, which the stats command prints.
	st, err := corpus.ReadStats(context.Background(), nil, "", mixed)
	if err != nil || st.Files != 3 || len(st.Problems) != 1 || !st.Problems[0].Warning {
		t.Fatalf("stats %+v, %v", st, err)
	}

	// Read as native, the stray is skipped and nothing is guessed.
	es, probs, err = corpus.ReadDirsAs(corpus.Native, mixed)
	if err != nil || len(es) != 2 || len(probs) != 1 || probs[0].Warning || corpus.Skipped(probs) != 1 {
		t.Fatalf("as native: %+v, %+v, %v", es, probs, err)
	}
	nat, raw := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(nat, "a"), native, 0o644)
	os.WriteFile(filepath.Join(raw, "a"), []byte("raw"), 0o644)
	for _, dir := range []string{nat, raw} {
		if _, probs, err := corpus.ReadDirs(dir); err != nil || len(probs) != 0 {
			t.Errorf("%s: problems %+v, %v", dir, probs, err)
		}
	}
}

// TestReadZipNamed: a zip archive named as a source (a libFuzzer seed
// corpus as OSS-Fuzz ships it) is reported, not taken for one input.
func TestReadZipNamed(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "parser_seed_corpus.zip")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	w, _ := zw.Create("seed")
	w.Write([]byte("{}"))
	zw.Close()
	f.Close()
	res, probs, err := corpus.Convert(corpus.LibFuzzer, corpus.Raw, filepath.Join(dir, "out"), p)
	if err != nil || res.Written != 0 || len(probs) != 1 || !strings.Contains(probs[0].String(), "zip archive") {
		t.Fatalf("%+v %v %v", res, probs, err)
	}
}

// TestWriteKeepsExisting checks that Write never replaces a file that
// holds another input.
func TestWriteKeepsExisting(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a"), []byte("old"), 0o644)
	res, err := corpus.Write(dir, corpus.Raw, []corpus.Entry{{Name: "a", Data: []byte("new")}, {Name: "b", Data: []byte("b")}})
	if err != nil || res.Written != 2 {
		t.Fatalf("%+v, %v", res, err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "a")); string(b) != "old" {
		t.Fatalf("a was overwritten: %q", b)
	}
	es, _, _ := corpus.ReadDirs(dir)
	if len(es) != 3 {
		t.Fatalf("want 3 files, got %d", len(es))
	}
}

// TestConvertRoundTrip exports a corpus into every engine's format and
// imports it back.
func TestConvertRoundTrip(t *testing.T) {
	src := filepath.Join("parser")
	orig, _, err := corpus.ReadDirs(src)
	if err != nil || len(orig) == 0 {
		t.Fatalf("corpus/parser: %v", err)
	}
	for _, f := range corpus.ExportFormats {
		out := filepath.Join(t.TempDir(), string(f))
		res, probs, err := corpus.Convert("", f, out, src)
		if err != nil || len(probs) > 0 || res.Written == 0 {
			t.Fatalf("export %s: %+v %v %v", f, res, probs, err)
		}
		back := filepath.Join(t.TempDir(), "back")
		if _, probs, err := corpus.Convert(f, corpus.Raw, back, out); err != nil || len(probs) > 0 {
			t.Fatalf("import %s: %v %v", f, probs, err)
		}
		got, _, _ := corpus.ReadDirs(back)
		want, _ := corpus.Dedup(orig)
		if len(got) != len(want) {
			t.Fatalf("%s: %d inputs back, want %d", f, len(got), len(want))
		}
		seen := map[string]bool{}
		for _, e := range got {
			seen[string(e.Data)] = true
		}
		for _, e := range want {
			if !seen[string(e.Data)] {
				t.Fatalf("%s: lost %s", f, e.Name)
			}
		}
	}
}

// TestLayout checks where and how new inputs go into each engine's corpus
// directory.
func TestLayout(t *testing.T) {
	root := t.TempDir()
	mk := func(rel string, files map[string]string) string {
		d := filepath.Join(root, rel)
		os.MkdirAll(d, 0o755)
		for n, c := range files {
			os.WriteFile(filepath.Join(d, n), []byte(c), 0o644)
		}
		return d
	}
	work := mk("work", nil)
	mk("work/corpus", map[string]string{corpus.SHA1Name([]byte("a")): "a"})
	cases := []struct {
		dir     string
		wantDir string
		want    corpus.Format
	}{
		{work, filepath.Join(work, "corpus"), corpus.GoFuzz},
		{mk("native", map[string]string{"x": string(corpus.EncodeNative([]byte("x")))}), "", corpus.Native},
		{mk("testdata/fuzz/FuzzSomething", nil), "", corpus.Native},
		{mk("FuzzParser", nil), "", corpus.Native},
		{mk("lf", map[string]string{corpus.SHA1Name([]byte("b")): "b"}), "", corpus.LibFuzzer},
		{mk("raw", map[string]string{"seed-1": "b"}), "", corpus.Raw},
		// A raw input that starts like a native file does not make the
		// corpus native.
		{mk("raw-mixed", map[string]string{"seed-1": "b", "seed-2": "go test fuzz v1\n[]byte(\"x\")\n"}), "", corpus.Raw},
		{mk("empty", nil), "", corpus.Raw},
	}
	for _, c := range cases {
		es, _, err := corpus.ReadDirs(c.dir)
		if err != nil {
			t.Fatal(err)
		}
		if c.wantDir == "" {
			c.wantDir = c.dir
		}
		if d, f := corpus.Layout(c.dir, es); d != c.wantDir || f != c.want {
			t.Errorf("Layout(%s) = %s, %s; want %s, %s", c.dir, d, f, c.wantDir, c.want)
		}
	}
}

// TestConvertKnowsWhatDstHolds: converting into a corpus that already
// holds an input under another name (Go's engine names its files by hash,
// qgafuzz's corpora by what they test) does not add it again.
func TestConvertKnowsWhatDstHolds(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	for _, in := range []string{"x", "y"} {
		os.WriteFile(filepath.Join(src, corpus.SHA1Name([]byte(in))), []byte(in), 0o644)
	}
	os.WriteFile(filepath.Join(dst, "vec-x"), []byte("x"), 0o644)
	res, probs, err := corpus.Convert(corpus.LibFuzzer, corpus.Raw, dst, src)
	if err != nil || len(probs) > 0 || res.Written != 1 || res.Existing != 1 {
		t.Fatalf("import: %+v %v %v", res, probs, err)
	}
	nat := filepath.Join(t.TempDir(), "FuzzParser")
	os.Mkdir(nat, 0o755)
	os.WriteFile(filepath.Join(nat, "582528ddfad69eb5"), corpus.EncodeNative([]byte("y")), 0o644)
	res, probs, err = corpus.Convert("", corpus.Native, nat, dst)
	if err != nil || len(probs) > 0 || res.Written != 1 || res.Existing != 1 {
		t.Fatalf("export: %+v %v %v", res, probs, err)
	}
	for dir, want := range map[string]int{dst: 2, nat: 2} {
		if ents, _ := os.ReadDir(dir); len(ents) != want {
			t.Errorf("%s: %d files, want %d", dir, len(ents), want)
		}
	}
}

// TestConvertChecks checks that import reads sources as the format given,
// without guessing, and that converting a directory into itself is refused.
func TestConvertChecks(t *testing.T) {
	src := t.TempDir()
	looksNative := "go test fuzz v1\n[]byte(\"x\")\n" // a libFuzzer input like any other
	os.WriteFile(filepath.Join(src, corpus.SHA1Name([]byte(looksNative))), []byte(looksNative), 0o644)
	out := filepath.Join(t.TempDir(), "raw")
	res, probs, err := corpus.Convert(corpus.LibFuzzer, corpus.Raw, out, src)
	if err != nil || len(probs) != 0 || res.Written != 1 {
		t.Fatalf("import: %+v %v %v", res, probs, err)
	}
	if es, _, _ := corpus.ReadDirsAs(corpus.Raw, out); len(es) != 1 || string(es[0].Data) != looksNative {
		t.Fatalf("imported as %+v, want the file's bytes unchanged", es)
	}
	// A native corpus holding a file that is not native: a Problem.
	nat := t.TempDir()
	os.WriteFile(filepath.Join(nat, "ok"), corpus.EncodeNative([]byte("x")), 0o644)
	os.WriteFile(filepath.Join(nat, "stray"), []byte("raw"), 0o644)
	if _, probs, err := corpus.Convert(corpus.Native, corpus.Raw, t.TempDir(), nat); err != nil || len(probs) != 1 {
		t.Fatalf("stray file in a native corpus: %v %v", probs, err)
	}
	before, _ := os.ReadDir(nat)
	for _, f := range []corpus.Format{corpus.Raw, corpus.LibFuzzer} {
		if _, _, err := corpus.Convert(corpus.Native, f, nat, nat); err == nil {
			t.Errorf("converting %s into itself (as %s) was accepted", nat, f)
		}
	}
	work := t.TempDir()
	os.Mkdir(filepath.Join(work, "corpus"), 0o755)
	os.WriteFile(filepath.Join(work, "corpus", "in"), []byte("x"), 0o644)
	for _, src := range []string{work, filepath.Join(work, "corpus")} {
		if _, _, err := corpus.Convert("", corpus.GoFuzz, work, src); err == nil {
			t.Errorf("exporting %s into the go-fuzz workdir %s was accepted", src, work)
		}
	}
	if after, _ := os.ReadDir(nat); len(after) != len(before) {
		t.Fatalf("the source changed: %d files, was %d", len(after), len(before))
	}
}

// TestWriteLongName writes files whose names are near the 255-byte limit,
// which leaves no room for a temporary name built from the whole name.
func TestWriteLongName(t *testing.T) {
	dir := t.TempDir()
	name := strings.Repeat("a", 250)
	if res, err := corpus.Write(dir, corpus.Raw, []corpus.Entry{{Name: name, Data: []byte("x")}}); err != nil || res.Written != 1 {
		t.Fatalf("%+v, %v", res, err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, name)); err != nil || string(b) != "x" {
		t.Fatalf("%q, %v", b, err)
	}
	none := filepath.Join(dir, "none")
	if _, err := corpus.Write(none, corpus.Raw, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(none); !os.IsNotExist(err) {
		t.Fatalf("writing nothing made a directory: %v", err)
	}
}

// TestHarvest: an engine's finds come into the working corpus as raw
// files named by content, except what the corpus or a known seed
// directory already holds; an input that looks like a native file stays
// as it is.
func TestHarvest(t *testing.T) {
	into, src, seeds := t.TempDir(), t.TempDir(), t.TempDir()
	write := func(dir, name string, b []byte) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(into, "have", []byte("A"))
	write(seeds, "seed", []byte("C"))
	looksNative := []byte("go test fuzz v1\n[]byte(\"x\")\n")
	for i, in := range [][]byte{[]byte("A"), []byte("B"), []byte("C"), []byte("B"), looksNative} {
		write(src, string(rune('a'+i)), corpus.EncodeNative(in))
	}
	r, err := corpus.Harvest(into, src, corpus.Native, seeds, filepath.Join(seeds, "absent"))
	if err != nil || r.Added != 2 || r.Total != 3 {
		t.Fatalf("Harvest: %+v, %v; want 2 added, 3 in all", r, err)
	}
	es, _, err := corpus.ReadDirsAs(corpus.Raw, into)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, e := range es {
		got[string(e.Data)] = e.Name
	}
	if len(got) != 3 || got["A"] != "have" || got["B"] == "" || got[string(looksNative)] == "" {
		t.Errorf("corpus after: %v", got)
	}
	// Again: nothing new.
	if r, err := corpus.Harvest(into, src, corpus.Native, seeds); err != nil || r.Added != 0 || r.Total != 3 {
		t.Errorf("second Harvest: %+v, %v", r, err)
	}
}

// TestConvertAndStatsStream: converting or counting a corpus holds one
// input at a time, not the corpus: 160 MiB of inputs stay well under
// 80 MiB of heap (the whole corpus in memory took 3.4 GB for 1 GB).
func TestConvertAndStatsStream(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 320 MiB")
	}
	src := t.TempDir()
	block := bytes.Repeat([]byte("0123456789abcdef"), 8<<20/16)
	for i := range 20 {
		block[0] = byte(i) // distinct inputs
		if err := os.WriteFile(filepath.Join(src, fmt.Sprint("in", i)), block, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	block = nil
	peak := func(f func()) uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		base, top := m.HeapAlloc, m.HeapAlloc
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				select {
				case <-done:
					return
				default:
				}
				runtime.ReadMemStats(&m)
				top = max(top, m.HeapAlloc)
				time.Sleep(time.Millisecond)
			}
		}()
		f()
		done <- struct{}{}
		<-done
		return top - base
	}
	var st *corpus.Stats
	var err error
	if p := peak(func() { st, err = corpus.ReadStats(context.Background(), nil, "", src) }); err != nil || st.Files != 20 || p > 80<<20 {
		t.Errorf("stats: %v, %d files; heap grew %d MiB", err, st.Files, p>>20)
	}
	dst := filepath.Join(t.TempDir(), "out")
	var res corpus.WriteResult
	if p := peak(func() { res, _, err = corpus.Convert(corpus.Raw, corpus.LibFuzzer, dst, src) }); err != nil || res.Written != 20 || p > 80<<20 {
		t.Errorf("convert: %+v, %v; heap grew %d MiB", res, err, p>>20)
	}
}

// TestConvertChecksSourcesFirst: a mistyped source fails the conversion
// before anything is written, wherever it stands among the sources.
func TestConvertChecksSourcesFirst(t *testing.T) {
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "in"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "out")
	if _, _, err := corpus.Convert(corpus.Raw, corpus.LibFuzzer, dst, src, filepath.Join(src, "typo")); err == nil {
		t.Fatal("no error for a missing source")
	}
	if _, err := os.Stat(dst); err == nil {
		t.Errorf("%s was written before the missing source was noticed", dst)
	}
}

// TestConvertRoundTripProperty exports sets of arbitrary inputs from a raw
// corpus into every engine's format and imports them back: the same set,
// byte for byte, including the empty input and inputs that look like a
// native file. The engines' files may have any name (a libFuzzer seed
// corpus often holds *.json or *.txt files). Native files are also
// converted straight into the other engines' formats.
func TestConvertRoundTripProperty(t *testing.T) {
	special := []string{"", "\x00", "\xff", "\xff\xfe\x80", "\r\n", "\\", "`", "\"", "go test fuzz v1\n",
		"go test fuzz v1\n[]byte(\"x\")\n", "go test fuzz v1\r\nstring(\"y\")\r\n", "go test fuzz v1\nint(1)\n",
		"\n[]byte(\"\")\n", "é\u2028\U000e0000"}
	input := rapid.OneOf(rapid.SampledFrom(special), rapid.String(),
		rapid.Custom(func(t *rapid.T) string { return string(rapid.SliceOfN(rapid.Byte(), 0, 300).Draw(t, "bytes")) }),
		rapid.Custom(func(t *rapid.T) string {
			return rapid.SampledFrom(special).Draw(t, "head") + string(rapid.SliceOf(rapid.Byte()).Draw(t, "tail"))
		}))
	rapid.Check(t, func(rt *rapid.T) {
		// A raw corpus, with at least one input that is plainly raw: a
		// directory whose every file is a native file is taken for Go's
		// (as merge's Layout takes it).
		ins := append(rapid.SliceOfN(input, 0, 12).Draw(rt, "inputs"), "plain")
		src := t.TempDir()
		want := map[string]bool{}
		for i, in := range ins {
			if err := os.WriteFile(filepath.Join(src, fmt.Sprintf("in-%02d", i)), []byte(in), 0o644); err != nil {
				rt.Fatal(err)
			}
			want[in] = true
		}
		check := func(what, dir string, from corpus.Format) {
			es, probs, err := corpus.ReadDirsAs(from, dir)
			if err != nil || len(probs) > 0 {
				rt.Fatalf("%s: %v %v", what, probs, err)
			}
			got := map[string]bool{}
			for _, e := range es {
				got[string(e.Data)] = true
			}
			if len(got) != len(es) || len(got) != len(want) {
				rt.Fatalf("%s: %d files, %d inputs, want %d", what, len(es), len(got), len(want))
			}
			for in := range want {
				if !got[in] {
					rt.Fatalf("%s: lost %q", what, in)
				}
			}
		}
		for _, f := range corpus.ExportFormats {
			out := filepath.Join(t.TempDir(), "out")
			// Inputs that look native draw a warning (a mixed
			// directory), but nothing is skipped.
			if _, probs, err := corpus.Convert("", f, out, src); err != nil || corpus.Skipped(probs) > 0 {
				rt.Fatalf("export %s: %v %v", f, probs, err)
			}
			if f == corpus.GoFuzz {
				out = filepath.Join(out, "corpus")
			}
			check("export "+string(f), out, f)
			if f != corpus.Native {
				ents, _ := os.ReadDir(out)
				for _, de := range ents {
					if ext := rapid.SampledFrom([]string{"", ".json", ".txt", ".md"}).Draw(rt, "extension"); ext != "" {
						os.Rename(filepath.Join(out, de.Name()), filepath.Join(out, de.Name()+ext))
					}
				}
			}
			back := filepath.Join(t.TempDir(), "back")
			if _, probs, err := corpus.Convert(f, corpus.Raw, back, out); err != nil || len(probs) > 0 {
				rt.Fatalf("import %s: %v %v", f, probs, err)
			}
			check("import "+string(f), back, corpus.Raw)
			if f != corpus.Native {
				continue
			}
			for _, g := range []corpus.Format{corpus.GoFuzz, corpus.LibFuzzer} {
				other := filepath.Join(t.TempDir(), "other")
				if _, probs, err := corpus.Convert("", g, other, out); err != nil || len(probs) > 0 {
					rt.Fatalf("native to %s: %v %v", g, probs, err)
				}
				if g == corpus.GoFuzz {
					other = filepath.Join(other, "corpus")
				}
				check("native to "+string(g), other, g)
			}
		}
	})
}

// TestNativeLargeInput: an input whose native encoding is over
// MaxFileSize (every byte quoted as \xff) still comes back from a native
// corpus, and exporting it again finds it there.
func TestNativeLargeInput(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 140 MiB")
	}
	src := t.TempDir()
	in := bytes.Repeat([]byte{0xff}, corpus.MaxFileSize/4+1<<20)
	if err := os.WriteFile(filepath.Join(src, "big"), in, 0o644); err != nil {
		t.Fatal(err)
	}
	nat := filepath.Join(t.TempDir(), "FuzzParser")
	if res, probs, err := corpus.Convert("", corpus.Native, nat, src); err != nil || len(probs) > 0 || res.Written != 1 {
		t.Fatalf("export: %+v %v %v", res, probs, err)
	}
	if st, err := os.Stat(filepath.Join(nat, "big")); err != nil || st.Size() <= corpus.MaxFileSize {
		t.Fatalf("the native file is not over the limit of a raw one: %v", err)
	}
	back := filepath.Join(t.TempDir(), "back")
	if res, probs, err := corpus.Convert(corpus.Native, corpus.Raw, back, nat); err != nil || len(probs) > 0 || res.Written != 1 {
		t.Fatalf("import: %+v %v %v", res, probs, err)
	}
	if b, err := os.ReadFile(filepath.Join(back, "big")); err != nil || !bytes.Equal(b, in) {
		t.Fatalf("imported %d bytes, %v; want %d", len(b), err, len(in))
	}
	if res, probs, err := corpus.Convert("", corpus.Native, nat, src); err != nil || len(probs) > 0 || res.Existing != 1 || res.Written != 0 {
		t.Fatalf("export again: %+v %v %v", res, probs, err)
	}
}

// TestReadFileSized: ReadFile reads a file whole into a buffer of about
// its size, not io.ReadAll's 512 bytes at least (more than twice a
// corpus of small inputs, held whole while it is measured).
func TestReadFileSized(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []int{0, 1, 100, 511, 512, 513, 5000, 70000} {
		want := make([]byte, n)
		for i := range want {
			want[i] = byte(i * 7)
		}
		path := filepath.Join(dir, fmt.Sprint(n))
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := corpus.ReadFile(path)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%d bytes: read %d, %v", n, len(got), err)
		}
		if cap(got) > n+n/8+16 {
			t.Errorf("%d bytes read into a buffer of %d", n, cap(got))
		}
	}
}
